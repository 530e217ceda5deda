/**
 * The ZooKeeper sessions this process holds, counted from the server's side: the four-letter word `cons` lists every
 * client connection with its session id, and /proc tells which of those connections are this process's sockets.
 * Linux only (the tests run there); scripts/zookeeper.sh enables `cons` in the server's 4lw whitelist.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { testZk } from './helpers';

/** The server's answer to a four-letter word. */
export function fourLetterWord(word: string, hostPort = testZk().split(',')[0]): Promise<string> {
  const colon = hostPort.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostPort.slice(0, colon), port: Number(hostPort.slice(colon + 1)) }, () => socket.end(word));
    let text = '';
    socket.setEncoding('utf8');
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to ${word} from ${hostPort}`)));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

/** Local TCP ports of this process's sockets connected to `remotePort`. */
function ownPortsTo(remotePort: number): Set<number> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || !inodes.has(fields[9])) continue;
      const local = parseInt(fields[1].split(':').pop() as string, 16);
      const remote = parseInt(fields[2].split(':').pop() as string, 16);
      if (remote === remotePort) ports.add(local);
    }
  }
  return ports;
}

/** Ids of the sessions the server holds for this process's connections (`cons` lines: `/ip:port[n](…,sid=0x…,…)`). */
export async function ownSessions(hostPort = testZk().split(',')[0]): Promise<Set<string>> {
  const answer = await fourLetterWord('cons', hostPort);
  if (!answer.includes('(')) throw new Error(`the server did not answer cons (is it in 4lw.commands.whitelist?): ${JSON.stringify(answer)}`);
  const ports = ownPortsTo(Number(hostPort.slice(hostPort.lastIndexOf(':') + 1)));
  const sessions = new Set<string>();
  for (const line of answer.split('\n')) {
    const match = /^\s*\/[^\s]*:(\d+)\[\d+\]\((.*)\)\s*$/.exec(line);
    const sid = match && /(?:^|,)sid=(0x[0-9a-f]+)/.exec(match[2]);
    if (match && sid && ports.has(Number(match[1]))) sessions.add(sid[1]);
  }
  return sessions;
}
