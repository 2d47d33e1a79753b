// Crash recovery: a container whose owning tsbox process (the foreground CLI,
// or a detached container's monitor) died is found by the next tsbox command.
// Its processes were killed by the parent-death signal and its mounts lived
// only in its own mount namespace, so what remains is the cgroup (emptied and
// removed here), the host tmpfs of a shareable /dev/shm (unmounted here) and
// the directory.

import { detectHierarchy, openCgroup, type Hierarchy } from "../cgroupfs/index.js";
import { setTimeout as sleep } from "node:timers/promises";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { CorruptContainerError } from "../errors.js";
import { containerCgroup } from "../state/container-cgroup.js";
import { log } from "../log.js";
import { recordEvent } from "../state/events.js";
import { recordNetworkEvents } from "./network-events.js";
import { withLock } from "../util/lock.js";
import { shimLauncher } from "../native/launcher.js";
import { disconnect, realNetwork, releaseStopped } from "./network.js";
import { removeAnonymousVolumes } from "../state/volume-store.js";
import { anonymousVolumes } from "./container-mounts.js";
import { unmountShm } from "./shm.js";
import {
  containerLockFile, containerPaths, namesOf, ownerAlive, processStartTime, readAllStates, readMonitorStatus, readSpec, readState,
  releaseName, settleContainer, type ContainerState, type Owner,
} from "../state/container-store.js";

/**
 * Finishes off one container whose owner is gone (or that is being
 * force-removed). Removed, its anonymous volumes go too when `volumes` says
 * so (`rm -v`); by default when the container was run with --rm.
 */
export async function releaseContainer(root: string, state: ContainerState, h: Hierarchy = detectHierarchy(),
  opts: { volumes?: boolean } = {}): Promise<void> {
  await killMonitor(root, liveMonitor(root, state), state.id);
  // destroy() kills what is left, a paused container's processes too.
  await containerCgroup(h, state).destroy();
  unmountShm(shimLauncher, containerPaths(root, state.id));
  await disconnect(realNetwork, shimLauncher, root, state.id);
  // Killed with its owner: reported as Docker reports a SIGKILLed container.
  const removed = settleContainer(root, state, { exitCode: state.status === "exited" ? state.exitCode ?? 137 : 137 }, state.autoRemove,
    () => recordNetworkEvents(root, state.id, "disconnect"));
  if (removed && (opts.volumes ?? removed.autoRemove)) removeAnonymousVolumes(root, anonymousVolumes(removed.mounts));
}

/**
 * The container's monitor while it lives: the recorded owner, or (when the CLI
 * died before recording it) the pid the monitor wrote in monitor.json, checked
 * against its command line so a reused pid is never killed.
 */
function liveMonitor(root: string, state: Pick<ContainerState, "id"> & Partial<ContainerState>): Owner | undefined {
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

async function killMonitor(root: string, monitor: Owner | undefined, id: string): Promise<void> {
  if (!monitor) return;
  // The monitor first: it would restart the container, and it writes into the directory.
  try { writeFileSync(containerPaths(root, id).stop, ""); } catch { /* gone */ }
  try { process.kill(monitor.pid, "SIGKILL"); } catch { /* gone */ }
  while (processStartTime(monitor.pid) === monitor.startTime) await sleep(10);
}

/**
 * `rm -f` of a container whose state.json cannot be read: what its other files
 * still tell is enough to take it down. Its monitor is found through
 * monitor.json (checked against the monitor's command line), its cgroup
 * through config.json's cgroupsPath (else the default parent), its names by
 * what they point at. Its mounts lived in its own mount namespace.
 */
export async function removeBrokenContainer(root: string, id: string, h: Hierarchy = detectHierarchy()): Promise<void> {
  await killMonitor(root, liveMonitor(root, { id }), id);
  let cgroupsPath: string | undefined;
  try {
    cgroupsPath = readSpec(root, id)?.linux.cgroupsPath;
  } catch (e) {
    if (!(e instanceof CorruptContainerError)) throw e;
  }
  const segments = cgroupsPath?.split("/").filter((x) => x !== "") ?? [];
  const cg = segments.length > 1 && segments.at(-1) === id
    ? openCgroup(h, id, { parent: segments.slice(0, -1).join("/") })
    : containerCgroup(h, { id });
  await cg.destroy(); // kills what is left, a paused container's processes too
  unmountShm(shimLauncher, containerPaths(root, id));
  await disconnect(realNetwork, shimLauncher, root, id);
  const names = namesOf(root, id);
  withLock(containerLockFile(root, id), () => {
    rmSync(containerPaths(root, id).dir, { recursive: true, force: true });
    for (const name of names) releaseName(root, name, id);
  });
  // What it was made from is lost with its state: its name is what is left to say.
  recordEvent(root, "container", "destroy", id, names[0] !== undefined ? { name: names[0] } : {});
}

export async function recoverStale(root: string): Promise<void> {
  let h: Hierarchy | undefined;
  // A container that cannot be read is left alone here: `ps -a` shows it, `rm -f` removes it.
  const states = readAllStates(root, (e) => log().info({ id: e.id }, e.message));
  for (const listed of states) {
    // A container that stopped on its own: its network goes (once its monitor is gone).
    if (listed.status === "exited" && !ownerAlive(listed.owner)) await releaseStopped(root, listed.id);
    if (listed.status === "exited" || ownerAlive(listed.owner)) continue;
    // `create`'s container: made, never started, owned by no one until `start`.
    if (listed.status === "created" && listed.owner === undefined) continue;
    // The list may be stale: a `run -d` or `start` CLI that records the monitor as
    // owner and exits between the read above and the check would look dead here,
    // and its healthy container would be killed. What a dead owner wrote is on
    // disk by now, so a fresh read decides.
    let state: ContainerState | undefined;
    try {
      state = readState(root, listed.id);
    } catch (e) {
      if (e instanceof CorruptContainerError) continue; // as readAllStates: `ps -a` shows it, `rm -f` removes it
      throw e;
    }
    if (!state || state.status === "exited" || ownerAlive(state.owner) || (state.status === "created" && state.owner === undefined)) continue;
    h ??= detectHierarchy();
    log().info({ id: state.id }, "releasing container left by a dead tsbox process");
    try {
      await releaseContainer(root, state, h);
    } catch (e) {
      // One container that cannot be released must not keep the others' mounts and
      // cgroups, nor the command the user asked for: `rm -f` tries it again and says why.
      log().warn({ id: state.id, err: e }, "releasing a container left by a dead tsbox process failed");
    }
  }
}
