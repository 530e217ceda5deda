/**
 * The lane on a request sent through undici (grayDispatcher): reading the caller's own lane header and baggage, and
 * writing the lane into a copy of the caller's headers, in any of undici's header formats (a plain object, what fetch
 * passes; a flat array; pairs; an iterable). The plain object is the hot path, read and written in one pass each.
 */
import { BAGGAGE_HEADER, withLaneInBaggage, type LanePropagation } from '../context/propagation';
import { laneEntry, type Lane } from '../types';
import type { DispatchOptions } from './undici-builtin';

export type Headers = DispatchOptions['headers'];

function sameName(key: unknown, name: string): boolean {
  const text = typeof key === 'string' ? key : String(key);
  return text.length === name.length && text.toLowerCase() === name;
}

/** The header's value in any of undici's header formats (object, flat array, pairs), any case. @internal (exported for tests) */
export function headerValue(headers: Headers, name: string): unknown {
  if (!headers) return undefined;
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) return (headers as unknown as Array<[string, string]>).find(([key]) => sameName(key, name))?.[1];
    for (let i = 0; i < headers.length; i += 2) if (sameName(headers[i], name)) return headers[i + 1];
    return undefined;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [key, value] of headers as Iterable<[string, string]>) if (sameName(key, name)) return value;
    return undefined;
  }
  const record = headers as Record<string, unknown>;
  if (name in record) return record[name];
  for (const key in record) if (sameName(key, name)) return record[key];
  return undefined;
}

/** Whether undici's headers are a plain object (what fetch passes) or absent: not a flat array, pairs or an iterable. */
export function isRecord(headers: Headers): boolean {
  return !headers || (!Array.isArray(headers) && typeof (headers as Iterable<unknown>)[Symbol.iterator] !== 'function');
}

/**
 * A copy of a plain headers object, with what `{ ...record }` copies (own enumerable properties, strings and symbols,
 * in order), that graykit then adds its own headers to. Not a spread: in V8 (measured on Node 20) adding properties
 * to a spread copy is slow, ~1.1 µs a request for the lane header and baggage against ~0.1 µs added to an
 * Object.assign copy, whatever the shape of the caller's object (bench/analysis.md, section 2f). A
 * `__proto__` own property, which Object.assign would set as the prototype, takes the spread.
 */
function copyRecord(record: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  return Object.hasOwn(record, '__proto__') ? { ...record } : Object.assign({}, record);
}

/** graykit's baggage member alone, for a caller who sent no baggage: what withLaneInBaggage(undefined, lane) builds. */
const OWN_BAGGAGE: Readonly<Record<Lane, string>> = Object.freeze({ gray: withLaneInBaggage(undefined, 'gray') as string, normal: withLaneInBaggage(undefined, 'normal') as string });

/** Bits of `respelled`: the caller's headers spell the lane header, or baggage, in another case too. */
const LANE_RESPELLED = 1;
const BAGGAGE_RESPELLED = 2;

/**
 * One pass over a plain headers object for the two names graykit writes: returns the caller's value of the lane
 * header `name` and sets `into.callerBaggage` and `into.respelled` (which names also appear in another case). Values
 * are read as headerValue reads them: the exact spelling when present, else the first other spelling in key order.
 * `name` is lower-case and is not `baggage`. @internal (exported for tests)
 */
export function readCallerHeaders(headers: Headers, name: string, into: { callerBaggage: unknown; respelled: number }): unknown {
  into.callerBaggage = undefined;
  into.respelled = 0;
  if (!headers) return undefined;
  const record = headers as Record<string, unknown>;
  let lane: unknown;
  let laneFound = 0; // 0: none, 1: another spelling, 2: the exact one
  let baggageFound = 0;
  for (const key in record) {
    if (key.length === name.length) {
      if (key === name) {
        lane = record[key];
        laneFound = 2;
      } else if (key.toLowerCase() === name) {
        into.respelled |= LANE_RESPELLED;
        if (laneFound === 0) {
          lane = record[key];
          laneFound = 1;
        }
      }
    }
    if (key.length === BAGGAGE_HEADER.length) {
      if (key === BAGGAGE_HEADER) {
        into.callerBaggage = record[key];
        baggageFound = 2;
      } else if (key.toLowerCase() === BAGGAGE_HEADER) {
        into.respelled |= BAGGAGE_RESPELLED;
        if (baggageFound === 0) {
          into.callerBaggage = record[key];
          baggageFound = 1;
        }
      }
    }
  }
  return lane;
}

/**
 * withLane for a plain headers object already read by RoutedRequest.readHeaders: the same copy, without reading the
 * headers again. `callerBaggage` is the caller's baggage (any spelling), `respelled` says which of the two names the caller
 * also spelled in another case (those spellings are dropped). @internal (exported for tests)
 */
export function withLaneRecord(headers: Headers, name: string, lane: Lane, propagation: LanePropagation, callerBaggage: unknown, respelled: number): Headers {
  const writeHeader = propagation !== 'baggage';
  const writeBaggage = propagation !== 'header';
  const record = (headers ?? {}) as Record<string, string | string[] | undefined>;
  let out: Record<string, string | string[] | undefined>;
  if ((writeHeader && respelled & LANE_RESPELLED) || (writeBaggage && respelled & BAGGAGE_RESPELLED)) {
    out = {};
    for (const key in record) {
      if (!((writeHeader && sameName(key, name)) || (writeBaggage && sameName(key, BAGGAGE_HEADER)))) out[key] = record[key];
    }
  } else out = copyRecord(record);
  if (writeHeader) out[name] = lane;
  if (writeBaggage) out[BAGGAGE_HEADER] = callerBaggage === undefined ? (laneEntry(OWN_BAGGAGE, lane) ?? (withLaneInBaggage(undefined, lane) as string)) : ((withLaneInBaggage(callerBaggage, lane) ?? callerBaggage) as string);
  return out;
}

/**
 * A copy of the request's headers carrying `lane`: the lane header set and/or graykit's baggage member merged into
 * the caller's baggage, every other spelling of those two names dropped. Always a copy: undici's request() hands
 * over the caller's own object. For a plain object (what fetch passes) copyRecord's. @internal (exported for tests)
 */
export function withLane(headers: Headers, name: string, lane: Lane, propagation: LanePropagation): Headers {
  const writeHeader = propagation !== 'baggage';
  const baggage = propagation !== 'header' ? (withLaneInBaggage(headerValue(headers, BAGGAGE_HEADER), lane) ?? headerValue(headers, BAGGAGE_HEADER)) : undefined;
  const replaced = (key: unknown) => (writeHeader && sameName(key, name)) || (baggage !== undefined && sameName(key, BAGGAGE_HEADER));
  const added: Array<[string, unknown]> = [];
  if (writeHeader) added.push([name, lane]);
  if (baggage !== undefined) added.push([BAGGAGE_HEADER, baggage]);
  return isRecord(headers) ? recordWith(headers, replaced, added) : flatWith(headers, replaced, added);
}

/** A flat array, pairs or an iterable of headers as a flat array: the `replaced` names dropped, `added` appended as text. */
function flatWith(headers: Headers, replaced: (key: unknown) => boolean, added: Array<[string, unknown]>): string[] {
  const flat: string[] = [];
  if (Array.isArray(headers) && !(headers.length > 0 && Array.isArray(headers[0]))) {
    for (let i = 0; i < headers.length; i += 2) if (!replaced(headers[i])) flat.push(headers[i] as string, headers[i + 1] as string);
  } else {
    for (const [key, value] of headers as Iterable<[string, string]>) if (!replaced(key)) flat.push(key, value);
  }
  for (const [key, value] of added) flat.push(key, String(value));
  return flat;
}

/**
 * A copy of a plain headers object (or none) with `added` set as they are (a caller's baggage array stays one). The
 * `replaced` names' other spellings are dropped; when there are none, the copy is copyRecord's.
 */
function recordWith(headers: Headers, replaced: (key: unknown) => boolean, added: Array<[string, unknown]>): Record<string, string | string[] | undefined> {
  const record = (headers ?? {}) as Record<string, string | string[] | undefined>;
  let other = false;
  for (const key in record) if (replaced(key) && !added.some(([name]) => name === key)) other = true;
  let out: Record<string, string | string[] | undefined>;
  if (other) {
    out = {};
    for (const key in record) if (!replaced(key)) out[key] = record[key];
  } else out = copyRecord(record);
  for (const [key, value] of added) out[key] = value as string | string[];
  return out;
}
