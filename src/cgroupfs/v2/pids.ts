// v2 pids controller: pids.max.

import { pidsMaxValue } from "../convert.js";
import { writeValue, type CgroupFs } from "../fs.js";
import type { LinuxResources } from "../types.js";

export const controller = "pids";

export function requested(r: LinuxResources): boolean {
  return r.pids?.limit !== undefined;
}

export function apply(r: LinuxResources, dir: string, fs: CgroupFs): void {
  if (r.pids?.limit === undefined) return;
  writeValue(fs, dir, "pids.max", pidsMaxValue(r.pids.limit));
}
