// A container's working set measured over a window, not read off one
// snapshot. usage − inactive_file (kubelet's figure) counts every anonymous
// page, touched or not, because the kernel only sorts pages into active and
// inactive when it has to reclaim. Here the processes' page-table accessed
// bits are cleared (/proc/PID/clear_refs) at the start of the window and the
// pages touched again are read back at its end (/proc/PID/smaps Referenced),
// anonymous and mapped file pages apart. Page cache read through read()
// has no page-table bit: the active file list stands for it. Refaults during
// the window (memory.stat workingset_refault_*) are pages the container
// needed after they had been evicted: with any, it is short of memory and
// the estimate is a lower bound; v2's memory.pressure says how much it
// stalled.
//
// How often pages are touched comes from the same bits read at a ladder of
// windows inside the one measured (the bits are cleared once; Referenced
// accumulates): a page first found touched by the reading at w_j, and not
// by the one before, is touched about once per √(w_{j−1}·w_j) (a page
// touched at rate λ is first touched after 1/λ on average); the first
// reading's pages at least once per w_1. The model charges a swapped
// working-set page at that rate.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { errnoCode } from "../../errors.js";
import { PAGE_SIZE } from "../profile.js";
import type { TouchBand } from "../model/scenario.js";
import { parseStat, readMemory, type MemoryCgroup } from "./cgroup-memory.js";

export interface WorkingSetEstimate {
  seconds: number;
  /** anonymous pages the processes touched during the window, bytes */
  referencedAnon: number;
  /** file-backed mapped pages they touched, bytes */
  referencedFile: number;
  /** the active file list at the end (page cache in use, read() included), bytes */
  activeFile: number;
  /** pages evicted earlier and needed again during the window */
  refaultsFile: number;
  refaultsAnon: number;
  /** v2 memory.pressure "some" stall during the window, µs (undefined on v1: no per-cgroup PSI) */
  pressureSomeUs?: number;
  usage: number;
  inactiveFile: number;
  /** usage − inactive_file at the end: the one-snapshot figure, for comparison */
  snapshot: number;
  /** anonymous pages touched + the larger of file pages touched and the active file list, bytes */
  workingSet: number;
  /** refaults or stalls during the window: the container is short of memory, its working set is at least this */
  short: boolean;
  /** anonymous bytes found touched since the start, read at each window of the ladder and at the end */
  ladder: TouchReading[];
  /** the anonymous working set by how often its pages are touched, hottest first (touchBands of the ladder) */
  touches: TouchBand[];
}

/** Anonymous bytes touched since the accessed bits were cleared, read `seconds` after. */
export interface TouchReading { seconds: number; referencedAnon: number }

/** The readings inside the window besides its end, seconds: from the pages a program touches all the time to those it touches every few seconds. */
export const TOUCH_LADDER_SECONDS: readonly number[] = [0.05, 0.2, 1, 5];

/**
 * Working-set pages by how often they are touched, from cumulative readings
 * (ascending windows): the pages first seen at reading j are touched about
 * once per √(w_{j−1}·w_j), those of the first reading at least once per w_1.
 * A reading below the one before (memory freed meanwhile) adds nothing.
 */
export function touchBands(ladder: readonly TouchReading[]): TouchBand[] {
  const out: TouchBand[] = [];
  let seen = 0;
  let prevSeconds = 0;
  for (const r of ladder) {
    const pages = Math.floor(Math.max(0, r.referencedAnon - seen) / PAGE_SIZE);
    if (r.seconds > 0 && pages > 0) out.push({ pages, perSecond: 1 / (prevSeconds > 0 ? Math.sqrt(prevSeconds * r.seconds) : r.seconds) });
    seen = Math.max(seen, r.referencedAnon);
    if (r.seconds > 0) prevSeconds = r.seconds;
  }
  return out;
}

function clearRefs(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "1");
  } catch (e) {
    if (errnoCode(e) !== "ENOENT" && errnoCode(e) !== "ESRCH") throw e; // exited meanwhile
  }
}

/** Referenced bytes of a process's mappings since its bits were cleared: anonymous and file-backed apart. */
export function referencedBytes(smaps: string): { anon: number; file: number } {
  let anon = 0, file = 0, fileBacked = false;
  for (const line of smaps.split("\n")) {
    // a mapping's header: "start-end perms offset dev inode [path]"
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) { fileBacked = head[1] !== "0"; continue; }
    const m = /^Referenced:\s+(\d+) kB$/.exec(line);
    if (m) {
      if (fileBacked) file += Number(m[1]) * 1024;
      else anon += Number(m[1]) * 1024;
    }
  }
  return { anon, file };
}

function readSmaps(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/smaps`, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ESRCH") return "";
    throw e;
  }
}

const anonRefaults = (cg: MemoryCgroup): number => {
  const s = parseStat(cg.fs.readFile(join(cg.dir, "memory.stat")));
  return (cg.version === "v1" ? s.total_workingset_refault_anon : s.workingset_refault_anon) ?? 0;
};

/** Measures the working set of the cgroup's processes over `seconds`. */
export async function estimateWorkingSet(cg: MemoryCgroup, seconds: number): Promise<WorkingSetEstimate> {
  const r0 = readMemory(cg), a0 = anonRefaults(cg);
  const t0 = performance.now();
  for (const pid of cg.pids()) clearRefs(pid);
  const elapsed = (): number => (performance.now() - t0) / 1000;
  const read = (): { anon: number; file: number } => {
    let anon = 0, file = 0;
    for (const pid of cg.pids()) {
      const r = referencedBytes(readSmaps(pid));
      anon += r.anon;
      file += r.file;
    }
    return { anon, file };
  };
  const ladder: TouchReading[] = [];
  for (const w of TOUCH_LADDER_SECONDS.filter((x) => x < seconds)) {
    await sleep(Math.max(0, w - elapsed()) * 1000);
    const r = read();
    // the time the reading ended: a page touched while the processes were read counts, so its window too
    ladder.push({ seconds: elapsed(), referencedAnon: r.anon });
  }
  await sleep(Math.max(0, seconds - elapsed()) * 1000);
  const { anon, file } = read();
  ladder.push({ seconds: elapsed(), referencedAnon: anon });
  const r1 = readMemory(cg), a1 = anonRefaults(cg);
  const refaultsFile = Math.max(0, r1.refaults - r0.refaults), refaultsAnon = Math.max(0, a1 - a0);
  const pressure = r0.pressureSomeUs !== undefined && r1.pressureSomeUs !== undefined ? r1.pressureSomeUs - r0.pressureSomeUs : undefined;
  const ws = anon + Math.max(file, r1.activeFile);
  return {
    seconds: Math.round(performance.now() - t0) / 1000,
    referencedAnon: anon, referencedFile: file, activeFile: r1.activeFile,
    refaultsFile, refaultsAnon, ...(pressure !== undefined ? { pressureSomeUs: pressure } : {}),
    usage: r1.usage, inactiveFile: r1.inactiveFile, snapshot: r1.workingSet,
    workingSet: Math.ceil(ws / PAGE_SIZE) * PAGE_SIZE,
    short: refaultsFile + refaultsAnon > 0 || (pressure ?? 0) > 0,
    ladder, touches: touchBands(ladder),
  };
}
