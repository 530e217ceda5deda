/**
 * Property-based fuzzing (fast-check, 10 000 cases each) of everything that reads znode data written by others:
 * the instance metadata codec, operator overrides, and the service config parser. No input may make a decoder
 * throw, and whatever a decoder accepts must be usable as it is: a host and port that a URL keeps exactly, a
 * boolean gray flag, a bounded weight.
 */
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import schema from '../../schema/service-config.schema.json';
import { canonicalHost, decodeInstance, decodeInstanceMeta, decodeOverride, MAX_DATA_BYTES, MAX_WEIGHT, parseInstanceId } from '../../src/registry/codec';
import { decodeConfig, validateConfig } from '../../src/registry/config-codec';
import type { Instance } from '../../src/types';
import { effectivePort, fieldValue, FUZZ_RUNS, instanceIdish, metaObject, urlHost, znodeData } from '../support/hostile';

const PATH = '/graykit/services/demo/instances/x';
const runs = { numRuns: FUZZ_RUNS };

/** What every accepted instance must satisfy, whatever the input was. */
function expectUsable(instance: Instance, id: string): void {
  expect(instance.id).toBe(id);
  expect(canonicalHost(instance.host)).toBe(instance.host);
  const url = new URL(`http://${urlHost(instance.host)}:${instance.port}/`);
  expect(url.hostname).toBe(urlHost(instance.host));
  expect(effectivePort(url)).toBe(instance.port);
  expect(Number.isInteger(instance.port) && instance.port >= 1 && instance.port <= 65535).toBe(true);
  expect(typeof instance.gray).toBe('boolean');
  expect(Number.isFinite(instance.weight) && instance.weight >= 0 && instance.weight <= MAX_WEIGHT).toBe(true);
  expect(instance.version === undefined || typeof instance.version === 'string').toBe(true);
  expect(Object.isFrozen(instance.meta)).toBe(true);
}

describe('fuzz: instance metadata codec', () => {
  test(`decodeInstance never throws, and what it accepts is routable as it is (${FUZZ_RUNS} cases)`, () => {
    fc.assert(
      fc.property(instanceIdish, znodeData, (id, data) => {
        const decoded = decodeInstance(PATH, id, data);
        if (!decoded.ok) {
          expect(typeof decoded.reason).toBe('string');
          expect(decoded.reason.length).toBeLessThan(400);
          return;
        }
        expectUsable(decoded.value, id);
        const size = data === null ? 0 : typeof data === 'string' ? Buffer.byteLength(data) : data.length;
        expect(size).toBeLessThanOrEqual(MAX_DATA_BYTES);
      }),
      runs,
    );
  });

  test(`decodeInstanceMeta never throws on any value, objects or not (${FUZZ_RUNS} cases)`, () => {
    const anything = fc.anything({ withNullPrototype: true, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, withBoxedValues: true, maxDepth: 4 });
    fc.assert(
      fc.property(instanceIdish, fc.oneof(metaObject, anything), (id, meta) => {
        const decoded = decodeInstanceMeta(PATH, id, meta as Record<string, unknown>);
        if (decoded.ok) expectUsable(decoded.value, id);
      }),
      runs,
    );
  });

  test(`decodeOverride never throws; merged over any own metadata it never moves the instance (${FUZZ_RUNS} cases)`, () => {
    fc.assert(
      fc.property(znodeData, instanceIdish, metaObject, (data, id, own) => {
        const override = decodeOverride(data);
        if (!override.ok) return;
        if ('gray' in override.value) expect(typeof override.value.gray).toBe('boolean');
        if ('weight' in override.value) expect(override.value.weight! >= 0 && override.value.weight! <= MAX_WEIGHT).toBe(true);
        const merged = decodeInstanceMeta(PATH, id, { ...own, ...override.value });
        if (!merged.ok) return;
        expectUsable(merged.value, id);
        // Host and port come from the znode's name, never from data: an override cannot point elsewhere.
        const address = parseInstanceId(id);
        expect(address.ok && [address.value.host, address.value.port]).toEqual([merged.value.host, merged.value.port]);
      }),
      runs,
    );
  });

  test(`parseInstanceId accepts exactly the hosts canonicalHost keeps (${FUZZ_RUNS} cases)`, () => {
    fc.assert(
      fc.property(instanceIdish, (id) => {
        const parsed = parseInstanceId(id);
        if (parsed.ok) expect(canonicalHost(parsed.value.host)).toBe(parsed.value.host);
      }),
      runs,
    );
  });
});

describe('fuzz: service config parser', () => {
  const ajv = new Ajv2020({ allErrors: true });
  addFormats(ajv);
  const validateWithSchema = ajv.compile(schema);

  const header = fc.oneof(fc.constantFrom('x-canary', 'X-User-Id', 'bad header', '', 'a'.repeat(65), 'ü', 'x:y'), fc.string({ maxLength: 8 }));
  const rule = fc.record(
    {
      header,
      cookie: header,
      equals: fc.oneof(fc.string({ maxLength: 8 }), fieldValue),
      matches: fc.oneof(fc.constantFrom('^yes$', '(', '[', '(a+)+$', 'x'.repeat(257), '\\', '(?<n>a)\\k<n>'), fc.string({ maxLength: 8 }), fieldValue),
      lane: fc.oneof(fc.constantFrom('gray', 'normal', 'GRAY', 'blue', 'pr-42', 'pr_42', '-pr', 'a'.repeat(64)), fieldValue),
      extra: fieldValue,
    },
    { requiredKeys: [] },
  );
  /** Near-valid documents: each field valid or not, present or not, plus unknown fields now and then. */
  const document = fc.record(
    {
      ratio: fc.oneof(fc.double({ min: -10, max: 110 }), fc.integer({ min: -5, max: 105 }), fieldValue),
      laneHeader: fc.oneof(header, fieldValue),
      hashBy: fc.oneof(header, fieldValue),
      rules: fc.oneof(fc.array(rule, { maxLength: 34 }), fieldValue),
      ration: fieldValue,
      __proto__: fieldValue,
    },
    { requiredKeys: [] },
  );

  test(`decodeConfig never throws on any data, and what it accepts is well-formed (${FUZZ_RUNS} cases)`, () => {
    fc.assert(
      fc.property(fc.oneof(znodeData, document.map((d) => JSON.stringify(d))), (data) => {
        const decoded = decodeConfig(data);
        if (!decoded.ok) return;
        const config = decoded.value;
        expect(Object.keys(config).every((key) => ['ratio', 'laneHeader', 'rules', 'hashBy'].includes(key))).toBe(true);
        if (config.ratio !== undefined) expect(config.ratio >= 0 && config.ratio <= 100).toBe(true);
        for (const name of [config.laneHeader, config.hashBy]) if (name !== undefined) expect(name).toMatch(/^[!#$%&'*+.^_`|~0-9a-z-]{1,64}$/);
        for (const r of config.rules ?? []) {
          expect((r.header === undefined) !== (r.cookie === undefined)).toBe(true);
          expect((r.equals === undefined) !== (r.matches === undefined)).toBe(true);
          expect(r.lane).toMatch(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
          if (r.matches !== undefined) expect(() => new RegExp(r.matches!)).not.toThrow();
        }
      }),
      runs,
    );
  });

  test(`validateConfig never throws, agrees with the published schema, and is idempotent (${FUZZ_RUNS} cases)`, () => {
    const anything = fc.anything({ withNullPrototype: true, withBigInt: true, maxDepth: 3 });
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: document }, { weight: 1, arbitrary: anything }), (value) => {
        const decoded = validateConfig(value);
        // Only plain JSON documents can be compared with the schema (ajv would judge a Map or a BigInt on its own terms).
        const json = (() => {
          try {
            const text = JSON.stringify(value);
            return text === undefined ? undefined : JSON.parse(text);
          } catch {
            return undefined;
          }
        })();
        if (json !== undefined && JSON.stringify(json) === JSON.stringify(value) && isPlainJson(value)) {
          const bySchema = validateWithSchema(json);
          // The schema cannot compile regular expressions: that is the one thing only the validator refuses.
          if (decoded.ok) expect(bySchema).toBe(true);
          else if (bySchema) expect(decoded.reason).toMatch(/regular expression/);
        }
        if (decoded.ok) expect(validateConfig(JSON.parse(JSON.stringify(decoded.value)))).toEqual(decoded);
      }),
      runs,
    );
  });
});

/** True for values made only of plain objects, arrays, strings, finite numbers, booleans and null. */
function isPlainJson(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (Array.isArray(value)) return value.every((item, i) => i in value && isPlainJson(item));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) return Object.values(value as object).every(isPlainJson);
  return false;
}
