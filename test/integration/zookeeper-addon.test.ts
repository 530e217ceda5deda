/**
 * A connection the server side resets, then a request sent before the client has read the reset: the `zookeeper`
 * addon's C client closes its socket inside that request, under the addon's libuv poll handle, and at the loop's
 * next poll libuv aborts the process (uv__epoll_ctl_prep). One session is enough (test/fixtures/addon-dropped-socket.js).
 * graykit closes such a handle in the same turn and re-attaches the session (zk-handle.ts, afterRequest); the
 * patch for the addon itself (patches/, `bench:scale --addon=patched`) drops the poll handle where the socket is closed.
 * Each case runs in a child process, since the failure is the death of the process.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startChild } from '../../scripts/children';
import { testZk } from '../support/helpers';

const REPO_ROOT = join(__dirname, '../..');
const REDIRECT = join(REPO_ROOT, 'bench/zookeeper-redirect.js');

async function run(script: string, env: Record<string, string> = {}): Promise<{ code: number | null; signal: string | null; steps: Array<Record<string, unknown>> }> {
  const args = script.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only', script, testZk().split(',')[0]] : ['--require', REDIRECT, script, testZk().split(',')[0]];
  const child = startChild({ name: 'addon-child', command: { file: process.execPath, args }, env, ipc: false });
  const exit = await child.exited;
  const steps = child.lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { code: exit.code ?? null, signal: exit.signal ?? null, steps };
}

describe('a request sent over a connection the server has reset', () => {
  test('graykit keeps the process, the session and its ephemeral znode, with the installed addon', async () => {
    const { code, signal, steps } = await run(join(REPO_ROOT, 'test/fixtures/session-reset.ts'));
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(steps.find((s) => s.step === 'reconnected')).toEqual({ step: 'reconnected', sameSession: true, marker: 'alive' });
  }, 60_000);

  test('the installed addon alone aborts the process (why graykit guards every request; fails once the addon is fixed)', async () => {
    const { code, signal, steps } = await run(join(REPO_ROOT, 'test/fixtures/addon-dropped-socket.js'));
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGABRT' });
    expect(steps.map((s) => s.step)).toEqual(['connected']);
  }, 60_000);

  test('the patched addon (patches/) keeps the process and the session by itself', async () => {
    const dir = execFileSync('bash', [join(REPO_ROOT, 'scripts/zookeeper-patched.sh')], { encoding: 'utf8' }).trim();
    const { code, signal, steps } = await run(join(REPO_ROOT, 'test/fixtures/addon-dropped-socket.js'), { GRAYKIT_ZOOKEEPER_ADDON: dir });
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(steps.find((s) => s.step === 'reconnected')).toMatchObject({ sameSession: true, rc: 0 });
  }, 120_000);
});
