/**
 * The console's safety in a real headless Chromium: `graykit console --read-only` (the real CLI, spawned) serves
 * no write, a missing or wrong token refuses every write from the page, a page reached under a foreign name (DNS
 * rebinding, simulated with Chromium's host resolver rules) is refused, and the ZooKeeper credentials given to
 * the CLI show nowhere: not in the page, its API, its stream, or the CLI's output. The registry is checked to be
 * unchanged after every refusal.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createAdmin, createConsole, silentLogger, type GrayAdmin, type GrayConsole } from '../../src';
import { OWN_SCRIPTS } from '../../src/console/assets';
import { configPath } from '../../src/registry/paths';
import type { ZkSession } from '../../src/registry/zk-session';
import { REPO_ROOT, startChild, type Child } from '../../scripts/children';
import { launchBrowser, type PageGlobals, type TestBrowser } from '../support/browser';
import { adminSession, startProvider, testZk, uniqueRoot, type TestProvider } from '../support/helpers';

jest.setTimeout(90_000);

const FOREIGN = 'rebound.example';
const AUTH = 'consoleoperator:Zk-pa55-word';

describe('graykit console: read-only, tokens, Host, credentials (real browser)', () => {
  const root = uniqueRoot();
  let providers: TestProvider[];
  let admin: GrayAdmin;
  let raw: ZkSession;
  let cli: Child;
  let readOnlyUrl: string;
  let writable: GrayConsole;
  let writableBase: string;
  let browser: TestBrowser;
  let page: Page;

  const configVersion = async () => (await raw.getData(configPath(root, 'demo'))).stat.version;
  const writeFrom = (target: Page, paths: string[], headers: Record<string, string>) =>
    target.evaluate(
      async ({ paths, headers }) => {
        const statuses: number[] = [];
        for (const path of paths) {
          const response = await (globalThis as PageGlobals).fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ ratio: 90, expectedVersion: 0, gray: false }) });
          statuses.push(response.status);
        }
        return statuses;
      },
      { paths, headers },
    );

  beforeAll(async () => {
    // The browser first, before this process holds ZooKeeper sessions whose sockets it would inherit.
    browser = await launchBrowser([`--host-resolver-rules=MAP ${FOREIGN} 127.0.0.1`]);
    providers = [await startProvider({ root, service: 'demo', gray: true, version: 'v2' }), await startProvider({ root, service: 'demo', gray: false, version: 'v1' })];
    admin = createAdmin({ zk: testZk(), root, logger: silentLogger });
    await admin.setRatio('demo', 5);
    raw = adminSession();
    await raw.whenConnected(10_000);
    // The CLI as operators run it, with ZooKeeper credentials from the environment (the documented way).
    cli = startChild({
      name: 'graykit console',
      command: { file: process.execPath, args: ['-r', 'ts-node/register/transpile-only', join(REPO_ROOT, 'src/cli/main.ts'), '--zk', testZk(), '--root', root, '--json', 'console', '--read-only', '--port', '0'] },
      env: { GRAYKIT_ZK_AUTH: AUTH },
      ipc: false,
    });
    readOnlyUrl = String((await cli.waitForEvent('listening', 30_000)).url);
    writable = createConsole({ zk: testZk(), root, logger: silentLogger });
    writableBase = (await writable.listen(0)).url.replace(/#.*$/, '');
    page = await browser.newPage();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await cli?.stop();
    await writable?.close();
    admin?.close();
    raw?.close();
    for (const provider of providers ?? []) await provider.close();
  });

  test('--read-only: the page offers no action, and no write endpoint exists (the registry is unchanged)', async () => {
    expect(readOnlyUrl).not.toContain('#token');
    await page.goto(`${readOnlyUrl}#/services/demo`);
    await page.waitForSelector('tr[data-instance]');
    await expect(page.locator('#mode').textContent()).resolves.toBe('read-only');
    await expect(page.locator('.readonly-note').textContent()).resolves.toContain('read-only');
    expect(await page.locator('[data-action], [data-mark]').count()).toBe(0);
    const before = await configVersion();
    const id = encodeURIComponent(`127.0.0.1:${providers[0].port}`);
    const writes = ['api/services/demo/ratio', 'api/services/demo/promote', 'api/services/demo/rollback', `api/services/demo/instances/${id}/flag`];
    // Even with a token: there is none to match, and nothing to reach.
    expect(await writeFrom(page, writes, { Authorization: 'Bearer anything-anything-anything' })).toEqual([404, 404, 404, 404]);
    expect(await configVersion()).toBe(before);
    expect((await admin.status('demo')).instances.every((i) => i.override === undefined)).toBe(true);
  });

  test('the ZooKeeper credentials show nowhere: page, API, stream, CLI output', async () => {
    const [user, password] = AUTH.split(':');
    const scripts = [...OWN_SCRIPTS];
    const seen = await page.evaluate(async (scripts) => {
      const w = globalThis as PageGlobals;
      const texts = [w.document.documentElement.outerHTML];
      for (const path of ['api/overview', 'api/services/demo', ...scripts.map((name) => `assets/${name}`)]) texts.push(await (await w.fetch(path)).text());
      // The live stream's first message, which carries everything the page shows.
      const controller = new w.AbortController();
      const reader = (await w.fetch('api/stream?service=demo', { signal: controller.signal })).body.getReader();
      const decoder = new w.TextDecoder();
      let stream = '';
      while (!/event: hello\ndata: [^\n]*\n\n/.test(stream)) {
        const { value, done } = await reader.read();
        if (done) break;
        stream += decoder.decode(value);
      }
      controller.abort();
      texts.push(stream);
      return texts.join('\n');
    }, scripts);
    const output = `${cli.lines.join('\n')}\n${cli.stderr()}`;
    expect(output).toContain('"event":"listening"');
    expect(seen).toContain('event: hello');
    for (const text of [seen, output]) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(user);
    }
  });

  test('a missing or wrong token refuses the write from the page; the right one is accepted', async () => {
    // Opened without the token in the URL: the page asks for it when a write is confirmed.
    await page.goto(`${writableBase}#/services/demo`);
    await page.waitForSelector('tr[data-instance]');
    await expect(page.locator('#mode').textContent()).resolves.toBe('writes need the token');
    const before = await configVersion();
    expect(await writeFrom(page, ['api/services/demo/ratio', 'api/services/demo/rollback'], {})).toEqual([401, 401]);

    await page.fill('input[aria-label="ratio (number)"]', '40');
    await page.click('[data-action="ratio"]');
    await page.waitForSelector('#dialog-token:not([hidden])');
    await page.click('#dialog-confirm');
    await expect(page.locator('#dialog-result').textContent()).resolves.toContain('Enter the console token');
    await page.fill('#dialog-token-input', 'not-the-token-not-the-token');
    await page.click('#dialog-confirm');
    await page.waitForSelector('#dialog-result.error:has-text("wrong token")');
    expect(await configVersion()).toBe(before);
    expect((await admin.getConfig('demo')).config.ratio).toBe(5);

    await page.fill('#dialog-token-input', writable.token!);
    await page.click('#dialog-confirm');
    await page.waitForSelector('.toast:has-text("Ratio set to 40 %")');
    expect((await admin.getConfig('demo')).config.ratio).toBe(40);
    await admin.setRatio('demo', 5);
  });

  test('a foreign Host is refused: the page and its API, even from this machine', async () => {
    const port = new URL(writableBase).port;
    const response = await page.goto(`http://${FOREIGN}:${port}/`);
    expect(response?.status()).toBe(403);
    await expect(page.locator('body').textContent()).resolves.toContain('this host name is not allowed');
    const api = await page.evaluate(async () => {
      const r = await (globalThis as PageGlobals).fetch('api/overview');
      return { status: r.status, body: await r.text() };
    });
    expect(api.status).toBe(403);
    expect(api.body).not.toContain('demo');
    // The console's own names still work: the same server, reached as localhost.
    const own = await page.goto(`http://localhost:${port}/`);
    expect(own?.status()).toBe(200);
    const headers = own!.headers();
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(browser.problems).toEqual([]);
  });
});
