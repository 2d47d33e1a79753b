// v2 memory controller: memory.max, memory.swap.max (swap only, not
// memory+swap as in OCI/v1), memory.low (from the reservation).

import * as path from "node:path";
import { TsboxError, errnoCode } from "../../errors.js";
import { checkInt, checkSwapLimit, isSet } from "../convert.js";
import { fileExists, readValue, writeValue, type CgroupFs } from "../fs.js";
import { parseFlatKeyed, parseLimit, parsePsi, readNumber, readOptional } from "../parse.js";
import { workingSet } from "../v1/memory.js";
import type { LinuxResources, MemoryStats } from "../types.js";

export const controller = "memory";

export function requested(r: LinuxResources): boolean {
  const m = r.memory;
  return !!m && (isSet(m.limit) || isSet(m.swap) || isSet(m.reservation) || isSet(m.kernelTCP));
}

/** -1 → "max", otherwise the number. */
function maxOr(n: number): string {
  return n === -1 ? "max" : String(n);
}

/**
 * OCI memory.swap (memory+swap) → v2 memory.swap.max (swap alone) = swap − memory,
 * following runc: undefined when not set; -1 ("max") when unlimited or when
 * memory is unlimited and swap is not given.
 */
export function swapToV2(limit: number | undefined, swap: number | undefined): number | undefined {
  const l = isSet(limit) ? checkInt(limit, "memory limit") : undefined;
  const s = isSet(swap) ? checkInt(swap, "memory+swap limit") : undefined;
  if (l === -1 && s === undefined) return -1;
  if (s === undefined || s === -1) return s;
  checkSwapLimit(l, s);
  return s - l!; // set and not -1: checkSwapLimit refuses a swap limit without one
}

export function apply(r: LinuxResources, dir: string, fs: CgroupFs): void {
  const m = r.memory;
  if (!m || !requested(r)) return;
  if (isSet(m.kernelTCP)) throw new TsboxError("cgroup: memory.kernelTCP (kernel TCP buffer limit) has no cgroup v2 equivalent");
  const swapMax = swapToV2(m.limit, m.swap); // validate before writing anything
  if (isSet(m.limit)) writeValue(fs, dir, "memory.max", maxOr(m.limit));
  // memory.swap.max is absent without swap accounting: skip, like v1's memsw.
  if (swapMax !== undefined && fileExists(fs, dir, "memory.swap.max")) writeValue(fs, dir, "memory.swap.max", maxOr(swapMax));
  if (isSet(m.reservation)) writeValue(fs, dir, "memory.low", maxOr(checkInt(m.reservation, "memory reservation")));
}

/** Reclaim's knob (reclaim/kernel/balloon.ts): memory.reclaim; "partial" = EAGAIN, it reclaimed less than asked. */
export function reclaim(dir: string, fs: CgroupFs, bytes: number): "ok" | "partial" {
  const file = path.join(dir, "memory.reclaim");
  try {
    fs.writeFile(file, String(bytes));
    return "ok";
  } catch (e) {
    if (errnoCode(e) === "EAGAIN") return "partial";
    throw new TsboxError(`writing ${file}: ${(e as Error).message}`, 125, { cause: e });
  }
}

/** Reclaim's limit (reclaim/kernel/balloon.ts): memory.high, the throttle the balloon leaves in place. */
export function setHigh(dir: string, fs: CgroupFs, bytes: number | "max"): void {
  const file = path.join(dir, "memory.high");
  try {
    fs.writeFile(file, String(bytes));
  } catch (e) {
    throw new TsboxError(`writing ${file}: ${(e as Error).message}`, 125, { cause: e });
  }
}

/** OOM kills in this cgroup and below: oom_kill of memory.events. */
export function oomKills(dir: string, fs: CgroupFs): number {
  return parseFlatKeyed(readValue(fs, dir, "memory.events")).get("oom_kill") ?? 0;
}

/**
 * One reading of the v2 memory files (memory.current, memory.max,
 * memory.peak (Linux ≥ 5.19), memory.stat, memory.swap.current,
 * memory.events, memory.pressure). v2 memory.stat is hierarchical already.
 * Docker's CLI subtracts inactive_file. Undefined without memory.current.
 */
export function stats(dir: string, fs: CgroupFs): MemoryStats | undefined {
  const usage = readNumber(fs, dir, "memory.current");
  if (usage === undefined) return undefined;
  const stat = Object.fromEntries(parseFlatKeyed(readOptional(fs, dir, "memory.stat") ?? ""));
  const out: MemoryStats = { usage, workingSet: workingSet(usage, stat["inactive_file"]), stat };
  const set = (k: keyof MemoryStats, v: number | undefined) => {
    if (v !== undefined) (out as unknown as Record<string, number>)[k] = v;
  };
  set("limit", parseLimit(readOptional(fs, dir, "memory.max") ?? ""));
  set("maxUsage", readNumber(fs, dir, "memory.peak"));
  set("anon", stat["anon"]);
  set("file", stat["file"]);
  set("activeFile", stat["active_file"]);
  set("inactiveFile", stat["inactive_file"]);
  set("shmem", stat["shmem"]);
  set("slab", stat["slab"]);
  set("swap", readNumber(fs, dir, "memory.swap.current"));
  set("refaults", stat["workingset_refault_file"] ?? stat["workingset_refault"]);
  const events = readOptional(fs, dir, "memory.events");
  if (events !== undefined) set("oomKills", parseFlatKeyed(events).get("oom_kill"));
  const psi = readOptional(fs, dir, "memory.pressure");
  if (psi !== undefined) {
    const p = parsePsi(psi);
    if (p) out.pressure = p;
  }
  return out;
}
