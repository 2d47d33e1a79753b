// Row "balloon": targets the prediction does not choose. Real programs
// (bench/real-workloads.ts) that report their own throughput, each holding idle
// clean page cache (a file it read once), and SQLite on a database file through a
// 1 MiB cache (its working set is page cache, re-read all the time). Each is
// ballooned down a fixed schedule of limits, 85 / 70 / 55 / 40 % of its usage
// once loaded, with `tsbox mem balloon NAME --target T` (the tool, which stops on
// pressure or on the kernel's EBUSY). For each target the model's prediction is
// what `tsbox mem simulate --containers NAME --policy balloon` computes, on a host
// sized so that it must bring the container down to T (T / 0.94: it keeps 6 % free),
// with this host's calibrated fault costs (`mem calibrate --quick` first):
// predicted bytes reclaimed and lost throughput. Measured: the container's usage
// once loaded − after the step, and its own reported operations per second over 5 s after the
// step against 5 s before the first. Markdown rows on stdout,
// bench/results/validate-balloon.{json,svg}.
//   npx tsx bench/validate-balloon.ts [--mib 24] [--cache-mib 32] [--window 5]
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { installSignalHandlers, onCleanup, runBenchmark, sh } from "./lib.js";
import { pageCacheScratch, REPO, tsboxSync, type Running } from "./reclaim-harness.js";
import { importDebianImage, missingPrograms, opsLines, opsRate, signedPct, startWorkload, WORKLOADS, type Workload } from "./real-workloads.js";
import { lineChart } from "./svg-chart.js";
import { memoryCgroupOf, readMemory } from "../src/reclaim/kernel/cgroup-memory.js";
import { readState } from "../src/state/container-store.js";
import { scanContainers } from "../src/reclaim/measure/scan.js";
import { hostKsmSettings } from "../src/reclaim/kernel/ksm.js";
import { hostSwapDevices } from "../src/reclaim/kernel/swap.js";
import { hostProfileFile, readHostProfile } from "../src/reclaim/host-profile.js";
import { POLICIES, scenarioFromReport, simulate, withHostProfile, type MemStatNumbers } from "../src/reclaim/model/index.js";

const MIB = 2 ** 20;
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
export const SCHEDULE = [0.85, 0.7, 0.55, 0.4];
const RATE = 1000;

const sqliteFile: Workload = {
  name: "sqlite (file, 1 MiB cache)", program: "python3", reportsThroughput: true,
  argv: (mib, seed, rate, write) => ["python3", "/w/drive.py", "sqlitefile", String(mib), String(seed), String(rate), String(write)],
};

export interface BalloonStep {
  fraction: number;
  targetMiB: number;
  predictedMiB: number;
  predictedLost: number;
  reclaimedMiB: number;
  throughput: number;
  measuredLost: number;
  stoppedBy: string;
  refaults: number;
}
export interface BalloonWorkloadRow { workload: string; usageMiB: number; workingSetMiB: number; baselineOps: number; steps: BalloonStep[] }

async function window(c: Running, seconds: number): Promise<number> {
  const from = opsLines(c);
  const end = Date.now() + (seconds + 5) * 1000;
  while (opsLines(c) < from + seconds + 1 && Date.now() < end) await sleep(100);
  return opsRate(c, seconds);
}

/**
 * The model's answer for bringing the container down to `target` bytes by ballooning alone: what
 * `mem simulate --containers NAME --policy balloon` computes (the same scan, cgroup numbers and
 * calibrated costs), on a host of target / 0.94 (the model reclaims to 6 % free). The library, not
 * the command: the command refuses a container larger than the host, which is the point here.
 */
function predict(root: string, c: Running, target: number): { reclaimed: number; lost: number } {
  const m = readMemory(memoryCgroupOf(readState(root, c.id) ?? { id: c.id }));
  const report = scanContainers([{ id: c.id, name: c.name, pids: c.pids }], { mode: "full", anonymousOnly: true, ksm: hostKsmSettings() });
  const stats = new Map<string, MemStatNumbers>([[c.id, { usage: m.usage, anon: m.anon, file: m.activeFile + m.inactiveFile, inactiveFile: m.inactiveFile }]]);
  const sc0 = scenarioFromReport(report, stats, { hostBytes: m.usage * 4, hostHasSwap: hostSwapDevices().length > 0 });
  const sc = { ...sc0, hostPages: Math.floor(target / 0.94 / 4096), costs: withHostProfile(sc0.costs, readHostProfile(hostProfileFile(root))) };
  const s = simulate(sc, POLICIES.balloon).summary;
  return { reclaimed: s.savedPages.balloon * 4096, lost: s.maxLostThroughput };
}

export async function balloonWorkload(root: string, w: Workload, i: number, o: { mib: number; cacheMiB: number; windowS: number; dataDir: string }): Promise<BalloonWorkloadRow> {
  const cache = join(o.dataDir, `cache-${i}`);
  execFileSync("dd", ["if=/dev/urandom", `of=${cache}`, "bs=1M", `count=${o.cacheMiB}`, "conv=fsync", "status=none"]);
  execFileSync("dd", [`if=${cache}`, "iflag=nocache", "count=0", "status=none"]); // charged to the container that reads it
  const isSqliteFile = w === sqliteFile;
  const name = `balloon-${process.pid}-${i}`;
  const argv = w.argv(o.mib, 21 + i, RATE, 0);
  const c = await startWorkload(root, name, { ...w, argv: () => isSqliteFile ? argv : [...argv, `/data/cache-${i}`] },
    { mib: o.mib, seed: 21 + i, runArgs: ["-v", `${o.dataDir}:/data`] });
  try {
    const cg = memoryCgroupOf(readState(root, c.id) ?? { id: c.id });
    const baseline = await window(c, o.windowS);
    const m0 = readMemory(cg);
    const steps: BalloonStep[] = [];
    // Every target's prediction from the same snapshot, before the first step.
    const preds = SCHEDULE.map((f) => predict(root, c, Math.floor(m0.usage * f / 4096) * 4096));
    for (const [k, fraction] of SCHEDULE.entries()) {
      const target = Math.floor(m0.usage * fraction / 4096) * 4096;
      const pred = preds[k]!;
      const before = readMemory(cg);
      const r = tsboxSync(root, ["mem", "balloon", name, "--target", String(target), "--format", "json"]);
      if (r.code !== 0) throw new Error(`mem balloon: ${r.stderr.trim()}`);
      const rep = JSON.parse(r.stdout) as { stoppedBy: string; refaults: number };
      const rate = await window(c, o.windowS);
      const after = readMemory(cg);
      const step: BalloonStep = {
        fraction, targetMiB: target / MIB, predictedMiB: Math.max(0, pred.reclaimed) / MIB, predictedLost: pred.lost,
        reclaimedMiB: (m0.usage - after.usage) / MIB, throughput: rate / baseline, measuredLost: Math.max(0, 1 - rate / baseline),
        stoppedBy: rep.stoppedBy, refaults: after.refaults - before.refaults,
      };
      steps.push(step);
      process.stderr.write(`${w.name} → ${(fraction * 100).toFixed(0)} % (${step.targetMiB.toFixed(1)} MiB): predicted ${step.predictedMiB.toFixed(1)} MiB, lost ${(pred.lost * 100).toFixed(1)} %; ` +
        `reclaimed ${step.reclaimedMiB.toFixed(1)} MiB, throughput ${(step.throughput * 100).toFixed(1)} %, ${rep.stoppedBy}, refaults ${step.refaults}\n`);
    }
    tsboxSync(root, ["mem", "balloon", name, "--deflate"]);
    return { workload: w.name, usageMiB: m0.usage / MIB, workingSetMiB: m0.workingSet / MIB, baselineOps: baseline, steps };
  } finally {
    await c.stop();
    rmSync(cache, { force: true });
  }
}

export function balloonRows(rows: BalloonWorkloadRow[]): string[] {
  return rows.map((r) => {
    const err = r.steps.filter((s) => s.reclaimedMiB > 0.5).map((s) => (s.predictedMiB - s.reclaimedMiB) / s.reclaimedMiB);
    const worst = err.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0);
    const missed = r.steps.filter((s) => s.reclaimedMiB <= 0.5 && s.predictedMiB > 0.5);
    const errText = missed.length > 0
      ? `the balloon took nothing at ${missed.length} of ${r.steps.length} targets (predicted up to ${Math.max(...missed.map((s) => s.predictedMiB)).toFixed(1)} MiB; stopped by ${missed[0]!.stoppedBy})`
      : `worst ${signedPct(worst)}`;
    return `| balloon | ${r.workload} (${r.usageMiB.toFixed(0)} MiB, working set ${r.workingSetMiB.toFixed(0)}) | balloon | ` +
      `reclaimed MiB / lost throughput at 85, 70, 55, 40 % of usage (\`mem simulate --policy balloon\`) | \`mem balloon --target\`: usage before − after / own ops/s | ` +
      `${r.steps.map((s) => `${s.predictedMiB.toFixed(1)} / ${(s.predictedLost * 100).toFixed(0)} %`).join(", ")} | ` +
      `${r.steps.map((s) => `${s.reclaimedMiB.toFixed(1)} / ${(s.measuredLost * 100).toFixed(0)} %`).join(", ")} | ${errText} |`;
  });
}

if (process.argv[1]?.endsWith("validate-balloon.ts")) {
  await runBenchmark(async () => {
    const o = { mib: arg("--mib", 24), cacheMiB: arg("--cache-mib", 32), windowS: arg("--window", 5), dataDir: "" };
    const missing = missingPrograms();
    if (missing.length > 0) throw new Error(`missing programs: ${missing.join(", ")}`);
    const root = mkdtempSync("/var/tmp/tsbox-bench-balloon-");
    installSignalHandlers(5000);
    onCleanup("state root", () => { sh(["umount", "-R", root], 30_000); rmSync(root, { recursive: true, force: true }); });
    o.dataDir = pageCacheScratch("balloon-data-");
    onCleanup("data", () => { rmSync(o.dataDir, { recursive: true, force: true }); });
    importDebianImage(root);
    // The model charges this host's measured fault costs (a quick calibration in the bench's own root).
    const cal = tsboxSync(root, ["mem", "calibrate", "--quick"]);
    if (cal.code !== 0) process.stderr.write(`mem calibrate --quick failed (${cal.stderr.trim()}): the model charges its default costs\n`);
    const ws = [...WORKLOADS.filter((w) => w.reportsThroughput && w.name !== "sqlite (:memory:)"), sqliteFile];
    const rows: BalloonWorkloadRow[] = [];
    for (const [i, w] of ws.entries()) rows.push(await balloonWorkload(root, w, i, o));
    process.stdout.write(balloonRows(rows).join("\n") + "\n");
    const dir = join(REPO, "bench", "results");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "validate-balloon.json"), JSON.stringify({ at: new Date().toISOString(), ...o, dataDir: undefined, schedule: SCHEDULE, rows }, null, 2) + "\n");
    const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
    writeFileSync(join(dir, "validate-balloon.svg"), lineChart("Balloon down a fixed schedule: reclaimed MiB, predicted (dashed) vs measured", "target (% of usage)", "MiB reclaimed",
      rows.flatMap((r, k) => [
        { name: `${r.workload} predicted`, color: colors[k % colors.length]!, dashed: true, points: r.steps.map((s): [number, number] => [s.fraction * 100, s.predictedMiB]) },
        { name: `${r.workload} measured`, color: colors[k % colors.length]!, points: r.steps.map((s): [number, number] => [s.fraction * 100, s.reclaimedMiB]) },
      ]), 760, 480));
  });
}
