/**
 * A ZooKeeper outage as the console's page lives it, in a real headless Chromium: the page shows a banner and
 * keeps the last known state (never a blank page), a write meanwhile is refused with a message, and once
 * ZooKeeper is back the banner goes and changes flow again. A ZooKeeper of its own (this test stops it), real
 * providers, the console as a library.
 */
import type { Page } from 'playwright-core';
import { createAdmin, createConsole, silentLogger, type GrayConsole } from '../../src';
import { StandaloneZooKeeper } from '../faults/zookeeper';
import { launchBrowser, type PageGlobals, type TestBrowser } from '../support/browser';
import { eventually, startProvider, uniqueRoot, type TestProvider } from '../support/helpers';

jest.setTimeout(120_000);

describe('graykit console during a ZooKeeper outage (real browser)', () => {
  const zk = new StandaloneZooKeeper();
  const root = uniqueRoot();
  let connect: string;
  let providers: TestProvider[] = [];
  let grayConsole: GrayConsole;
  let browser: TestBrowser;
  let page: Page;
  let url: string;

  const overviewConnection = async () => ((await (await fetch(new URL('/api/overview', url))).json()) as { connection: { state: string } }).connection.state;

  beforeAll(async () => {
    // The browser first: a process started after this one holds ZooKeeper sessions inherits the native client's
    // sockets (it does not mark them close-on-exec), and then the sessions cannot come back after a restart.
    browser = await launchBrowser();
    connect = await zk.start();
    providers = [await startProvider({ zk: connect, root, service: 'demo', gray: true, version: 'v2' }), await startProvider({ zk: connect, root, service: 'demo', gray: false, version: 'v1' })];
    // Writes wait 1.5 s for ZooKeeper, so that the one tried during the outage is refused quickly.
    grayConsole = createConsole({ zk: connect, root, logger: silentLogger, timeout: 1500 });
    ({ url } = await grayConsole.listen(0));
    page = await browser.newPage();
    await page.goto(url);
    await page.evaluate(() => ((globalThis as PageGlobals).location.hash = '#/services/demo'));
    await page.waitForFunction(() => (globalThis as PageGlobals).document.querySelectorAll('tr[data-instance]').length === 2);
  }, 120_000);

  afterAll(async () => {
    // Each step bounded and every step run, so that one that hangs is named instead of eating the hook's timeout.
    const failures: string[] = [];
    const step = (what: string, run: () => unknown, timeoutMs = 15_000) => bounded(what, run, timeoutMs).catch((error: Error) => failures.push(error.message));
    await step('browser.close', () => browser?.close());
    await step('console.close', () => grayConsole?.close());
    for (const provider of providers) await step(`provider ${provider.port} close`, () => provider.close());
    await step('ZooKeeper stop', () => zk.destroy(), 30_000);
    if (failures.length > 0) throw new Error(failures.join('; '));
  });

  test('ZooKeeper stops: a banner, the last known state kept, a write refused with a message; back: the banner goes', async () => {
    await zk.stop();
    // First the console's own view (its session noticed), then the page's: a failure says which of the two lagged.
    await eventually(async () => expect(await overviewConnection()).toBe('disconnected'), 20_000, 100);
    await page.waitForSelector('#banner:not([hidden]):has-text("ZooKeeper is unreachable since")', { timeout: 20_000 });
    await expect(page.locator('#conn').textContent()).resolves.toContain('ZooKeeper unreachable');
    // The last known state stays on the page.
    expect(await page.locator('tr[data-instance]').count()).toBe(2);
    await expect(page.locator('.stat.gray .value').first().textContent()).resolves.toBeTruthy();
    await expect(page.locator('tr[data-instance] .lane.gray').count()).resolves.toBe(1);

    await page.click('[data-action="rollback"]');
    await page.click('#dialog-confirm');
    await page.waitForSelector('#dialog-result.error:has-text("Refused:")', { timeout: 15_000 });
    await expect(page.locator('#dialog-result').textContent()).resolves.toMatch(/ZooKeeper/);
    await page.click('#dialog-cancel');

    await zk.start(); // the same port and data
    await page.waitForSelector('#banner[hidden]', { state: 'attached', timeout: 30_000 });
    await expect(page.locator('#conn').textContent()).resolves.toContain('ZooKeeper connected');
    // Changes flow again: a ratio written now shows up.
    const admin = createAdmin({ zk: connect, root, logger: silentLogger });
    try {
      await admin.setRatio('demo', 35);
    } finally {
      admin.close();
    }
    await page.waitForFunction(() => (globalThis as PageGlobals).document.querySelector('pre.config')?.textContent.includes('"ratio": 35'), null, { timeout: 15_000 });
    expect(browser.problems).toEqual([]);
  });
});

async function bounded(what: string, step: () => unknown, timeoutMs = 15_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.resolve().then(step), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
