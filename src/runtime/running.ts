// A container that must be running for the command (exec, top): its state,
// its cgroup and the host pid of its init, with Docker's wording when it is not.

import { detectHierarchy, openCgroup, type Cgroup, type CgroupFs, type Hierarchy } from "../cgroupfs/index.js";
import { NotFoundError, TsboxError } from "../errors.js";
import { findContainer, processStartTime, type ContainerState } from "../state/container-store.js";

export interface RunningContainer {
  state: ContainerState;
  /** the container's init as the host sees it */
  pid: number;
  cgroup: Cgroup;
}

/** Where containers' cgroups are: this host's hierarchy, or (unit tests) one in memory. */
export interface CgroupHost {
  hierarchy(): Hierarchy;
  /** the cgroup file operations; default node:fs */
  fs?: CgroupFs;
}

export const hostCgroups: CgroupHost = { hierarchy: detectHierarchy };

/** Docker exits 1 with "container <id> is not running" (an error from the daemon, not from the CLI). */
export class NotRunningError extends TsboxError {
  constructor(id: string) { super(`Container ${id} is not running`, 1); }
}

/** Like Docker's exec and top, every refusal exits 1 (the daemon's errors), not 125. */
export function runningContainer(root: string, ref: string, cgroups: CgroupHost = hostCgroups): RunningContainer {
  let state: ContainerState;
  try {
    state = findContainer(root, ref);
  } catch (e) {
    if (e instanceof NotFoundError) throw new NotFoundError(e.message, 1);
    throw e;
  }
  const pid = state.pid;
  if (state.status !== "running" || pid === undefined || processStartTime(pid) === undefined) {
    throw new NotRunningError(state.id);
  }
  const cgroup = openCgroup(cgroups.hierarchy(), state.id, cgroups.fs ? { fs: cgroups.fs } : undefined);
  // A pid the kernel reused for something else is not the container's init.
  if (!cgroup.pids().includes(pid)) throw new NotRunningError(state.id);
  return { state, pid, cgroup };
}
