/**
 * One page's live connection: a server-sent event stream that pushes what the model and the scraper announce.
 * The first message (`hello`) carries everything the page shows; later ones carry what changed: the services'
 * lines, the shown service's changed instances (by id, so a change to one instance of a thousand sends one), its
 * new events, each new metrics point, and the registry connection's state.
 *
 * Pushes are coalesced: at most one per `throttleMs` per kind, the first at once, so a burst of registry changes
 * (a fleet registering) costs a few messages, and a single change arrives within milliseconds.
 */
import type { ServerResponse } from 'node:http';
import type { ConsoleEvent } from './events';
import type { MetricsPoint } from './lane-metrics';
import type { MetricsScraper } from './metrics-scraper';
import type { ConnectionView, ConsoleModel } from './model';
import type { InstanceView } from './views';

/** A client that reads slower than this many bytes behind is cut off; its EventSource reconnects with a fresh hello. */
const MAX_BUFFERED = 8 * 1024 * 1024;
/** A comment line this often keeps proxies and the browser from timing the stream out. */
const HEARTBEAT_MS = 15_000;

export interface LiveStreamContext {
  model: ConsoleModel;
  scraper: MetricsScraper;
  /** What the page needs to know about the console itself (read-only, the registry's address, the interval). */
  about: Record<string, unknown>;
  throttleMs: number;
}

export class LiveStream {
  private readonly sent = new Map<string, InstanceView>();
  private pendingEvents: ConsoleEvent[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly lastPush = new Map<string, number>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly endView?: () => void;
  private closed = false;
  private readonly onServices = () => this.schedule('overview');
  private readonly onService = (name: string, events: ConsoleEvent[]) => {
    if (name !== this.service) return;
    this.pendingEvents.push(...events);
    this.schedule('service');
  };
  private readonly onRemoved = (name: string) => {
    if (name === this.service) this.schedule('service');
  };
  private readonly onConnection = (connection: ConnectionView) => this.send('connection', connection);
  private readonly onPoint = (name: string, point: MetricsPoint) => {
    if (name === this.service) this.send('metrics', point);
  };

  constructor(
    private readonly res: ServerResponse,
    private readonly context: LiveStreamContext,
    private readonly service: string | undefined,
    private readonly onClose: (stream: LiveStream) => void,
  ) {
    const { model, scraper } = context;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.write('retry: 1000\n\n');
    model.on('services', this.onServices);
    model.on('service', this.onService);
    model.on('removed', this.onRemoved);
    model.on('connection', this.onConnection);
    scraper.on('point', this.onPoint);
    if (service !== undefined) this.endView = scraper.view(service);
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
    res.on('close', () => this.close());
    const detail = service === undefined ? undefined : model.detail(service);
    if (detail) for (const instance of detail.instances) this.sent.set(instance.id, instance);
    this.send('hello', {
      console: context.about,
      connection: model.connection,
      ready: model.ready,
      services: model.summaries(),
      service: service === undefined ? undefined : { name: service, exists: model.has(service), detail, events: model.events(service), metrics: scraper.history(service) },
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const { model, scraper } = this.context;
    model.off('services', this.onServices);
    model.off('service', this.onService);
    model.off('removed', this.onRemoved);
    model.off('connection', this.onConnection);
    scraper.off('point', this.onPoint);
    this.endView?.();
    clearInterval(this.heartbeat);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    if (!this.res.writableEnded) this.res.end();
    this.onClose(this);
  }

  private schedule(kind: 'overview' | 'service'): void {
    if (this.closed || this.timers.has(kind)) return;
    const wait = Math.max(0, (this.lastPush.get(kind) ?? 0) + this.context.throttleMs - Date.now());
    const timer = setTimeout(() => {
      this.timers.delete(kind);
      this.lastPush.set(kind, Date.now());
      if (kind === 'overview') this.pushOverview();
      else this.pushService();
    }, wait);
    timer.unref();
    this.timers.set(kind, timer);
  }

  private pushOverview(): void {
    this.send('overview', { connection: this.context.model.connection, ready: this.context.model.ready, services: this.context.model.summaries() });
  }

  private pushService(): void {
    const service = this.service as string;
    const { model } = this.context;
    const detail = model.detail(service);
    const events = this.pendingEvents;
    this.pendingEvents = [];
    if (!detail) {
      this.sent.clear();
      this.send('service', { name: service, exists: model.has(service), reset: true, events });
      return;
    }
    const upsert: InstanceView[] = [];
    const seen = new Set<string>();
    for (const instance of detail.instances) {
      seen.add(instance.id);
      if (this.sent.get(instance.id) !== instance) {
        upsert.push(instance);
        this.sent.set(instance.id, instance);
      }
    }
    const remove: string[] = [];
    for (const id of this.sent.keys()) {
      if (!seen.has(id)) {
        remove.push(id);
        this.sent.delete(id);
      }
    }
    this.send('service', { name: service, exists: true, summary: detail.summary, config: detail.config, upsert, remove, events });
  }

  private send(event: string, data: unknown): void {
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private write(text: string): void {
    if (this.closed || this.res.writableEnded) return;
    if (this.res.writableLength > MAX_BUFFERED) {
      this.res.destroy();
      this.close();
      return;
    }
    this.res.write(text);
  }
}
