/** The lanes that exist across services, as `graykit lanes` and `graykit status` show them. Pure. */
import type { Lane, ServiceConfig } from '../types';
import { BASE_LANE, GRAY_LANE, laneEntry } from '../types';

/** One lane of one service: its instances (routable ones), and its share in the service's config. */
export interface ServiceLane {
  service: string;
  instances: string[];
  /** The lane's share: `ratio` for gray, `lanes[lane]` for a named lane, undefined for base (the rest). */
  share?: number;
}

/** A lane across services. */
export interface LaneSummary {
  lane: Lane;
  services: ServiceLane[];
}

/** The share of `lane` a config gives (gray: `ratio`; base: undefined, it takes the rest). */
export function shareOf(config: ServiceConfig, lane: Lane): number | undefined {
  if (lane === BASE_LANE) return undefined;
  if (lane === GRAY_LANE) return config.ratio ?? 0;
  return laneEntry(config.lanes, lane) ?? 0;
}

/**
 * Every lane some instance is in, or some config gives a share, with the services that have it: base first, then
 * gray, then named lanes by name.
 */
export function summarizeLanes(services: ReadonlyArray<{ service: string; config: ServiceConfig; instances: ReadonlyArray<{ id: string; lane?: Lane }> }>): LaneSummary[] {
  const lanes = new Map<Lane, Map<string, ServiceLane>>();
  const entry = (lane: Lane, service: string, config: ServiceConfig) => {
    let byService = lanes.get(lane);
    if (!byService) lanes.set(lane, (byService = new Map()));
    let found = byService.get(service);
    if (!found) byService.set(service, (found = { service, instances: [], share: shareOf(config, lane) }));
    return found;
  };
  for (const { service, config, instances } of services) {
    for (const instance of instances) if (instance.lane !== undefined) entry(instance.lane, service, config).instances.push(instance.id);
    for (const lane of Object.keys(config.lanes ?? {})) entry(lane, service, config);
    if (config.ratio) entry(GRAY_LANE, service, config);
  }
  const order = (lane: Lane) => (lane === BASE_LANE ? '0' : lane === GRAY_LANE ? '1' : `2${lane}`);
  return [...lanes.entries()]
    .sort(([a], [b]) => order(a).localeCompare(order(b)))
    .map(([lane, byService]) => ({ lane, services: [...byService.values()].sort((a, b) => a.service.localeCompare(b.service)) }));
}
