/** The pure parts of the rollout: parsing, the verdict (errors and latency), the exposition reader, counter increases, the state document. */
import { InvalidOptionError } from '../../src';
import { formatSnapshot } from '../../src/cli/format';
import { parseDuration, parseMaxLatency, parsePercent, parseSteps, parseWebhook } from '../../src/cli/parse';
import { crashRollsBack, decodeRolloutDocument, isCrashed } from '../../src/registry/rollout-state';
import { latencyStats, slowerThan, tailBound } from '../../src/rollout/latency';
import { histogramQuantile, parseLe } from '../../src/scrape/histogram';
import { providerCounts } from '../../src/scrape/counters';
import { parseExposition } from '../../src/scrape/exposition';
import { judge, normalQuantile, zScore } from '../../src/rollout/judge';
import { StepCounter, type Scrape } from '../../src/rollout/scrape';

describe('rollout input parsing', () => {
  test.each([
    ['30s', 30_000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['1h', 3_600_000],
  ])('duration %s = %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  test.each(['30', '', 's', '0s', '-1s', '30 s x', '1d'])('duration %j is refused', (text) => expect(() => parseDuration(text)).toThrow(InvalidOptionError));

  test.each([
    ['1%', 0.01],
    ['0.5%', 0.005],
    ['1', 0.01],
    ['100%', 1],
    ['0', 0],
  ])('percent %s = %d', (text, fraction) => expect(parsePercent(text)).toBeCloseTo(fraction, 12));

  test.each(['101%', '-1%', 'one', '', '1%%'])('percent %j is refused', (text) => expect(() => parsePercent(text)).toThrow(InvalidOptionError));

  test('steps: increasing ratios in (0, 100]', () => {
    expect(parseSteps('5,25,50,100')).toEqual([5, 25, 50, 100]);
    expect(parseSteps(' 10% , 100 ')).toEqual([10, 100]);
    for (const bad of ['', '0,50', '50,25', '10,10', '10,150', '5,,10', 'a,b']) expect(() => parseSteps(bad)).toThrow(InvalidOptionError);
  });
});

describe('judge', () => {
  const options = { maxErrorRate: 0.01, minRequests: 50, normalConfidence: 0.999 };
  test.each([
    ['no errors', { requests: 100, errors: 0 }, { requests: 1000, errors: 0 }, 'pass'],
    ['exactly at the threshold', { requests: 100, errors: 1 }, { requests: 1000, errors: 10 }, 'pass'],
    ['10 % of gray fails', { requests: 100, errors: 10 }, { requests: 1000, errors: 0 }, 'breach'],
    ['above the threshold, normal as bad', { requests: 100, errors: 5 }, { requests: 1000, errors: 50 }, 'breach'],
    ['too few gray requests', { requests: 49, errors: 0 }, { requests: 1000, errors: 0 }, 'insufficient'],
    ['too few gray requests, even with errors', { requests: 10, errors: 5 }, { requests: 1000, errors: 0 }, 'insufficient'],
    ['under the threshold but far above normal', { requests: 20_000, errors: 180 }, { requests: 20_000, errors: 0 }, 'breach'],
    ['under the threshold, like normal', { requests: 20_000, errors: 100 }, { requests: 20_000, errors: 95 }, 'pass'],
    ['no normal traffic (ratio 100)', { requests: 100, errors: 0 }, { requests: 0, errors: 0 }, 'pass'],
  ] as const)('%s', (_name, gray, normal, result) => {
    expect(judge(gray, normal, options).result).toBe(result);
  });

  test('the comparison with normal can be turned off', () => {
    expect(judge({ requests: 20_000, errors: 180 }, { requests: 20_000, errors: 0 }, { ...options, normalConfidence: 0 }).result).toBe('pass');
  });

  test('unavailable gray metrics make a step insufficient, whatever the counts', () => {
    const verdict = judge({ requests: 1000, errors: 0 }, { requests: 1000, errors: 0 }, options, ['127.0.0.1:1: ECONNREFUSED']);
    expect(verdict).toEqual({ result: 'insufficient', reason: expect.stringContaining('ECONNREFUSED') });
  });

  test('the reason names both lanes\' rates and counts', () => {
    expect(judge({ requests: 200, errors: 20 }, { requests: 800, errors: 0 }, options).reason).toBe(
      'gray error rate 10.00% > max 1.00% (gray 10.00% (20/200), normal 0.00% (0/800))',
    );
  });

  test('normal quantiles and z scores', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.999)).toBeCloseTo(3.090232, 5);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
    expect(zScore({ requests: 0, errors: 0 }, { requests: 10, errors: 1 })).toBeNull();
    expect(zScore({ requests: 10, errors: 0 }, { requests: 10, errors: 0 })).toBeNull();
    expect(zScore({ requests: 1000, errors: 30 }, { requests: 1000, errors: 10 })).toBeGreaterThan(3);
  });
});

describe('exposition format', () => {
  const text = [
    '# HELP graykit_http_requests_total HTTP requests served',
    '# TYPE graykit_http_requests_total counter',
    'graykit_http_requests_total{service="demo",version="v2",lane="gray",status_class="2xx"} 90',
    'graykit_http_requests_total{service="demo",version="v2",lane="gray",status_class="5xx"} 10 1700000000000',
    'graykit_http_requests_total{service="demo",version="v\\"2\\\\",lane="normal",status_class="aborted"} 3',
    'graykit_http_requests_total{service="other",version="v1",lane="gray",status_class="5xx"} 1000',
    'graykit_http_request_duration_seconds_bucket{le="+Inf",service="demo"} 100',
    'not a sample line {',
    'up 1',
    '',
  ].join('\n');

  test('reads names, escaped labels and values, skips comments and junk', () => {
    const samples = parseExposition(text);
    expect(samples).toHaveLength(6); // 4 counters, 1 bucket, up; the junk line is skipped
    expect(samples[2].labels.version).toBe('v"2\\');
    expect(samples.find((s) => s.name === 'up')?.value).toBe(1);
  });

  test('provider counts: served requests of the service (not aborted ones), their 5xx and latency buckets', () => {
    expect(providerCounts(parseExposition(text), 'demo')).toEqual({ requests: 100, http5xx: 10, buckets: new Map([[Infinity, 100]]) });
  });
});

describe('StepCounter: increases over a step', () => {
  const scrape = (providers: Record<string, [number, number]>, lanes: Record<string, 'gray' | 'normal'>, consumers: Scrape['consumers'] = new Map()): Scrape => ({
    providers: new Map(Object.entries(providers).map(([id, [requests, http5xx]]) => [id, { requests, http5xx, buckets: new Map<number, number>() }])),
    lanes: new Map(Object.entries(lanes)),
    consumers,
    grayUnavailable: [],
    normalUnavailable: [],
  });

  test('counts from the baseline, treats a decrease as a restart, counts a new instance from 0', () => {
    const counter = new StepCounter();
    counter.observe(scrape({ g: [1000, 5], n: [5000, 0] }, { g: 'gray', n: 'normal' }));
    counter.observe(scrape({ g: [1100, 15], n: [5400, 0] }, { g: 'gray', n: 'normal' }));
    // g restarted (counters back near 0), and a new gray instance h appeared with 20 requests.
    counter.observe(scrape({ g: [30, 3], n: [5500, 1], h: [20, 0] }, { g: 'gray', n: 'normal', h: 'gray' }));
    const { gray, normal } = counter.stats();
    expect(gray).toMatchObject({ instances: 2, requests: 100 + 30 + 20, http5xx: 10 + 3, errors: 13 });
    expect(normal).toMatchObject({ instances: 1, requests: 500, http5xx: 1 });
    expect(gray.errorRate).toBeCloseTo(13 / 150, 12);
  });

  test('an instance unread at the baseline takes its first read as baseline', () => {
    const counter = new StepCounter();
    counter.observe(scrape({ n: [10, 0] }, { g: 'gray', n: 'normal' }));
    counter.observe(scrape({ g: [700, 7], n: [20, 0] }, { g: 'gray', n: 'normal' }));
    counter.observe(scrape({ g: [750, 8], n: [30, 0] }, { g: 'gray', n: 'normal' }));
    expect(counter.stats().gray).toMatchObject({ requests: 50, http5xx: 1 });
  });

  test('consumers\' connection errors count as requests and errors of the instance\'s lane', () => {
    const url = 'http://127.0.0.1:1/metrics';
    const counter = new StepCounter();
    counter.observe(scrape({ g: [0, 0] }, { g: 'gray' }, new Map([[url, [{ instance: 'g', lane: 'gray' as const, value: 4 }]]])));
    counter.observe(
      scrape(
        { g: [90, 0] },
        { g: 'gray' },
        new Map([[url, [{ instance: 'g', lane: 'gray' as const, value: 14 }, { instance: 'gone:1', lane: 'gray' as const, value: 2 }]]]),
      ),
    );
    expect(counter.stats().gray).toMatchObject({ requests: 90 + 10 + 2, errors: 12, connectionErrors: 12, http5xx: 0 });
  });
});

describe('latency from histograms', () => {
  // Cumulative buckets (le seconds -> count), as a histogram exposes them.
  const buckets = (entries: Array<[number, number]>) => new Map(entries);

  test("quantiles interpolate inside the bucket, as Prometheus's histogram_quantile does", () => {
    const h = buckets([
      [0.1, 50],
      [0.25, 90],
      [0.5, 100],
      [Infinity, 100],
    ]);
    expect(histogramQuantile(0.5, h)).toBeCloseTo(0.1, 12); // rank 50: the top of the first bucket
    expect(histogramQuantile(0.25, h)).toBeCloseTo(0.05, 12); // from 0 inside the first bucket
    expect(histogramQuantile(0.7, h)).toBeCloseTo(0.1 + 0.15 * (20 / 40), 12);
    expect(histogramQuantile(0.99, h)).toBeCloseTo(0.25 + 0.25 * (9 / 10), 12);
    // A rank in the +Inf bucket gives the highest finite bound; no observations or no +Inf: null.
    expect(histogramQuantile(0.99, buckets([[0.1, 10], [Infinity, 20]]))).toBe(0.1);
    expect(histogramQuantile(0.5, buckets([[0.1, 0], [Infinity, 0]]))).toBeNull();
    expect(histogramQuantile(0.5, buckets([[0.1, 5]]))).toBeNull();
  });

  test('the tail bound is the bucket holding the normal p99; slower-than counts come from the cumulative buckets', () => {
    const normal = buckets([
      [0.005, 900],
      [0.01, 995],
      [0.025, 1000],
      [Infinity, 1000],
    ]);
    expect(tailBound(normal)).toBe(0.01);
    expect(slowerThan(normal, 0.01)).toEqual({ requests: 1000, errors: 5 });
    expect(tailBound(buckets([[0.1, 0], [Infinity, 100]]))).toBeUndefined(); // p99 beyond every finite bound
    expect(parseLe('+Inf')).toBe(Infinity);
    expect(parseLe('0.25')).toBe(0.25);
    expect(parseLe('x')).toBeUndefined();
  });

  const lane = (requests: number, entries: Array<[number, number]>) => ({ requests, errors: 0, latency: latencyStats(new Map(entries)) });
  const options = { maxErrorRate: 0.01, minRequests: 50, normalConfidence: 0.999 };
  // Normal: everything under 10 ms. Gray: 80 % under 10 ms, 20 % between 250 and 500 ms (+300 ms on every 5th).
  const fastNormal = lane(1000, [[0.01, 1000], [0.25, 1000], [0.5, 1000], [Infinity, 1000]]);
  const slowGray = lane(200, [[0.01, 160], [0.25, 160], [0.5, 200], [Infinity, 200]]);
  const fastGray = lane(200, [[0.01, 199], [0.25, 200], [0.5, 200], [Infinity, 200]]);

  test('a p99 above its limit is a breach; under it, a pass that says so', () => {
    expect(judge(slowGray, fastNormal, { ...options, maxLatencyMs: { p99: 250 } })).toEqual({
      result: 'breach',
      // rank 0.99 * 200 = 198 inside (160, 200]: 0.25 + 0.25 * 38 / 40 = 0.4875 s
      reason: expect.stringMatching(/^gray p99 latency 488ms > max 250ms \(normal p99 [\d.]+ms\)$/),
    });
    expect(judge(fastGray, fastNormal, { ...options, maxLatencyMs: { p99: 250 } })).toEqual({ result: 'pass', reason: expect.stringMatching(/latency p99 [\d.]+ms <= 250ms/) });
  });

  test('the tail test: gray slower than the normal p99 bucket significantly more often is a breach; as often, a pass', () => {
    const breach = judge(slowGray, fastNormal, { ...options, latencyConfidence: 0.999 });
    expect(breach.result).toBe('breach');
    expect(breach.reason).toMatch(/^gray is slower than normal: requests over 10ms \(the normal lane's p99 bucket\) gray 20\.00% \(40\/200\), normal 0\.00% \(0\/1000\)/);
    expect(judge(fastGray, fastNormal, { ...options, latencyConfidence: 0.999 }).result).toBe('pass');
    // Off (the default): latency does not count.
    expect(judge(slowGray, fastNormal, options).result).toBe('pass');
    // Asked for, without histograms from gray: a breach, never a silent pass.
    expect(judge({ requests: 200, errors: 0 }, fastNormal, { ...options, maxLatencyMs: { p99: 250 } }).reason).toMatch(/no latency histogram from the gray lane/);
  });

  test('StepCounter adds up bucket increases per lane', () => {
    const counter = new StepCounter();
    const scrape = (gray: Array<[number, number]>): Scrape => ({
      providers: new Map([['g:1', { requests: gray.at(-1)![1], http5xx: 0, buckets: new Map(gray) }]]),
      lanes: new Map([['g:1', 'gray']]),
      consumers: new Map(),
      grayUnavailable: [],
      normalUnavailable: [],
    });
    counter.observe(scrape([[0.1, 10], [Infinity, 10]]));
    counter.observe(scrape([[0.1, 30], [Infinity, 40]]));
    expect(counter.stats().gray.latency?.buckets).toEqual({ '0.1': 20, '+Inf': 30 });
    expect(counter.stats().gray.latency?.p50).toBeCloseTo(0.075, 12);
  });
});

describe('rollout state and the new arguments', () => {
  const document = { id: 'r1', state: 'running', service: 'demo', services: ['demo'], steps: [5, 50], step: 1, startedAt: 't', by: { host: 'h', user: 'u', pid: 7 }, onCrash: 'rollback', history: [], updatedAt: 't', options: {} };

  test('the rollout document: the contract fields are checked; empty data is no rollout', () => {
    expect(decodeRolloutDocument(JSON.stringify(document))).toEqual({ ok: true, value: document });
    expect(decodeRolloutDocument('')).toBeUndefined();
    expect(decodeRolloutDocument(null)).toBeUndefined();
    for (const [field, value] of [
      ['state', 'paused'],
      ['step', 3],
      ['onCrash', 'ignore'],
      ['by', { host: 'h' }],
      ['id', ''],
      ['steps', [0]],
    ] as const) {
      const decoded = decodeRolloutDocument(JSON.stringify({ ...document, [field]: value }));
      expect({ field, ok: decoded?.ok }).toEqual({ field, ok: false });
    }
    expect(decodeRolloutDocument('{not json')?.ok).toBe(false);
  });

  test('crashed: running with no lease; consumers drop to 0 only with on-crash rollback', () => {
    const running = { state: 'running' as const, onCrash: 'rollback' as const };
    expect([isCrashed(running, false), isCrashed(running, true), isCrashed({ state: 'promoted' }, false), isCrashed(undefined, false)]).toEqual([true, false, false, false]);
    expect([crashRollsBack(running, false), crashRollsBack({ ...running, onCrash: 'hold' }, false)]).toEqual([true, false]);
  });

  test('graykit watch shows the ratio consumers route by: 0 while the rollout has crashed', () => {
    const snapshot = { service: 'demo', instances: [], config: { ratio: 50 }, path: '/g/services/demo/instances', rolloutCrashed: true };
    expect(formatSnapshot(snapshot, 'local').split('\n')[0]).toBe('service demo: ratio 0 (its rollout crashed; the config says 50), 0 routable instance(s)');
    expect(formatSnapshot({ ...snapshot, rolloutCrashed: false }, 'local').split('\n')[0]).toBe('service demo: ratio 50, 0 routable instance(s)');
  });

  test('--webhook kind=url and --max-latency quantile=duration', () => {
    expect(parseWebhook('confirm-step=http://127.0.0.1:9/gate?token=x')).toEqual({ kind: 'confirm-step', url: 'http://127.0.0.1:9/gate?token=x' });
    for (const bad of ['confirm=http://x', 'event', 'event=ftp://x', '=http://x']) expect(() => parseWebhook(bad)).toThrow(InvalidOptionError);
    expect(parseMaxLatency('p99=250ms')).toEqual({ p99: 250 });
    expect(parseMaxLatency('p50=50ms,p95=1s', { p99: 250 })).toEqual({ p50: 50, p95: 1000, p99: 250 });
    for (const bad of ['p90=1s', 'p99', 'p99=250', 'p99=fast']) expect(() => parseMaxLatency(bad)).toThrow(InvalidOptionError);
  });
});
