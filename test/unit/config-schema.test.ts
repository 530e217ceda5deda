/**
 * The published JSON Schema and the runtime validator must agree: both judge the same documents, valid and invalid.
 * (graykit validates by hand at run time so that consumers carry no schema engine; ajv checks the schema here.)
 */
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import schema from '../../schema/service-config.schema.json';
import { validateConfig } from '../../src/registry/config-codec';

const ajv = new Ajv2020({ allErrors: true });
addFormats(ajv);
const validateWithSchema = ajv.compile(schema);

const documents: Array<[string, unknown, boolean]> = [
  ['empty', {}, true],
  ['ratio', { ratio: 33 }, true],
  ['ratio 0 and 100', { ratio: 100, laneHeader: 'x-lane' }, true],
  ['every field', { ratio: 5, laneHeader: 'x-gray-lane', hashBy: 'x-user-id', rules: [{ header: 'x-canary', equals: 'always', lane: 'gray' }, { cookie: 'beta', matches: '^yes$', lane: 'normal' }] }, true],
  ['ratio over 100', { ratio: 101 }, false],
  ['negative ratio', { ratio: -1 }, false],
  ['ratio as text', { ratio: '33' }, false],
  ['unknown field', { ration: 33 }, false],
  ['header name with a space', { laneHeader: 'x lane' }, false],
  ['rules not an array', { rules: {} }, false],
  ['rule with header and cookie', { rules: [{ header: 'a', cookie: 'b', equals: 'x', lane: 'gray' }] }, false],
  ['rule with neither header nor cookie', { rules: [{ equals: 'x', lane: 'gray' }] }, false],
  ['rule with equals and matches', { rules: [{ header: 'a', equals: 'x', matches: 'y', lane: 'gray' }] }, false],
  ['rule without a test', { rules: [{ header: 'a', lane: 'gray' }] }, false],
  ['rule with a bad lane', { rules: [{ header: 'a', equals: 'x', lane: 'Blue_1' }] }, false],
  ['rule with an unknown field', { rules: [{ header: 'a', equals: 'x', lane: 'gray', weight: 1 }] }, false],
  ['rule without a lane', { rules: [{ header: 'a', equals: 'x' }] }, false],
  ['too many rules', { rules: Array.from({ length: 33 }, () => ({ header: 'a', equals: 'x', lane: 'gray' })) }, false],
  ['an array', [], false],
];

test.each(documents.map(([name, document, valid]) => [name, valid, document] as const))('%s: the schema and the validator both say valid=%p', (_name, valid, document) => {
  expect(validateWithSchema(document)).toBe(valid);
  expect(validateConfig(document).ok).toBe(valid);
});
