/**
 * Which addresses may receive traffic. Whoever can write one instance znode chooses where consumers send requests,
 * so an instance's host is checked before it is routed to (README "Which addresses may receive traffic"):
 *
 * - link-local addresses (169.254.0.0/16, fe80::/10: cloud metadata services live there) and unspecified ones
 *   (0.0.0.0, ::, which connect to this very host) are refused unless a network of the consumer's own
 *   `allowedNetworks` lists them;
 * - with `allowedNetworks` on the consumer, an instance's IP must be in one of them; a config document's
 *   `allowedNetworks` can only narrow that further (a host must be in both), never widen it: the code of the app
 *   is the outer bound, the registry's data is not trusted to extend it;
 * - with any allow-list, host names are refused: what a name resolves to is not known until connect time.
 *
 * Pure; built on Node's own net.BlockList.
 */
import { BlockList, isIP } from 'node:net';
import { InvalidOptionError } from '../errors';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `fd00::/8`, or a bare address (a /32 or /128); undefined when it is neither. */
export function parseCidr(text: unknown): Cidr | undefined {
  if (typeof text !== 'string' || text.length > 64) return undefined;
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** The most networks one allow-list holds, the consumer's option and a config document's alike. */
export const MAX_NETWORKS = 64;

/**
 * The one check of an allow-list (the consumer's `allowedNetworks` option, a config document's field): an array of
 * at most MAX_NETWORKS CIDRs. The reason names the field (`field`) and the entry at fault.
 */
export function parseNetworks(value: unknown, field = 'allowedNetworks'): { ok: true; value: readonly Cidr[] } | { ok: false; reason: string } {
  if (!Array.isArray(value) || value.length > MAX_NETWORKS) return { ok: false, reason: `"${field}" is not an array of at most ${MAX_NETWORKS} CIDRs` };
  const cidrs: Cidr[] = [];
  for (let i = 0; i < value.length; i++) {
    const cidr = parseCidr(value[i]);
    if (!cidr) return { ok: false, reason: `"${field}[${i}]" is not a CIDR such as 10.0.0.0/8 or fd00::/8` };
    cidrs.push(cidr);
  }
  return { ok: true, value: cidrs };
}

function blockListOf(cidrs: readonly Cidr[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  return list;
}

const SPECIAL = blockListOf([
  { address: '169.254.0.0', prefix: 16, family: 'ipv4' },
  { address: 'fe80::', prefix: 10, family: 'ipv6' },
  { address: '0.0.0.0', prefix: 32, family: 'ipv4' },
  { address: '::', prefix: 128, family: 'ipv6' },
]);

/** An IPv4-mapped IPv6 address (`::ffff:169.254.169.254`) checked as the IPv4 address it reaches. */
function normalise(host: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const version = isIP(host);
  if (version === 4) return { address: host, family: 'ipv4' };
  if (version !== 6) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return mapped ? { address: mapped[1], family: 'ipv4' } : { address: host, family: 'ipv6' };
}

/** Config documents' lists, built once per document (a snapshot's config is immutable). */
const configLists = new WeakMap<readonly string[], BlockList>();

function configList(networks: readonly string[]): BlockList {
  let list = configLists.get(networks);
  if (!list) {
    // The codec let only valid lists into a config; were one not, an empty list refuses every host (fail closed).
    const parsed = parseNetworks(networks);
    configLists.set(networks, (list = blockListOf(parsed.ok ? parsed.value : [])));
  }
  return list;
}

/**
 * The consumer's side of the policy: its own allow-list (the outer bound), checked once when it is created
 * (InvalidOptionError for a list that is not one).
 */
export class AddressPolicy {
  private readonly own?: BlockList;

  constructor(readonly allowedNetworks?: readonly string[]) {
    if (allowedNetworks === undefined) return;
    const parsed = parseNetworks(allowedNetworks);
    if (!parsed.ok) throw new InvalidOptionError('allowedNetworks', parsed.reason);
    this.own = blockListOf(parsed.value);
  }

  /**
   * Why `host` may not receive traffic, or undefined when it may. `configNetworks`: the service config's
   * `allowedNetworks`, which narrows the consumer's own list.
   */
  refusal(host: string, configNetworks?: readonly string[]): string | undefined {
    const ip = normalise(host);
    const lists = this.own || configNetworks ? 'allowedNetworks' : undefined;
    if (!ip) return lists ? `host "${host}" is a name, and names cannot be checked against ${lists}: register instances by IP` : undefined;
    const inOwn = this.own?.check(ip.address, ip.family) ?? false;
    if (SPECIAL.check(ip.address, ip.family) && !inOwn) {
      return `${host} is a link-local or unspecified address, refused unless the consumer's allowedNetworks lists its network`;
    }
    if (this.own && !inOwn) return `${host} is outside the consumer's allowedNetworks (${this.allowedNetworks!.join(', ')})`;
    if (configNetworks && !configList(configNetworks).check(ip.address, ip.family)) {
      return `${host} is outside the service config's allowedNetworks (${configNetworks.join(', ')})`;
    }
    return undefined;
  }
}
