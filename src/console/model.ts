/**
 * The console's live model of the registry, fed by ZooKeeper watches (the recipe in registry/watch.ts) and never
 * by polling: the list of services, and for each service its instances, overrides, config, rollout state and the
 * rollout's lease. Every change rebuilds the service's views (views.ts), compares them with the previous ones to
 * add to its event list (events.ts), and is announced, so the server can push it to the pages within moments.
 *
 * Like the consumer's catalog: a lost connection keeps every view as it was (the pages show the last known state
 * under a banner) and the same session's watches come back by themselves; a new session re-reads everything.
 * Reads that fail are retried on a short tick, for what is stale only.
 */
import { EventEmitter } from 'node:events';
import { decodeConfig } from '../registry/codec';
import { configPath, instancePath, instancesPath, isValidServiceName, overridesPath, servicesPath } from '../registry/paths';
import { RolloutWatch } from '../registry/rollout-verdict';
import { ChildrenWatch, DirectoryWatch, NodeWatch, type NodeAndChild, type NodeValue, type WatchHooks } from '../registry/watch';
import type { ZkSession } from '../registry/zk-session';
import type { Logger, ServiceConfig } from '../types';
import { safeEmit } from '../util/emit';
import { configEvents, instanceEvents, rolloutEvents, type ConsoleEvent, type EventDraft } from './events';
import { decodeRolloutState, type RolloutRead } from './rollout-state';
import { configView, instanceView, summarize, type InstanceView, type ServiceDetail, type ServiceSummary } from './views';

/** The registry connection as the page shows it. */
export interface ConnectionView {
  state: 'connecting' | 'connected' | 'disconnected';
  /** Since when, epoch ms. */
  since: number;
  /** Why, when the server said (never with credentials). */
  reason?: string;
}

export interface ConsoleModelOptions {
  session: ZkSession;
  root: string;
  logger: Logger;
  eventLimit: number;
}

/** How often reads that failed are retried (what is stale only; a watch that is armed is never re-read). */
const RETRY_MS = 500;

class ServiceWatch {
  detail?: ServiceDetail;
  rolloutRead?: RolloutRead;
  lastValidConfig: ServiceConfig = {};
  readonly events: ConsoleEvent[] = [];
  /** Views by the znode value they were built from: an unchanged instance keeps its view object. */
  readonly views = new WeakMap<NodeValue, { override: NodeValue | undefined; view: InstanceView }>();
  private rolloutKey?: NodeAndChild;
  readonly instances: DirectoryWatch;
  readonly overrides: DirectoryWatch;
  readonly config: NodeWatch;
  /** The rollout znode and its lease, read at one moment (the crash verdict: registry/rollout-verdict.ts). */
  readonly rollout: RolloutWatch;

  constructor(session: ZkSession, root: string, service: string, hooks: WatchHooks) {
    this.instances = new DirectoryWatch(session, instancesPath(root, service), hooks);
    this.overrides = new DirectoryWatch(session, overridesPath(root, service), hooks);
    this.config = new NodeWatch(session, configPath(root, service), hooks);
    this.rollout = new RolloutWatch(session, root, service, hooks);
  }

  get parts(): Array<DirectoryWatch | NodeWatch | RolloutWatch> {
    return [this.instances, this.overrides, this.config, this.rollout];
  }

  get loaded(): boolean {
    return this.parts.every((part) => part.loaded);
  }

  /** The rollout's read, decoded again only when its znode and lease were read again. */
  readRollout(): RolloutRead | undefined {
    const value = this.rollout.value;
    if (this.rolloutKey === value) return this.rolloutRead;
    this.rolloutKey = value;
    return value.node ? decodeRolloutState(this.rollout.verdict) : undefined;
  }
}

/**
 * Events: `services` () when the list of services or a service's line changed; `service` (service: string,
 * events: ConsoleEvent[]) when a service's views changed, with the events that came of it; `removed` (service)
 * when a service's znode is gone; `connection` (ConnectionView).
 */
export class ConsoleModel extends EventEmitter {
  private readonly session: ZkSession;
  private readonly root: string;
  private readonly logger: Logger;
  private readonly eventLimit: number;
  private readonly services = new Map<string, ServiceWatch>();
  private readonly serviceList: ChildrenWatch;
  private readonly retryTimer: NodeJS.Timeout;
  private readonly dirty = new Set<string>();
  private flushScheduled = false;
  private listRead = false;
  private closed = false;
  private seq = 0;
  private connectionView: ConnectionView = { state: 'connecting', since: Date.now() };
  private readonly sessionListeners: Array<[string, (newSession?: boolean) => void]>;

  constructor(options: ConsoleModelOptions) {
    super();
    this.session = options.session;
    this.root = options.root;
    this.logger = options.logger;
    this.eventLimit = options.eventLimit;
    const listPath = servicesPath(this.root);
    this.serviceList = new ChildrenWatch(this.session, listPath, {
      isCurrent: () => !this.closed,
      onChange: () => this.onServiceList(),
      onError: (error) => this.logger.debug(`console: reading ${listPath} failed, will retry: ${error.message}`),
    });
    this.sessionListeners = [
      ['connected', (newSession?: boolean) => this.onConnected(newSession === true)],
      ['disconnected', () => this.setConnection('disconnected')],
      ['expired', () => this.setConnection('disconnected', 'the ZooKeeper session expired; opening a new one')],
      // The error names the identity; the page is told only that the credentials were refused.
      ['authFailed', () => this.setConnection('disconnected', 'ZooKeeper refused the console\'s credentials')],
    ];
    for (const [event, listener] of this.sessionListeners) this.session.on(event, listener);
    if (this.session.connected) this.onConnected(true);
    this.retryTimer = setInterval(() => this.retryStale(true), RETRY_MS);
    this.retryTimer.unref();
  }

  get connection(): ConnectionView {
    return this.connectionView;
  }

  /** Whether the list of services was read at least once. */
  get ready(): boolean {
    return this.listRead;
  }

  /** The services view's lines, sorted by name (services still loading are left out). */
  summaries(): ServiceSummary[] {
    const lines: ServiceSummary[] = [];
    for (const name of [...this.services.keys()].sort()) {
      const detail = this.services.get(name)?.detail;
      if (detail) lines.push(detail.summary);
    }
    return lines;
  }

  /** Whether the service is registered (its views may still be loading). */
  has(service: string): boolean {
    return this.services.has(service);
  }

  detail(service: string): ServiceDetail | undefined {
    return this.services.get(service)?.detail;
  }

  /** The service's events, oldest first. */
  events(service: string): readonly ConsoleEvent[] {
    return this.services.get(service)?.events ?? [];
  }

  /** Adds an event of the console's own (an operation done from a page) to a service's list and announces it. */
  record(service: string, draft: EventDraft): ConsoleEvent {
    const event: ConsoleEvent = { ...draft, seq: ++this.seq, service };
    const watch = this.services.get(service);
    if (watch) this.append(watch, [event]);
    safeEmit(this, this.logger, 'service', service, [event]);
    return event;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.retryTimer);
    for (const [event, listener] of this.sessionListeners) this.session.off(event, listener);
    this.services.clear();
    this.removeAllListeners();
  }

  private setConnection(state: ConnectionView['state'], reason?: string): void {
    if (this.closed) return;
    if (this.connectionView.state === state && this.connectionView.reason === reason) return;
    this.connectionView = reason === undefined ? { state, since: Date.now() } : { state, since: Date.now(), reason };
    safeEmit(this, this.logger, 'connection', this.connectionView);
  }

  private onConnected(newSession: boolean): void {
    if (this.closed) return;
    this.setConnection('connected');
    if (newSession) {
      // The old session's watches died with it: re-arm everything, keeping the views meanwhile.
      this.serviceList.reset();
      for (const watch of this.services.values()) for (const part of watch.parts) part.reset();
    }
    this.retryStale(false);
  }

  private retryStale(tick: boolean): void {
    if (this.closed || !this.session.connected) return;
    if (this.serviceList.stale && !(tick && this.serviceList.reading)) void this.serviceList.reload();
    for (const watch of this.services.values()) {
      for (const part of watch.parts) if (part.stale && !(tick && part.reading)) void part.reload();
    }
  }

  private onServiceList(): void {
    const names = new Set(this.serviceList.names.filter(isValidServiceName));
    this.listRead = true;
    for (const name of names) if (!this.services.has(name)) this.watchService(name);
    for (const [name, watch] of this.services) {
      if (names.has(name)) continue;
      this.services.delete(name);
      for (const part of watch.parts) part.reset(); // late answers of its reads are dropped
      safeEmit(this, this.logger, 'removed', name);
    }
    safeEmit(this, this.logger, 'services');
  }

  private watchService(service: string): void {
    const hooks: WatchHooks = {
      isCurrent: () => !this.closed && this.services.get(service) === watch,
      onChange: () => this.markDirty(service),
      onError: (error) => this.logger.debug(`console: reading service "${service}" failed, will retry: ${error.message}`),
    };
    const watch: ServiceWatch = new ServiceWatch(this.session, this.root, service, hooks);
    this.services.set(service, watch);
    if (this.session.connected) for (const part of watch.parts) void part.reload();
  }

  /** Changes come in bursts (a directory and its children's reads): one rebuild per service per turn of the loop. */
  private markDirty(service: string): void {
    this.dirty.add(service);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const services = [...this.dirty];
      this.dirty.clear();
      let changed = false;
      for (const name of services) changed = this.rebuild(name) || changed;
      if (changed) safeEmit(this, this.logger, 'services');
    });
  }

  private rebuild(service: string): boolean {
    const watch = this.services.get(service);
    if (this.closed || !watch || !watch.loaded) return false;
    const configValue = watch.config.value;
    const decoded = decodeConfig(configValue?.data ?? null);
    if (decoded.ok) watch.lastValidConfig = decoded.value;
    const config = configView(configValue, decoded, watch.lastValidConfig);
    const instances: InstanceView[] = [];
    for (const [id, own] of watch.instances.entries) {
      const override = watch.overrides.entries.get(id);
      const cached = watch.views.get(own);
      if (cached && cached.override === override) {
        instances.push(cached.view);
        continue;
      }
      const view = instanceView(instancePath(this.root, service, id), id, own, override);
      watch.views.set(own, { override, view });
      instances.push(view);
    }
    instances.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const rollout = watch.readRollout();
    const previous = watch.detail;
    const detail: ServiceDetail = { summary: summarize(service, config, instances, rollout), config, instances };
    const now = Date.now();
    const drafts = previous
      ? [...configEvents(previous.config, config, now), ...rolloutEvents(watch.rolloutRead, rollout, now), ...instanceEvents(previous.instances, instances, now)]
      : [];
    watch.detail = detail;
    watch.rolloutRead = rollout;
    const events = drafts.map((draft): ConsoleEvent => ({ ...draft, seq: ++this.seq, service }));
    this.append(watch, events);
    safeEmit(this, this.logger, 'service', service, events);
    return true;
  }

  private append(watch: ServiceWatch, events: readonly ConsoleEvent[]): void {
    watch.events.push(...events);
    if (watch.events.length > this.eventLimit) watch.events.splice(0, watch.events.length - this.eventLimit);
  }
}
