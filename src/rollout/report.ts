/** What a rollout tells: its outcome, each step's result, its events as it runs, and the report it ends with. */
import type { OnCrash } from '../registry/rollout-state';
import type { Verdict } from './judge';
import type { LaneStats } from './scrape';
import type { WebhookKind } from './webhooks';

/**
 * - `promoted`: every step passed, the gray instances were promoted (ratio 0, flags formal);
 * - `aborted`: a step breached, or `graykit abort` stopped it; ratio 0;
 * - `inconclusive`: a step could not be judged within its bound (too little traffic, metrics unavailable), or a
 *   gate webhook did not confirm in time: failed closed, ratio 0;
 * - `interrupted`: the signal aborted it; ratio 0 (or left, with onInterrupt `hold`);
 * - `conflict`: someone else changed the ratio meanwhile (or took the rollout over); the rollout stopped and left it;
 * - `failed`: an unexpected error (ZooKeeper unreachable too long, its lease lost, promote); ratio 0 when the
 *   rollback could be verified.
 */
export type RolloutOutcome = 'promoted' | 'aborted' | 'inconclusive' | 'interrupted' | 'conflict' | 'failed';

/** One service's part of a step. */
export interface ServiceStep {
  gray: LaneStats;
  normal: LaneStats;
  unavailable: string[];
  verdict?: Verdict;
}

export interface StepResult {
  /** 1-based. */
  step: number;
  ratio: number;
  /** Intervals the step ran (1 + extensions). */
  intervals: number;
  durationMs: number;
  /** The lanes' totals over every service of the rollout (with one service: that service's). */
  gray: LaneStats;
  normal: LaneStats;
  /** Metrics that could not be read at the step's last read (`<instance or consumer>: <why>`). */
  unavailable: string[];
  /** The verdict of the step: a breach of any service, else too little to judge of any, else pass. */
  verdict?: Verdict;
  /** Each service's lanes and verdict. */
  services: Record<string, ServiceStep>;
}

/** How one service of the rollout ended. */
export interface ServiceEnd {
  /** The ratio in ZooKeeper at the end, as read back (undefined when it could not be read). */
  ratio?: number;
  ratioVerified: boolean;
  promoted?: string[];
}

export interface RolloutReport {
  /** The rollout's id, as its znodes record it. */
  id: string;
  /** The first service (the only one, usually). */
  service: string;
  services: string[];
  outcome: RolloutOutcome;
  reason: string;
  /** The step reached, 1-based (0: none began). */
  step: number;
  steps: number[];
  /** The ratio in ZooKeeper at the end, as read back (every service's, when they agree; else undefined). */
  ratio?: number;
  /** Whether the final ratio of every service was read back from ZooKeeper as intended (0 after a rollback or a promotion). */
  ratioVerified: boolean;
  /**
   * What the rollout did to the ratio at the end: `promote` (flags formal, ratio 0), `rollback` (ratio 0, read
   * back: see `ratioVerified`), `hold` (left where it was, on request), `leave` (someone else had changed it).
   */
  action: 'promote' | 'rollback' | 'hold' | 'leave';
  /** The last step's lanes (what the verdict was made on), totals over the services. */
  gray: LaneStats;
  normal: LaneStats;
  history: StepResult[];
  /** Instances promoted (outcome `promoted`). */
  promoted?: string[];
  /** Each service's end. */
  byService: Record<string, ServiceEnd>;
  /** The step this run resumed a crashed rollout at (`resumeRollout`). */
  resumedFrom?: number;
  startedAt: string;
  endedAt: string;
  durationMs: number;
}

export type RolloutEvent =
  | {
      type: 'start';
      id: string;
      service: string;
      services: string[];
      steps: number[];
      intervalMs: number;
      maxErrorRate: number;
      minRequests: number;
      onCrash: OnCrash;
      /** Gray and normal instance ids (prefixed `service/` with several services). */
      gray: string[];
      normal: string[];
      resumedFrom?: number;
    }
  | { type: 'step'; step: number; of: number; ratio: number }
  | {
      type: 'progress';
      step: number;
      of: number;
      ratio: number;
      /** The current interval of the step (1-based) and how many it may take at most. */
      interval: number;
      maxIntervals: number;
      remainingMs: number;
      gray: LaneStats;
      normal: LaneStats;
      /** Metrics that could not be read just now. */
      unavailable: string[];
    }
  | {
      type: 'verdict';
      step: number;
      of: number;
      ratio: number;
      result: Verdict['result'];
      reason: string;
      gray: LaneStats;
      normal: LaneStats;
      extended: boolean;
      services: Record<string, Verdict>;
    }
  | { type: 'gate'; kind: WebhookKind; step: number; status: 'waiting' | 'passed' | 'failed'; detail: string }
  | { type: 'registry'; available: boolean; detail: string }
  | { type: 'rollback'; reason: string; ratio?: number; verified: boolean; byService: Record<string, ServiceEnd> }
  | { type: 'promote'; promoted: string[] }
  | { type: 'report'; report: RolloutReport };

export interface RolloutHooks {
  /** Called with each event; the last one is `report`. An exception it throws is ignored. */
  onProgress?: (event: RolloutEvent) => void;
  /** Aborting it interrupts the rollout (Ctrl-C): see `onInterrupt`. */
  signal?: AbortSignal;
}

