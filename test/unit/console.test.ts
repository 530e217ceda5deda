/**
 * The console's pure parts: metrics arithmetic, the rollout document, the event list, the request checks, options,
 * and the list of the page's files.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry, Counter, Histogram } from 'prom-client';
import { configEvents, instanceEvents, rolloutEvents } from '../../src/console/events';
import { lanePoint } from '../../src/console/lane-metrics';
import { addIncrease, emptyIncrease, providerCounts } from '../../src/scrape/counters';
import { histogramQuantile } from '../../src/scrape/histogram';
import { DEFAULT_CONSOLE_OPTIONS, normalizeAllowedHost, resolveConsoleOptions } from '../../src/console/options';
import { ASSET_DIR, OWN_SCRIPTS, loadAssets, packageRoot } from '../../src/console/assets';
import { decodeRolloutState } from '../../src/console/rollout-state';
import { judgeRollout } from '../../src/registry/rollout-verdict';
import type { Stat } from '../../src/registry/zk-session';
import { recordedStep, rolloutDocument } from '../support/rollout-document';
import { isAllowedHost, isSameOrigin, presentedToken, tokenMatches } from '../../src/console/security';
import type { ConfigView, InstanceView } from '../../src/console/views';
import { PROVIDER_DURATION, PROVIDER_REQUESTS } from '../../src/metrics';
import { parseExposition } from '../../src/scrape/exposition';

/** The console's view of a rollout znode holding `data`, with or without its lease (both read at one moment). */
function readState(data: string, leaseHeld: boolean) {
  const stat = {} as Stat;
  return decodeRolloutState(judgeRollout({ node: { data: Buffer.from(data), stat }, child: leaseHeld ? { data: null, stat } : null }));
}

describe('lane metrics', () => {
  async function page(observe: (requests: Counter, duration: Histogram) => void): Promise<string> {
    // A real prom-client registry with graykit's metric names, as a provider serves it.
    const registry = new Registry();
    const labelNames = ['service', 'version', 'lane', 'status_class'];
    const requests = new Counter({ name: PROVIDER_REQUESTS, help: 'h', labelNames, registers: [registry] });
    const duration = new Histogram({ name: PROVIDER_DURATION, help: 'h', labelNames, buckets: [0.005, 0.01, 0.1, 1], registers: [registry] });
    observe(requests, duration);
    return registry.metrics();
  }

  test('providerCounts sums the service\'s requests, 5xx and latency buckets, without aborted requests or other services', async () => {
    const text = await page((requests, duration) => {
      const ok = { service: 'demo', version: 'v1', lane: 'normal', status_class: '2xx' };
      requests.inc(ok, 8);
      for (let i = 0; i < 8; i++) duration.observe(ok, 0.004);
      requests.inc({ ...ok, status_class: '5xx' }, 2);
      duration.observe({ ...ok, status_class: '5xx' }, 0.05);
      duration.observe({ ...ok, status_class: '5xx' }, 0.05);
      requests.inc({ ...ok, status_class: 'aborted' }, 5);
      duration.observe({ ...ok, status_class: 'aborted' }, 0.5);
      requests.inc({ ...ok, service: 'other' }, 100);
    });
    const counters = providerCounts(parseExposition(text), 'demo');
    expect(counters.requests).toBe(10);
    expect(counters.http5xx).toBe(2);
    expect(Object.fromEntries(counters.buckets)).toEqual({ 0.005: 8, 0.01: 8, 0.1: 10, 1: 10, Infinity: 10 });
  });

  test.each([
    // [q, cumulative buckets, expected]
    [0.5, { 0.01: 10, 0.1: 10, Infinity: 10 }, 0.005],
    [0.5, { 0.01: 0, 0.1: 10, Infinity: 10 }, 0.055],
    [0.99, { 0.01: 50, 0.1: 100, Infinity: 100 }, 0.01 + 0.09 * (49 / 50)],
    [0.99, { 0.01: 50, 0.1: 90, Infinity: 100 }, 0.1], // in +Inf: the highest finite bound
    [0.5, { 0.01: 0, Infinity: 0 }, null],
    [0.5, {}, null],
  ] as Array<[number, Record<string, number>, number | null]>)('histogramQuantile(%s, %j) = %s', (q, cumulative, expected) => {
    const buckets = new Map(Object.entries(cumulative).map(([le, count]) => [le === 'Infinity' ? Infinity : Number(le), count]));
    const value = histogramQuantile(q, buckets);
    if (expected === null) expect(value).toBeNull();
    else expect(value).toBeCloseTo(expected, 10);
  });

  test('addIncrease counts what happened since the previous scrape, and all of it after a restart', () => {
    const before = { requests: 100, http5xx: 4, buckets: new Map([[0.1, 90], [Infinity, 100]]) };
    const after = { requests: 130, http5xx: 7, buckets: new Map([[0.1, 110], [Infinity, 130]]) };
    const window = emptyIncrease();
    addIncrease(window, before, after);
    expect(window).toEqual({ requests: 30, http5xx: 3, connectionErrors: 0, buckets: new Map([[0.1, 20], [Infinity, 30]]) });
    const restarted = { requests: 12, http5xx: 1, buckets: new Map([[0.1, 12], [Infinity, 12]]) };
    const afterRestart = emptyIncrease();
    addIncrease(afterRestart, after, restarted);
    expect(afterRestart).toEqual({ requests: 12, http5xx: 1, connectionErrors: 0, buckets: new Map([[0.1, 12], [Infinity, 12]]) });
  });

  test('lanePoint: rates per second, error rate and quantiles in ms; nulls without requests', () => {
    const increase = { requests: 40, http5xx: 2, connectionErrors: 0, buckets: new Map([[0.01, 20], [0.1, 40], [Infinity, 40]]) };
    expect(lanePoint(increase, 2, 2)).toEqual({ instances: 2, requests: 40, errors: 2, rps: 20, errorRate: 0.05, p50: 10, p99: 98.2 });
    expect(lanePoint(emptyIncrease(), 1, 2)).toEqual({ instances: 1, requests: 0, errors: 0, rps: 0, errorRate: null, p50: null, p99: null });
  });
});

describe('rollout state', () => {
  const doc = rolloutDocument({
    id: 'r1',
    state: 'running',
    step: 2,
    startedAt: '2026-01-01T10:00:00.000Z',
    updatedAt: '2026-01-01T10:01:00.000Z',
    by: { host: 'ops-1', user: 'alice', pid: 42 },
    onCrash: 'hold',
    history: [recordedStep(1, 5, 'pass', 'fine', { requests: 200, errors: 1 }, { requests: 4000, errors: 4 }), recordedStep(2, 25)],
  });

  test('running with its lease, crashed without it, finished otherwise', () => {
    const running = readState(JSON.stringify(doc), true);
    expect(running).toMatchObject({ ok: true, rollout: { id: 'r1', state: 'running', status: 'running', step: 2, ratio: 25, startedAt: Date.parse(doc.startedAt), updatedAt: Date.parse(doc.updatedAt) } });
    expect(running.ok && running.rollout.history[0]).toEqual({ step: 1, ratio: 5, verdict: { result: 'pass', reason: 'fine' }, gray: { requests: 200, errors: 1, errorRate: 0.005 }, normal: { requests: 4000, errors: 4, errorRate: 0.001 } });
    expect(readState(JSON.stringify(doc), false)).toMatchObject({ ok: true, rollout: { status: 'crashed' } });
    expect(readState(JSON.stringify({ ...doc, state: 'promoted' }), false)).toMatchObject({ ok: true, rollout: { status: 'finished', state: 'promoted' } });
  });

  test.each([
    ['not JSON', '{"id":', /not JSON/],
    ['not an object', '[1,2]', /not a JSON object/],
    ['empty', '', /no rollout recorded/],
    ['not a rollout document', '{"state":"exploded","steps":["x"]}', /"id" is undefined, not a non-empty string/],
  ])('unreadable documents say why (%s)', (_name, data, reason) => {
    const read = readState(data, true);
    expect(read.ok).toBe(false);
    expect(!read.ok && read.reason).toMatch(reason);
  });

  test('what it shows is bounded: long texts are clipped', () => {
    const read = readState(JSON.stringify({ ...doc, state: 'aborted', reason: 'y'.repeat(5000), id: 'z'.repeat(500) }), true);
    expect(read).toMatchObject({ ok: true, rollout: { state: 'aborted', status: 'finished' } });
    expect(read.ok && read.rollout.reason!.length).toBeLessThanOrEqual(300);
    expect(read.ok && read.rollout.id.length).toBeLessThanOrEqual(80);
  });
});

describe('event list', () => {
  const instance = (id: string, lane: InstanceView['lane'], extra: Partial<InstanceView> = {}): InstanceView => ({ id, lane, flagFrom: 'own', weightFrom: 'own', since: 1000, version: 'v1', weight: 100, ...extra });
  const config = (version: number, ratio?: number, extra: Partial<ConfigView> = {}): ConfigView => ({ document: { ratio }, config: ratio === undefined ? {} : { ratio }, version, mtime: version, ...extra });

  test.each([
    ['registered', [], [instance('a:1', 'gray', { version: 'v2' })], { kind: 'registered', lane: 'gray', text: 'a:1 v2 registered (gray)' }],
    ['gone', [instance('a:1', 'normal')], [], { kind: 'gone', lane: 'normal', text: 'a:1 v1 gone (normal)' }],
    ['flag flipped by an override', [instance('a:1', 'gray')], [instance('a:1', 'normal', { flagFrom: 'override', ownGray: true })], { kind: 'flag', text: 'a:1 gray → normal (override)' }],
    ['override cleared', [instance('a:1', 'normal', { flagFrom: 'override', ownGray: true })], [instance('a:1', 'gray')], { kind: 'flag', text: 'a:1 normal → gray (override cleared, own flag)' }],
    ['own flag flipped', [instance('a:1', 'gray')], [instance('a:1', 'normal')], { kind: 'flag', text: 'a:1 gray → normal (own flag)' }],
    ['version changed', [instance('a:1', 'gray')], [instance('a:1', 'gray', { version: 'v3' })], { kind: 'instance', text: 'a:1: version v1 → v3' }],
    ['registered again', [instance('a:1', 'gray')], [instance('a:1', 'gray', { since: 2000 })], { kind: 'registered', text: 'a:1 v1 registered again (gray)' }],
  ] as Array<[string, InstanceView[], InstanceView[], Record<string, unknown>]>)('instances: %s', (_name, before, after, expected) => {
    const events = instanceEvents(before, after, 5000);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ at: 5000, ...expected });
  });

  test('an unchanged instance (the same view object) makes no event', () => {
    const same = instance('a:1', 'gray');
    expect(instanceEvents([same], [same], 1)).toEqual([]);
  });

  test.each([
    ['ratio', config(3, 10), config(4, 30), 'ratio 10 % → 30 % (config v4)', 'info'],
    ['ratio set first', config(-1), config(0, 5), 'ratio unset → 5 % (config v0)', 'info'],
    ['invalid document', config(3, 10), config(4, 10, { error: '"ratio" is 900' }), 'config v4 is invalid, consumers keep the last valid one: "ratio" is 900', 'error'],
    ['rules', config(3, 10), config(4, 10, { config: { ratio: 10, rules: [{ header: 'x-beta', equals: '1', lane: 'gray' }] } }), 'rules changed (0 rules → 1 rule) (config v4)', 'info'],
  ] as Array<[string, ConfigView, ConfigView, string, string]>)('config: %s', (_name, before, after, text, level) => {
    expect(configEvents(before, after, 7)).toEqual([{ at: 7, kind: 'config', level, text }]);
  });

  test('rollout: start, each step\'s verdict, the crash and the outcome', () => {
    const base = rolloutDocument({ id: 'r1', state: 'running', steps: [5, 50], step: 1 });
    const read = (doc: object, lease: boolean) => readState(JSON.stringify(doc), lease);
    const started = read(base, true);
    expect(rolloutEvents(undefined, started, 1).map((e) => e.text)).toEqual(['rollout r1 started by alice@ops-1: steps 5, 50']);
    const passed = recordedStep(1, 5, 'pass', 'ok', { requests: 100, errors: 0 });
    const judged = read({ ...base, step: 2, history: [passed] }, true);
    expect(rolloutEvents(started, judged, 2).map((e) => e.text)).toEqual(['rollout step 1/2 (ratio 5 %): pass — ok [gray 100 req, 0.00 % errors; normal 0 req, - errors]', 'rollout step 2/2: ratio 50 %']);
    const crashed = read({ ...base, step: 2, history: [passed] }, false);
    expect(rolloutEvents(judged, crashed, 3)).toEqual([{ at: 3, kind: 'rollout', level: 'error', text: 'rollout r1 crashed: its process is gone (lease released) at step 2/2; on crash: rollback' }]);
    const aborted = read({ ...base, state: 'aborted', reason: 'gray errs', step: 2, history: [passed, recordedStep(2, 50, 'breach', 'too many')] }, false);
    expect(rolloutEvents(crashed, aborted, 4).map((e) => [e.level, e.text])).toEqual([
      ['error', 'rollout step 2/2 (ratio 50 %): breach — too many [gray 0 req, - errors; normal 0 req, - errors]'],
      ['error', 'rollout r1 aborted: gray errs'],
    ]);
    // A rollout that started and died between two reads: both are said.
    const died = read({ ...base, id: 'r2' }, false);
    expect(rolloutEvents(aborted, died, 5).map((e) => e.text)).toEqual(['rollout r2 started by alice@ops-1: steps 5, 50', 'rollout r2 crashed: its process is gone (lease released) at step 1/2; on crash: rollback']);
  });
});

describe('request checks', () => {
  const allowed = new Set(['console.example', 'proxy.example:8443']);
  test.each([
    ['127.0.0.1:7070', true],
    ['localhost:7070', true],
    ['[::1]:7070', true],
    ['10.1.2.3', true],
    ['console.example', true],
    ['CONSOLE.example:7070', true],
    ['proxy.example:8443', true],
    ['proxy.example:9000', false],
    ['evil.example:7070', false],
    ['127.0.0.1.evil.example', false],
    ['localhost.evil.example', false],
    ['', false],
    [undefined, false],
    ['a b', false],
    ['user@127.0.0.1', false],
  ])('Host %j allowed: %s', (host, expected) => {
    expect(isAllowedHost(host, allowed)).toBe(expected);
  });

  const request = (headers: Record<string, string>) => ({ headers } as unknown as IncomingMessage);

  test('the token comes from Authorization: Bearer or x-graykit-token, never a cookie', () => {
    expect(presentedToken(request({ authorization: 'Bearer abc' }))).toBe('abc');
    expect(presentedToken(request({ authorization: 'bearer   abc  ' }))).toBe('abc');
    expect(presentedToken(request({ 'x-graykit-token': 'xyz' }))).toBe('xyz');
    expect(presentedToken(request({ authorization: 'Basic abc' }))).toBeUndefined();
    expect(presentedToken(request({ cookie: 'token=abc' }))).toBeUndefined();
  });

  test('tokenMatches only the exact token', () => {
    const token = 'a'.repeat(43);
    expect(tokenMatches(token, token)).toBe(true);
    for (const wrong of [undefined, '', 'a'.repeat(42), `${token}a`, 'b'.repeat(43)]) expect(tokenMatches(wrong, token)).toBe(false);
  });

  test('Origin, when sent, must be the console\'s own', () => {
    expect(isSameOrigin(request({ host: '127.0.0.1:7070' }))).toBe(true);
    expect(isSameOrigin(request({ host: '127.0.0.1:7070', origin: 'http://127.0.0.1:7070' }))).toBe(true);
    expect(isSameOrigin(request({ host: '127.0.0.1:7070', origin: 'http://evil.example' }))).toBe(false);
    expect(isSameOrigin(request({ host: '127.0.0.1:7070', origin: 'null' }))).toBe(false);
  });
});

describe('console options', () => {
  test('defaults, and a generated token unless read-only', () => {
    const resolved = resolveConsoleOptions({});
    expect(resolved).toMatchObject({ port: 7070, host: '127.0.0.1', readOnly: false, scrapeIntervalMs: 2000, scrapeTimeoutMs: 1500, historyMs: 300_000, eventLimit: 200 });
    expect(resolved.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(resolveConsoleOptions({}).token).not.toBe(resolved.token);
    expect(resolveConsoleOptions({ readOnly: true }).token).toBeUndefined();
    expect(DEFAULT_CONSOLE_OPTIONS.port).toBe(7070);
  });

  test('never mutates the caller\'s options', () => {
    const options = Object.freeze({ allowedHosts: Object.freeze(['Console.Example']), port: 0 });
    expect(() => resolveConsoleOptions(options)).not.toThrow();
  });

  test.each([
    [{ port: 70000 }, 'port'],
    [{ host: 'not a host' }, 'host'],
    [{ readOnly: 'yes' }, 'readOnly'],
    [{ token: 'short' }, 'token'],
    [{ readOnly: true, token: 'a'.repeat(20) }, 'token'],
    [{ allowedHosts: ['http://x'] }, 'allowedHosts'],
    [{ scrapeIntervalMs: 10 }, 'scrapeIntervalMs'],
    [{ scrapeIntervalMs: 1000, scrapeTimeoutMs: 1000 }, 'scrapeTimeoutMs'],
    [{ consumerMetrics: ['ftp://x/metrics'] }, 'consumerMetrics'],
  ] as Array<[Record<string, unknown>, string]>)('%j is refused naming `%s`', (options, option) => {
    expect(() => resolveConsoleOptions(options)).toThrow(expect.objectContaining({ code: 'ERR_GRAYKIT_INVALID_OPTION', option }));
  });

  test('a refused token is not echoed', () => {
    expect(() => resolveConsoleOptions({ token: 'has spaces in it, secret' })).toThrow(expect.objectContaining({ message: expect.not.stringContaining('secret') }));
  });

  test.each([
    ['Console.Example', 'console.example'],
    ['console.example:8443', 'console.example:8443'],
    ['[::1]:80', '[::1]:80'],
    ['bad/name', undefined],
  ])('allowed host %j is kept as %j', (entry, expected) => {
    expect(normalizeAllowedHost(entry)).toBe(expected);
  });
});

describe('the page\'s files', () => {
  const dir = join(packageRoot(), ASSET_DIR);
  const scripts = [...OWN_SCRIPTS].sort();
  /** The modules `name` imports: the page's imports are one line each, from its own directory. */
  const importsOf = (name: string) => [...readFileSync(join(dir, name), 'utf8').matchAll(/^import [^;\n]* from '\.\/([^']+)';$/gm)].map((match) => match[1]);

  test('the served modules are the directory\'s, and app.js imports each of them and nothing else', () => {
    expect(readdirSync(dir).filter((name) => name.endsWith('.js')).sort()).toEqual(scripts);
    const reached = new Set<string>();
    const visit = (name: string): void => {
      if (reached.has(name)) return;
      reached.add(name);
      importsOf(name).forEach(visit);
    };
    visit('app.js');
    expect([...reached].sort()).toEqual(scripts);
  });

  test('a module missing from the package stops the console at start, naming the file', () => {
    const base = mkdtempSync(join(tmpdir(), 'graykit-console-assets-'));
    try {
      cpSync(dir, join(base, ASSET_DIR), { recursive: true });
      rmSync(join(base, ASSET_DIR, 'charts.js'));
      expect(() => loadAssets(base)).toThrow(expect.objectContaining({ code: 'ERR_GRAYKIT_MISSING_DEPENDENCY', message: expect.stringContaining(`${join(ASSET_DIR, 'charts.js')} is missing`) }));
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
