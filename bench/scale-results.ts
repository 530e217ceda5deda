/** The scale benchmark's results (bench/results/scale.json): per point, per phase. */
import type { MachineInfo } from './machine';
import type { ScaleConfig } from './scale-config';
import type { Distribution } from './stats';

/** Per-consumer times for one change: from the write (or the fault) until the consumer's snapshot satisfied it. */
export interface ChangeSeries {
  writes: number;
  /** Consumer x write pairs that saw the change in time. */
  seen: number;
  missed: number;
  /** Of those, pairs whose consumer's session never expired during the wait (absent in results before 2026-12-07). */
  missedLive?: number;
  latencyMs: Distribution;
  /** The longest a fleet process's event loop was held while these changes were timed. */
  loopMaxMs: number;
  /** CPU ms per change, write to the last consumer's snapshot: all fleet processes together, and the three servers. */
  cpuMsPerChange?: { fleets: number; servers: number };
}

export interface BurstResult {
  instances: number;
  /** First create sent → last create acknowledged. */
  writeMs: number;
  /** Per consumer: burst start → every burst instance in its snapshot. */
  allSeenMs: Distribution;
  /** Consumers that never held every burst instance within the wait. */
  consumersIncomplete: number;
  /** Of those, consumers whose sessions never expired during the wait (absent in results before 2026-12-07). */
  incompleteLive?: number;
  /** The fewest burst instances any consumer held at the end. */
  fewestSeen: number;
  /** Per consumer: the burst's sessions closed → none of their instances left in its snapshot. */
  goneMs: Distribution;
  goneMissed: number;
  /** Of those, consumers whose sessions never expired during the wait (absent in results before 2026-12-07). */
  goneMissedLive?: number;
  /** The longest a fleet process's event loop was held: while the burst arrived, while it left. */
  loopMaxMs: { seen: number; gone: number };
}

export interface FaultResult {
  /** Servers stopped (ids). */
  stopped: number[];
  /** Fault → the remaining (or restarted) servers serve with a leader. */
  quorumMs: number;
  /** Consumers whose connection dropped, and the ones whose session expired (a new session: a full re-read). */
  disconnected: number;
  expired: number;
  /** Fault → the last consumer that lost its connection had it back (null: some did not within the wait). */
  reconnectedMs: number | null;
  /** Fault → each consumer routes by a ratio written as soon as there was a quorum: fresh again. */
  freshMs: Distribution;
  freshMissed: number;
  /** Mean ZooKeeper reads per consumer over the fault window: the re-reads. */
  readsPerConsumer: number;
  /** The ensemble's packets received: peak per second (~100 ms samples) and total, over the fault window. */
  peakPerSecond: number;
  packets: number;
  maxOutstanding: number[];
}

export interface PointResult {
  consumers: number;
  instances: number;
  processes: number;
  perService: number;
  watchedServices: number;
  instancesWatchedPerConsumer: number;
  /** The fleets asked to load → every consumer has a full snapshot of its services. */
  loadMs: number;
  /** The ensemble's peak packets per second during the first load. */
  loadPeakPerSecond: number;
  perConsumer: {
    heapMiB: number;
    rssMiB: number;
    heapMiBPer1000Instances: number;
    rssMiBPer1000Instances: number;
    /** Total watches on the ensemble (wchs) / consumers. */
    watches: number;
    idleReadsPerMinute: number;
    /** The ensemble's packets received (requests and pings) per consumer per minute while idle. */
    idlePacketsPerMinute: number;
  };
  servers: Array<{ id: number; watches: number; paths: number; connections: number; maxOutstanding: number }>;
  ratio?: ChangeSeries;
  added?: ChangeSeries;
  removed?: ChangeSeries;
  burst?: BurstResult;
  leader?: FaultResult;
  restart?: FaultResult;
  /** Phases that failed, with the first line of the error. */
  errors: Record<string, string>;
  loadAverage: { start: number[]; end: number[] };
  seconds: number;
}

export interface ScaleResults {
  schema: 'graykit-bench-scale/1';
  startedAt: string;
  seconds: number;
  command: string;
  machine: MachineInfo;
  zookeeper: string;
  /** The client addon the fleets loaded (bench/zookeeper-addon.ts). */
  addon?: string;
  config: ScaleConfig;
  points: PointResult[];
  /** Points that could not be set up or loaded, with the first line of the error. */
  failedPoints: Array<{ consumers: number; instances: number; error: string }>;
  /** Set when the ensemble could not be started or failed for good: what follows was not measured. */
  setupError?: string;
}
