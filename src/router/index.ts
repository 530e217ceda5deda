/**
 * The gray router: pure functions and plain objects, no I/O. It turns a service's instances into a routing table
 * (one balancer per lane) and picks an instance for a request.
 */
import type { Instance, Lane } from '../types';
import { createBalancer, type Balancer } from './balancer';
import { pickLane } from './split';

export { createBalancer, type Balancer } from './balancer';
export { pickLane, isValidRatio } from './split';

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
}

export interface RouteDecision {
  /** The request's lane: what travels on in the lane header. */
  lane: Lane;
  /** The instance chosen. */
  instance: Instance;
}

/**
 * Picks the lane (the pinned one, or by ratio), then an instance: from that lane when both lanes have instances,
 * from all instances when either lane is empty (the original design's fallback). Undefined when there is no
 * instance at all.
 */
export function route(table: RoutingTable, input: RouteInput): RouteDecision | undefined {
  const lane = input.lane ?? pickLane(input.ratio, input.random);
  const pool = table.gray.size === 0 || table.normal.size === 0 ? table.all : lane === 'gray' ? table.gray : table.normal;
  const instance = pool.next();
  return instance && { lane, instance };
}
