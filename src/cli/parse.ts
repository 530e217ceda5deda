/** Parsers of the rollout command's arguments (`--steps`, `--interval`, `--max-error-rate`, `--webhook`, `--max-latency`). Pure. */
import { InvalidOptionError } from '../errors';
import type { QuantileName } from '../rollout/latency';
import { checkSteps } from '../rollout/rollout';
import { WEBHOOK_KINDS, type Webhook, type WebhookKind } from '../rollout/webhooks';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `30s`, `500ms`, `2m`, `1m30s`, `1.5s` → milliseconds. A unit is required: a bare `30` is refused as ambiguous. */
export function parseDuration(text: string, option = 'interval'): number {
  const trimmed = String(text).trim();
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  let match: RegExpExecArray | null;
  while ((match = part.exec(trimmed)) !== null) {
    total += Number(match[1]) * UNITS[match[2]];
    end = part.lastIndex;
  }
  if (trimmed === '' || end !== trimmed.length || !(total > 0)) {
    throw new InvalidOptionError(option, `expected a duration such as 30s, 500ms, 2m or 1m30s, got ${JSON.stringify(text)}`);
  }
  return Math.round(total);
}

/** A duration for a help text: `3000` → `3s`, `1500` → `1.5s`, `250` → `250ms`. */
export function formatDuration(ms: number): string {
  return ms >= 1000 && ms % 100 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** `1%`, `0.5%` or `1` (percent) → a fraction (0.01). From 0 to 100. */
export function parsePercent(text: string, option = 'maxErrorRate'): number {
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*%?\s*$/.exec(String(text));
  const percent = match ? Number(match[1]) : NaN;
  if (!(percent >= 0 && percent <= 100)) throw new InvalidOptionError(option, `expected a percentage from 0 to 100 such as 1% or 0.5%, got ${JSON.stringify(text)}`);
  return percent / 100;
}

/** A fraction for a help text: `0.999` → `99.9%`. */
export function formatPercent(fraction: number): string {
  return `${Number((fraction * 100).toPrecision(12))}%`;
}

/** `5,25,50,100` → ratios, each in (0, 100], strictly increasing. A part that is not a number is named. */
export function parseSteps(text: string): number[] {
  const steps = String(text)
    .split(',')
    .map((part) => {
      const trimmed = part.trim().replace(/%$/, '');
      const ratio = trimmed === '' ? NaN : Number(trimmed);
      if (Number.isNaN(ratio)) throw new InvalidOptionError('steps', `each step is a ratio above 0 and at most 100, got ${JSON.stringify(part.trim())} in ${JSON.stringify(text)}`);
      return ratio;
    });
  checkSteps(steps);
  return steps;
}

/** `kind=url` → a webhook (`confirm-step=https://ci.example/gate`). */
export function parseWebhook(text: string): Webhook {
  const at = String(text).indexOf('=');
  const kind = at > 0 ? text.slice(0, at).trim() : '';
  const url = at > 0 ? text.slice(at + 1).trim() : '';
  if (!WEBHOOK_KINDS.includes(kind as WebhookKind)) throw new InvalidOptionError('webhook', `expected <kind>=<url> with a kind among ${WEBHOOK_KINDS.join(', ')}, got ${JSON.stringify(kind || text)}`);
  if (!/^https?:\/\/\S+$/.test(url)) throw new InvalidOptionError('webhook', `${kind}: expected an http(s) URL after "="`);
  return { kind: kind as WebhookKind, url };
}

/** `p99=250ms` or `p50=50ms,p99=250ms` → `{ p50: 50, p99: 250 }` (ms), merged over `previous`. */
export function parseMaxLatency(text: string, previous: Partial<Record<QuantileName, number>> = {}): Partial<Record<QuantileName, number>> {
  const limits = { ...previous };
  for (const part of String(text).split(',')) {
    const match = /^\s*(p50|p95|p99)\s*=\s*(\S+)\s*$/.exec(part);
    if (!match) throw new InvalidOptionError('max-latency', `expected p50=, p95= or p99= and a duration, such as p99=250ms, got ${JSON.stringify(part.trim())}`);
    limits[match[1] as QuantileName] = parseDuration(match[2], 'max-latency');
  }
  return limits;
}
