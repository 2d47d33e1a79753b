// Crash recovery: a container whose owning tsbox process (the foreground CLI,
// or a detached container's monitor) died is found by the next tsbox command.
// Its processes were killed by the parent-death signal and its mounts lived
// only in its own mount namespace, so what remains is the cgroup (emptied and
// removed here) and the directory.

import { detectHierarchy, type Hierarchy } from "../cgroupfs/index.js";
import { setTimeout as sleep } from "node:timers/promises";
import { readFileSync, writeFileSync } from "node:fs";
import { containerCgroup } from "./container-cgroup.js";
import { log } from "../log.js";
import {
  containerPaths, listContainerIds, ownerAlive, processStartTime, readMonitorStatus, readState, settleContainer,
  type ContainerState, type Owner,
} from "./container-store.js";

/** Finishes off one container whose owner is gone (or that is being force-removed). */
export async function releaseContainer(root: string, state: ContainerState, h: Hierarchy = detectHierarchy()): Promise<void> {
  const monitor = liveMonitor(root, state);
  if (monitor) {
    // The monitor first: it would restart the container, and it writes into the directory.
    try { writeFileSync(containerPaths(root, state.id).stop, ""); } catch { /* gone */ }
    try { process.kill(monitor.pid, "SIGKILL"); } catch { /* gone */ }
    while (processStartTime(monitor.pid) === monitor.startTime) await sleep(10);
  }
  const cg = containerCgroup(h, state);
  // Frozen processes do not die of SIGKILL until thawed.
  try { if (cg.frozen()) await cg.thaw(); } catch { /* no freezer, or gone */ }
  await cg.destroy();
  // Killed with its owner: reported as Docker reports a SIGKILLed container.
  settleContainer(root, state, { exitCode: state.status === "exited" ? state.exitCode ?? 137 : 137 }, state.autoRemove);
}

/**
 * The container's monitor while it lives: the recorded owner, or (when the CLI
 * died before recording it) the pid the monitor wrote in monitor.json, checked
 * against its command line so a reused pid is never killed.
 */
function liveMonitor(root: string, state: ContainerState): Owner | undefined {
  if (state.owner && state.detached && state.status !== "exited" && state.status !== "created" && ownerAlive(state.owner)) {
    return state.owner;
  }
  const m = readMonitorStatus(root, state.id);
  if (!m?.monitorPid) return undefined;
  try {
    const argv = readFileSync(`/proc/${m.monitorPid}/cmdline`, "utf8").split("\0");
    if (argv[1] !== containerPaths(root, state.id).dir) return undefined;
  } catch {
    return undefined;
  }
  const startTime = processStartTime(m.monitorPid);
  return startTime === undefined ? undefined : { pid: m.monitorPid, startTime };
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
