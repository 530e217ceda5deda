/**
 * The rollout and the console count through one metrics layer (src/scrape/): fed the same pages, they give the same
 * numbers — across a counter reset, a missing histogram bucket, and an instance that appears between reads.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InstanceStatus } from '../../src/admin/admin';
import { ChartFold, MAX_CHART_LANES, chartedLanes, type MetricsPoint } from '../../src/console/lane-metrics';
import { StepCounter, scrapeAll, type LaneStats, type Scrape } from '../../src/rollout/scrape';
import { CounterFold, consumerConnectionErrors, providerCounts } from '../../src/scrape/counters';
import { parseExposition } from '../../src/scrape/exposition';
import { histogramQuantile, parseLe } from '../../src/scrape/histogram';
import { MAX_PAGE_BYTES } from '../../src/scrape/page';
import type { Lane } from '../../src/types';

const SERVICE = 'demo';

/** A provider's metrics page: requests by status class, and the latency histogram's cumulative buckets. */
function providerPage(requests: Record<string, number>, buckets: Record<string, number>): string {
  const lines = ['# TYPE graykit_http_requests_total counter'];
  for (const [statusClass, value] of Object.entries(requests)) {
    lines.push(`graykit_http_requests_total{service="${SERVICE}",lane="gray",status_class="${statusClass}"} ${value}`);
  }
  lines.push('# TYPE graykit_http_request_duration_seconds histogram');
  for (const [le, value] of Object.entries(buckets)) {
    lines.push(`graykit_http_request_duration_seconds_bucket{service="${SERVICE}",status_class="2xx",le="${le}"} ${value}`);
  }
  return `${lines.join('\n')}\n`;
}

function consumerPage(series: Array<[instance: string, lane: Lane, value: number]>): string {
  return series.map(([instance, lane, value]) => `graykit_client_requests_total{service="${SERVICE}",instance="${instance}",lane="${lane}",outcome="connection_error"} ${value}`).join('\n');
}

interface Read {
  lanes: Record<string, Lane>;
  /** Pages by instance id; an instance without one was not read. */
  pages: Record<string, string>;
  consumer?: string;
}

const CONSUMER = 'http://127.0.0.1:9/metrics';

const reads: Read[] = [
  // The baseline.
  {
    lanes: { g1: 'gray', n1: 'normal' },
    pages: { g1: providerPage({ '2xx': 95, '5xx': 5 }, { '0.05': 50, '0.1': 80, '+Inf': 100 }), n1: providerPage({ '2xx': 400 }, { '0.05': 300, '0.1': 390, '+Inf': 400 }) },
    consumer: consumerPage([['g1', 'gray', 2]]),
  },
  // Plain increases; a consumer's connection errors to g1 count for gray.
  {
    lanes: { g1: 'gray', n1: 'normal' },
    pages: { g1: providerPage({ '2xx': 135, '5xx': 7 }, { '0.05': 60, '0.1': 100, '+Inf': 142 }), n1: providerPage({ '2xx': 500 }, { '0.05': 380, '0.1': 480, '+Inf': 500 }) },
    consumer: consumerPage([['g1', 'gray', 5]]),
  },
  // g1 restarted (every counter went down); n1's page lacks its le=0.1 bucket; n2 registered since the last read.
  {
    lanes: { g1: 'gray', n1: 'normal', n2: 'normal' },
    pages: {
      g1: providerPage({ '2xx': 10, '5xx': 2 }, { '0.05': 4, '0.1': 9, '+Inf': 12 }),
      n1: providerPage({ '2xx': 560 }, { '0.05': 420, '+Inf': 560 }),
      n2: providerPage({ '2xx': 30 }, { '0.05': 20, '0.1': 28, '+Inf': 30 }),
    },
    consumer: consumerPage([['g1', 'gray', 5], ['n2', 'normal', 1]]),
  },
  // The bucket is back on n1; g1's le=0.1 went down while its other counters went up: that one counter restarted.
  {
    lanes: { g1: 'gray', n1: 'normal', n2: 'normal' },
    pages: {
      g1: providerPage({ '2xx': 40, '5xx': 2 }, { '0.05': 20, '0.1': 5, '+Inf': 42 }),
      n1: providerPage({ '2xx': 600 }, { '0.05': 450, '0.1': 590, '+Inf': 600 }),
      n2: providerPage({ '2xx': 50 }, { '0.05': 30, '0.1': 45, '+Inf': 50 }),
    },
  },
];

function toScrape(read: Read): Scrape {
  const scrape: Scrape = { providers: new Map(), lanes: new Map(Object.entries(read.lanes)), consumers: new Map(), grayUnavailable: [], normalUnavailable: [] };
  for (const [id, page] of Object.entries(read.pages)) scrape.providers.set(id, providerCounts(parseExposition(page), SERVICE));
  if (read.consumer !== undefined) scrape.consumers.set(CONSUMER, consumerConnectionErrors(parseExposition(read.consumer), SERVICE));
  return scrape;
}

/** The rollout's path: one StepCounter over every read; each read's share is its totals minus the previous totals. */
function rolloutSteps(): Array<Record<Lane, { requests: number; errors: number; buckets: Map<number, number> }>> {
  const counter = new StepCounter();
  const cumulative: Array<Record<Lane, LaneStats>> = [];
  for (const read of reads) {
    counter.observe(toScrape(read));
    cumulative.push(counter.stats());
  }
  const buckets = (stats: LaneStats) => new Map(Object.entries(stats.latency?.buckets ?? {}).map(([le, count]) => [parseLe(le)!, count]));
  return cumulative.slice(1).map((now, i) => {
    const before = cumulative[i];
    const delta = (lane: Lane) => {
      const was = buckets(before[lane]);
      return {
        requests: now[lane].requests - before[lane].requests,
        errors: now[lane].errors - before[lane].errors,
        buckets: new Map([...buckets(now[lane])].map(([le, count]) => [le, count - (was.get(le) ?? 0)])),
      };
    };
    return { gray: delta('gray'), normal: delta('normal') };
  });
}

/** The console's path: one ChartFold, one point per read after the baseline, reads 1 s apart. */
function consolePoints(): MetricsPoint[] {
  const fold = new ChartFold(1000);
  const points: MetricsPoint[] = [];
  reads.forEach((read, i) => {
    const point = fold.observe(toScrape(read), 1_000_000 + i * 1000, 10, []);
    if (point) points.push(point);
  });
  return points;
}

const ms = (seconds: number | null) => (seconds === null ? null : Math.round(seconds * 1000 * 100) / 100);

describe('one metrics layer: the rollout and the console count alike', () => {
  const rollout = rolloutSteps();
  const console_ = consolePoints();

  test('both make one result per read after the baseline', () => {
    expect(rollout).toHaveLength(reads.length - 1);
    expect(console_).toHaveLength(reads.length - 1);
  });

  test.each([0, 1, 2])('read %i after the baseline: the same requests, errors and quantiles per lane', (i) => {
    for (const lane of ['gray', 'normal'] as const) {
      const point = console_[i][lane];
      const step = rollout[i][lane];
      expect({ lane, requests: point.requests, errors: point.errors }).toEqual({ lane, requests: step.requests, errors: step.errors });
      expect({ lane, p50: point.p50, p99: point.p99 }).toEqual({ lane, p50: ms(histogramQuantile(0.5, step.buckets)), p99: ms(histogramQuantile(0.99, step.buckets)) });
    }
  });

  test('the numbers are Prometheus increase()\'s: a reset counts from 0, a new instance from 0, a new series from 0', () => {
    // Read 1: gray 42 served + 3 connection errors, 2 + 3 errors; normal 100.
    expect(rollout[0].gray).toMatchObject({ requests: 45, errors: 5 });
    expect(rollout[0].normal).toMatchObject({ requests: 100, errors: 0 });
    // Read 2: g1 restarted: its 12 requests and 2 5xx are new; normal: n1 +60, the new n2's 30, n2's first connection error.
    expect(rollout[1].gray).toMatchObject({ requests: 12, errors: 2 });
    expect(rollout[1].normal).toMatchObject({ requests: 60 + 30 + 1, errors: 1 });
    // n1's missing le=0.1 bucket adds nothing; n2's counts whole.
    expect(rollout[1].normal.buckets.get(0.1)).toBe(28);
    // Read 3: g1's le=0.1 went from 9 to 5: reset, so 5 (not 0); n1's bucket came back: from its last value (480).
    expect(rollout[2].gray.buckets.get(0.1)).toBe(5);
    expect(rollout[2].normal.buckets.get(0.1)).toBe(590 - 480 + 17);
    expect(console_[2].gray).toMatchObject({ requests: 30, errors: 0 });
  });

  test('CounterFold: an instance registered at the baseline but unread takes its first read as its baseline', () => {
    const fold = new CounterFold();
    const counts = (requests: number) => ({ requests, http5xx: 0, buckets: new Map<number, number>() });
    const lanes = new Map<string, Lane>([['a', 'gray']]);
    fold.observe({ lanes, providers: new Map(), consumers: new Map() }, 0);
    expect(fold.observe({ lanes, providers: new Map([['a', counts(500)]]), consumers: new Map() }, 1000).gray.requests).toBe(0);
    expect(fold.observe({ lanes, providers: new Map([['a', counts(520)]]), consumers: new Map() }, 2000).gray.requests).toBe(20);
  });

  test('CounterFold folds the lanes of the read\'s instances: a named lane\'s own, a consumer series of a lane no instance is in left out', () => {
    const fold = new CounterFold();
    const counts = (requests: number) => ({ requests, http5xx: 0, buckets: new Map<number, number>() });
    const lanes = new Map<string, Lane>([['a', 'normal'], ['p', 'pr-42']]);
    const consumers = (errors: number) =>
      new Map([['http://c/metrics', [{ instance: 'gone:1', lane: 'evil', value: errors }, { instance: 'gone:2', lane: 'pr-42', value: errors }, { instance: 'a', lane: 'normal', value: errors }]]]);
    fold.observe({ lanes, providers: new Map([['a', counts(10)], ['p', counts(10)]]), consumers: consumers(0) }, 0);
    const next = fold.observe({ lanes, providers: new Map([['a', counts(30)], ['p', counts(99)]]), consumers: consumers(3) }, 1000);
    expect({ keys: Object.keys(next), normal: next.normal.requests, errors: next.normal.connectionErrors, gray: next.gray.requests }).toEqual({ keys: ['gray', 'normal', 'pr-42'], normal: 20, errors: 3, gray: 0 });
    expect(next['pr-42']).toMatchObject({ requests: 89, connectionErrors: 3 });
  });

  test('CounterFold with staleAfterMs: a read older than that is no baseline, the next read starts afresh', () => {
    const fold = new CounterFold({ staleAfterMs: 2500 });
    const counts = (requests: number) => ({ requests, http5xx: 0, buckets: new Map<number, number>() });
    const lanes = new Map<string, Lane>([['a', 'normal']]);
    fold.observe({ lanes, providers: new Map([['a', counts(100)]]), consumers: new Map() }, 0);
    fold.observe({ lanes, providers: new Map(), consumers: new Map() }, 1000);
    expect(fold.observe({ lanes, providers: new Map([['a', counts(900)]]), consumers: new Map() }, 5000).normal.requests).toBe(0);
    expect(fold.observe({ lanes, providers: new Map([['a', counts(950)]]), consumers: new Map() }, 6000).normal.requests).toBe(50);
  });
});

describe('the console charts each lane of the service (ChartFold)', () => {
  const counts = (requests: number, http5xx = 0) => ({ requests, http5xx, buckets: new Map<number, number>([[0.05, requests], [Infinity, requests]]) });
  /** Two reads 1 s apart of instances `<lane>-i`, each of which served `requests(lane)` more in between. */
  function twoReads(laneNames: Lane[], requests: (lane: Lane) => number, consumerLane?: Lane): MetricsPoint {
    const fold = new ChartFold(1000);
    const lanes = new Map<string, Lane>(laneNames.map((lane) => [`${lane}-i`, lane]));
    const read = (scale: number) => ({
      lanes,
      providers: new Map(laneNames.map((lane) => [`${lane}-i`, counts(scale * requests(lane), scale * (lane === 'pr-42' ? 1 : 0))])),
      consumers: new Map(consumerLane === undefined ? [] : [['http://c/metrics', [{ instance: 'gone:1', lane: consumerLane, value: scale * 7 }]]]),
    });
    fold.observe(read(1), 0, 10, []);
    return fold.observe(read(2), 1000, 10, [])!;
  }

  test('a named lane serving traffic has its own series beside normal and gray; gray and normal stay where the page read them', () => {
    const point = twoReads(['normal', 'pr-42'], (lane) => (lane === 'normal' ? 90 : 10));
    expect(point.lanes.map(({ lane, instances, requests, errors, rps }) => ({ lane, instances, requests, errors, rps }))).toEqual([
      { lane: 'normal', instances: 1, requests: 90, errors: 0, rps: 90 },
      { lane: 'gray', instances: 0, requests: 0, errors: 0, rps: 0 },
      { lane: 'pr-42', instances: 1, requests: 10, errors: 1, rps: 10 },
    ]);
    expect(point.lanes[2]).toMatchObject({ errorRate: 0.1, p99: expect.any(Number) });
    expect(point.normal).toEqual({ instances: 1, requests: 90, errors: 0, rps: 90, errorRate: 0, p50: expect.any(Number), p99: expect.any(Number) });
    expect(point.other).toBeNull();
    // The gray share stays gray's of gray and normal (a named lane is not the ratio's).
    expect(point.grayShare).toBe(0);
  });

  test('a lane name that only a request carried (a consumer series) never becomes a series', () => {
    const point = twoReads(['normal', 'gray'], () => 10, 'made-up-lane');
    expect(point.lanes.map((l) => l.lane)).toEqual(['normal', 'gray']);
    expect(point.lanes.reduce((sum, l) => sum + l.errors, 0)).toBe(0);
  });

  test(`more than ${MAX_CHART_LANES} lanes: the first ${MAX_CHART_LANES - 1} by name (normal and gray first), the rest summed as other`, () => {
    const named = ['zeta', 'other', 'constructor', 'alpha', 'pr-42', 'pr-7', 'beta', 'canary'];
    const point = twoReads(['normal', 'gray', ...named], (lane) => (lane === 'normal' ? 100 : 10));
    expect(point.lanes.map((l) => l.lane)).toEqual(['normal', 'gray', 'alpha', 'beta', 'canary', 'constructor', 'other']);
    expect(point.lanes).toHaveLength(MAX_CHART_LANES - 1);
    // pr-42 (one 5xx), pr-7 and zeta summed: their requests, errors and instances.
    expect(point.other).toMatchObject({ lanes: ['pr-42', 'pr-7', 'zeta'], instances: 3, requests: 30, errors: 1, rps: 30, errorRate: 1 / 30 });
    expect(point.other!.p99).toEqual(expect.any(Number));
  });

  test('chartedLanes: at most the cap, each lane once, normal and gray always', () => {
    expect(chartedLanes([])).toEqual({ charted: ['normal', 'gray'], other: [] });
    expect(chartedLanes(['b', 'a', 'b', 'normal'])).toEqual({ charted: ['normal', 'gray', 'a', 'b'], other: [] });
    const many = Array.from({ length: 40 }, (_, i) => `l${String(i).padStart(2, '0')}`);
    const { charted, other } = chartedLanes(many);
    expect(charted).toHaveLength(MAX_CHART_LANES - 1);
    expect([...charted, ...other].sort()).toEqual(['gray', 'normal', ...many].sort());
  });
});

describe('the rollout reads metrics pages with the limits (real HTTP server on 127.0.0.1)', () => {
  let server: Server;
  let port: number;
  const page = providerPage({ '2xx': 7 }, { '+Inf': 7 });

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok') res.end(page);
      else if (req.url === '/redirect') res.writeHead(302, { Location: '/ok' }).end();
      else if (req.url === '/huge') res.end(Buffer.alloc(MAX_PAGE_BYTES + 1024, 0x23)); // '#': comment lines
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const instance = (id: string, gray: boolean, metricsPath: string) =>
    ({ id, path: `/graykit/services/${SERVICE}/instances/${id}`, since: new Date(), effective: { host: '127.0.0.1', port, gray, lane: gray ? 'gray' : 'normal', meta: { metricsPath } } }) as unknown as InstanceStatus;

  test('a redirect and a page over 4 MiB are unavailable, never followed or read whole', async () => {
    const scrape = await scrapeAll(SERVICE, [instance('a', true, '/ok'), instance('b', true, '/redirect'), instance('c', false, '/huge')], [], 3000);
    expect(scrape.providers.get('a')).toMatchObject({ requests: 7 });
    expect(scrape.providers.has('b')).toBe(false);
    expect(scrape.providers.has('c')).toBe(false);
    expect(scrape.grayUnavailable).toEqual([expect.stringMatching(/^b: http:\/\/127\.0\.0\.1:\d+\/redirect: /)]);
    expect(scrape.normalUnavailable).toEqual([expect.stringMatching(new RegExp(`^c: .*/huge: page over ${MAX_PAGE_BYTES} bytes$`))]);
  });
});
