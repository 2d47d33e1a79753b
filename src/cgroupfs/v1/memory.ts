// v1 memory controller: memory.limit_in_bytes, memory.memsw.limit_in_bytes
// (memory+swap, only present with swap accounting), memory.soft_limit_in_bytes.

import * as path from "node:path";
import { TsboxError, errnoCode } from "../../errors.js";
import { checkInt, checkSwapLimit, isSet } from "../convert.js";
import { fileExists, readValue, writeValue, type CgroupFs } from "../fs.js";
import { parseFlatKeyed, parseLimit, parsePsi, readNumber, readOptional } from "../parse.js";
import type { LinuxResources, MemoryStats } from "../types.js";

export const controller = "memory";

export const LIMIT = "memory.limit_in_bytes";
export const MEMSW = "memory.memsw.limit_in_bytes";
export const SOFT = "memory.soft_limit_in_bytes";

export function requested(r: LinuxResources): boolean {
  const m = r.memory;
  return !!m && (isSet(m.limit) || isSet(m.swap) || isSet(m.reservation) || m.swappiness !== undefined || m.disableOOMKiller === true
    || isSet(m.kernelTCP));
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
  checkSwapLimit(limit, swap);
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
  const writes = memoryWrites(m, currentLimit, hasMemsw);
  if (m.swappiness !== undefined) {
    if (!Number.isInteger(m.swappiness) || m.swappiness < 0 || m.swappiness > 100) {
      throw new TsboxError(`cgroup: invalid memory swappiness ${m.swappiness} (0 to 100)`);
    }
    writes.push({ file: "memory.swappiness", value: String(m.swappiness) });
  }
  // oom_control takes 1 to disable the OOM killer (tasks then wait in the charge path instead).
  if (m.disableOOMKiller === true) writes.push({ file: "memory.oom_control", value: "1" });
  if (isSet(m.kernelTCP)) writes.push({ file: "memory.kmem.tcp.limit_in_bytes", value: String(checkInt(m.kernelTCP, "kernel TCP memory limit")) });
  for (const w of writes) writeValue(fs, dir, w.file, w.value);
}

/**
 * Reclaim's knob (reclaim/kernel/balloon.ts): memory.limit_in_bytes alone.
 * "busy" = EBUSY, the kernel could not reclaim down to it (the limit is unchanged).
 */
export function setLimit(dir: string, fs: CgroupFs, bytes: number | "unlimited"): "ok" | "busy" {
  const file = path.join(dir, LIMIT);
  try {
    fs.writeFile(file, bytes === "unlimited" ? "-1" : String(bytes));
    return "ok";
  } catch (e) {
    if (errnoCode(e) === "EBUSY") return "busy";
    throw new TsboxError(`writing ${file}: ${(e as Error).message}`, 125, { cause: e });
  }
}

export { parseFlatKeyed };

/** OOM kills in this cgroup: the oom_kill counter of memory.oom_control (Linux ≥ 4.13). */
export function oomKills(dir: string, fs: CgroupFs): number {
  return parseFlatKeyed(readValue(fs, dir, "memory.oom_control")).get("oom_kill") ?? 0;
}

/** usage − inactive file, floored at 0: Docker CLI's / cAdvisor's working set. */
export function workingSet(usage: number, inactiveFile: number | undefined): number {
  return Math.max(0, usage - (inactiveFile ?? 0));
}

/**
 * One reading of the v1 memory files. memory.stat's total_* keys are used
 * (hierarchical: they include any sub-cgroups the container made, as
 * memory.usage_in_bytes does); Docker's CLI subtracts total_inactive_file.
 * Undefined when the cgroup has no memory.usage_in_bytes.
 */
export function stats(dir: string, fs: CgroupFs): MemoryStats | undefined {
  const usage = readNumber(fs, dir, "memory.usage_in_bytes");
  if (usage === undefined) return undefined;
  const stat = Object.fromEntries(parseFlatKeyed(readOptional(fs, dir, "memory.stat") ?? ""));
  const total = (k: string): number | undefined => stat[`total_${k}`] ?? stat[k];
  const out: MemoryStats = { usage, workingSet: workingSet(usage, total("inactive_file")), stat };
  const limit = parseLimit(readOptional(fs, dir, LIMIT) ?? "");
  if (limit !== undefined) out.limit = limit;
  const max = readNumber(fs, dir, "memory.max_usage_in_bytes");
  if (max !== undefined) out.maxUsage = max;
  const set = (k: keyof MemoryStats, v: number | undefined) => {
    if (v !== undefined) (out as unknown as Record<string, number>)[k] = v;
  };
  set("anon", total("rss"));
  set("file", total("cache"));
  set("activeFile", total("active_file"));
  set("inactiveFile", total("inactive_file"));
  set("shmem", total("shmem"));
  // v1 has no slab line in memory.stat; kernel memory (slab included) is memory.kmem.usage_in_bytes.
  set("slab", readNumber(fs, dir, "memory.kmem.usage_in_bytes"));
  const memsw = readNumber(fs, dir, "memory.memsw.usage_in_bytes");
  if (memsw !== undefined) out.swap = Math.max(0, memsw - usage);
  // Linux ≥ 5.9 splits workingset_refault into _anon/_file; older kernels have one counter.
  set("refaults", total("workingset_refault_file") ?? total("workingset_refault"));
  const oom = readOptional(fs, dir, "memory.oom_control");
  if (oom !== undefined) {
    const k = parseFlatKeyed(oom).get("oom_kill");
    if (k !== undefined) out.oomKills = k;
  }
  const psi = readOptional(fs, dir, "memory.pressure");
  if (psi !== undefined) {
    const p = parsePsi(psi);
    if (p) out.pressure = p;
  }
  return out;
}
