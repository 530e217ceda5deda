/**
 * The parent's side of the fleet processes (bench/scale-fleet.ts): started with --expose-gc and an IPC channel,
 * asked to load their consumers, to time a condition, to report their sessions, and to close; every answer is
 * awaited with a deadline that names the process and what it was asked, and every process is stopped by its pid.
 */
import { startChild, type Child } from '../scripts/children';
import type { ChildMessage, Condition, Memory, ParentMessage, SessionState, StartMessage } from './scale-protocol';

type Answer<K extends ChildMessage['op']> = Extract<ChildMessage, { op: K }>;

export class Fleet {
  readonly child: Child;
  private readonly inbox: ChildMessage[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly consumers: number,
  ) {
    this.child = startChild({ name, script: 'bench/scale-fleet.ts', nodeArgs: ['--expose-gc'], ipc: true });
    this.child.process.on('message', (message: ChildMessage) => {
      this.inbox.push(message);
      for (const wake of this.waiters) wake();
    });
    void this.child.exited.then(() => {
      for (const wake of this.waiters) wake();
    });
  }

  private send(message: ParentMessage): void {
    if (!this.child.process.connected) throw new Error(`${this.name} is gone (${this.child.stderr().slice(-1000)})`);
    this.child.process.send(message);
  }

  /** The first unread answer of kind `op` that `match` accepts; rejects on a deadline, an error answer or an exit. */
  private receive<K extends ChildMessage['op']>(op: K, what: string, timeoutMs: number, match: (m: Answer<K>) => boolean = () => true): Promise<Answer<K>> {
    return new Promise((resolve, reject) => {
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      const check = () => {
        const error = this.inbox.find((m) => m.op === 'error');
        if (error) return finish(() => reject(new Error(`${this.name}, ${what}: ${(error as Answer<'error'>).message}`)));
        const index = this.inbox.findIndex((m) => m.op === op && match(m as Answer<K>));
        if (index >= 0) {
          const [found] = this.inbox.splice(index, 1);
          return finish(() => resolve(found as Answer<K>));
        }
        if (!this.child.running) finish(() => reject(new Error(`${this.name} exited (${this.child.exit?.code ?? this.child.exit?.signal}) before ${what}; stderr: ${this.child.stderr().slice(-1500)}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`${this.name}: no answer to ${what} within ${timeoutMs} ms`))), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  async start(message: StartMessage): Promise<{ loadMs: number; before: Memory; after: Memory; instancesWatched: number }> {
    this.send(message);
    return this.receive('ready', `loading ${message.consumers.length} consumers`, message.timeoutMs + 30_000);
  }

  /**
   * Arms a condition on every consumer; resolves once armed, with a promise of the per-consumer times (wrapped:
   * an async function returning a bare promise would wait for it).
   */
  async expect(id: number, condition: Condition, timeoutMs: number): Promise<{ seen: Promise<Answer<'seen'>> }> {
    this.send({ op: 'expect', id, condition, timeoutMs });
    await this.receive('armed', `arming ${condition.kind} #${id}`, 30_000, (m) => m.id === id);
    const seen = this.receive('seen', `${condition.kind} #${id}`, timeoutMs + 30_000, (m) => m.id === id);
    seen.catch(() => undefined); // awaited by the caller; never an unhandled rejection meanwhile
    return { seen };
  }

  async sessions(): Promise<SessionState[]> {
    this.send({ op: 'sessions' });
    return (await this.receive('sessions', 'the session states', 30_000)).states;
  }

  /** Closes the consumers, then stops the process by its pid whatever it answered. */
  async close(): Promise<void> {
    try {
      if (this.child.running) {
        this.send({ op: 'close' });
        await this.receive('closed', 'closing', 15_000);
      }
    } catch {
      // Stopped below either way.
    } finally {
      await this.child.stop(10_000);
    }
  }
}
