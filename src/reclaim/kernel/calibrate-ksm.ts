// What ksmd's work costs here, in its own CPU time: a worker opts all its
// memory in (PR_SET_MEMORY_MERGE) and holds pages of which half are copies of
// the other half; ksmd runs at the given pages_to_scan / sleep_millisecs. The
// passes after the merging settled give the CPU per page scanned (ksmd's CPU
// time over the host-wide pages_scanned: other KSM users' pages are scanned
// pages too); the passes that merged give the CPU per page merged beyond the
// scanning, over the pages the worker's ksm_merging_pages says were merged
// (its own, whatever other processes merge meanwhile). KSM's settings are
// read first and written back in the end (run last, and never 2: that would
// unmerge every other user's pages); run stays 1 when it was.

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { TsboxError, errnoCode } from "../../errors.js";
import { figureOf, type KsmCalibration } from "../host-profile.js";
import { sleep, Worker, type Cleanup } from "./calibrate-env.js";
import { KSM_DIR, ksmAvailable, processKsm, readKsm } from "./ksm.js";

/** ksmd's pid (a kernel thread named ksmd), or undefined. */
export function ksmdPid(): number | undefined {
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, "utf8").trim() === "ksmd") return Number(e);
    } catch (err) {
      if (errnoCode(err) !== "ENOENT" && errnoCode(err) !== "ESRCH") throw err;
    }
  }
  return undefined;
}

/** ksmd's CPU time, ns: schedstat's first field where the kernel has it (ns), else stat's utime + stime (ticks). */
export function ksmdCpuNs(pid: number): { ns: number; source: "schedstat" | "stat" } {
  try {
    return { ns: Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").trim().split(/\s+/)[0]), source: "schedstat" };
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
  }
  // fields after the ")" of comm: state is field 3, utime 14 and stime 15; USER_HZ is 100 on Linux
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return { ns: (Number(f[11]) + Number(f[12])) * 1e7, source: "stat" };
}

interface Sample { cpu: number; scanned: number; fullScans: number; merging: number }

export interface KsmCalibrationOptions { pages: number; reps: number; pagesToScan: number; sleepMillisecs: number; timeoutMs: number }

export async function calibrateKsm(cleanup: Cleanup, o: KsmCalibrationOptions): Promise<KsmCalibration> {
  const base = { pagesToScan: o.pagesToScan, sleepMillisecs: o.sleepMillisecs };
  if (!ksmAvailable()) return { status: "absent", note: `KSM is not available (${KSM_DIR} is missing): ksmd's costs not measured` };
  const before = readKsm();
  if (before.pages_scanned === undefined) return { status: "absent", note: "the kernel has no pages_scanned counter (before 6.8): ksmd's costs not measured" };
  const pid = ksmdPid();
  if (pid === undefined) return { status: "absent", note: "no ksmd thread found: ksmd's costs not measured" };
  const write = (k: string, v: number): void => writeFileSync(join(KSM_DIR, k), String(v));
  const prev = { pages_to_scan: before.pages_to_scan!, sleep_millisecs: before.sleep_millisecs!, run: before.run === 1 ? 1 : 0 };
  cleanup.push("KSM settings", () => {
    write("pages_to_scan", prev.pages_to_scan);
    write("sleep_millisecs", prev.sleep_millisecs);
    write("run", prev.run);
  });
  write("pages_to_scan", o.pagesToScan);
  write("sleep_millisecs", o.sleepMillisecs);
  write("run", 1);
  const source = ksmdCpuNs(pid).source;
  const scan: number[] = [];
  const merge: number[] = [];
  const loads: number[] = [];
  for (let r = 0; r < o.reps; r++) {
    const w = await Worker.start(cleanup);
    try {
      await w.send({ op: "merge" });
      const sample = (): Sample => {
        const k = readKsm();
        return { cpu: ksmdCpuNs(pid).ns, scanned: k.pages_scanned ?? 0, fullScans: k.full_scans ?? 0, merging: processKsm(w.pid)?.ksm_merging_pages ?? 0 };
      };
      const s0 = sample();
      await w.send({ op: "alloc", pages: o.pages, fill: "pairs" });
      // a page merges on the pass after the one that first saw it unchanged: three full scans, the first partial
      const s1 = await untilScans(sample, s0.fullScans + 3, o.timeoutMs);
      if (s1.merging < o.pages * 0.9) throw new TsboxError(`mem calibrate: KSM merged ${s1.merging} of the worker's ${o.pages} duplicate pages in 3 full scans`);
      const s2 = await untilScans(sample, s1.fullScans + 2, o.timeoutMs);
      const perScan = (s2.cpu - s1.cpu) / Math.max(1, s2.scanned - s1.scanned);
      const merged = s1.merging - s0.merging;
      scan.push(perScan);
      merge.push(Math.max(0, (s1.cpu - s0.cpu - perScan * (s1.scanned - s0.scanned)) / merged));
      loads.push(loadavg()[0]!);
    } finally {
      await w.stop();
    }
  }
  const load1 = Math.round((loads.reduce((a, b) => a + b, 0) / loads.length) * 100) / 100;
  const others = prev.run === 1;
  return {
    status: "measured",
    note: `ksmd at ${o.pagesToScan} pages every ${o.sleepMillisecs} ms on a worker's ${o.pages} pages (half of them copies)${others ? "; other processes were using KSM" : ""}`,
    ...base, cpuSource: source, pages: o.pages, otherUsers: others,
    perPageScanned: figureOf(scan, "cpu", load1),
    perPageMerged: figureOf(merge, "cpu", load1),
  };
}

async function untilScans(sample: () => Sample, fullScans: number, timeoutMs: number): Promise<Sample> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = sample();
    if (s.fullScans >= fullScans) return s;
    if (Date.now() > deadline) throw new TsboxError(`mem calibrate: ksmd did not finish its full scans within ${timeoutMs / 1000} s (other KSM users' pages count too: try a larger --pages-to-scan)`);
    await sleep(20);
  }
}
