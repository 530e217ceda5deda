/**
 * The public `defaults`: one frozen object, equal to the constants graykit's modules use, and read-only throughout; and
 * the surface it belongs to: no DEFAULT_* constant, at most 45 runtime names, each in the README's public API table.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaults } from '../../src';
import * as surface from '../../src';
import { DEFAULT_ADMIN_OPTIONS } from '../../src/admin/admin';
import { DEFAULT_CONSOLE_OPTIONS } from '../../src/console/options';
import { DEFAULT_CONTEXT_OPTIONS } from '../../src/context/gray-context';
import { DEFAULT_CONSUMER_OPTIONS } from '../../src/consumer/consumer';
import { DEFAULT_FAILOVER_OPTIONS } from '../../src/consumer/failover';
import { DEFAULT_OUTLIER_OPTIONS } from '../../src/consumer/outlier';
import { DEFAULT_DURATION_BUCKETS } from '../../src/metrics';
import { DEFAULT_REGISTER_OPTIONS } from '../../src/provider/options';
import { DEFAULT_SESSION_TIMEOUT, DEFAULT_ZK_CONNECT } from '../../src/registry/connection';
import { DEFAULT_ROOT } from '../../src/registry/paths';
import { DEFAULT_ABORT_OPTIONS } from '../../src/rollout/abort';
import { DEFAULT_ROLLOUT_OPTIONS } from '../../src/rollout/rollout';
import { DEFAULT_LANE_HEADER } from '../../src/types';

/** Every object inside `value`, `value` included. */
function objects(value: unknown): object[] {
  if (typeof value !== 'object' || value === null) return [];
  return [value, ...Object.values(value).flatMap(objects)];
}

describe('defaults', () => {
  test('holds what the modules use, one member per former DEFAULT_* export', () => {
    expect(defaults).toEqual({
      register: DEFAULT_REGISTER_OPTIONS,
      consumer: DEFAULT_CONSUMER_OPTIONS,
      outlier: DEFAULT_OUTLIER_OPTIONS,
      failover: DEFAULT_FAILOVER_OPTIONS,
      context: DEFAULT_CONTEXT_OPTIONS,
      admin: DEFAULT_ADMIN_OPTIONS,
      rollout: DEFAULT_ROLLOUT_OPTIONS,
      abort: DEFAULT_ABORT_OPTIONS,
      console: DEFAULT_CONSOLE_OPTIONS,
      zk: DEFAULT_ZK_CONNECT,
      sessionTimeout: DEFAULT_SESSION_TIMEOUT,
      root: DEFAULT_ROOT,
      durationBuckets: DEFAULT_DURATION_BUCKETS,
      laneHeader: DEFAULT_LANE_HEADER,
    });
  });

  test('is frozen all the way down, and a write changes nothing graykit uses', () => {
    const all = objects(defaults);
    expect(all.length).toBeGreaterThan(15);
    expect(all.filter((object) => !Object.isFrozen(object))).toEqual([]);
    expect(() => {
      (defaults.failover as { attempts: number }).attempts = 9;
    }).toThrow(TypeError);
    expect(DEFAULT_FAILOVER_OPTIONS.attempts).toBe(3);
  });

  test('the public surface has no DEFAULT_* constant left, at most 45 runtime names, each in the README\'s table', () => {
    const names = Object.keys(surface);
    expect(names.filter((name) => name.startsWith('DEFAULT_'))).toEqual([]);
    expect(names.length).toBeLessThanOrEqual(45);
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    const from = readme.indexOf('| Export | What it is |');
    const table = readme.slice(from, readme.indexOf('\n\n', from));
    expect(from).toBeGreaterThan(0);
    // Each name in backticks, alone or called: `name` or `name(…)`.
    expect(names.filter((name) => !table.includes(`\`${name}\``) && !table.includes(`\`${name}(`))).toEqual([]);
  });
});
