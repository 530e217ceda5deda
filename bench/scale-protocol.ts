/** The messages between the scale benchmark (bench/scale.ts) and its fleet processes (bench/scale-fleet.ts), over IPC. */

/** What must hold in a consumer's snapshot of `service` for a change to count as seen. */
export type Condition =
  | { kind: 'ratio'; service: string; value: number }
  | { kind: 'present'; service: string; ids: string[] }
  | { kind: 'absent'; service: string; ids: string[] };

export interface StartMessage {
  op: 'start';
  zk: string;
  root: string;
  sessionTimeout: number;
  /** One entry per consumer of this process: its global index and the services it watches. */
  consumers: Array<{ index: number; services: string[] }>;
  /** Instances per service that make a full snapshot. */
  perService: number;
  timeoutMs: number;
}

export type ParentMessage =
  | StartMessage
  | { op: 'expect'; id: number; condition: Condition; timeoutMs: number }
  | { op: 'sessions' }
  | { op: 'close' };

export interface Memory {
  heapUsedMiB: number;
  rssMiB: number;
}

export interface SessionState {
  connected: boolean;
  /** Times the session was lost for good (a new session had to be opened). */
  expired: number;
  disconnects: number;
  /** Epoch ms of the last `connected`. */
  connectedAt: number;
  /** ZooKeeper reads made by the consumer so far (getData, getChildren, exists). */
  reads: number;
}

export type ChildMessage =
  | { op: 'ready'; loadMs: number; before: Memory; after: Memory; instancesWatched: number }
  | { op: 'armed'; id: number }
  /**
   * Per consumer: epoch ms at which the condition first held, or null; `counts`: ids present at the end
   * (present/absent); `missedLive`: consumers that did not see it although their sessions never expired during the wait.
   */
  | { op: 'seen'; id: number; at: Array<number | null>; counts: number[]; missedLive: number; loopMaxMs: number }
  | { op: 'sessions'; states: SessionState[] }
  | { op: 'closed' }
  | { op: 'error'; message: string };
