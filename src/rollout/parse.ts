/** Parsers for the rollout's inputs (`--steps`, `--interval`, `--max-error-rate`), shared by the CLI and tests. Pure. */
import { InvalidOptionError } from '../errors';

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

/** `1%`, `0.5%` or `1` (percent) → a fraction (0.01). From 0 to 100. */
export function parsePercent(text: string, option = 'maxErrorRate'): number {
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*%?\s*$/.exec(String(text));
  const percent = match ? Number(match[1]) : NaN;
  if (!(percent >= 0 && percent <= 100)) throw new InvalidOptionError(option, `expected a percentage from 0 to 100 such as 1% or 0.5%, got ${JSON.stringify(text)}`);
  return percent / 100;
}

/** `5,25,50,100` → ratios, each in (0, 100], strictly increasing. */
export function parseSteps(text: string): number[] {
  const steps = String(text)
    .split(',')
    .map((part) => part.trim().replace(/%$/, ''))
    .map((part) => (part === '' ? NaN : Number(part)));
  checkSteps(steps);
  return steps;
}

export function checkSteps(steps: readonly number[]): void {
  if (!Array.isArray(steps) || steps.length === 0) throw new InvalidOptionError('steps', 'expected at least one ratio, e.g. 5,25,50,100');
  steps.forEach((ratio, i) => {
    if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 100)) throw new InvalidOptionError('steps', `each step is a ratio above 0 and at most 100, got ${JSON.stringify(ratio)}`);
    if (i > 0 && !(ratio > steps[i - 1])) throw new InvalidOptionError('steps', `steps must increase, got ${steps[i - 1]} then ${ratio}`);
  });
}
