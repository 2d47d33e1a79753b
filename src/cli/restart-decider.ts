// dist/restart-decider.cjs: what tsbox-monitor runs at each exit of a
// detached container, to ask whether and when to start it again
// (native/monitor-protocol.ts). argv: the policy as JSON, then the state root
// and the container's id; stdin: one ExitReport; stdout: one RestartDecision.
// The policy recorded in the container's state.json wins over the argument:
// `update --restart` changes it while the container runs. This is also where a
// detached container's exit becomes its `oom` and `die` events (and a restart
// its `start`), at the moment the monitor sees it. A separate small bundle, so
// the question costs a bare Node start (~30 ms), inside the 100 ms minimum
// back-off. On any fault it says why on stderr and exits 1: the monitor then
// does not restart, so a broken install ends a restart loop instead of spinning it.

import { readFileSync } from "node:fs";
import { checkExitReport, encodeDecision, type ExitReport } from "../native/monitor-protocol.js";
import { checkRestartPolicy, decideRestart } from "../runtime/restart-policy.js";
import { containerPaths, readState, type ContainerState, type RestartPolicy } from "../state/container-store.js";
import { refreshDonorNamespaces } from "../runtime/namespace-donors.js";
import { recordNetworkEvents } from "../runtime/network-events.js";
import { containerAttributes, recordEvent } from "../state/events.js";
import { parseChecked } from "../util/shape.js";

/** The container as recorded, if it can be read: its events and policy come from it. */
function recorded(root: string | undefined, id: string | undefined): ContainerState | undefined {
  if (root === undefined || id === undefined || !/^[0-9a-f]{64}$/.test(id)) return undefined;
  try {
    return readState(root, id);
  } catch {
    return undefined; // a broken state.json: the policy given at launch still decides
  }
}

function recordExit(root: string, s: ContainerState, exit: ExitReport): void {
  if (exit.oomKilled) recordEvent(root, "container", "oom", s.id, containerAttributes(s));
  recordEvent(root, "container", "die", s.id, containerAttributes(s, { exitCode: String(exit.exitCode) }));
  recordNetworkEvents(root, s.id, "disconnect");
}

try {
  const [, , policyArg = "", root, id] = process.argv;
  const launched: RestartPolicy = parseChecked(policyArg, checkRestartPolicy);
  const exit = parseChecked(readFileSync(0, "utf8"), checkExitReport);
  const state = recorded(root, id);
  if (root !== undefined && state) recordExit(root, state, exit);
  let decision = decideRestart(state?.restartPolicy ?? launched, exit);
  // --pid/--ipc container:X: launched again in the donor's namespaces of now
  // (the monitor rereads the plan); a donor that no longer runs ends it, as Docker's start fails.
  if (decision.restart && root !== undefined && state) {
    try {
      refreshDonorNamespaces(root, state, containerPaths(root, state.id));
    } catch (e) {
      process.stderr.write(`restart-decider: ${(e as Error).message}\n`);
      decision = { v: decision.v, restart: false };
    }
  }
  // Docker's restart manager starts it again: a `start` (recorded when decided, before the back-off).
  if (decision.restart && root !== undefined && state) {
    recordNetworkEvents(root, state.id, "connect");
    recordEvent(root, "container", "start", state.id, containerAttributes(state));
  }
  process.stdout.write(encodeDecision(decision));
} catch (e) {
  process.stderr.write(`restart-decider: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
