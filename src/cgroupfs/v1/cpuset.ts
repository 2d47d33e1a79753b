// v1 cpuset controller. A new v1 cpuset cgroup starts with empty cpuset.cpus
// and cpuset.mems, and the kernel refuses to move a task into it (ENOSPC)
// until both are set: copy them down from the parent, level by level, when
// the cgroup is created (unless cgroup.clone_children did it already).
// apply() then narrows them to resources.cpu.cpus / .mems.

import * as path from "node:path";
import { TsboxError } from "../../errors.js";
import { readValue, writeValue, type CgroupFs } from "../fs.js";
import type { LinuxResources } from "../types.js";

export const controller = "cpuset";

const FILES = ["cpuset.cpus", "cpuset.mems"] as const;

/** Fill each empty cpuset file of `dir` from its parent directory. */
export function inheritFromParent(dir: string, fs: CgroupFs): void {
  const parent = path.dirname(dir);
  for (const file of FILES) {
    if (readValue(fs, dir, file) !== "") continue;
    const value = readValue(fs, parent, file);
    // A parent tsbox did not make is never written to: say why no task could join.
    if (value === "") throw new TsboxError(`cgroup: ${file} of ${parent} is empty: no process can join a cgroup below it`, 125);
    writeValue(fs, dir, file, value);
  }
}

/**
 * Initialize `dirs` (tsbox's own parent level(s) first, then the container's
 * dir; all of them created by tsbox), each from the one above it.
 */
export function init(dirs: string[], fs: CgroupFs): void {
  for (const d of dirs) inheritFromParent(d, fs);
}

export function requested(r: LinuxResources): boolean {
  return !!r.cpu && (!!r.cpu.cpus || !!r.cpu.mems);
}

export function apply(r: LinuxResources, dir: string, fs: CgroupFs): void {
  if (r.cpu?.cpus) writeValue(fs, dir, "cpuset.cpus", r.cpu.cpus);
  if (r.cpu?.mems) writeValue(fs, dir, "cpuset.mems", r.cpu.mems);
}
