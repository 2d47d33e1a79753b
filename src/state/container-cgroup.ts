// The cgroup of a recorded container: its id under the parent it was created
// with (state.cgroupParent, from --cgroup-parent; "tsbox" when absent). Every
// command that acts on an existing container's cgroup (rm, recovery, stats,
// pause, update) opens it through here.

import { openCgroup, type Cgroup, type CgroupOptions, type Hierarchy } from "../cgroupfs/index.js";
import type { ContainerState } from "./container-store.js";

export function containerCgroup(h: Hierarchy, state: Pick<ContainerState, "id" | "cgroupParent">, opts?: CgroupOptions): Cgroup {
  return openCgroup(h, state.id, { ...opts, ...(state.cgroupParent !== undefined ? { parent: state.cgroupParent } : {}) });
}
