/**
 * The `graykit` command's exit codes: what each command says to a script that runs it. The library reports
 * outcomes (errors with codes, rollout reports); only the command turns them into process exit codes.
 */
import { errorKind, type ErrorKind } from '../errors';
import type { RolloutReport } from '../rollout/rollout';

/** 0 done; 1 unexpected failure; 2 invalid input (nothing changed); 3 conflict (someone else wrote first, or another
 * rollout of the service is running or crashed; nothing changed); 4 service, instance or rollout not found;
 * 5 ZooKeeper unreachable (or the session expired); 6 access denied (README "Security"). */
export const EXIT = { OK: 0, FAILURE: 1, INVALID: 2, CONFLICT: 3, NOT_FOUND: 4, UNREACHABLE: 5, DENIED: 6 } as const;

/**
 * `graykit rollout`'s own: 0 promoted; 1 unexpected failure (ratio verified at 0); 3 someone else changed the
 * ratio (left as they set it); 10 aborted on a breach (ratio 0, verified); 11 failed closed: not enough traffic or
 * metrics to judge within the step's bound (ratio 0, verified); 12 the ratio could NOT be verified at 0 after an
 * abort (act now: `graykit rollback`); 130 interrupted (SIGINT; 143 for SIGTERM).
 */
export const ROLLOUT_EXIT = { PROMOTED: 0, FAILURE: 1, CONFLICT: 3, ABORTED: 10, INCONCLUSIVE: 11, UNVERIFIED: 12, INTERRUPTED: 130 } as const;

/** The exit code of each kind of error (errors.ts `errorKind`: the console's HTTP statuses read the same kinds). */
export const EXIT_OF_KIND: Readonly<Record<ErrorKind, number>> = Object.freeze({
  invalid: EXIT.INVALID,
  conflict: EXIT.CONFLICT,
  busy: EXIT.CONFLICT,
  notFound: EXIT.NOT_FOUND,
  unreachable: EXIT.UNREACHABLE,
  sessionExpired: EXIT.UNREACHABLE,
  accessDenied: EXIT.DENIED,
  unknown: EXIT.FAILURE,
});

/** The exit code of an error thrown by a command. */
export function exitCodeOf(error: unknown): number {
  return EXIT_OF_KIND[errorKind(error)];
}

/** The exit code of a rollout's report (SIGTERM's 143 is the command's own: it knows which signal came). */
export function rolloutExitCode(report: RolloutReport): number {
  if (report.action === 'rollback' && !report.ratioVerified) return ROLLOUT_EXIT.UNVERIFIED;
  switch (report.outcome) {
    case 'promoted':
      return ROLLOUT_EXIT.PROMOTED;
    case 'aborted':
      return ROLLOUT_EXIT.ABORTED;
    case 'inconclusive':
      return ROLLOUT_EXIT.INCONCLUSIVE;
    case 'failed':
      return ROLLOUT_EXIT.FAILURE;
    case 'conflict':
      return ROLLOUT_EXIT.CONFLICT;
    case 'interrupted':
      return ROLLOUT_EXIT.INTERRUPTED;
  }
}
