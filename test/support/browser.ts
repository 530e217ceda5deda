/**
 * A real headless Chromium for the console's tests: Debian's `chromium` package (`.ci/run` installs it) driven by
 * playwright-core, with a fresh profile directory that is removed afterwards. The flags keep it from reaching
 * anything but 127.0.0.1: no background networking, updates, sync or QUIC probes.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * The page's globals, in functions that run in the page: the tests compile without the DOM's types (they would
 * change the Node.js typings of the code under test), so page code reaches the DOM through this.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PageGlobals = any;

export const CHROMIUM = process.env.GRAYKIT_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export interface TestBrowser {
  context: BrowserContext;
  /** Uncaught page errors and CSP violations seen so far, in every page of the browser. */
  problems: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Launches the browser; `args` are added to the flags above (e.g. a host resolver rule). */
export async function launchBrowser(args: readonly string[] = [], viewport = { width: 1440, height: 1000 }): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium; .ci/run does) or set GRAYKIT_CHROMIUM`);
  const profile = mkdtempSync(join(tmpdir(), 'graykit-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: [...ARGS, ...args], viewport, timeout: 60_000 });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  const problems: string[] = [];
  // Before any page script: a CSP violation (an inline handler that somehow got in) is recorded, not just blocked.
  await context.addInitScript(() => {
    const w = globalThis as PageGlobals;
    w.document.addEventListener('securitypolicyviolation', (event: PageGlobals) => {
      (w.cspViolations ??= []).push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  const watch = (page: Page) => {
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return {
    context,
    problems,
    newPage: () => context.newPage(),
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** CSP violations the page recorded (see launchBrowser). */
export function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => ((globalThis as PageGlobals).cspViolations ?? []) as string[]);
}

/**
 * Starts recording, in the page, when an element matching `selector` first exists (Date.now(), the same clock as
 * the test's). Read it with `appearedAt`.
 */
export async function watchFor(page: Page, key: string, selector: string): Promise<void> {
  await page.evaluate(
    ([name, css]) => {
      const w = globalThis as PageGlobals;
      const seen: Record<string, number> = (w.appeared ??= {});
      delete seen[name];
      const check = () => {
        if (seen[name] === undefined && w.document.querySelector(css)) seen[name] = Date.now();
      };
      new w.MutationObserver(check).observe(w.document.body, { subtree: true, childList: true, characterData: true, attributes: true });
      check();
    },
    [key, selector] as const,
  );
}

/** When the element watched under `key` appeared (epoch ms), waiting for it at most `timeoutMs`. */
export async function appearedAt(page: Page, key: string, timeoutMs = 10_000): Promise<number> {
  const handle = await page.waitForFunction((name) => (globalThis as PageGlobals).appeared?.[name], key, { timeout: timeoutMs, polling: 20 });
  return (await handle.jsonValue()) as number;
}

/**
 * Waits (10 s at most) until the first element matching `selector` has text that contains `text` (or equals it,
 * with `exact`): the page renders from several registry reads, each landing when it lands.
 */
export async function waitForText(page: Page, selector: string, text: string, exact = false): Promise<void> {
  try {
    await page.waitForFunction(
      ([css, expected, whole]) => {
        const actual = (globalThis as PageGlobals).document.querySelector(css)?.textContent;
        return typeof actual === 'string' && (whole ? actual === expected : actual.includes(expected));
      },
      [selector, text, exact] as const,
      { timeout: 10_000, polling: 20 },
    );
  } catch (error) {
    const actual = await page.locator(selector).first().textContent().catch(() => null);
    throw new Error(`${selector}: expected text ${exact ? 'equal to' : 'containing'} ${JSON.stringify(text)}, have ${JSON.stringify(actual)}`, { cause: error });
  }
}
