// pids controller (the same files on v1 and v2): pids.max; pids.current.

import { pidsMaxValue } from "../convert.js";
import { writeValue, type CgroupFs } from "../fs.js";
import { parseLimit, readNumber, readOptional } from "../parse.js";
import type { LinuxResources, PidsStats } from "../types.js";

export const controller = "pids";

export function requested(r: LinuxResources): boolean {
  return r.pids?.limit !== undefined;
}

export function apply(r: LinuxResources, dir: string, fs: CgroupFs): void {
  if (r.pids?.limit === undefined) return;
  writeValue(fs, dir, "pids.max", pidsMaxValue(r.pids.limit));
}

export function stats(dir: string, fs: CgroupFs): PidsStats | undefined {
  const current = readNumber(fs, dir, "pids.current");
  if (current === undefined) return undefined;
  const out: PidsStats = { current };
  const limit = parseLimit(readOptional(fs, dir, "pids.max") ?? "");
  if (limit !== undefined) out.limit = limit;
  return out;
}
