/**
 * ZooKeeper servers the fault suite starts itself, through scripts/zookeeper.sh (run asynchronously, so that the
 * load keeps flowing while a server starts or stops). Every server is stopped by the pid its directory recorded.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'zookeeper.sh');

function script(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [SCRIPT, ...args], { encoding: 'utf8', timeout: 90_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`zookeeper.sh ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

/** Sends a four-letter word to 127.0.0.1:port; the answer, or '' when the server does not answer within 2 s. */
export function fourLetters(word: string, address: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(Number(port), host);
    const timer = setTimeout(() => socket.destroy(), 2000);
    socket.on('connect', () => socket.end(word));
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', () => undefined);
  });
}

/** The server's Mode (leader, follower, standalone), or undefined when it is not serving. */
export async function serverMode(address: string): Promise<string | undefined> {
  return /^Mode: (\S+)/m.exec(await fourLetters('srvr', address))?.[1];
}

/** A standalone server with its data in a directory of its own; stop() and start() keep its port and data. */
export class StandaloneZooKeeper {
  readonly dir = mkdtempSync(join(tmpdir(), 'graykit-faults-zk-'));
  connect = '';

  async start(): Promise<string> {
    const port = this.connect ? this.connect.split(':')[1] : '';
    this.connect = await script('start', this.dir, ...(port ? [port] : []));
    return this.connect;
  }

  stop(): Promise<string> {
    return script('stop', this.dir);
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A 3-node ensemble on loopback ports (scripts/zookeeper.sh start-ensemble). */
export class Ensemble {
  readonly dir = mkdtempSync(join(tmpdir(), 'graykit-faults-ensemble-'));
  connect = '';

  async start(): Promise<string> {
    this.connect = await script('start-ensemble', this.dir);
    return this.connect;
  }

  /** Client addresses of servers 1..3, in myid order. */
  get addresses(): string[] {
    return this.connect.split(',');
  }

  /** The myid (1-3) of the server that says it is the leader, if one does. */
  async leader(among: number[] = [1, 2, 3]): Promise<number | undefined> {
    const modes = await Promise.all(among.map((id) => serverMode(this.addresses[id - 1])));
    const index = modes.indexOf('leader');
    return index < 0 ? undefined : among[index];
  }

  /** The pid of server `id`, as its directory recorded it. */
  pid(id: number): number {
    return Number(readFileSync(join(this.dir, String(id), 'zookeeper.pid'), 'utf8').trim());
  }

  /** Stops server `id` by its recorded pid (SIGTERM, then SIGKILL after 15 s) and waits for it to exit. */
  stopServer(id: number): Promise<string> {
    return script('stop', join(this.dir, String(id)));
  }

  async destroy(): Promise<void> {
    await script('stop-ensemble', this.dir).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
