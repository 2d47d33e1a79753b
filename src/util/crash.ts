// Crash injection for the recovery tests: TSBOX_TEST_CRASH_AT=<step> makes the
// CLI SIGKILL itself at that step, as a real crash or `kill -9` would.

export function crashPoint(step: string): void {
  if (process.env.TSBOX_TEST_CRASH_AT === step) process.kill(process.pid, "SIGKILL");
}
