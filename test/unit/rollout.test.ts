/** The pure parts of the rollout: parsing, the verdict, the exposition reader, counter increases. */
import { InvalidOptionError } from '../../src';
import { parseDuration, parsePercent, parseSteps } from '../../src/cli/parse';
import { parseExposition } from '../../src/rollout/exposition';
import { judge, normalQuantile, zScore } from '../../src/rollout/judge';
import { StepCounter, providerCounts, type Scrape } from '../../src/rollout/scrape';

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
