/**
 * The scale benchmark's 3-node ZooKeeper ensemble on loopback: started, faulted (one server, or all) and stopped
 * through scripts/zookeeper.sh, which ends each server by the pid it recorded; read through the four-letter words
 * (`srvr` for the mode, `mntr` for counters, `wchs` for watches), and sampled every ~100 ms while a fault plays out.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const SCRIPT = join(__dirname, '..', 'scripts', 'zookeeper.sh');

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wall-clock ms with sub-ms resolution, comparable between the processes of one machine. */
export const epochMs = () => performance.timeOrigin + performance.now();

function script(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [SCRIPT, ...args], { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`scripts/zookeeper.sh ${args.join(' ')} failed: ${error.message}; ${String(stderr).slice(-1500)}`));
      else resolve(String(stdout).trim());
    });
  });
}

/** Sends a four-letter word; the answer, or '' when the server does not answer within `timeoutMs`. */
export function fourLetters(address: string, word: string, timeoutMs = 2000): Promise<string> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    let answer = '';
    const socket = createConnection({ host, port });
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => {
      answer = '';
      done();
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(word));
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', done);
    socket.on('error', () => {
      answer = '';
      done();
    });
  });
}

/** `mntr`'s lines (`zk_name<TAB>value`), numbers where they are numbers. */
export function parseMntr(text: string): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const line of text.split('\n')) {
    const [key, value] = line.split('\t');
    if (!key || value === undefined) continue;
    const n = Number(value);
    out[key.trim()] = Number.isFinite(n) && value.trim() !== '' ? n : value.trim();
  }
  return out;
}

export interface WatchSummary {
  connections: number;
  paths: number;
  watches: number;
}

/** `wchs`: "N connections watching M paths\nTotal watches:W". */
export function parseWchs(text: string): WatchSummary | undefined {
  const head = /(\d+) connections watching (\d+) paths/.exec(text);
  const total = /Total watches:\s*(\d+)/.exec(text);
  if (!head || !total) return undefined;
  return { connections: Number(head[1]), paths: Number(head[2]), watches: Number(total[1]) };
}

export interface Server {
  /** 1-3, its myid and its directory's name. */
  id: number;
  dir: string;
  address: string;
}

export class Ensemble {
  private stopped = false;
  private readonly exitHook = () => this.stopSync();

  private constructor(
    readonly dir: string,
    readonly connect: string,
    readonly servers: readonly Server[],
  ) {
    // Whatever ends the benchmark (an exception, Ctrl-C turned into exit), the servers are stopped by their pids.
    process.on('exit', this.exitHook);
  }

  static async start(dir: string): Promise<Ensemble> {
    const connect = (await script(['start-ensemble', dir], 120_000)).split('\n').pop() as string;
    const servers = connect.split(',').map((address, i) => ({ id: i + 1, dir: join(dir, String(i + 1)), address }));
    if (servers.length !== 3) throw new Error(`scale: expected 3 servers from start-ensemble, got "${connect}"`);
    return new Ensemble(dir, connect, servers);
  }

  async mode(server: Server): Promise<string | undefined> {
    return /^Mode: (\S+)/m.exec(await fourLetters(server.address, 'srvr'))?.[1];
  }

  async leader(): Promise<Server | undefined> {
    const modes = await Promise.all(this.servers.map((server) => this.mode(server)));
    return this.servers[modes.indexOf('leader')];
  }

  /** Waits until `servers` (default all) each answer with a mode and one of them leads; returns the leader. */
  async waitServing(timeoutMs: number, servers: readonly Server[] = this.servers): Promise<Server> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const modes = await Promise.all(servers.map((server) => this.mode(server)));
      const leader = modes.indexOf('leader');
      if (leader >= 0 && modes.every((mode) => mode === 'leader' || mode === 'follower')) return servers[leader];
      if (performance.now() > deadline) {
        throw new Error(`scale: the ensemble did not serve within ${timeoutMs} ms (modes: ${servers.map((s, i) => `${s.id}=${modes[i] ?? 'none'}`).join(', ')}); logs in ${this.dir}/N/zookeeper.out`);
      }
      await sleep(50);
    }
  }

  /** Stops one server by its recorded pid (and waits for it to exit). */
  stopServer(server: Server): Promise<string> {
    return script(['stop', server.dir], 60_000);
  }

  /** Starts a stopped server again with its own config and data. */
  relaunch(server: Server): Promise<string> {
    return script(['relaunch', server.dir], 30_000);
  }

  async mntr(server: Server): Promise<Record<string, number | string>> {
    return parseMntr(await fourLetters(server.address, 'mntr'));
  }

  async wchs(server: Server): Promise<WatchSummary | undefined> {
    return parseWchs(await fourLetters(server.address, 'wchs'));
  }

  /** Sum of every server's zk_packets_received (a server that does not answer counts 0). */
  async packetsReceived(): Promise<number> {
    const answers = await Promise.all(this.servers.map((server) => this.mntr(server)));
    return answers.reduce((sum, answer) => sum + (typeof answer.zk_packets_received === 'number' ? answer.zk_packets_received : 0), 0);
  }

  /** The servers' pids as recorded now (a restarted server has a new one). */
  serverPids(): number[] {
    return this.servers.map((server) => Number(readFileSync(join(server.dir, 'zookeeper.pid'), 'utf8').trim()));
  }

  /** Stops every server (by pid). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    await script(['stop-ensemble', this.dir], 120_000);
    this.stopped = true;
    process.off('exit', this.exitHook);
  }

  private stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    try {
      execFileSync('bash', [SCRIPT, 'stop-ensemble', this.dir], { stdio: 'ignore', timeout: 60_000 });
    } catch {
      // Exiting anyway; the pids are in DIR/N/zookeeper.pid for a manual stop.
    }
  }
}

export interface TrafficSample {
  /** ms since the sampler started. */
  at: number;
  /** Packets received per second by the whole ensemble over the interval before `at`. */
  ratePerSecond: number;
  outstanding: number[];
}

export interface Traffic {
  samples: TrafficSample[];
  /** The highest `ratePerSecond` seen. */
  peakPerSecond: number;
  /** Packets received by the ensemble over the window. */
  packets: number;
  /** Highest zk_outstanding_requests seen, per server (index = id - 1). */
  maxOutstanding: number[];
}

/**
 * Samples every server's `mntr` every `intervalMs`: the ensemble's rate of packets received (requests and pings;
 * a counter that went down was reset by a restart and counts from zero, as Prometheus's increase() does) and
 * each server's outstanding requests. A server that does not answer adds nothing to that interval.
 */
export class TrafficSampler {
  private readonly samples: TrafficSample[] = [];
  private readonly last: Array<number | undefined>;
  private running = true;
  private total = 0;
  private readonly loop: Promise<void>;
  private readonly started = performance.now();

  constructor(
    private readonly ensemble: Ensemble,
    private readonly intervalMs = 100,
  ) {
    this.last = ensemble.servers.map(() => undefined);
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let previous = performance.now();
    await this.read(0);
    while (this.running) {
      await sleep(Math.max(0, this.intervalMs - (performance.now() - previous)));
      const now = performance.now();
      await this.read(now - previous);
      previous = now;
    }
  }

  private async read(elapsedMs: number): Promise<void> {
    const answers = await Promise.all(this.ensemble.servers.map((server) => this.ensemble.mntr(server).catch(() => ({}) as Record<string, number | string>)));
    let packets = 0;
    const outstanding = answers.map((answer, i) => {
      const received = answer.zk_packets_received;
      if (typeof received === 'number') {
        const before = this.last[i];
        packets += before === undefined ? 0 : received >= before ? received - before : received;
        this.last[i] = received;
      } else this.last[i] = undefined; // down: its restart counts from zero
      return typeof answer.zk_outstanding_requests === 'number' ? answer.zk_outstanding_requests : 0;
    });
    this.total += packets;
    if (elapsedMs > 0) this.samples.push({ at: Math.round(performance.now() - this.started), ratePerSecond: Math.round((packets * 1000) / elapsedMs), outstanding });
  }

  async stop(): Promise<Traffic> {
    this.running = false;
    await this.loop;
    const maxOutstanding = this.ensemble.servers.map((_, i) => Math.max(0, ...this.samples.map((s) => s.outstanding[i])));
    return { samples: this.samples, peakPerSecond: Math.max(0, ...this.samples.map((s) => s.ratePerSecond)), packets: this.total, maxOutstanding };
  }
}
