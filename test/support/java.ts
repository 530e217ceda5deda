/**
 * The Java side of the interop tests: test/support/java/GraykitInterop.java, compiled with javac against Debian's
 * Curator 5.4 jars (libcurator-discovery-java, libcurator-recipes-java) into a temporary directory, run as child
 * processes on the test ZooKeeper and driven line by line (one JSON line answers each command). Stopped by pid.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const SOURCES = join(__dirname, 'java');
const JARS = [
  'curator-x-discovery',
  'curator-recipes',
  'curator-framework',
  'curator-client',
  'zookeeper',
  'zookeeper-jute',
  'jackson-databind',
  'jackson-core',
  'jackson-annotations',
  'guava',
  'slf4j-api',
  'slf4j-nop',
].map((name) => `/usr/share/java/${name}.jar`);

function javaSources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? javaSources(path) : name.endsWith('.java') ? [path] : [];
  });
}

/** Compiles the Java program into a new temporary directory; returns the classpath to run it with. */
export function compileJava(): { classpath: string; dispose(): void } {
  const missing = JARS.filter((jar) => !existsSync(jar));
  if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}: apt-get install -y default-jdk-headless libcurator-discovery-java libcurator-recipes-java`);
  const out = mkdtempSync(join(tmpdir(), 'graykit-java-'));
  execFileSync('javac', ['-nowarn', '-d', out, '-cp', JARS.join(':'), ...javaSources(SOURCES)], { stdio: 'pipe' });
  return { classpath: [out, ...JARS].join(':'), dispose: () => rmSync(out, { recursive: true, force: true }) };
}

export type JavaReply = Record<string, unknown> & { event: string };

/** One running JVM of GraykitInterop. */
export class JavaProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly ready: Promise<JavaReply>;
  private readonly waiting: Array<{ resolve(reply: JavaReply): void; reject(error: Error): void }> = [];
  private stderr = '';
  private exited = false;

  constructor(classpath: string, args: string[]) {
    this.child = spawn('java', ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto', '-cp', classpath, 'GraykitInterop', ...args], { stdio: 'pipe' });
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4000)));
    let first: (reply: JavaReply) => void;
    this.ready = new Promise((resolve) => (first = resolve));
    const lines = createInterface({ input: this.child.stdout });
    let started = false;
    lines.on('line', (line) => {
      const reply = JSON.parse(line) as JavaReply;
      if (!started) {
        started = true;
        first(reply);
      } else this.waiting.shift()?.resolve(reply);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      for (const waiter of this.waiting.splice(0)) waiter.reject(new Error(`java exited (${code ?? signal}): ${this.stderr}`));
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** Sends one command; resolves with its reply (an `error` reply rejects). */
  async send(command: string): Promise<JavaReply> {
    if (this.exited) throw new Error(`java has exited: ${this.stderr}`);
    const reply = await new Promise<JavaReply>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.stdin.write(`${command}\n`);
    });
    if (reply.event === 'error') throw new Error(`java: ${String(reply.message)} (after "${command}")`);
    return reply;
  }

  /** Ends the JVM by its pid: SIGKILL, as a crashed process (no Curator close: its session simply times out). */
  kill(): Promise<void> {
    if (this.exited) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    process.kill(this.pid, 'SIGKILL');
    return exited;
  }

  /** Closes Curator and ends the JVM; killed by pid when it does not exit within 5 s. */
  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.write('quit\n');
    const timer = setTimeout(() => process.kill(this.pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
