// Crash recovery: a container whose owning tsbox process (the foreground CLI,
// or a detached container's monitor) died is found by the next tsbox command.
// Its processes were killed by the parent-death signal and its mounts lived
// only in its own mount namespace, so what remains is the cgroup (emptied and
// removed here) and the directory.

import { detectHierarchy, openCgroup, type Hierarchy } from "../cgroupfs/index.js";
import { setTimeout as sleep } from "node:timers/promises";
import { writeFileSync } from "node:fs";
import { log } from "../log.js";
import {
  containerPaths, listContainerIds, ownerAlive, processStartTime, readState, settleContainer, type ContainerState,
} from "./container-store.js";

/** Finishes off one container whose owner is gone (or that is being force-removed). */
export async function releaseContainer(root: string, state: ContainerState, h: Hierarchy = detectHierarchy()): Promise<void> {
  if (state.detached && state.status !== "exited" && state.owner && ownerAlive(state.owner)) {
    // The monitor first: it would restart the container, and it writes into the directory.
    try { writeFileSync(containerPaths(root, state.id).stop, ""); } catch { /* gone */ }
    try { process.kill(state.owner.pid, "SIGKILL"); } catch { /* gone */ }
    while (processStartTime(state.owner.pid) === state.owner.startTime) await sleep(10);
  }
  await openCgroup(h, state.id).destroy();
  // Killed with its owner: reported as Docker reports a SIGKILLed container.
  settleContainer(root, state, { exitCode: state.status === "exited" ? state.exitCode ?? 137 : 137 }, state.autoRemove);
}

export async function recoverStale(root: string): Promise<void> {
  let h: Hierarchy | undefined;
  for (const id of listContainerIds(root)) {
    const state = readState(root, id);
    if (!state || state.status === "exited" || ownerAlive(state.owner)) continue;
    h ??= detectHierarchy();
    log().info({ id }, "releasing container left by a dead tsbox process");
    await releaseContainer(root, state, h);
  }
}
