// A container's memory cgroup as the balloon needs it: where it is, what it
// holds (v1 memory.stat total_* / v2 memory.stat), and the two knobs, limit
// and reclaim. Cgroup.stats() (src/cgroupfs) gives the general reading; this
// module keeps to the few numbers the balloon compares step by step. Every
// file goes through cgroupfs: its file operations (the fixture tests' seam)
// and, for the writes, its memory controller modules.

import { join } from "node:path";
import { TsboxError, errnoCode } from "../../errors.js";
import {
  detectHierarchy, nodeCgroupFs, reclaimV2 as writeReclaim, setHighV2 as writeHigh, setLimitV1 as writeLimit,
  type CgroupFs, type CgroupOptions, type Hierarchy,
} from "../../cgroupfs/index.js";
import { containerCgroup } from "../../state/container-cgroup.js";
import type { ContainerState } from "../../state/container-store.js";

export interface MemoryCgroup {
  version: "v1" | "v2";
  dir: string;
  /** the file operations the cgroup code uses (tests: a fixture) */
  fs: CgroupFs;
  /** every pid in the container's cgroup (any hierarchy) */
  pids(): number[];
}

/** The memory cgroup of a container, under the parent it was created with (state.cgroupParent). */
export function memoryCgroupOf(
  state: Pick<ContainerState, "id" | "cgroupParent">, h: Hierarchy = detectHierarchy(), opts?: Pick<CgroupOptions, "root" | "fs">,
): MemoryCgroup {
  const cg = containerCgroup(h, state, opts);
  const dir = cg.controllerDir("memory");
  if (dir === undefined) throw new TsboxError("the memory cgroup controller is not mounted");
  return { version: h.version, dir, fs: opts?.fs ?? nodeCgroupFs, pids: () => cg.pids() };
}

export interface MemoryReading {
  at: number;
  usage: number;
  /** undefined = unlimited */
  limit?: number;
  anon: number;
  activeFile: number;
  inactiveFile: number;
  /** usage − inactive_file, floored at 0 (kubelet's working set) */
  workingSet: number;
  /** file refaults (workingset_refault_file, or workingset_refault on kernels with one counter) */
  refaults: number;
  pgmajfault: number;
  /** v1 memory.failcnt */
  failcnt?: number;
  /** v2 memory.pressure "some" total, µs */
  pressureSomeUs?: number;
}

const UNLIMITED_V1 = 2 ** 62; // the kernel prints PAGE_COUNTER_MAX × 4096 ≈ 9.2e18

function num(fs: CgroupFs, file: string): number {
  return Number(fs.readFile(file).trim());
}

export function parseStat(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [k, v] = line.split(" ");
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

export function readMemory(cg: MemoryCgroup): MemoryReading {
  try {
    const stat = parseStat(cg.fs.readFile(join(cg.dir, "memory.stat")));
    if (cg.version === "v1") {
      const usage = num(cg.fs, join(cg.dir, "memory.usage_in_bytes"));
      const limit = num(cg.fs, join(cg.dir, "memory.limit_in_bytes"));
      const inactiveFile = stat.total_inactive_file ?? 0;
      return {
        at: Date.now(), usage, ...(limit < UNLIMITED_V1 ? { limit } : {}),
        anon: stat.total_rss ?? 0, activeFile: stat.total_active_file ?? 0, inactiveFile,
        workingSet: Math.max(0, usage - inactiveFile),
        refaults: stat.total_workingset_refault_file ?? stat.total_workingset_refault ?? stat.workingset_refault_file ?? 0,
        pgmajfault: stat.total_pgmajfault ?? 0,
        failcnt: num(cg.fs, join(cg.dir, "memory.failcnt")),
      };
    }
    const usage = num(cg.fs, join(cg.dir, "memory.current"));
    const max = cg.fs.readFile(join(cg.dir, "memory.high")).trim();
    const inactiveFile = stat.inactive_file ?? 0;
    let pressureSomeUs: number | undefined;
    try {
      const m = /some .*total=(\d+)/.exec(cg.fs.readFile(join(cg.dir, "memory.pressure")));
      if (m) pressureSomeUs = Number(m[1]);
    } catch {
      // kernel without PSI
    }
    return {
      at: Date.now(), usage, ...(max !== "max" ? { limit: Number(max) } : {}),
      anon: stat.anon ?? 0, activeFile: stat.active_file ?? 0, inactiveFile,
      workingSet: Math.max(0, usage - inactiveFile),
      refaults: stat.workingset_refault_file ?? stat.workingset_refault ?? 0,
      pgmajfault: stat.pgmajfault ?? 0,
      ...(pressureSomeUs !== undefined ? { pressureSomeUs } : {}),
    };
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new TsboxError(`memory cgroup ${cg.dir} is gone (container stopped?)`, 125, { cause: e });
    throw e;
  }
}

/** Outcome of one write the kernel may refuse or only partly honour. */
export type WriteOutcome = "ok" | "busy" | "partial";

/** v1: memory.limit_in_bytes; EBUSY = the kernel could not reclaim down to it (the limit is unchanged). */
export function setLimitV1(cg: MemoryCgroup, bytes: number | "unlimited"): WriteOutcome {
  return writeLimit(cg.dir, cg.fs, bytes);
}

/** v2: memory.reclaim; EAGAIN = reclaimed less than asked. */
export function reclaimV2(cg: MemoryCgroup, bytes: number): WriteOutcome {
  return writeReclaim(cg.dir, cg.fs, bytes);
}

/** v2: memory.high (the throttle limit the balloon leaves in place). */
export function setHighV2(cg: MemoryCgroup, bytes: number | "max"): void {
  writeHigh(cg.dir, cg.fs, bytes);
}
