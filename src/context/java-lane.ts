/**
 * The lane in the headers Java gray-release tools read, for calls across the language boundary (README "Java
 * services on the same ZooKeeper"). Opt-in: graykit's own header and baggage carry the lane already (the
 * OpenTelemetry Java agent forwards baggage); these let a Java service's own router keep it:
 *
 * - Spring Cloud LoadBalancer's hint-based routing: `X-SC-LB-Hint: gray` picks instances whose metadata `hint` is
 *   `gray` — the key graykit's Curator registrations write.
 * - Nepxion Discovery's version routing: `n-d-version: <version>` picks instances of that version; graykit writes
 *   the version its options name for the lane, and reads one of those two versions back as the lane (a JSON map of
 *   versions per service is Nepxion's too, and is not read: it names no lane for graykit's own service).
 *
 * Read under the same trust rule as the lane header (grayContext's `trust`), after it and baggage. Pure.
 */
import { InvalidOptionError } from '../errors';
import { parseLane, type Lane } from '../types';
import { firstHeaderText } from './header-text';

export const HINT_HEADER = 'x-sc-lb-hint';
export const NEPXION_VERSION_HEADER = 'n-d-version';

export interface JavaLaneOptions {
  /** Spring Cloud LoadBalancer's `X-SC-LB-Hint` carries the lane (`gray`/`normal`). Default true (with the option). */
  hint?: boolean;
  /** Nepxion Discovery's `n-d-version` carries the version of each lane. Default: not written, not read. */
  nepxion?: { gray: string; normal: string };
}

export interface ResolvedJavaLane {
  readonly hint: boolean;
  readonly nepxion?: { readonly gray: string; readonly normal: string };
}

const VERSION = /^[A-Za-z0-9._-]{1,64}$/;

/** The one check of the `javaHeaders` option (grayContext, grayRegister, grayRoute, useGray): `true` is the hint only. */
export function resolveJavaLane(option: JavaLaneOptions | boolean | undefined): ResolvedJavaLane | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return { hint: true };
  if (typeof option !== 'object' || option === null) throw new InvalidOptionError('javaHeaders', 'expected true or { hint, nepxion: { gray, normal } }');
  const hint = option.hint ?? true;
  if (typeof hint !== 'boolean') throw new InvalidOptionError('javaHeaders.hint', 'expected true or false');
  const nepxion = option.nepxion;
  if (nepxion !== undefined) {
    if (typeof nepxion !== 'object' || nepxion === null || !VERSION.test(String(nepxion.gray)) || !VERSION.test(String(nepxion.normal)) || nepxion.gray === nepxion.normal) {
      throw new InvalidOptionError('javaHeaders.nepxion', 'expected { gray: "<version>", normal: "<version>" }, two different version labels (letters, digits, . _ -)');
    }
  }
  return Object.freeze({ hint, nepxion: nepxion && Object.freeze({ gray: nepxion.gray, normal: nepxion.normal }) });
}

/** The lane the Java headers of an incoming request carry (lower-case keys, as Node gives them), or undefined. */
export function laneFromJavaHeaders(headers: Readonly<Record<string, unknown>>, java: ResolvedJavaLane): Lane | undefined {
  if (java.hint) {
    const lane = parseLane(firstHeaderText(headers[HINT_HEADER]));
    if (lane) return lane;
  }
  if (java.nepxion) {
    const version = firstHeaderText(headers[NEPXION_VERSION_HEADER])?.trim();
    if (version === java.nepxion.gray) return 'gray';
    if (version === java.nepxion.normal) return 'normal';
  }
  return undefined;
}

/** The Java headers for a call in `lane`, as [name, value] pairs (lower-case names). */
export function javaLaneHeaders(lane: Lane, java: ResolvedJavaLane): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (java.hint) out.push([HINT_HEADER, lane]);
  // Nepxion's versions name the two lanes Nepxion knows; a named lane travels in the hint alone.
  if (java.nepxion && (lane === 'gray' || lane === 'normal')) out.push([NEPXION_VERSION_HEADER, java.nepxion[lane]]);
  return out;
}

/**
 * Sets the Java headers for `lane` on outbound headers that are the caller's copy already: a flat [name, value, …]
 * array or a record; other spellings of the same names are replaced. Returns the same object.
 */
export function addJavaLane<T extends string[] | Record<string, unknown>>(headers: T, lane: Lane, java: ResolvedJavaLane): T {
  for (const [name, value] of javaLaneHeaders(lane, java)) {
    if (Array.isArray(headers)) {
      for (let i = headers.length - 2; i >= 0; i -= 2) if (String(headers[i]).toLowerCase() === name) headers.splice(i, 2);
      headers.push(name, value);
    } else {
      const record = headers as Record<string, unknown>;
      for (const key of Object.keys(record)) if (key !== name && key.toLowerCase() === name) delete record[key];
      record[name] = value;
    }
  }
  return headers;
}
