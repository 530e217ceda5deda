/**
 * Part 4: split accuracy. `decisions` requests for the service go through the grayRoute interceptor (the same
 * consumer, snapshot and config ratio as the end-to-end case), and the gray share is counted.
 */
import type { InternalAxiosRequestConfig } from 'axios';
import type { GrayRouteInterceptor } from '../src';
import { SERVICE_URL, requestConfig } from './micro';
import { round } from './stats';

export interface SplitResult {
  decisions: number;
  ratio: number;
  /** Requests put in the gray lane, %. */
  grayLaneShare: number;
  /** Requests sent to a gray instance, %. */
  grayInstanceShare: number;
  /** |share - ratio|, percentage points. */
  deviation: number;
  /** One standard deviation of a fair split at this size, percentage points. */
  expectedSd: number;
}

export function runSplit(interceptor: GrayRouteInterceptor, service: string, decisions: number, ratio: number): SplitResult {
  const url = SERVICE_URL(service);
  const config = requestConfig(url);
  let grayLane = 0;
  let grayInstance = 0;
  for (let i = 0; i < decisions; i++) {
    config.url = url;
    config.gray = undefined;
    const out = interceptor(config) as InternalAxiosRequestConfig;
    if (out instanceof Promise || !out.gray?.instance) throw new Error(`split: ${service} was not routed on the hot path`);
    if (out.gray.lane === 'gray') grayLane++;
    if (out.gray.instance.gray) grayInstance++;
  }
  const share = (100 * grayLane) / decisions;
  return {
    decisions,
    ratio,
    grayLaneShare: round(share, 3),
    grayInstanceShare: round((100 * grayInstance) / decisions, 3),
    deviation: round(Math.abs(share - ratio), 3),
    expectedSd: round(100 * Math.sqrt(((ratio / 100) * (1 - ratio / 100)) / decisions), 3),
  };
}
