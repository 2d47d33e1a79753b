// v2 controller delegation. A controller's files (memory.max, ...) exist in a
// cgroup only when its parent lists the controller in cgroup.subtree_control,
// and a parent can only enable what its own parent enabled for it. So for
// <mount>/tsbox/<id> to have memory.max, both <mount>/cgroup.subtree_control
// (the root's) and <mount>/tsbox/cgroup.subtree_control must contain "memory".
// The root's is normally already set up by systemd; tsbox writes to it only
// for a wanted controller the root has available but has not enabled.

import * as path from "node:path";
import { readValue, writeValue, type CgroupFs } from "../fs.js";

/** Controllers tsbox wants in container cgroups, in the order they are enabled. */
export const WANTED_CONTROLLERS = ["cpuset", "cpu", "io", "memory", "pids"] as const;

function words(s: string): string[] {
  return s.split(/\s+/).filter(Boolean);
}

/**
 * Enable the wanted controllers in `dir`'s cgroup.subtree_control, each one
 * only if `dir` has it (cgroup.controllers) and it is not enabled yet. One
 * write per controller, and failures are tolerated: a controller that cannot
 * be enabled (e.g. cpu with realtime tasks around) should not prevent running
 * containers that do not ask for it — apply() reports the missing file then.
 * Returns the controllers that failed.
 */
export function enableSubtree(dir: string, fs: CgroupFs): string[] {
  const available = new Set(words(readValue(fs, dir, "cgroup.controllers")));
  const enabled = new Set(words(readValue(fs, dir, "cgroup.subtree_control")));
  const failed: string[] = [];
  for (const c of WANTED_CONTROLLERS) {
    if (!available.has(c) || enabled.has(c)) continue;
    try {
      writeValue(fs, dir, "cgroup.subtree_control", `+${c}`);
    } catch {
      failed.push(c);
    }
  }
  return failed;
}

/** Enable down the chain: the mount root, then each parent level below it (not the container's own dir). */
export function enableChain(mount: string, parentSegments: string[], fs: CgroupFs): string[] {
  const failed: string[] = [];
  let dir = mount;
  failed.push(...enableSubtree(dir, fs));
  for (const seg of parentSegments) {
    dir = path.join(dir, seg);
    failed.push(...enableSubtree(dir, fs));
  }
  return [...new Set(failed)];
}
