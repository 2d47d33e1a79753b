// Leak probes shared by the lifecycle tests.
import { readdirSync, readlinkSync } from "node:fs";

/** Processes (other than the test's) holding an fd on anything under the root. */
export function fdsUnder(path: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target.startsWith(path)) found.push(`${pid}:${fd} ${target}`);
      } catch { /* gone */ }
    }
  }
  return found;
}

