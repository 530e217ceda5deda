/**
 * How a lane travels between services: in graykit's own header (`x-gray-lane: gray`), and as a member of the W3C
 * `baggage` header (`baggage: gray.lane=gray`), which services that do not run graykit (a Java service with the
 * OpenTelemetry agent, a Go service, a proxy) forward untouched while they drop headers they do not know.
 *
 * Reading takes the lane header first, then baggage, whatever an app writes. Writing sets the lane header and/or replaces (or appends)
 * graykit's baggage member, leaving every other member byte for byte as it was. Baggage that is malformed is
 * ignored without error; a member that would push the header past the W3C Baggage limits (64 list-members, 8192
 * bytes) is not added (https://www.w3.org/TR/baggage/#limits). Pure; also used for message headers
 * (injectLane/extractLane), where values may be Buffers (kafkajs) or arrays.
 */
import { checkLaneName } from '../errors';
import { DEFAULT_LANE_HEADER, parseLane, type Lane } from '../types';
import { firstHeaderText, headerText } from './header-text';
import { addJavaLane, HINT_HEADER, laneFromJavaHeaders, NEPXION_VERSION_HEADER, resolveJavaLane, type JavaLaneOptions, type ResolvedJavaLane } from './java-lane';

/** The baggage member that carries the lane: `gray.lane=gray`. */
export const BAGGAGE_LANE_KEY = 'gray.lane';
export const BAGGAGE_HEADER = 'baggage';
const MAX_BAGGAGE_MEMBERS = 64;
export const MAX_BAGGAGE_BYTES = 8192;

/**
 * Where the lane travels: `header` (graykit's lane header only), `baggage` (the W3C baggage member only), or
 * `both`, the default: graykit services of any version read the header, and hops that are not graykit carry the
 * baggage member on. One more header of ~20 bytes a request is the price.
 */
export type LanePropagation = 'header' | 'baggage' | 'both';
export const DEFAULT_PROPAGATION: LanePropagation = 'both';

export function isLanePropagation(value: unknown): value is LanePropagation {
  return value === 'header' || value === 'baggage' || value === 'both';
}

/** A header or message-header value: a string, a Buffer (kafkajs), or several. */
export type CarrierValue = string | Buffer | ReadonlyArray<string | Buffer> | undefined | null;

const BAGGAGE_KEY_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The lane in a `baggage` header value (its `gray.lane` member), or undefined (absent, malformed, or no lane). */
export function laneFromBaggage(value: CarrierValue | unknown): Lane | undefined {
  const header = headerText(value);
  if (header === undefined || header.length > MAX_BAGGAGE_BYTES * 4) return undefined;
  for (const member of header.split(',')) {
    const eq = member.indexOf('=');
    if (eq === -1) continue;
    if (member.slice(0, eq).trim() !== BAGGAGE_LANE_KEY) continue;
    const semicolon = member.indexOf(';', eq);
    const raw = member.slice(eq + 1, semicolon === -1 ? undefined : semicolon).trim();
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      return undefined; // malformed percent-encoding: no lane, no error
    }
    return parseLane(decoded);
  }
  return undefined;
}

/**
 * `existing` baggage with graykit's member set to `lane`: an existing `gray.lane` member is replaced in place,
 * otherwise `gray.lane=<lane>` is appended; every other member keeps its exact bytes. Undefined when it cannot be
 * done safely: the existing value is malformed (a member without `key=value`), or the result would exceed the W3C
 * limits; the caller then leaves the header as it is.
 */
export function withLaneInBaggage(existing: CarrierValue | unknown, lane: Lane): string | undefined {
  const own = `${BAGGAGE_LANE_KEY}=${lane}`;
  const header = headerText(existing);
  if (header === undefined || header.trim() === '') return own;
  const members = header.split(',');
  let replaced = false;
  for (let i = 0; i < members.length; i++) {
    const member = members[i];
    const eq = member.indexOf('=');
    const key = eq === -1 ? '' : member.slice(0, eq).trim();
    if (!BAGGAGE_KEY_TOKEN.test(key)) return undefined; // malformed: leave it alone
    if (key !== BAGGAGE_LANE_KEY) continue;
    if (replaced) return undefined; // two lane members: not ours to pick
    const semicolon = member.indexOf(';', eq);
    const leading = member.slice(0, member.length - member.trimStart().length);
    members[i] = `${leading}${own}${semicolon === -1 ? '' : member.slice(semicolon)}`;
    replaced = true;
  }
  if (!replaced) members.push(own);
  const result = members.join(',');
  if (members.length > MAX_BAGGAGE_MEMBERS || Buffer.byteLength(result) > MAX_BAGGAGE_BYTES) return undefined;
  return result;
}

/** Reads a headers object whose keys may have any case (Node's incoming headers are lower-case already). */
function headerOf(headers: Readonly<Record<string, unknown>>, name: string): unknown {
  if (name in headers) return headers[name];
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return headers[key];
  return undefined;
}

/**
 * The lane a set of headers carries: the lane header first, then the baggage member. Both are read whatever an
 * app's `propagation` (which only says what it writes), so that a lane arriving either way is kept.
 */
export function readLane(headers: Readonly<Record<string, unknown>>, laneHeader = DEFAULT_LANE_HEADER, java?: ResolvedJavaLane): Lane | undefined {
  const lane = parseLane(firstHeaderText(headerOf(headers, laneHeader))) ?? laneFromBaggage(headerOf(headers, BAGGAGE_HEADER));
  if (lane || !java) return lane;
  return laneFromJavaHeaders({ [HINT_HEADER]: headerOf(headers, HINT_HEADER), [NEPXION_VERSION_HEADER]: headerOf(headers, NEPXION_VERSION_HEADER) }, java);
}

export interface LaneCarrierOptions {
  /** The lane header's name. Default `x-gray-lane`. */
  laneHeader?: string;
  /** Where `injectLane` writes the lane: `header`, `baggage` or `both`. Default `both`. (Reading takes either.) */
  propagation?: LanePropagation;
  /** Also write (and read) the lane in the headers Java routers read: `X-SC-LB-Hint`, Nepxion's `n-d-version` (java-lane.ts). Default off. */
  javaHeaders?: JavaLaneOptions | boolean;
}

/**
 * Writes `lane` into a plain headers object — a Kafka record's `headers`, a job's metadata — as the lane header
 * and/or the baggage member, keeping other baggage members as they are. Returns the carrier.
 *
 * @example
 * await producer.send({ topic, messages: [{ value, headers: injectLane({}, currentLane()) }] });
 */
export function injectLane<T extends Record<string, unknown>>(carrier: T, lane: Lane | undefined, options: LaneCarrierOptions = {}): T {
  if (lane === undefined) return carrier;
  checkLaneName(lane, 'injectLane');
  const propagation = options.propagation ?? DEFAULT_PROPAGATION;
  const laneHeader = (options.laneHeader ?? DEFAULT_LANE_HEADER).toLowerCase();
  const record = carrier as Record<string, unknown>;
  if (propagation !== 'baggage') record[laneHeader] = lane;
  if (propagation !== 'header') {
    const baggage = withLaneInBaggage(record[BAGGAGE_HEADER], lane);
    if (baggage !== undefined) record[BAGGAGE_HEADER] = baggage;
  }
  const java = resolveJavaLane(options.javaHeaders);
  if (java) addJavaLane(record, lane, java);
  return carrier;
}

/**
 * Reads the lane from a plain headers object (string or Buffer values, or arrays of them, as kafkajs gives them):
 * the lane header first, then baggage. Undefined when it carries none, or something that is not a lane.
 *
 * @example
 * await consumer.run({ eachMessage: ({ message }) => runInLane(extractLane(message.headers) ?? 'normal', () => handle(message)) });
 */
export function extractLane(carrier: Readonly<Record<string, unknown>> | undefined | null, options: LaneCarrierOptions = {}): Lane | undefined {
  if (!carrier || typeof carrier !== 'object') return undefined;
  return readLane(carrier, (options.laneHeader ?? DEFAULT_LANE_HEADER).toLowerCase(), resolveJavaLane(options.javaHeaders));
}
