/**
 * `grayRegister()`: Express middleware that registers the app's server in ZooKeeper once it listens, keeps it
 * registered through session loss, and deregisters before the server stops accepting (registration.ts).
 */
import type { Server } from 'node:net';
import { grayContext } from '../context/gray-context';
import { InvalidOptionError } from '../errors';
import { loadOptional } from '../util/load';
import { createProviderMetrics, type ProviderMetrics } from './metrics';
import { DEFAULT_REGISTER_OPTIONS, type GrayRegisterOptions } from './options';
import { ProviderRegistration } from './registration';

/** What `grayRegister()` returns: an Express sub-app (so it learns its parent app) with the registration handle. */
export interface GrayRegisterMiddleware {
  (req: unknown, res: unknown, next: (error?: unknown) => void): void;
  readonly registration: ProviderRegistration;
  /** The request metrics, when the `metrics` or `metricsPath` option turned them on. */
  readonly metrics?: ProviderMetrics;
}

interface ExpressLikeApp {
  listen: (...args: unknown[]) => Server;
  on(event: 'mount', listener: (parent: ExpressLikeApp) => void): void;
  disable(setting: string): void;
}

/**
 * Registers the Express app's instance in ZooKeeper when the app starts listening.
 *
 * It is an Express sub-app: Express emits `mount` with the parent app, and graykit wraps the parent's `listen()` so
 * that the server it returns is attached. For `http.createServer(app).listen()`, call
 * `middleware.registration.attach(server)`.
 *
 * @example
 * const gray = grayRegister({ service: 'demo', gray: true, version: 'v2' });
 * app.use(gray);
 * app.listen(8081);                       // registers <root>/services/demo/instances/<host>:8081
 * await gray.registration.setGray(false); // live flag flip
 */
export function grayRegister(options: GrayRegisterOptions = {}): GrayRegisterMiddleware {
  if (typeof options !== 'object' || options === null || ('method' in options && 'headers' in options)) {
    throw new InvalidOptionError('options', 'grayRegister takes an options object: use app.use(grayRegister({ service })), not app.use(grayRegister)');
  }
  const registration = new ProviderRegistration(options);
  // Loaded here, not at the top: express is a peer dependency that consumer-only apps need not install.
  const express = loadOptional<() => ExpressLikeApp & GrayRegisterMiddleware>('express', 'grayRegister()');
  const subApp = express();
  (subApp as unknown as { use(fn: unknown): void }).use(function grayRegisterCheck(_req: unknown, _res: unknown, next: () => void) {
    registration.noteRequest();
    next();
  });
  if (options.context !== false) {
    // The rest of the parent app's chain runs inside this middleware's `next()`, so inside the lane context.
    const laneFromInstance = options.laneFromInstance ?? DEFAULT_REGISTER_OPTIONS.laneFromInstance;
    const defaultLane = laneFromInstance ? () => (registration.effectiveLane === 'normal' ? undefined : registration.effectiveLane) : undefined;
    (subApp as unknown as { use(fn: unknown): void }).use(grayContext({ context: options.context ?? 'als', trust: options.trust, defaultLane, javaHeaders: options.javaHeaders }));
  }
  const metricsOn = options.metricsPath !== undefined || (options.metrics !== undefined && options.metrics !== false);
  const metrics = metricsOn
    ? createProviderMetrics(registration.service, () => registration.metadata, typeof options.metrics === 'boolean' || options.metrics === undefined ? {} : options.metrics, options.metricsPath)
    : undefined;
  if (metrics) (subApp as unknown as { use(fn: unknown): void }).use(metrics.middleware);
  subApp.on('mount', (parent) => {
    const originalListen = parent.listen;
    parent.listen = function listenAndRegister(this: unknown, ...args: unknown[]) {
      const server = originalListen.apply(this, args);
      registration.attach(server);
      return server;
    };
  });
  Object.defineProperty(subApp, 'registration', { value: registration, enumerable: true });
  if (metrics) Object.defineProperty(subApp, 'metrics', { value: metrics, enumerable: true });
  return subApp;
}
