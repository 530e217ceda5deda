/**
 * The console's live model of the registry: a fold over the registry mirror (registry/mirror.ts), which watches
 * the list of services and, for each, its instances, overrides, config, rollout state and the rollout's lease, and
 * decodes and judges each znode once. Every change rebuilds the service's views (views.ts), compares them with the
 * previous ones to add to its event list (events.ts), and is announced, so the server can push it to the pages
 * within moments. A lost connection keeps every view as it was (the pages show the last known state under a banner).
 */
import { EventEmitter } from 'node:events';
import { RegistryMirror, type ConfigRead, type MirroredService } from '../registry/mirror';
import type { ResolvedCurator } from '../registry/curator';
import type { InstanceVerdict } from '../registry/verdict';
import type { NodeAndChild } from '../registry/watch';
import type { ZkSession } from '../registry/zk-session';
import type { Logger } from '../types';
import { safeEmit } from '../util/emit';
import { configEvents, instanceEvents, rolloutEvents, type ConsoleEvent, type EventDraft } from './events';
import { decodeRolloutState, type RolloutRead } from './rollout-state';
import { configView, instanceView, summarize, type ConfigView, type InstanceView, type ServiceDetail, type ServiceSummary } from './views';

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
  /** Also mirror Curator registrations (Java services). */
  curator?: ResolvedCurator;
}

/** What the console keeps of one mirrored service: its views, its events, and its rollout's reading. */
class ServiceWatch {
  detail?: ServiceDetail;
  rolloutRead?: RolloutRead;
  readonly events: ConsoleEvent[] = [];
  /** Views by the verdict they were built from: an unchanged instance keeps its view object. */
  readonly views = new WeakMap<InstanceVerdict, InstanceView>();
  private configKey?: { read: ConfigRead; view: ConfigView };
  private rolloutKey?: NodeAndChild;

  constructor(readonly mirrored: MirroredService) {}

  /** The config's view, built again only when the config znode changed. */
  configView(): ConfigView {
    const read = this.mirrored.configRead;
    if (this.configKey?.read !== read) this.configKey = { read, view: configView(read) };
    return this.configKey.view;
  }

  /** The rollout's read, decoded again only when its znode and lease were read again. */
  readRollout(): RolloutRead | undefined {
    const rollout = this.mirrored.rollout;
    if (this.rolloutKey === rollout.value) return this.rolloutRead;
    this.rolloutKey = rollout.value;
    return rollout.value.node ? decodeRolloutState(rollout.verdict) : undefined;
  }

}

/**
 * Events: `services` () when the list of services or a service's line changed; `service` (service: string,
 * events: ConsoleEvent[]) when a service's views changed, with the events that came of it; `removed` (service)
 * when a service's znode is gone; `connection` (ConnectionView).
 */
export class ConsoleModel extends EventEmitter {
  private readonly session: ZkSession;
  private readonly logger: Logger;
  private readonly eventLimit: number;
  private readonly mirror: RegistryMirror;
  private readonly services = new Map<string, ServiceWatch>();
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
    this.logger = options.logger;
    this.eventLimit = options.eventLimit;
    this.mirror = new RegistryMirror({ session: options.session, root: options.root, logger: options.logger, label: 'console: ', curator: options.curator });
    this.mirror.on('services', (names: string[]) => this.onServiceList(names));
    this.mirror.on('change', (service: string) => this.markDirty(service));
    // A part that changed while the service was not wholly read is rebuilt once it is (a new session's re-read).
    this.mirror.on('loaded', (service: string) => this.markDirty(service));
    this.mirror.watchList();
    this.sessionListeners = [
      ['connected', () => this.setConnection('connected')],
      ['disconnected', () => this.setConnection('disconnected')],
      ['expired', () => this.setConnection('disconnected', 'the ZooKeeper session expired; opening a new one')],
      // The error names the identity; the page is told only that the credentials were refused.
      ['authFailed', () => this.setConnection('disconnected', 'ZooKeeper refused the console\'s credentials')],
    ];
    for (const [event, listener] of this.sessionListeners) this.session.on(event, listener);
    if (this.session.connected) this.setConnection('connected');
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
    this.mirror.close();
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

  private onServiceList(names: readonly string[]): void {
    const listed = new Set(names);
    this.listRead = true;
    for (const name of listed) if (!this.services.has(name)) this.services.set(name, new ServiceWatch(this.mirror.watch(name)));
    for (const name of this.services.keys()) {
      if (listed.has(name)) continue;
      this.services.delete(name);
      this.mirror.unwatch(name);
      safeEmit(this, this.logger, 'removed', name);
    }
    safeEmit(this, this.logger, 'services');
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
    if (this.closed || !watch || !watch.mirrored.loaded) return false;
    const config = watch.configView();
    const instances = watch.mirrored.verdicts().map((verdict) => {
      let view = watch.views.get(verdict);
      if (!view) watch.views.set(verdict, (view = instanceView(verdict)));
      return view;
    });
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
