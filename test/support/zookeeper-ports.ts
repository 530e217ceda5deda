/**
 * The ports a server started by scripts/zookeeper.sh binds, read from its zoo.cfg, and where the kernel's ephemeral
 * range starts: the script must choose ports below it, where no socket bound to port 0 (a server listening on 0, a
 * connection's local end) can take one while its server is down or has not bound it yet (a follower binds its quorum
 * port only when elected).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The client port, and the quorum and election ports of every `server.N` line, of the server in `dir`. */
export function boundPorts(dir: string): number[] {
  const cfg = readFileSync(join(dir, 'zoo.cfg'), 'utf8');
  const client = /^clientPort=(\d+)$/m.exec(cfg);
  if (!client) throw new Error(`no clientPort in ${dir}/zoo.cfg`);
  const peers = [...cfg.matchAll(/^server\.\d+=[^:]+:(\d+):(\d+)/gm)].flatMap((m) => [Number(m[1]), Number(m[2])]);
  return [Number(client[1]), ...peers];
}

/** The first port of Linux's ephemeral range (ip_local_port_range). */
export function ephemeralRangeStart(): number {
  return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
}
