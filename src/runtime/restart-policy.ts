// Docker's restart policy, decided at each exit of a detached container: the
// monitor reports the exit (native/monitor-protocol.ts ExitReport) to a decider
// process (cli/restart-decider.ts), which answers with this decision.
//
// Docker's rules (moby restartmanager): no restart after a stop the user asked
// for; `on-failure[:N]` restarts a non-zero exit, at most N times when N > 0;
// `always` and `unless-stopped` restart any exit. The back-off starts at
// 100 ms and doubles up to a minute, and starts again from 100 ms after a run
// of 10 s or more.

import { MONITOR_PROTOCOL, type ExitReport, type RestartDecision } from "../native/monitor-protocol.js";
import type { RestartPolicy } from "../state/container-store.js";
import { integer, object, oneOf, type Check } from "../util/shape.js";

export const checkRestartPolicy: Check<RestartPolicy> =
  object({ name: oneOf("no", "on-failure", "always", "unless-stopped"), maximumRetryCount: integer });

export const BACKOFF_FIRST_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
/** a run this long resets the back-off */
export const BACKOFF_RESET_AFTER_MS = 10_000;

export function wantsRestart(policy: RestartPolicy, exit: ExitReport): boolean {
  if (exit.stopRequested) return false;
  switch (policy.name) {
    case "no": return false;
    case "on-failure":
      return exit.exitCode !== 0 && (policy.maximumRetryCount <= 0 || exit.restartCount < policy.maximumRetryCount);
    case "always":
    case "unless-stopped":
      return true;
  }
}

/** The back-off before the next run: doubled from the last one, or the first again after a long run. */
export function nextDelay(exit: ExitReport): number {
  if (exit.lastDelayMs <= 0 || exit.ranMs >= BACKOFF_RESET_AFTER_MS) return BACKOFF_FIRST_MS;
  return Math.min(exit.lastDelayMs * 2, BACKOFF_MAX_MS);
}

export function decideRestart(policy: RestartPolicy, exit: ExitReport): RestartDecision {
  return wantsRestart(policy, exit)
    ? { v: MONITOR_PROTOCOL, restart: true, delayMs: nextDelay(exit) }
    : { v: MONITOR_PROTOCOL, restart: false };
}
