// Which containers `mem stat` / `mem scan` look at: the ones named (by name
// or ID prefix), else every running container, oldest first.

import { detectHierarchy, type Cgroup, type Hierarchy } from "../../cgroupfs/index.js";
import { containerCgroup } from "../../state/container-cgroup.js";
import { TsboxError } from "../../errors.js";
import { findContainer, ownerAlive, readAllStates, type ContainerState } from "../../state/container-store.js";

export interface RunningContainer { state: ContainerState; cgroup: Cgroup }

/** Unknown → "No such container: x" (125); not running → "Container x is not running" (125). */
export function runningContainers(root: string, refs: readonly string[], h: Hierarchy = detectHierarchy()): RunningContainer[] {
  let states: ContainerState[];
  if (refs.length > 0) {
    states = refs.map((ref) => findContainer(root, ref));
    for (const s of states) {
      if (!isRunning(s)) throw new TsboxError(`Container ${s.id} is not running`);
    }
    const seen = new Set<string>();
    states = states.filter((s) => (seen.has(s.id) ? false : (seen.add(s.id), true)));
  } else {
    states = readAllStates(root).filter(isRunning);
    states.sort((a, b) => a.created.localeCompare(b.created));
  }
  return states.map((state) => ({ state, cgroup: containerCgroup(h, state) }));
}

function isRunning(s: ContainerState): boolean {
  return s.status === "running" && (s.owner === undefined || ownerAlive(s.owner));
}
