/**
 * The console end to end in a real headless Chromium, against a real ZooKeeper, real providers serving real
 * traffic from a real consumer, and the real `graykit` CLI: the services view, live updates pushed from watches,
 * the charts, the ratio moved from the page (and a conflicting write from the CLI), flags, the XSS probe, a
 * service of 1,000 instances, and the screenshots the README shows. One browser, one page.
 *
 * The screenshots go to a temporary directory, so a test run never rewrites tracked files; `npm run
 * docs:screenshots` (GRAYKIT_SCREENSHOTS=docs) writes them to docs/console-*.png for the README.
 *
 * The figures the README quotes (transfer size, first render, update latency, 1,000-instance render) are printed
 * with a `console figures:` prefix.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createAdmin, createConsole, silentLogger, type ConsoleAddress, type GrayAdmin, type GrayConsole } from '../../src';
import { OWN_FILES } from '../../src/console/assets';
import { configPath, instancePath, instancesPath, rolloutLeasePath, rolloutPath, servicePath } from '../../src/registry/paths';
import { recordedStep, rolloutDocument } from '../support/rollout-document';
import type { ZkSession } from '../../src/registry/zk-session';
import { REPO_ROOT, startChild } from '../../scripts/children';
import { appearedAt, cspViolations, launchBrowser, waitForText, watchFor, type PageGlobals, type TestBrowser } from '../support/browser';
import { adminSession, eventually, startProvider, testZk, uniqueRoot, type TestProvider } from '../support/helpers';
import { startMetricsProvider, startTraffic, type MetricsProvider, type Traffic } from '../support/rollout-helpers';

jest.setTimeout(120_000);

const SCREENSHOTS_TO_DOCS = process.env.GRAYKIT_SCREENSHOTS === 'docs';
const SCREENSHOT_DIR = SCREENSHOTS_TO_DOCS ? join(REPO_ROOT, 'docs') : mkdtempSync(join(tmpdir(), 'graykit-console-screenshots-'));

function figure(name: string, value: unknown): void {
  console.log(`console figures: ${name} = ${JSON.stringify(value)}`);
}

describe('graykit console in a real browser', () => {
  const root = uniqueRoot();
  let providers: MetricsProvider[];
  const extra: TestProvider[] = [];
  let admin: GrayAdmin;
  let raw: ZkSession;
  let grayConsole: GrayConsole;
  let address: ConsoleAddress;
  let traffic: Traffic;
  let browser: TestBrowser;
  let page: Page;

  const config = async () => JSON.parse(String((await raw.getData(configPath(root, 'demo'))).data)) as { ratio?: number };
  const go = async (hash: string) => page.evaluate((h) => ((globalThis as PageGlobals).location.hash = h), hash);

  beforeAll(async () => {
    // The browser first, before this process holds ZooKeeper sessions whose sockets it would inherit.
    browser = await launchBrowser();
    providers = [
      // The canary is not perfect: every 40th of its requests fails (2.5 %), which the error chart shows.
      await startMetricsProvider({ root, gray: true, version: 'v2.0.0-rc.1', fail: { every: 40, how: '500' } }),
      await startMetricsProvider({ root, gray: false, version: 'v1.9.4' }),
      await startMetricsProvider({ root, gray: false, version: 'v1.9.4' }),
    ];
    admin = createAdmin({ zk: testZk(), root, logger: silentLogger });
    await admin.setRatio('demo', 10);
    raw = adminSession();
    await raw.whenConnected(10_000);
    // Half a second between scrapes: the charts fill quickly enough for a test.
    grayConsole = createConsole({ zk: testZk(), root, logger: silentLogger, scrapeIntervalMs: 500 });
    address = await grayConsole.listen(0);
    traffic = await startTraffic({ root, rps: 80, maxMs: 240_000 });
    page = await browser.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await traffic?.stop();
    await grayConsole?.close();
    admin?.close();
    raw?.close();
    for (const provider of [...(providers ?? []), ...extra]) await provider.close();
    // Every run makes a new directory: without this, each one left its three PNGs in the machine's tmp.
    if (!SCREENSHOTS_TO_DOCS) rmSync(SCREENSHOT_DIR, { recursive: true, force: true });
  });

  test('the services view lists the services; a provider that starts appears within a second', async () => {
    await page.goto(address.url); // with #token=…: the page keeps it for this tab and drops it from the address bar
    await page.waitForSelector('tr[data-service="demo"]');
    expect(await page.evaluate(() => (globalThis as PageGlobals).location.hash)).toBe('#/');
    const demo = page.locator('tr[data-service="demo"]');
    await expect(demo.locator('.ratio .value').textContent()).resolves.toBe('10 %');
    await expect(demo.locator('.counts').textContent()).resolves.toBe('12');
    await expect(demo.locator('.versions').textContent()).resolves.toContain('v2.0.0-rc.1');
    await expect(page.locator('#conn').textContent()).resolves.toContain('ZooKeeper connected');

    const timing = await page.evaluate(() => {
      const p = (globalThis as PageGlobals).performance;
      const first = p.getEntriesByName('graykit:first-render')[0];
      const nav = p.getEntriesByType('navigation')[0];
      const files = [nav, ...p.getEntriesByType('resource').filter((r: PageGlobals) => !r.name.includes('/api/'))];
      return {
        firstRenderMs: Math.round(first.startTime),
        files: files.length,
        names: files.map((r: PageGlobals) => new URL(r.name).pathname.split('/').pop() || 'index.html').sort(),
        transferBytes: files.reduce((sum: number, r: PageGlobals) => sum + r.transferSize, 0),
        encodedBodyBytes: files.reduce((sum: number, r: PageGlobals) => sum + r.encodedBodySize, 0),
        decodedBodyBytes: files.reduce((sum: number, r: PageGlobals) => sum + r.decodedBodySize, 0),
      };
    });
    const { names, ...load } = timing;
    figure('page load', load);
    // The console's own files, each once (the page, style.css and the 17 modules of its script), and uPlot's script
    // and stylesheet: nothing else.
    expect(names).toEqual([...Object.keys(OWN_FILES), 'uPlot.iife.min.js', 'uPlot.min.css'].sort());
    expect(timing.files).toBe(21);
    expect(timing.encodedBodyBytes).toBeLessThan(60_000);

    await watchFor(page, 'billing', 'tr[data-service="billing"]');
    const provider = await startProvider({ root, service: 'billing', version: 'v7' });
    extra.push(provider);
    const created = (await raw.getData(instancePath(root, 'billing', `127.0.0.1:${provider.port}`))).stat.ctime.getTime();
    const latency = (await appearedAt(page, 'billing')) - created;
    figure('provider registered -> row in the page, ms', latency);
    expect(latency).toBeLessThan(1000);
  });

  test('the service view: instances with their flags, and live charts per lane', async () => {
    await go('#/services/demo');
    await page.waitForSelector('tr[data-instance]');
    expect(await page.locator('tr[data-instance]').count()).toBe(3);
    const gray = page.locator(`tr[data-instance="${providers[0].id}"]`);
    await expect(gray.locator('.lane').textContent()).resolves.toBe('gray');
    await expect(gray.locator('td').nth(2).textContent()).resolves.toBe('own');
    await expect(gray.locator('td.version').textContent()).resolves.toBe('v2.0.0-rc.1');
    await expect(page.locator('pre.config').textContent()).resolves.toBe('{\n  "ratio": 10\n}');
    // Every chart draws (uPlot's canvas) once the first metrics arrive, and says what its lanes do now.
    await page.waitForFunction(() => (globalThis as PageGlobals).document.querySelectorAll('.chart canvas').length === 4, null, { timeout: 15_000 });
    await page.waitForFunction(() => /normal \d.*gray \d/.test((globalThis as PageGlobals).document.querySelector('[data-chart="rps"] .now').textContent), null, { timeout: 15_000 });
    await expect(page.locator('[data-chart="share"] .now').textContent()).resolves.toContain('ratio 10 %');
  });

  test('moving the ratio in the page changes the config znode and, under traffic, the gray share in the chart', async () => {
    await page.fill('input[aria-label="ratio (number)"]', '50');
    await page.click('[data-action="ratio"]');
    await expect(page.locator('#dialog-title').textContent()).resolves.toBe('Set the ratio of demo to 50 %?');
    await page.click('#dialog-confirm');
    await page.waitForSelector('.toast:has-text("Ratio set to 50 %")');
    expect((await config()).ratio).toBe(50);
    await page.waitForFunction(() => /ratio 50 %/.test((globalThis as PageGlobals).document.querySelector('[data-chart="share"] .now').textContent), null, { timeout: 10_000 });
    // The chart's points since the change: the gray share follows the ratio (80 requests/s, ±12 points is > 4 σ).
    const share = await eventually(
      async () => {
        const points = await page.evaluate(async () => {
          const detail = await (await (globalThis as PageGlobals).fetch('api/services/demo')).json();
          return detail.metrics.filter((p: PageGlobals) => p.ratio === 50).slice(1) as Array<{ gray: { requests: number }; normal: { requests: number } }>;
        });
        const gray = points.reduce((sum, p) => sum + p.gray.requests, 0);
        const all = points.reduce((sum, p) => sum + p.gray.requests + p.normal.requests, 0);
        if (points.length < 8 || all < 300) throw new Error(`only ${points.length} points, ${all} requests at ratio 50 so far`);
        return gray / all;
      },
      30_000,
      250,
    );
    figure('gray share at ratio 50', share);
    expect(share).toBeGreaterThan(0.38);
    expect(share).toBeLessThan(0.62);
    await page.waitForSelector('.events li[data-kind="config"]:has-text("ratio 10 % → 50 %")');
    await page.waitForSelector('.events li[data-kind="action"]:has-text("ratio 10 % → 50 %")');
  });

  test('named lanes: the services view shows each named lane with its instances and share; the service view shows and filters by lane', async () => {
    extra.push(await startProvider({ root, service: 'shop', version: 'v1' }));
    const preview = await startProvider({ root, service: 'shop', version: 'v-pr', lane: 'pr-42' });
    extra.push(preview);
    await admin.setShare('shop', 'pr-42', 5);
    await go('#/');
    const lane = page.locator('tr[data-service="shop"] .count.named-lane[data-lane="pr-42"]');
    await lane.waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => /pr-42 1 · 5 %/.test((globalThis as PageGlobals).document.querySelector('tr[data-service="shop"] .count.named-lane')?.textContent ?? ''), null, { timeout: 10_000 });
    // Base instances only in the normal count: the preview build is not counted as normal.
    await expect(page.locator('tr[data-service="shop"] .count.normal').textContent()).resolves.toBe('1');
    await go('#/services/shop');
    const row = page.locator(`tr[data-instance="127.0.0.1:${preview.port}"]`);
    await row.waitFor({ timeout: 10_000 });
    await expect(row.locator('.lane').textContent()).resolves.toBe('pr-42');
    await page.fill('input[aria-label="Filter instances"]', 'pr-42');
    await page.waitForFunction(() => (globalThis as PageGlobals).document.querySelectorAll('tr[data-instance]:not([hidden])').length === 1, null, { timeout: 5_000 });
    await page.fill('input[aria-label="Filter instances"]', '');
    // Back where the next tests expect the page: the demo service.
    await go('#/services/demo');
    await page.waitForSelector(`tr[data-instance="${providers[0].id}"]`);
  });

  test('named lanes in the charts: a named-lane instance serving traffic has its own series in every lane chart', async () => {
    const lanes = [
      await startMetricsProvider({ root, service: 'lanes', gray: false, version: 'v1' }),
      await startMetricsProvider({ root, service: 'lanes', gray: false, version: 'v-pr', lane: 'pr-42' }),
    ];
    providers.push(...lanes);
    await admin.setShare('lanes', 'pr-42', 30);
    const laneTraffic = await startTraffic({ root, service: 'lanes', rps: 40, maxMs: 60_000 });
    try {
      await go('#/services/lanes');
      for (const chart of ['rps', 'errors', 'latency']) {
        await page.waitForSelector(`[data-chart="${chart}"] .legend .key[data-lane="pr-42"]`, { timeout: 15_000 });
      }
      await page.waitForFunction(() => /normal \d.*gray .*pr-42 \d/.test((globalThis as PageGlobals).document.querySelector('[data-chart="rps"] .now').textContent), null, { timeout: 15_000 });
      await expect(page.locator('[data-chart="rps"] .legend .key').allTextContents()).resolves.toEqual(['normal', 'gray', 'pr-42']);
      // What the page plots: the pr-42 lane's requests, beside the base lane's, in the points the api gives.
      const read = () =>
        page.evaluate(async () => {
          const metrics = (await (await (globalThis as PageGlobals).fetch('api/services/lanes')).json()).metrics as Array<{ lanes: Array<{ lane: string; requests: number; instances: number }> }>;
          const sum = (lane: string) => metrics.reduce((total, p) => total + (p.lanes.find((l) => l.lane === lane)?.requests ?? 0), 0);
          return { lanes: metrics[metrics.length - 1].lanes.map((l) => `${l.lane}:${l.instances}`), normal: sum('normal'), preview: sum('pr-42') };
        });
      // Enough requests for the share check below to mean something (at 40/s, a few seconds).
      const served = await eventually(
        async () => {
          const now = await read();
          if (now.normal + now.preview < 80) throw new Error(`${now.normal + now.preview} requests so far`);
          return now;
        },
        30_000,
        250,
      );
      expect(served.lanes).toEqual(['normal:1', 'gray:0', 'pr-42:1']);
      expect(served.preview).toBeGreaterThan(0);
      expect(served.normal).toBeGreaterThan(0);
      // pr-42's share of what was served is its 30 %, within four standard deviations of a binomial draw of that size
      // (a page that summed the lanes wrongly, or put base traffic in pr-42's series, falls outside).
      const n = served.normal + served.preview;
      const spread = 4 * Math.sqrt((0.3 * 0.7) / n);
      expect(Math.abs(served.preview / n - 0.3)).toBeLessThanOrEqual(spread);
      await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-lanes.png'), fullPage: true });
    } finally {
      await laneTraffic.stop();
      // Back where the next tests expect the page, whatever happened above: the demo service.
      await go('#/services/demo');
      await page.waitForSelector(`tr[data-instance="${providers[0].id}"]`);
    }
  });

  test('a conflicting write made from the CLI meanwhile is reported, not overwritten', async () => {
    await page.fill('input[aria-label="ratio (number)"]', '70');
    await page.click('[data-action="ratio"]');
    await page.waitForSelector('#dialog[open]');
    // The operator hesitates; meanwhile someone sets the ratio with the CLI.
    const other = startChild({
      name: 'graykit ratio',
      command: { file: process.execPath, args: ['-r', 'ts-node/register/transpile-only', join(REPO_ROOT, 'src/cli/main.ts'), '--zk', testZk(), '--root', root, 'ratio', 'demo', '30'] },
      ipc: false,
    });
    expect(await other.exited).toEqual({ code: 0, signal: null });
    // The page hears of it (pushed) before the operator confirms.
    await page.waitForSelector('.actions .warn-text:has-text("Changed meanwhile: now 30 %")');
    await page.click('#dialog-confirm');
    await page.waitForSelector('#dialog-result.error:has-text("Conflict:")');
    await expect(page.locator('#dialog-result').textContent()).resolves.toContain('nothing was written');
    expect((await config()).ratio).toBe(30);
    await page.click('#dialog-cancel');
    await page.waitForSelector('.events li[data-kind="action"]:has-text("ratio 70 % refused")');
    await page.waitForSelector('.events li[data-kind="config"]:has-text("ratio 50 % → 30 %")');
    // After the conflict the control starts again from the current config.
    await expect(page.locator('input[aria-label="ratio (number)"]').inputValue()).resolves.toBe('30');
  });

  test('marking an instance normal and clearing the override, from the page', async () => {
    const id = providers[0].id;
    const row = page.locator(`tr[data-instance="${id}"]`);
    await row.locator('[data-mark="normal"]').click();
    await expect(page.locator('#dialog-title').textContent()).resolves.toBe(`Mark ${id} normal?`);
    await page.click('#dialog-confirm');
    await page.waitForFunction((sel) => (globalThis as PageGlobals).document.querySelector(sel)?.textContent === 'normal', `tr[data-instance="${id}"] .lane`);
    await expect(row.locator('td').nth(2).textContent()).resolves.toBe('override (own: gray)');
    expect((await admin.status('demo')).instances.find((i) => i.id === id)?.override).toEqual({ gray: false });
    await page.waitForSelector(`.events li[data-kind="flag"]:has-text("${id} gray → normal (override)")`);
    await row.locator('[data-mark="clear"]').click();
    await page.click('#dialog-confirm');
    await page.waitForFunction((sel) => (globalThis as PageGlobals).document.querySelector(sel)?.textContent === 'gray', `tr[data-instance="${id}"] .lane`);
    expect((await admin.status('demo')).instances.find((i) => i.id === id)?.override).toBeUndefined();
  });

  test('the XSS probe stays inert: znode data shows as text and runs nothing', async () => {
    const probe = '<img src=x onerror="window.__xss=1">';
    const scriptProbe = '<script>window.__xss=2</script>';
    await raw.mkdirp(instancesPath(root, 'probe'));
    await raw.create(instancePath(root, 'probe', '127.0.0.1:9'), JSON.stringify({ gray: true, version: probe, weight: 100 }), 'ephemeral');
    await raw.create(configPath(root, 'probe'), JSON.stringify({ ratio: 5, rules: [{ header: 'x-user', matches: probe, lane: 'gray' }] }), 'persistent');
    await raw.create(rolloutPath(root, 'probe'), JSON.stringify(rolloutDocument({ id: scriptProbe, service: 'probe', state: 'aborted', reason: probe, steps: [5], step: 1, history: [recordedStep(1, 5, 'breach', probe)] })), 'persistent');
    await go('#/');
    await waitForText(page, 'tr[data-service="probe"] .versions', probe);
    await go('#/services/probe');
    await waitForText(page, 'tr[data-instance="127.0.0.1:9"] td.version', probe, true);
    await waitForText(page, 'pre.config', probe.replace(/"/g, '\\"'));
    await waitForText(page, 'section.rollout h2', `Rollout ${scriptProbe}`, true);
    await waitForText(page, 'section.rollout', probe);
    await page.waitForSelector(`.events li[data-kind="rollout"]:has-text("rollout ${scriptProbe} aborted")`);
    const inert = await page.evaluate(() => {
      const w = globalThis as PageGlobals;
      return { xss: w.__xss ?? null, images: w.document.querySelectorAll('img').length, scripts: w.document.querySelectorAll('script').length };
    });
    expect(inert).toEqual({ xss: null, images: 0, scripts: 2 }); // uPlot and app.js (whose imports are no elements), nothing else
    expect(await cspViolations(page)).toEqual([]);
    // Out of the screenshots' way.
    for (const path of [instancePath(root, 'probe', '127.0.0.1:9'), instancesPath(root, 'probe'), configPath(root, 'probe'), rolloutPath(root, 'probe'), servicePath(root, 'probe')]) await raw.delete(path);
  });

  test('a service of 1,000 instances renders and updates smoothly', async () => {
    await raw.mkdirp(instancesPath(root, 'fleet'));
    const ids = Array.from({ length: 1000 }, (_, i) => `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:8080`);
    for (let i = 0; i < ids.length; i += 100) {
      await Promise.all(ids.slice(i, i + 100).map((id, j) => raw.create(instancePath(root, 'fleet', id), JSON.stringify({ gray: (i + j) % 10 === 0, version: (i + j) % 10 === 0 ? 'v2' : 'v1', weight: 100 }), 'ephemeral')));
    }
    await go('#/');
    await page.waitForSelector('tr[data-service="fleet"] .counts:has-text("100900")');
    const opened = Date.now();
    await go('#/services/fleet');
    await page.waitForFunction(() => (globalThis as PageGlobals).document.querySelectorAll('tr[data-instance]').length === 1000, null, { timeout: 20_000, polling: 20 });
    const shown = Date.now() - opened;
    const render = await page.evaluate(() =>
      (globalThis as PageGlobals).performance
        .getEntriesByName('graykit:render')
        .filter((m: PageGlobals) => m.detail?.kind === 'hello' && m.detail.instances === 1000)
        .map((m: PageGlobals) => Math.round(m.duration))
        .pop(),
    );
    figure('1,000 instances: open the service -> all rows shown, ms', shown);
    figure('1,000 instances: render of the first message, ms', render);
    expect(render).toBeLessThan(1500);

    // One instance changes: one row is sent and redrawn.
    const target = ids[500];
    await page.evaluate(() => (globalThis as PageGlobals).performance.clearMeasures('graykit:render'));
    await watchFor(page, 'fleet-update', `tr[data-instance="${target}"] .lane.normal`);
    const written = await raw.setData(instancePath(root, 'fleet', target), JSON.stringify({ gray: false, version: 'v1', weight: 100 }));
    const updateLatency = (await appearedAt(page, 'fleet-update')) - written.mtime.getTime();
    // A burst: 100 more instances register at once.
    await watchFor(page, 'fleet-burst', 'tr[data-instance="10.0.9.100:8080"]');
    const burstStart = Date.now();
    await Promise.all(Array.from({ length: 100 }, (_, i) => raw.create(instancePath(root, 'fleet', `10.0.9.${i + 1}:8080`), JSON.stringify({ gray: false, version: 'v1' }), 'ephemeral')));
    const burst = (await appearedAt(page, 'fleet-burst')) - burstStart;
    await page.waitForFunction(() => (globalThis as PageGlobals).document.querySelectorAll('tr[data-instance]').length === 1100, null, { timeout: 10_000 });
    const updates = await page.evaluate(() =>
      (globalThis as PageGlobals).performance
        .getEntriesByName('graykit:render')
        .filter((m: PageGlobals) => m.detail?.kind === 'update')
        .map((m: PageGlobals) => Math.round(m.duration * 10) / 10),
    );
    figure('1,000 instances: one instance changed -> row redrawn, ms', updateLatency);
    figure('1,000 instances: 100 more registered -> last row shown, ms', burst);
    figure('1,000 instances: update renders, ms', updates);
    expect(updateLatency).toBeLessThan(1000);
    expect(Math.max(...updates)).toBeLessThan(200);
  });

  test('a narrow window: one column, the actions first, nothing wider than the window', async () => {
    await go('#/services/demo');
    await page.waitForSelector('tr[data-instance]');
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      // The charts follow the width on their next frame.
      await page.waitForFunction(() => {
        const d = (globalThis as PageGlobals).document;
        return d.documentElement.scrollWidth === d.documentElement.clientWidth;
      }, null, { timeout: 5000 });
      const top = await page.evaluate(() => {
        const d = (globalThis as PageGlobals).document;
        return { actions: d.querySelector('.actions').getBoundingClientRect().top, charts: d.querySelector('.charts').getBoundingClientRect().top };
      });
      expect(top.actions).toBeLessThan(top.charts);
    } finally {
      await page.setViewportSize({ width: 1440, height: 1000 });
    }
  });

  test('screenshots: the services view, and a service mid-rollout with its charts', async () => {
    // A rollout's state, written as `graykit rollout` keeps it, while the providers serve real traffic.
    const now = Date.now();
    await admin.setRatio('demo', 50);
    const rollout = rolloutDocument({
      id: 'r-20260412-1',
      state: 'running',
      service: 'demo',
      steps: [5, 25, 50, 100],
      step: 3,
      startedAt: new Date(now - 150_000).toISOString(),
      updatedAt: new Date(now).toISOString(),
      by: { host: 'ops-1', user: 'alice', pid: 4242 },
      onCrash: 'rollback',
      history: [
        recordedStep(1, 5, 'pass', 'gray 0.00 % errors of 212 requests, at most 1 %', { requests: 212, errors: 0 }, { requests: 4031, errors: 2 }),
        recordedStep(2, 25, 'pass', 'gray 0.09 % errors of 1104 requests, at most 1 %', { requests: 1104, errors: 1 }, { requests: 3310, errors: 3 }),
        recordedStep(3, 50),
      ],
    });
    await raw.create(rolloutPath(root, 'demo'), JSON.stringify(rollout), 'persistent');
    await raw.create(rolloutLeasePath(root, 'demo'), '', 'ephemeral');
    // More services in the registry, as an operator would see them: a finished rollout and a crashed one.
    for (const [service, gray, normal, state] of [
      ['checkout', 1, 4, rolloutDocument({ id: 'r-20260411-3', service: 'checkout', state: 'promoted', steps: [10, 50, 100], step: 3, updatedAt: new Date(now - 3_600_000).toISOString() })],
      ['search', 1, 2, rolloutDocument({ id: 'r-20260412-2', service: 'search', state: 'running', steps: [5, 20, 100], step: 2, updatedAt: new Date(now - 600_000).toISOString() })],
    ] as const) {
      await raw.mkdirp(instancesPath(root, service));
      for (let i = 0; i < gray + normal; i++) {
        await raw.create(instancePath(root, service, `10.1.${service.length}.${i + 1}:8080`), JSON.stringify({ gray: i < gray, version: i < gray ? 'v3.2.0' : 'v3.1.4' }), 'ephemeral');
      }
      await raw.create(configPath(root, service), JSON.stringify({ ratio: state.state === 'running' ? 20 : 0 }), 'persistent');
      await raw.create(rolloutPath(root, service), JSON.stringify(state), 'persistent');
    }
    await go('#/');
    await page.waitForSelector('tr[data-service="search"] .state.crashed');
    await page.waitForSelector('tr[data-service="demo"] .state.running');
    await page.evaluate(() => (globalThis as PageGlobals).document.querySelectorAll('.toast').forEach((t: PageGlobals) => t.remove()));
    await page.setViewportSize({ width: 1280, height: 420 });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-services.png') });
    await page.setViewportSize({ width: 1440, height: 1000 });

    await go('#/services/demo');
    await page.waitForSelector('.rollout .state.running');
    await page.waitForSelector('.events li[data-kind="rollout"]');
    // Enough history at ratio 50 for the charts to read at a glance.
    await page.waitForFunction(() => {
      const w = globalThis as PageGlobals;
      return w.document.querySelectorAll('.chart canvas').length === 4 && /ratio 50 %/.test(w.document.querySelector('[data-chart="share"] .now').textContent);
    });
    await eventually(
      async () => {
        const count = await page.evaluate(async () => (await (await (globalThis as PageGlobals).fetch('api/services/demo')).json()).metrics.filter((p: PageGlobals) => p.ratio === 50).length);
        if (count < 30) throw new Error(`${count} points at ratio 50`);
      },
      40_000,
      500,
    );
    await page.evaluate(() => (globalThis as PageGlobals).document.querySelectorAll('.toast').forEach((t: PageGlobals) => t.remove()));
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-service.png'), fullPage: true });
    expect(browser.problems).toEqual([]);
    expect(await cspViolations(page)).toEqual([]);
  });
});
