// `tsbox mem calibrate`: measures on this host, with the kernel's own
// mechanisms, what the memory model charges for a fault (a file refault, a
// swap-in, a decompression) and what ksmd's work costs, and returns them as a
// HostProfile (src/reclaim/host-profile.ts). The refault and swap parts share
// one memory cgroup of the calibration's own; KSM's part restores its settings
// as soon as it is done. Nothing is left behind: workers, cgroup, zram device,
// swap, temp files and KSM settings are undone in `finally` and on a signal.

import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { TsboxError, errnoCode } from "../../errors.js";
import { createCgroup, detectHierarchy, type Cgroup } from "../../cgroupfs/index.js";
import { removeEmptyParents } from "../../cgroupfs/cgroup.js";
import { HOST_PROFILE_VERSION, type HostProfile } from "../host-profile.js";
import { MemoryDir, Worker, withCleanup } from "./calibrate-env.js";
import { calibrateKsm } from "./calibrate-ksm.js";
import { calibrateRefault } from "./calibrate-refault.js";
import { calibrateSwap } from "./calibrate-swap.js";

export interface CalibrateOptions {
  /** fewer and smaller repetitions (seconds instead of about a minute) */
  quick: boolean;
  /** ksmd's rate during its part */
  pagesToScan: number;
  sleepMillisecs: number;
  /** leave ksmd alone: its part changes host-wide KSM settings, which another KSM user may be measuring with */
  skipKsm?: boolean;
  /** where the temp files go (a directory under the state root) */
  scratchDir: string;
  /** progress lines (stderr) */
  progress?: (line: string) => void;
}

const PARENT = "tsbox";

/** Blocks for `ms` (the cleanup runs in signal handlers too, so it cannot await). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** rmdir the cgroup's directories, waiting for killed workers to leave (EBUSY), then the parents it made. */
function removeCgroup(cg: Cgroup): void {
  for (const dir of cg.dirs) {
    for (let waited = 0; ; waited += 10) {
      try {
        rmdirSync(dir);
        break;
      } catch (e) {
        const code = errnoCode(e);
        if (code === "ENOENT") break;
        if (code !== "EBUSY" || waited > 5_000) throw e;
        pause(10);
      }
    }
  }
  removeEmptyParents(cg.createdParents);
}

const round2 = (xs: number[]): number[] => xs.map((x) => Math.round(x * 100) / 100);

export async function calibrateHost(o: CalibrateOptions): Promise<HostProfile> {
  const say = o.progress ?? ((): void => {});
  const loadBefore = round2(loadavg());
  const h = detectHierarchy();
  const size = o.quick ? { pages: 2048, reps: 3, ksmPages: 2048, ksmReps: 2 } : { pages: 8192, reps: 7, ksmPages: 8192, ksmReps: 5 };
  const { fileRefault, swap } = await withCleanup(async (c) => {
    mkdirSync(o.scratchDir, { recursive: true });
    const tmp = mkdtempSync(join(o.scratchDir, "calibrate-"));
    c.push(`temp dir ${tmp}`, () => rmSync(tmp, { recursive: true, force: true }));
    const cg = createCgroup(h, `calibrate-${process.pid}`, { parent: PARENT });
    c.push(`cgroup ${cg.path}`, () => removeCgroup(cg));
    const memDir = cg.controllerDir("memory");
    if (memDir === undefined) throw new TsboxError("mem calibrate: the memory cgroup controller is not mounted");
    const mem = new MemoryDir(h.version, memDir);
    say("file refaults");
    const w = await Worker.start(c);
    cg.addProcess(w.pid);
    let refault: HostProfile["fileRefault"];
    try {
      refault = await calibrateRefault(w, mem, tmp, size.pages, size.reps);
    } finally {
      await w.stop();
    }
    say("swap-in and decompression");
    return { fileRefault: refault, swap: await calibrateSwap(c, (x) => cg.addProcess(x.pid), mem, size.pages, size.reps) };
  });
  let ksm: HostProfile["ksm"] = { status: "absent", note: "not measured (--no-ksm): ksmd's settings were left alone" };
  if (!o.skipKsm) {
    say("ksmd");
    ksm = await withCleanup((c) => calibrateKsm(c, {
      pages: size.ksmPages, reps: size.ksmReps, pagesToScan: o.pagesToScan, sleepMillisecs: o.sleepMillisecs, timeoutMs: 120_000,
    }));
  }
  return {
    version: HOST_PROFILE_VERSION,
    measuredAt: new Date().toISOString(),
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    cgroup: h.version,
    cpus: cpus().length,
    quick: o.quick,
    loadBefore,
    loadAfter: round2(loadavg()),
    fileRefault,
    swap,
    ksm,
  };
}
