// dist/restart-decider.cjs: what tsbox-monitor runs at each exit of a
// container that has a restart policy, to ask whether and when to start it
// again (native/monitor-protocol.ts). argv: the policy as JSON; stdin: one
// ExitReport; stdout: one RestartDecision. A separate small bundle, so the
// question costs a bare Node start (~30 ms), inside the 100 ms minimum back-off.
// On any fault it says why on stderr and exits 1: the monitor then does not
// restart, so a broken install ends a restart loop instead of spinning it.

import { readFileSync } from "node:fs";
import { checkExitReport, encodeDecision } from "../native/monitor-protocol.js";
import { checkRestartPolicy, decideRestart } from "../runtime/restart-policy.js";
import { parseChecked } from "../util/shape.js";

try {
  const policy = parseChecked(process.argv[2] ?? "", checkRestartPolicy);
  const exit = parseChecked(readFileSync(0, "utf8"), checkExitReport);
  process.stdout.write(encodeDecision(decideRestart(policy, exit)));
} catch (e) {
  process.stderr.write(`restart-decider: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
