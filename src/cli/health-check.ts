// dist/health-check.cjs: one probe of a container's health check, started by
// its monitor every interval (or by the CLI of a foreground run):
// runtime/health.ts. argv: the state root and the container's id. It records
// the result in the container's health.json and exits; on a fault it says why
// on stderr (the monitor's /dev/null) and exits 1, and the next interval tries again.

import { probeHealth } from "../runtime/health.js";

const [root, id] = process.argv.slice(2);
if (root === undefined || id === undefined) {
  process.stderr.write("usage: health-check ROOT ID\n");
  process.exitCode = 1;
} else {
  probeHealth(root, id).then(
    // A probe that timed out leaves its exec behind: exit, not wait for it.
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`health-check: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
