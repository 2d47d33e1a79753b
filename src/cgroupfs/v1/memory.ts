// v1 memory controller: memory.limit_in_bytes, memory.memsw.limit_in_bytes
// (memory+swap, only present with swap accounting), memory.soft_limit_in_bytes.

import { TsboxError } from "../../errors.js";
import { checkInt, isSet } from "../convert.js";
import { fileExists, readValue, writeValue, type CgroupFs } from "../fs.js";
import type { LinuxResources } from "../types.js";

export const controller = "memory";

export const LIMIT = "memory.limit_in_bytes";
export const MEMSW = "memory.memsw.limit_in_bytes";
export const SOFT = "memory.soft_limit_in_bytes";

export function requested(r: LinuxResources): boolean {
  const m = r.memory;
  return !!m && (isSet(m.limit) || isSet(m.swap) || isSet(m.reservation));
}

export interface FileWrite {
  file: string;
  value: string;
}

/**
 * The writes, in order, for a memory limit and memory+swap limit. The kernel
 * insists on memsw >= limit at every step, so when memsw goes up (or to
 * unlimited) it is written first, otherwise the limit is lowered first.
 * `currentLimit` is the present memory.limit_in_bytes; `hasMemsw` whether the
 * memsw file exists (without swap accounting the swap limit is skipped).
 */
export function memoryWrites(
  m: NonNullable<LinuxResources["memory"]>,
  currentLimit: number,
  hasMemsw: boolean,
): FileWrite[] {
  const limit = isSet(m.limit) ? checkInt(m.limit, "memory limit") : undefined;
  let swap = isSet(m.swap) ? checkInt(m.swap, "memory+swap limit") : undefined;
  if (swap !== undefined && swap !== -1) {
    if (limit === undefined || limit === -1) throw new TsboxError("cgroup: unable to set a swap limit without a memory limit");
    if (swap < limit) throw new TsboxError(`cgroup: memory+swap limit ${swap} must be >= memory limit ${limit}`);
  }
  // Unlimited memory without an explicit swap limit means both unlimited.
  if (limit === -1 && swap === undefined && hasMemsw) swap = -1;

  const out: FileWrite[] = [];
  const lim = limit !== undefined ? { file: LIMIT, value: String(limit) } : undefined;
  const sw = swap !== undefined && hasMemsw ? { file: MEMSW, value: String(swap) } : undefined;
  if (lim && sw) {
    if (swap === -1 || swap! >= currentLimit) out.push(sw, lim);
    else out.push(lim, sw);
  } else {
    if (lim) out.push(lim);
    if (sw) out.push(sw);
  }
  if (isSet(m.reservation)) out.push({ file: SOFT, value: String(checkInt(m.reservation, "memory reservation")) });
  return out;
}

export function apply(r: LinuxResources, dir: string, fs: CgroupFs): void {
  const m = r.memory;
  if (!m || !requested(r)) return;
  const hasMemsw = fileExists(fs, dir, MEMSW);
  const needCurrent = isSet(m.limit) && isSet(m.swap) && hasMemsw;
  const currentLimit = needCurrent ? Number(readValue(fs, dir, LIMIT)) : 0;
  for (const w of memoryWrites(m, currentLimit, hasMemsw)) writeValue(fs, dir, w.file, w.value);
}

/** "key value" lines, as memory.oom_control, memory.stat and memory.events hold them. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** OOM kills in this cgroup: the oom_kill counter of memory.oom_control (Linux ≥ 4.13). */
export function oomKills(dir: string, fs: CgroupFs): number {
  return parseFlatKeyed(readValue(fs, dir, "memory.oom_control")).get("oom_kill") ?? 0;
}
