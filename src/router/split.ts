import type { Lane } from '../types';

/**
 * The original design's split: ratio <= 0 sends everything to the normal lane, ratio >= 100 everything to the gray
 * lane, and a ratio in between sends a request to gray with probability ratio/100.
 *
 * `random` returns a number in [0, 1); it is a parameter so that tests and benchmarks can drive it.
 */
export function pickLane(ratio: number, random: () => number = Math.random): Lane {
  if (!(ratio > 0)) return 'normal'; // also catches NaN
  if (ratio >= 100) return 'gray';
  return random() * 100 < ratio ? 'gray' : 'normal';
}
