/**
 * Whether a service's rollout crashed, decided in one place for consumers (catalog.ts: `rolloutCrashed`, ratio 0),
 * the console (console/model.ts) and `graykit status` (admin/rollout-record.ts).
 *
 * The rule is rollout-state.ts's `isCrashed` (running, and no lease); what makes it safe is what it is applied to:
 * the rollout znode and its lease as ZooKeeper held them at one moment (watch.ts `readNodeAndChild`). The writer
 * never lets such a moment say running without a lease unless its process died (rollout-record.ts: lease, then
 * `running`; outcome, then the lease deleted). Two watches read apart could each be current and still pair an old
 * `running` with a new absence — a rollout that ended in order then flashed as crashed for a few milliseconds.
 */
import type { Decoded } from './codec';
import { rolloutLeasePath, rolloutPath } from './paths';
import { crashRollsBack, decodeRolloutDocument, isCrashed, type RolloutDocument } from './rollout-state';
import { NodeAndChildWatch, readNodeAndChild, type NodeAndChild, type NodeValue, type WatchHooks, type WatchSession } from './watch';

/** A rollout znode and its lease read at one moment, and what they mean. */
export interface RolloutVerdict {
  /** The rollout znode as read; null when there is none. */
  readonly node: NodeValue | null;
  /** The lease as read; null when no rollout process holds it. */
  readonly lease: NodeValue | null;
  /** The decoded document; undefined when the znode is missing or empty (no rollout recorded). */
  readonly decoded?: Decoded<RolloutDocument>;
  /** The document, when valid. */
  readonly document?: RolloutDocument;
  /** Running with no lease at that same moment: the rollout's process died without recording an outcome. */
  readonly crashed: boolean;
  /** Crashed, and not started with on-crash `hold`: consumers route the service at ratio 0 by themselves. */
  readonly rollsBack: boolean;
}

/** The verdict on one consistent read of the rollout znode (`node`) and its lease (`child`). Pure. */
export function judgeRollout({ node, child }: NodeAndChild): RolloutVerdict {
  const decoded = node ? decodeRolloutDocument(node.data) : undefined;
  const document = decoded?.ok ? decoded.value : undefined;
  const leaseHeld = child !== null;
  return { node, lease: child, decoded, document, crashed: isCrashed(document, leaseHeld), rollsBack: crashRollsBack(document, leaseHeld) };
}

/** Reads a service's rollout znode and its lease at one moment, and judges them (no watch: `graykit status`). */
export async function readRolloutVerdict(session: WatchSession, root: string, service: string): Promise<RolloutVerdict> {
  return judgeRollout(await readNodeAndChild(session, rolloutPath(root, service), rolloutLeasePath(root, service)));
}

/** A service's rollout znode and its lease, kept current by their watches, with the verdict on the last read. */
export class RolloutWatch extends NodeAndChildWatch {
  private judged?: { value: NodeAndChild; verdict: RolloutVerdict };

  constructor(session: WatchSession, root: string, service: string, hooks: WatchHooks) {
    super(session, rolloutPath(root, service), rolloutLeasePath(root, service), hooks);
  }

  /** The verdict on the last read (judged once per read: every read replaces `value` whole). */
  get verdict(): RolloutVerdict {
    if (this.judged?.value !== this.value) this.judged = { value: this.value, verdict: judgeRollout(this.value) };
    return this.judged.verdict;
  }
}
