/**
 * The gray router: pure functions and plain objects, no I/O. It turns a service's instances into a routing table
 * (one balancer per lane) and picks an instance for a request.
 */
import type { Instance, Lane } from '../types';
import { createBalancer, type Balancer } from './balancer';
import { pickLane } from './split';

export { createBalancer, type Balancer } from './balancer';
export { pickLane } from './split';

/** A service's instances split by lane, each lane with its own balancer. Build one per snapshot. */
export interface RoutingTable {
  readonly gray: Balancer;
  readonly normal: Balancer;
  readonly all: Balancer;
}

export function buildRoutingTable(instances: readonly Instance[]): RoutingTable {
  // Weight 0 takes an instance out of rotation (drain) without deregistering it.
  const live = instances.filter((instance) => instance.weight > 0);
  return {
    gray: createBalancer(live.filter((instance) => instance.gray)),
    normal: createBalancer(live.filter((instance) => !instance.gray)),
    all: createBalancer(live),
  };
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

/** Whether every instance serves every lane: one lane is empty and the fallback allows it. */
export function isPooled(table: RoutingTable, fallback: RouteInput['fallback']): boolean {
  return fallback !== 'none' && (table.gray.size === 0 || table.normal.size === 0);
}

/**
 * Picks the lane (the pinned one, or by ratio), then an instance: from that lane when both lanes have instances,
 * from all instances when either lane is empty (the original design's fallback, unless `fallback` is `none`).
 * Undefined when there is no instance to take.
 */
export function route(table: RoutingTable, input: RouteInput): RouteDecision | undefined {
  const lane = input.lane ?? pickLane(input.ratio, input.random);
  const pooled = isPooled(table, input.fallback);
  const pool = pooled ? table.all : lane === 'gray' ? table.gray : table.normal;
  const skip = input.skip;
  if (!skip) {
    const instance = pool.next();
    return instance && { lane, instance };
  }
  const instance = nextAccepted(pool, skip);
  if (instance) return { lane, instance };
  if (!input.crossLane || pooled) return undefined;
  const other: Lane = lane === 'gray' ? 'normal' : 'gray';
  const crossed = nextAccepted(other === 'gray' ? table.gray : table.normal, skip);
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
