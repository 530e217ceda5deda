/** Why a run stops before its last step: thrown inside the run, turned into its report by `RolloutRun.ended`. */
import { describeActor } from '../admin/rollout-record';
import type { RolloutActor } from '../registry/rollout-state';

/** The signal aborted the run (Ctrl-C). */
export class Interrupted extends Error {}
/** Someone else changed a ratio (or the rollout znode) meanwhile. */
export class RatioChanged extends Error {}
/** `graykit abort` asked the rollout to stop. */
export class AbortRequested extends Error {
  constructor(readonly by: RolloutActor) {
    super(`aborted by ${describeActor(by)} (graykit abort)`);
  }
}
/** The rollout's lease is gone while it runs (its session expired, or the znode was deleted). */
export class LeaseLost extends Error {}
/** ZooKeeper stayed unreachable longer than registryTimeoutMs. */
export class RegistryLost extends Error {}
/** A gate webhook did not confirm in time. */
export class GateFailed extends Error {}
