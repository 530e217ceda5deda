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
import { startProvider, uniqueRoot, type TestProvider } from '../support/helpers';

jest.setTimeout(120_000);

describe('graykit console during a ZooKeeper outage (real browser)', () => {
  const zk = new StandaloneZooKeeper();
  const root = uniqueRoot();
  let connect: string;
  let providers: TestProvider[] = [];
  let grayConsole: GrayConsole;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    // The browser first: a process started after this one holds ZooKeeper sessions inherits the native client's
    // sockets (it does not mark them close-on-exec), and then the sessions cannot come back after a restart.
    browser = await launchBrowser();
    connect = await zk.start();
    providers = [await startProvider({ zk: connect, root, service: 'demo', gray: true, version: 'v2' }), await startProvider({ zk: connect, root, service: 'demo', gray: false, version: 'v1' })];
    // Writes wait 1.5 s for ZooKeeper, so that the one tried during the outage is refused quickly.
    grayConsole = createConsole({ zk: connect, root, logger: silentLogger, timeout: 1500 });
    const { url } = await grayConsole.listen(0);
    page = await browser.newPage();
    await page.goto(url);
    await page.evaluate(() => ((globalThis as PageGlobals).location.hash = '#/services/demo'));
    await page.waitForFunction(() => (globalThis as PageGlobals).document.querySelectorAll('tr[data-instance]').length === 2);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await grayConsole?.close();
    for (const provider of providers) await provider.close();
    await zk.destroy();
  });

  test('ZooKeeper stops: a banner, the last known state kept, a write refused with a message; back: the banner goes', async () => {
    await zk.stop();
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
