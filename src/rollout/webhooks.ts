/**
 * A rollout's webhooks, Flagger's model: gates that must answer 2xx before the rollout goes on, and notifications.
 *
 * - Gates (`pre-rollout` before the first step, `confirm-step` before each step's ratio is written,
 *   `confirm-promotion` before promotion): every webhook of the kind is POSTed until it answers 2xx, one POST at a
 *   time bounded by `timeoutMs`, again every `intervalMs`; the rollout waits meanwhile, at most `gateTimeoutMs`,
 *   then fails closed.
 * - Notifications (`rollback` on each rollback to ratio 0, `event` on every event): fire-and-forget, in order per
 *   URL, each tried up to 3 times (0.5 s, 1 s apart); a queue of at most 100 per URL (beyond that the oldest
 *   event notifications are dropped: a dead receiver must not grow the rollout's memory).
 *
 * The payload is one JSON object (README "Webhooks"): `{ kind, id, services, step, of, ratio, at, ... }`.
 */
import { graykitVersion } from '../version';
import { sleep } from '../util/time';

export const WEBHOOK_KINDS = ['pre-rollout', 'confirm-step', 'confirm-promotion', 'rollback', 'event'] as const;
export type WebhookKind = (typeof WEBHOOK_KINDS)[number];
export const GATE_KINDS: readonly WebhookKind[] = ['pre-rollout', 'confirm-step', 'confirm-promotion'];

export interface Webhook {
  kind: WebhookKind;
  url: string;
}

/** What every webhook receives. `event` carries the rollout event for kind `event`; `reason` why, for `rollback`. */
export interface WebhookPayload {
  kind: WebhookKind;
  /** The rollout's id (README "Znode layout"). */
  id: string;
  services: string[];
  /** The step about to begin (gates) or in progress, 1-based; 0 before the first. */
  step: number;
  of: number;
  /** The ratio of that step (the one a `confirm-step` gate is asked about). */
  ratio: number;
  /** When it was sent, ISO. */
  at: string;
  reason?: string;
  event?: unknown;
}

const NOTIFY_TRIES = [0, 500, 1000];
const MAX_QUEUE = 100;

/** One POST: `ok` on a 2xx within `timeoutMs`; otherwise what happened. Never rejects. */
export async function postWebhook(url: string, payload: WebhookPayload, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': `graykit/${graykitVersion()}` },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer().catch(() => undefined);
    return { ok: response.status >= 200 && response.status < 300, detail: `HTTP ${response.status}` };
  } catch (error) {
    const name = (error as Error).name;
    return { ok: false, detail: name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (error as Error).message };
  }
}

export interface GateOptions {
  gateTimeoutMs: number;
  intervalMs: number;
  signal?: AbortSignal;
  /** Called between polls (the rollout checks for an abort, a lost lease, a changed ratio); may throw to stop. */
  check?: () => Promise<void>;
  /** Called once per poll that did not pass, with what each pending webhook answered. */
  onWait?: (detail: string) => void;
}

export class Webhooks {
  private readonly queues = new Map<string, { chain: Promise<void>; length: number }>();

  constructor(
    readonly hooks: readonly Webhook[],
    private readonly timeoutMs: number,
  ) {}

  has(kind: WebhookKind): boolean {
    return this.hooks.some((hook) => hook.kind === kind);
  }

  /**
   * Waits until every webhook of the gate `kind` answered 2xx. Resolves `{ passed: false, detail }` after
   * `gateTimeoutMs`; rejects when `signal` aborts or `check` throws.
   */
  async gate(kind: WebhookKind, payload: () => WebhookPayload, options: GateOptions): Promise<{ passed: boolean; detail: string }> {
    let pending = this.hooks.filter((hook) => hook.kind === kind);
    const deadline = Date.now() + options.gateTimeoutMs;
    let detail = '';
    for (;;) {
      const answers = await Promise.all(pending.map(async (hook) => ({ hook, answer: await postWebhook(hook.url, payload(), Math.min(this.timeoutMs, Math.max(1, deadline - Date.now()))) })));
      pending = answers.filter(({ answer }) => !answer.ok).map(({ hook }) => hook);
      if (pending.length === 0) return { passed: true, detail: 'every webhook answered 2xx' };
      detail = answers
        .filter(({ answer }) => !answer.ok)
        .map(({ hook, answer }) => `${redact(hook.url)}: ${answer.detail}`)
        .join('; ');
      options.onWait?.(detail);
      const left = deadline - Date.now();
      if (left <= 0) return { passed: false, detail: `${kind} webhook did not answer 2xx within ${options.gateTimeoutMs} ms (${detail})` };
      await sleep(Math.min(options.intervalMs, left), options.signal);
      await options.check?.();
    }
  }

  /** Sends a notification of `kind` to its webhooks without waiting (see the module comment). */
  notify(kind: 'rollback' | 'event', payload: WebhookPayload): void {
    for (const hook of this.hooks) {
      if (hook.kind !== kind) continue;
      const queue = this.queues.get(hook.url) ?? { chain: Promise.resolve(), length: 0 };
      this.queues.set(hook.url, queue);
      if (queue.length >= MAX_QUEUE && kind === 'event') continue;
      queue.length++;
      queue.chain = queue.chain.then(async () => {
        for (const delay of NOTIFY_TRIES) {
          if (delay) await sleep(delay);
          if ((await postWebhook(hook.url, payload, this.timeoutMs)).ok) break;
        }
        queue.length--;
      });
    }
  }

  /** Waits for the notifications queued so far, at most `maxMs`. */
  async flush(maxMs: number): Promise<void> {
    const all = Promise.all([...this.queues.values()].map((queue) => queue.chain));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, maxMs)))]);
    clearTimeout(timer);
  }
}

/** A webhook URL for messages: its user info and query (where tokens live) hidden. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) parsed.username = parsed.password = '';
    if (parsed.search) parsed.search = '?…';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}
