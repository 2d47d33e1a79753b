// A container balloon over its cgroup: memory is taken back in steps while
// the container runs, and the balloon stops as soon as the container shows
// pressure (refaults / major faults on v1, PSI stall on v2) or the kernel
// refuses (v1 EBUSY: nothing more it can reclaim; v2 EAGAIN).
//
// Semantics, like `docker update --memory`: the inflated balloon IS a lowered
// limit (v1 memory.limit_in_bytes, v2 memory.high) and stays in place until
// a higher --target or --deflate, which restores the limit recorded before
// the first inflation (containers/<id>/balloon.json, removed with the container).

import { existsSync, readFileSync, rmSync } from "node:fs";
import { containerPaths } from "../../state/container-store.js";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { TsboxError } from "../../errors.js";
import { writeJsonAtomic } from "../../util/atomic.js";
import { ShapeError, number, object, oneOf, optional, readChecked, type Check } from "../../util/shape.js";
import { PAGE_SIZE } from "../profile.js";
import {
  readMemory, reclaimV2, setHighV2, setLimitV1, type MemoryCgroup, type MemoryReading,
} from "./cgroup-memory.js";

export type StopReason = "target" | "pressure" | "kernel-refused" | "no-progress" | "deflated";

export interface BalloonOptions {
  /** bytes the container should be left with; with `auto`, the working set */
  target?: number;
  auto?: boolean;
  /** bytes per inflation step (default 16 MiB) */
  step?: number;
  /** pause after each step before reading pressure (default 200 ms) */
  settleMs?: number;
  /** pages of refaults + major faults in one step that count as pressure (default 1 % of the step, at least 16) */
  pressurePages?: number;
  /** v2: µs of PSI "some" stall in one step that count as pressure (default 10 ms, Senpai's budget) */
  pressureUs?: number;
}

export interface BalloonReport {
  id: string;
  version: "v1" | "v2";
  target: number;
  before: MemoryReading;
  after: MemoryReading;
  /** usage before − usage after */
  reclaimedBytes: number;
  /** predictReclaimable() at the start, capped by usage − target */
  predictedBytes: number;
  steps: number;
  refaults: number;
  majorFaults: number;
  stoppedBy: StopReason;
  /** the limit left in place (undefined = unlimited) */
  limit?: number;
  elapsedMs: number;
}

/** Is there any swap on the host? Without it anonymous memory cannot be reclaimed. */
export function hostHasSwap(): boolean {
  try {
    return readFileSync("/proc/swaps", "utf8").trim().split("\n").length > 1;
  } catch {
    return false;
  }
}

/**
 * What reclaim can take without hurting: clean page cache first (inactive,
 * then active), then anonymous pages only if there is swap; never below target.
 */
export function predictReclaimable(r: MemoryReading, target: number, swap: boolean): number {
  const reclaimable = r.inactiveFile + r.activeFile + (swap ? r.anon : 0);
  return Math.max(0, Math.min(reclaimable, r.usage - target));
}

const MIB = 1024 * 1024;

/**
 * The auto policy's target: the working set (usage − inactive file) plus
 * headroom (5 %, at least 4 MiB), rounded up to a page. With the limit at the
 * working set exactly, the container's next allocation finds nothing left to
 * reclaim and, without swap, the kernel OOM-kills it (seen on cgroup v1).
 */
export const autoTarget = (r: MemoryReading): number =>
  Math.ceil((r.workingSet + Math.max(4 * MIB, r.workingSet / 20)) / PAGE_SIZE) * PAGE_SIZE;
const pageUp = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/** In the container's own directory, so it goes when the container is removed. */
export const balloonRecordFile = (root: string, id: string): string => join(containerPaths(root, id).dir, "balloon.json");

interface BalloonRecord { version: "v1" | "v2"; limit?: number }
const checkRecord: Check<BalloonRecord> = object({ version: oneOf("v1", "v2"), limit: optional(number) });

function recordOriginal(root: string, id: string, cg: MemoryCgroup, r: MemoryReading): void {
  const file = balloonRecordFile(root, id);
  if (existsSync(file)) return; // keep the limit from before the first inflation
  const rec: BalloonRecord = { version: cg.version, ...(r.limit !== undefined ? { limit: r.limit } : {}) };
  writeJsonAtomic(file, rec, true);
}

/**
 * How much one v2 step asks memory.reclaim for, `distance` above the target.
 * The kernel may take more than asked (measured on Debian 12's 6.1: 14.7 MiB
 * for 10, 6.8 for 4, 1.15 for 1), and what it took cannot be given back, so
 * a step asks for half the distance (each step at most `step`) until the
 * last MiB, which it asks for whole: the overshoot stays a fraction of a MiB
 * instead of several, at the cost of a few more steps.
 */
export function v2Request(distance: number, step: number): number {
  return distance <= MIB ? distance : Math.min(step, pageUp(distance / 2));
}

export async function inflate(root: string, id: string, cg: MemoryCgroup, opts: BalloonOptions): Promise<BalloonReport> {
  const t0 = Date.now();
  const before = readMemory(cg);
  const target = pageUp(opts.auto ? Math.max(opts.target ?? 0, autoTarget(before)) : opts.target ?? autoTarget(before));
  const step = opts.step ?? 16 * MIB;
  const settleMs = opts.settleMs ?? 200;
  const pressurePages = opts.pressurePages ?? Math.max(16, Math.floor(step / PAGE_SIZE / 100));
  const pressureUs = opts.pressureUs ?? 10_000;
  const predictedBytes = predictReclaimable(before, target, hostHasSwap());
  recordOriginal(root, id, cg, before);

  let prev = before;
  let steps = 0;
  let stoppedBy: StopReason = "target";
  let limit = before.limit;
  for (;;) {
    if (prev.usage <= target) break;
    const next = pageUp(Math.max(target, Math.min(prev.usage, limit ?? Infinity) - step));
    let outcome;
    if (cg.version === "v1") {
      outcome = setLimitV1(cg, next);
      if (outcome === "ok") limit = next;
    } else {
      outcome = reclaimV2(cg, v2Request(prev.usage - target, step));
    }
    steps++;
    await sleep(settleMs);
    const now = readMemory(cg);
    const faultPages = now.refaults - prev.refaults + (now.pgmajfault - prev.pgmajfault);
    const stallUs = now.pressureSomeUs !== undefined && prev.pressureSomeUs !== undefined ? now.pressureSomeUs - prev.pressureSomeUs : 0;
    if (faultPages > pressurePages || stallUs > pressureUs) {
      // The last step cut into the working set: give one step back and stop.
      if (cg.version === "v1" && limit !== undefined) {
        limit = pageUp(limit + step);
        setLimitV1(cg, limit);
      }
      stoppedBy = "pressure";
      prev = now;
      break;
    }
    if (outcome !== "ok") { stoppedBy = "kernel-refused"; prev = now; break; }
    if (cg.version === "v2" && prev.usage - now.usage < PAGE_SIZE) { stoppedBy = "no-progress"; prev = now; break; }
    prev = now;
  }
  if (cg.version === "v1" && stoppedBy === "target" && limit !== target) {
    // reached, or a raised --target: the limit is the target itself
    if (setLimitV1(cg, target) === "ok") limit = target;
    else stoppedBy = "kernel-refused"; // grew back above the target meanwhile
  }
  if (cg.version === "v2") {
    // The lowered limit that keeps the balloon inflated.
    limit = pageUp(Math.max(target, prev.usage));
    setHighV2(cg, limit);
  }
  const after = readMemory(cg);
  return {
    id, version: cg.version, target, before, after, reclaimedBytes: before.usage - after.usage, predictedBytes, steps,
    refaults: after.refaults - before.refaults, majorFaults: after.pgmajfault - before.pgmajfault, stoppedBy,
    ...(limit !== undefined ? { limit } : {}), elapsedMs: Date.now() - t0,
  };
}

/** Restores the limit recorded before the first inflation (unlimited if none was set). */
export function deflate(root: string, id: string, cg: MemoryCgroup): { limit?: number } {
  const file = balloonRecordFile(root, id);
  let rec: BalloonRecord;
  try {
    rec = readChecked(file, checkRecord) ?? { version: cg.version };
  } catch (e) {
    if (!(e instanceof ShapeError)) throw e;
    throw new TsboxError(`balloon: ${file} is corrupt (${e.message}): the limit from before is lost; set it with tsbox update --memory`);
  }
  if (cg.version === "v1") setLimitV1(cg, rec.limit ?? "unlimited");
  else setHighV2(cg, rec.limit ?? "max");
  rmSync(file, { force: true });
  return rec.limit !== undefined ? { limit: rec.limit } : {};
}
