/**
 * The lane of the work in progress (an incoming request, a job), behind one small interface with two backends:
 *
 * - `als`: Node's AsyncLocalStorage. The default: built in, and the cheaper of the two.
 * - `cls`: cls-hooked, for apps that already share a cls-hooked namespace. It needs emitters bound
 *   (`bindEmitter`) to keep the context in their callbacks; `grayContext()` binds `req` and `res`.
 *
 * No I/O here.
 */
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import type { EventEmitter } from 'node:events';
import type { Namespace } from 'cls-hooked';
import type { RequestView } from '../router/lane-policy';
import { checkLaneName } from '../errors';
import type { Lane } from '../types';
import { loadOptional } from '../util/load';

/** Why a request is in its lane, for the debug channel (NODE_DEBUG=graykit). */
export type LaneSource = 'header' | 'baggage' | 'instance' | 'opentelemetry' | 'header-rule' | 'cookie-rule' | 'bucket' | 'ratio' | 'pinned' | 'runInLane';

/** What the context holds: the lane, once decided (by an incoming header, a rule, or the first outbound call). */
export interface LaneStore {
  lane?: Lane;
  /** Why `lane` is what it is. */
  source?: LaneSource;
  /**
   * The lane decision of a first call that had to wait for its service's first snapshot: recorded before that call
   * awaits anything, so that the request's other calls wait for the same decision instead of drawing their own.
   */
  pending?: Promise<Lane | undefined>;
  /** The incoming request, for lane rules and bucketing at the first outbound call. */
  request?: RequestView;
  /** Whether the request may force its lane (lane header, header and cookie rules): it comes from a trusted source. */
  forcing?: boolean;
}

export type ContextKind = 'als' | 'cls';

export interface ContextBackend {
  readonly kind: ContextKind;
  /** Runs `fn` with `store` as the current store, and returns what `fn` returns. */
  run<T>(store: LaneStore, fn: () => T): T;
  /** The current store, or undefined outside any context. */
  current(): LaneStore | undefined;
  /** Keeps the current context in the emitter's listeners (a no-op for AsyncLocalStorage). */
  bindEmitter(emitter: EventEmitter): void;
  /** Returns `fn` bound to the current context, for callbacks that run from elsewhere (a shared emitter's listener). */
  bind<F extends (...args: never[]) => unknown>(fn: F): F;
}

/** The cls-hooked namespace graykit uses; apps that share cls-hooked can read it with getNamespace(). */
export const CLS_NAMESPACE = 'graykit';
const CLS_KEY = 'graykit.lane';

function createAlsBackend(): ContextBackend {
  const storage = new AsyncLocalStorage<LaneStore>();
  return {
    kind: 'als',
    run: (store, fn) => storage.run(store, fn),
    current: () => storage.getStore(),
    bindEmitter: () => undefined,
    bind: (fn) => AsyncResource.bind(fn as unknown as (...args: unknown[]) => unknown) as unknown as typeof fn,
  };
}

function createClsBackend(): ContextBackend {
  // Loaded here: cls-hooked installs async hooks that cost every async operation of the process, so only apps that
  // ask for the 'cls' context load it.
  const { createNamespace, getNamespace } = loadOptional<typeof import('cls-hooked')>('cls-hooked', "the 'cls' lane context");
  const namespace: Namespace = getNamespace(CLS_NAMESPACE) ?? createNamespace(CLS_NAMESPACE);
  return {
    kind: 'cls',
    run: (store, fn) =>
      namespace.runAndReturn(() => {
        namespace.set(CLS_KEY, store);
        return fn();
      }),
    current: () => (namespace.active ? (namespace.get(CLS_KEY) as LaneStore | undefined) : undefined),
    bindEmitter: (emitter) => namespace.bindEmitter(emitter),
    bind: (fn) => (namespace.active ? namespace.bind(fn) : fn),
  };
}

/**
 * One backend per kind for the whole process, kept on globalThis: the server side that opens a context and the
 * client side that reads it must meet even when an app loads both graykit's CommonJS and its ESM build (each would
 * otherwise hold its own AsyncLocalStorage, and lanes would silently not travel).
 */
const BACKENDS_KEY = Symbol.for('graykit.context.backends');
const backends: Partial<Record<ContextKind, ContextBackend>> = ((globalThis as Record<symbol, unknown>)[BACKENDS_KEY] ??= {}) as Partial<
  Record<ContextKind, ContextBackend>
>;

/** The process-wide backend of a kind, or the backend passed in. */
export function contextBackend(kind: ContextKind | ContextBackend = 'als'): ContextBackend {
  if (typeof kind === 'object') return kind;
  const existing = backends[kind];
  if (existing) return existing;
  const created = kind === 'cls' ? createClsBackend() : createAlsBackend();
  backends[kind] = created;
  return created;
}

export function isContextKind(value: unknown): value is ContextKind {
  return value === 'als' || value === 'cls';
}

/**
 * Runs `fn` in a lane, for work that is not an HTTP request (jobs, queue consumers, scripts): every graykit-routed
 * call made inside it goes to that lane.
 */
export function runInLane<T>(lane: Lane, fn: () => T, kind: ContextKind | ContextBackend = 'als'): T {
  checkLaneName(lane, 'runInLane');
  return contextBackend(kind).run({ lane, source: 'runInLane' }, fn);
}

/**
 * The lane of the work in progress: the current request's (once decided, or brought by its lane header or baggage),
 * or the one `runInLane` opened; undefined outside any lane context or before the first routed call decided it.
 * For carrying the lane where graykit does not route: a message (`injectLane(headers, currentLane())`), a log line.
 */
export function currentLane(kind: ContextKind | ContextBackend = 'als'): Lane | undefined {
  return contextBackend(kind).current()?.lane;
}

/**
 * Binds `fn` to the current lane context. Listeners of an emitter shared across requests run in the context of
 * whoever emits (nodejs/node#41285); bind them so they keep the lane of the request that added them.
 */
export function bindLane<F extends (...args: never[]) => unknown>(fn: F, kind: ContextKind | ContextBackend = 'als'): F {
  return contextBackend(kind).bind(fn);
}
