/**
 * The znode layout, a documented contract (README "Znode layout"):
 *
 *   <root>/services/<service>/instances/<host>:<port>   EPHEMERAL, instance metadata JSON (base and gray lanes)
 *   <root>/services/<service>/lanes/<host>:<port>       EPHEMERAL, instance metadata JSON (named lanes: `pr-42`)
 *   <root>/services/<service>/config                    PERSISTENT, service config JSON
 *   <root>/services/<service>/overrides/<host>:<port>   PERSISTENT, operator's partial metadata JSON
 *   <root>/services/<service>/rollout                   PERSISTENT, the current or last rollout's state JSON
 *   <root>/services/<service>/rollout/lease             EPHEMERAL, held by the running rollout's session
 *
 * Pure string functions; no I/O.
 */

export const DEFAULT_ROOT = '/graykit';

/** Service names double as URL host names (`http://demo/...`), and URL parsing lower-cases hosts: so lower case. */
const SERVICE_NAME = /^[a-z0-9](?:[a-z0-9_.-]{0,126}[a-z0-9])?$/;

export function isValidServiceName(name: unknown): name is string {
  return typeof name === 'string' && SERVICE_NAME.test(name) && !name.includes('..');
}

/** A ZooKeeper path of one or more non-empty segments, without a trailing slash. */
export function isValidRoot(root: unknown): root is string {
  return typeof root === 'string' && /^(\/[^/\0]+)+$/.test(root) && !root.split('/').some((s) => s === '.' || s === '..');
}

export const servicesPath = (root: string) => `${root}/services`;
export const servicePath = (root: string, service: string) => `${root}/services/${service}`;
export const instancesPath = (root: string, service: string) => `${root}/services/${service}/instances`;
export const instancePath = (root: string, service: string, id: string) => `${root}/services/${service}/instances/${id}`;
/**
 * Where an instance of a named lane registers: apart from `instances`, so that consumers of graykit 0.1.0, which
 * watch only `instances` and know only gray and normal, never route to a preview build.
 */
export const laneInstancesPath = (root: string, service: string) => `${root}/services/${service}/lanes`;
export const laneInstancePath = (root: string, service: string, id: string) => `${root}/services/${service}/lanes/${id}`;
export const configPath = (root: string, service: string) => `${root}/services/${service}/config`;

/** A host as a URL's authority spells it: an IPv6 address in brackets. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The znode name of an instance: `host:port`, with an IPv6 host in brackets so the port stays unambiguous. */
export function instanceId(host: string, port: number): string {
  return `${urlHost(host)}:${port}`;
}
export const overridesPath = (root: string, service: string) => `${root}/services/${service}/overrides`;
export const overridePath = (root: string, service: string, id: string) => `${root}/services/${service}/overrides/${id}`;
export const rolloutPath = (root: string, service: string) => `${root}/services/${service}/rollout`;
export const rolloutLeasePath = (root: string, service: string) => `${root}/services/${service}/rollout/lease`;

/** The directory an instance of `lane` registers in: `lanes` for a named lane, `instances` for base and gray. */
export function instanceDirectory(root: string, service: string, lane: string | undefined): string {
  return lane !== undefined && lane !== 'normal' && lane !== 'gray' ? laneInstancesPath(root, service) : instancesPath(root, service);
}
