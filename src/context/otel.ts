/**
 * An optional bridge to OpenTelemetry baggage. When the app has `@opentelemetry/api` installed, the lane is also
 * an OpenTelemetry baggage entry (`gray.lane`) of the active context: a lane an incoming request brings is set there
 * for the request's work (readable by the app and propagated by OpenTelemetry's own instrumentation), and a lane
 * the app sets there pins graykit's routing. graykit never requires OpenTelemetry: without the package every
 * function here is a no-op, and the API is typed structurally so that graykit's declarations do not need it.
 */
import { parseLane, type Lane } from '../types';
import { loadModule } from '../util/load';
import { BAGGAGE_LANE_KEY } from './propagation';

interface OtelBaggage {
  getEntry(key: string): { value: string } | undefined;
  setEntry(key: string, entry: { value: string }): OtelBaggage;
}

interface OtelApi {
  context: { active(): unknown; with<T>(context: unknown, fn: () => T): T };
  propagation: {
    getBaggage(context: unknown): OtelBaggage | undefined;
    setBaggage(context: unknown, baggage: OtelBaggage): unknown;
    createBaggage(): OtelBaggage;
  };
}

/** undefined: not looked for yet; null: not installed. Looked for once, at the first use. */
let api: OtelApi | null | undefined;

function otel(): OtelApi | null {
  if (api === undefined) {
    try {
      api = loadModule<OtelApi>('@opentelemetry/api');
    } catch {
      api = null;
    }
  }
  return api;
}

/** The lane set as OpenTelemetry baggage in the active context, if any. */
export function laneFromOtel(): Lane | undefined {
  const o = otel();
  if (!o) return undefined;
  return parseLane(o.propagation.getBaggage(o.context.active())?.getEntry(BAGGAGE_LANE_KEY)?.value);
}

/** Runs `fn` in a context whose OpenTelemetry baggage carries `lane` (just `fn()` without OpenTelemetry). */
export function runWithOtelLane<T>(lane: Lane, fn: () => T): T {
  const o = otel();
  if (!o) return fn();
  const active = o.context.active();
  const baggage = o.propagation.getBaggage(active) ?? o.propagation.createBaggage();
  if (baggage.getEntry(BAGGAGE_LANE_KEY)?.value === lane) return fn();
  return o.context.with(o.propagation.setBaggage(active, baggage.setEntry(BAGGAGE_LANE_KEY, { value: lane })), fn);
}
