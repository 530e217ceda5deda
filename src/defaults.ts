/**
 * graykit's defaults, as one frozen object of the public surface: what each entry point does when an option is left
 * out. Read-only copies: changing them would not change graykit (its modules keep their own constants), so they are
 * frozen all the way down rather than seeming to be settings.
 */
import { DEFAULT_ADMIN_OPTIONS } from './admin/admin';
import { DEFAULT_CONSOLE_OPTIONS } from './console/options';
import { DEFAULT_CONTEXT_OPTIONS } from './context/gray-context';
import { DEFAULT_CONSUMER_OPTIONS } from './consumer/consumer';
import { DEFAULT_FAILOVER_OPTIONS } from './consumer/failover';
import { DEFAULT_OUTLIER_OPTIONS } from './consumer/outlier';
import { DEFAULT_DURATION_BUCKETS } from './metrics';
import { DEFAULT_REGISTER_OPTIONS } from './provider/options';
import { DEFAULT_SESSION_TIMEOUT, DEFAULT_ZK_CONNECT } from './registry/connection';
import { DEFAULT_ROOT } from './registry/paths';
import { DEFAULT_ABORT_OPTIONS } from './rollout/abort';
import { DEFAULT_ROLLOUT_OPTIONS } from './rollout/rollout';
import { DEFAULT_LANE_HEADER } from './types';

/** A value and everything in it, read-only. */
export type Frozen<T> = T extends (...args: never[]) => unknown ? T : T extends readonly (infer U)[] ? readonly Frozen<U>[] : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;

/** A frozen copy of plain data (objects, arrays, primitives), all the way down. */
function frozenCopy<T>(value: T): Frozen<T> {
  if (Array.isArray(value)) return Object.freeze(value.map(frozenCopy)) as Frozen<T>;
  if (typeof value !== 'object' || value === null) return value as Frozen<T>;
  const copy: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) copy[key] = frozenCopy(member);
  return Object.freeze(copy) as Frozen<T>;
}

/**
 * The default of every option graykit has one for, by the entry point that takes it.
 *
 * @example
 * import { defaults } from 'graykit';
 * defaults.failover.attempts;   // 3
 * defaults.zk;                  // '127.0.0.1:2181'
 */
export const defaults = Object.freeze({
  /** `grayRegister(options)`: gray, laneFromInstance, weight, metadata, deregisterTimeout, drainMs, shutdownTimeout. */
  register: frozenCopy(DEFAULT_REGISTER_OPTIONS),
  /** `createConsumer`, `grayRoute`, `useGray`, `grayDispatcher`: `ratio` (when no config znode sets one) and `timeout` (ms). */
  consumer: frozenCopy(DEFAULT_CONSUMER_OPTIONS),
  /** The `outlier` option of consumers: ejection after consecutive connection failures, and its back-off. */
  outlier: frozenCopy(DEFAULT_OUTLIER_OPTIONS),
  /** The `failover` option of `useGray` and `grayDispatcher`: attempts, methods, crossLane, connectTimeout (ms). */
  failover: frozenCopy(DEFAULT_FAILOVER_OPTIONS),
  /** `grayContext(options)`: the context backend, the lane header read, and whether incoming lanes are trusted. */
  context: frozenCopy(DEFAULT_CONTEXT_OPTIONS),
  /** `createAdmin(options)`: `timeout` (ms) of each ZooKeeper operation. */
  admin: frozenCopy(DEFAULT_ADMIN_OPTIONS),
  /** `runRollout(options)`: the gates' thresholds, scrape and refresh intervals, what interrupts and crashes do. */
  rollout: frozenCopy(DEFAULT_ROLLOUT_OPTIONS),
  /** `abortRollout(options)`: how long it waits for the lease and for the rollback (ms). */
  abort: frozenCopy(DEFAULT_ABORT_OPTIONS),
  /** `createConsole(options)`: address, read-only mode, scraping and history. */
  console: frozenCopy(DEFAULT_CONSOLE_OPTIONS),
  /** The `zk` connect string of every entry point (env `ZK_CONNECT` comes first). */
  zk: DEFAULT_ZK_CONNECT,
  /** The ZooKeeper `sessionTimeout` (ms) of every entry point. */
  sessionTimeout: DEFAULT_SESSION_TIMEOUT,
  /** The `root` znode of every entry point (env `GRAYKIT_ROOT` comes first). */
  root: DEFAULT_ROOT,
  /** The `buckets` (seconds) of the provider's request-duration histogram (ProviderMetricsOptions). */
  durationBuckets: frozenCopy(DEFAULT_DURATION_BUCKETS),
  /** The header that carries the lane (`laneHeader` of grayRoute, grayDispatcher, grayContext, injectLane). */
  laneHeader: DEFAULT_LANE_HEADER,
});
