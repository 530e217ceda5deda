import type { Instance } from '../types';

/** Picks the next instance of a fixed list. One balancer per lane per snapshot; it never does I/O. */
export interface Balancer {
  readonly size: number;
  /** The instances it picks from, in order. */
  readonly instances: readonly Instance[];
  next(): Instance | undefined;
}

/**
 * Round-robin that honours `weight`. When every weight is equal it is a plain rotation (O(1) a pick); otherwise it is
 * smooth weighted round-robin (the nginx upstream algorithm: O(n) a pick, and it interleaves instead of sending
 * bursts to the heaviest instance). Instances of weight 0 or less must be filtered out by the caller.
 */
export function createBalancer(instances: readonly Instance[]): Balancer {
  const list = instances.slice();
  if (list.length === 0) return { size: 0, instances: list, next: () => undefined };
  const first = list[0].weight;
  if (list.every((instance) => instance.weight === first)) {
    let cursor = 0;
    return {
      size: list.length,
      instances: list,
      next() {
        const instance = list[cursor];
        cursor = cursor + 1 === list.length ? 0 : cursor + 1;
        return instance;
      },
    };
  }
  const current = new Float64Array(list.length);
  let total = 0;
  for (const instance of list) total += instance.weight;
  return {
    size: list.length,
    instances: list,
    next() {
      let best = 0;
      for (let i = 0; i < list.length; i++) {
        current[i] += list[i].weight;
        if (current[i] > current[best]) best = i;
      }
      current[best] -= total;
      return list[best];
    },
  };
}
