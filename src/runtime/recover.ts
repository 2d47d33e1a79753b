// Crash recovery: a container whose owning tsbox process died (SIGKILL, crash)
// is found by the next tsbox command. Its processes were killed by the
// parent-death signal and its mounts lived only in its own mount namespace, so
// what remains is the cgroup (emptied and removed here) and the directory.

import { detectHierarchy, type Hierarchy } from "../cgroupfs/index.js";
import { containerCgroup } from "./container-cgroup.js";
import { log } from "../log.js";
import { listContainerIds, ownerAlive, readState, settleContainer, type ContainerState } from "./container-store.js";

/** Finishes off one container whose owner is gone (or that is being force-removed). */
export async function releaseContainer(root: string, state: ContainerState, h: Hierarchy = detectHierarchy()): Promise<void> {
  await containerCgroup(h, state).destroy();
  // Killed with its owner: reported as Docker reports a SIGKILLed container.
  settleContainer(root, state, { exitCode: state.exitCode ?? 137 }, state.autoRemove);
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
