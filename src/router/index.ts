/**
 * The gray router: pure functions and plain objects, no I/O. It turns a service's instances into a routing table
 * (one balancer per lane) and picks an instance for a request.
 */
import { BASE_LANE, GRAY_LANE, isNamedLane, type Instance, type Lane } from '../types';
import { createBalancer, type Balancer } from './balancer';
import { pickLane } from './split';

export { createBalancer, type Balancer } from './balancer';
export { pickLane } from './split';

/** A service's instances split by lane, each lane with its own balancer. Build one per snapshot. */
export interface RoutingTable {
  /** Every lane that has a routable instance, with its balancer. */
  readonly lanes: ReadonlyMap<Lane, Balancer>;
  readonly gray: Balancer;
  readonly normal: Balancer;
  /**
   * The pool of the original design's fallback: every instance of the base and gray lanes. A named lane's instance
   * is never in it: a preview build takes only its own lane's requests.
   */
  readonly all: Balancer;
}

const EMPTY = createBalancer([]);

export function buildRoutingTable(instances: readonly Instance[]): RoutingTable {
  // Weight 0 takes an instance out of rotation (drain) without deregistering it.
  const live = instances.filter((instance) => instance.weight > 0);
  const byLane = new Map<Lane, Instance[]>();
  for (const instance of live) {
    const list = byLane.get(instance.lane);
    if (list) list.push(instance);
    else byLane.set(instance.lane, [instance]);
  }
  const lanes = new Map<Lane, Balancer>();
  for (const [lane, list] of byLane) lanes.set(lane, createBalancer(list));
  return {
    lanes,
    gray: lanes.get(GRAY_LANE) ?? EMPTY,
    normal: lanes.get(BASE_LANE) ?? EMPTY,
    all: createBalancer(live.filter((instance) => !isNamedLane(instance.lane))),
  };
}

/**
 * The pool a call of `lane` is routed from: the lane's own instances; when it has none, the base lane's (unless
 * `fallback` is `none`: strict lanes); when that is empty too, every instance of the base and gray lanes (the
 * original design: one empty lane means every instance serves every lane). Undefined: no pool.
 */
export function lanePool(table: RoutingTable, lane: Lane, fallback: RouteInput['fallback']): Balancer | undefined {
  // Base and gray without a map lookup: the two-lane case is the hot one.
  const own = lane === BASE_LANE ? table.normal : lane === GRAY_LANE ? table.gray : table.lanes.get(lane);
  if (own !== undefined && own.size > 0) return own;
  if (fallback === 'none') return undefined;
  if (table.normal.size > 0 && table.gray.size > 0) return table.normal;
  return table.all.size > 0 ? table.all : undefined;
}

/** The lane a retry may cross to when every instance of its own has failed: gray and base to each other, a named lane to base. */
function crossedLane(lane: Lane): Lane {
  return lane === BASE_LANE ? GRAY_LANE : BASE_LANE;
}

export interface RouteInput {
  /** Gray share, 0-100. */
  ratio: number;
  /** A lane already decided for this request (sticky context, incoming header): the ratio is not consulted. */
  lane?: Lane;
  /** Source of randomness in [0, 1). Default Math.random. */
  random?: () => number;
  /**
   * Instances to pass over (a retry's already-failed instances): the lane's next instance is taken instead. The
   * balancer is advanced until one is accepted, at most once around. Default: none skipped.
   */
  skip?: (instance: Instance) => boolean;
  /**
   * When every instance of the lane is skipped, take one from the other lane; the decision then reports that lane.
   * Only consulted with `skip`. Default false.
   */
  crossLane?: boolean;
  /**
   * When one lane has no instance: `all` (every instance serves every lane, the original design) or `none` (strict
   * lanes: a call of the empty lane gets no instance). Default `all`.
   */
  fallback?: 'all' | 'none';
}

export interface RouteDecision {
  /** The request's lane: what travels on in the lane header. */
  lane: Lane;
  /** The instance chosen. */
  instance: Instance;
}

/**
 * Picks the lane (the pinned one, or by ratio), then an instance of its pool (`lanePool`). Undefined when there is
 * no instance to take.
 */
export function route(table: RoutingTable, input: RouteInput): RouteDecision | undefined {
  const lane = input.lane ?? pickLane(input.ratio, input.random);
  const pool = lanePool(table, lane, input.fallback);
  if (!pool) return undefined;
  const skip = input.skip;
  if (!skip) {
    const instance = pool.next();
    return instance && { lane, instance };
  }
  const instance = nextAccepted(pool, skip);
  if (instance) return { lane, instance };
  if (!input.crossLane || pool === table.all) return undefined;
  const other = crossedLane(lane);
  const crossed = nextAccepted(table.lanes.get(other) ?? EMPTY, skip);
  return crossed && { lane: other, instance: crossed };
}

/**
 * The balancer's next instance that `skip` does not reject. `size` picks visit every instance of a plain rotation;
 * smooth weighted round-robin may repeat a heavy instance in that many picks, so the list itself is scanned last.
 */
function nextAccepted(pool: Balancer, skip: (instance: Instance) => boolean): Instance | undefined {
  for (let tries = 0; tries < pool.size; tries++) {
    const instance = pool.next();
    if (instance && !skip(instance)) return instance;
  }
  return pool.instances.find((instance) => !skip(instance));
}
