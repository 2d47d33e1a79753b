// v2 cpuset controller: cpuset.cpus / cpuset.mems. Unlike v1, an empty v2
// cpuset means "inherit the parent's effective set", so no initialization.

import { writeValue, type CgroupFs } from "../fs.js";
import type { LinuxResources } from "../types.js";

export const controller = "cpuset";

export function requested(r: LinuxResources): boolean {
  return !!r.cpu && (!!r.cpu.cpus || !!r.cpu.mems);
}

export function apply(r: LinuxResources, dir: string, fs: CgroupFs): void {
  if (r.cpu?.cpus) writeValue(fs, dir, "cpuset.cpus", r.cpu.cpus);
  if (r.cpu?.mems) writeValue(fs, dir, "cpuset.mems", r.cpu.mems);
}
