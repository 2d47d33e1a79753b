// How the verbs (stop, kill, restart, wait, pause) talk to a container: through
// its processes (signals to PID 1), its directory (the `stop` marker the
// monitor reads before restarting) and its state (polled; the monitor writes
// monitor.json when the container exits).

import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { detectHierarchy } from "../cgroupfs/index.js";
import { containerCgroup } from "../state/container-cgroup.js";
import { containerPaths, ownerAlive, readState, type ContainerState } from "../state/container-store.js";
import { releaseContainer } from "./recover.js";

export const isLive = (s: ContainerState): boolean =>
  (s.status === "running" || s.status === "restarting") && ownerAlive(s.owner);

/** Sends `sig` to the container's PID 1 (nothing once it has exited). */
export function signal(s: ContainerState, sig: NodeJS.Signals | number): void {
  if (!s.pid) return;
  try { process.kill(s.pid, sig); } catch { /* exited meanwhile */ }
}

/** Until the container has exited (or its owner died: recovery settles it); false on timeout. */
export async function waitExited(root: string, id: string, timeoutMs = Infinity): Promise<ContainerState | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 100)) {
    const s = readState(root, id);
    if (!s || s.status === "exited") return s;
    if (!ownerAlive(s.owner)) {
      await releaseContainer(root, s);
      return readState(root, id);
    }
    if (Date.now() > deadline) return undefined;
    await sleep(delay);
  }
}

/** Asks the monitor not to restart the container after this exit. */
export function requestStop(root: string, id: string): void {
  try { writeFileSync(containerPaths(root, id).stop, ""); } catch { /* removed meanwhile */ }
}

export async function thawIfPaused(s: ContainerState): Promise<void> {
  try {
    const cg = containerCgroup(detectHierarchy(), s);
    if (cg.frozen()) await cg.thaw();
  } catch { /* no freezer, or the cgroup is gone */ }
}
