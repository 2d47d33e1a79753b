// Row "sharing": KSM at the kernel's default rate on running, changing programs
// tsbox does not write. Two containers of each real workload (bench/real-workloads.ts:
// python dict, redis, memcached, sqlite, node, mawk; equal seeds, so replicas of one
// data set), all with --memory-merge; one of each pair keeps overwriting records
// (its pages change under KSM), the other reads. The prediction is `tsbox mem scan
// --anonymous --stable-for SECONDS` (sharablePages, what the "sharing" policy saves),
// taken once before KSM starts: only the pages whose content held over 1.5 ksmd passes
// at the rate below over these pages (ksm-time.ts mergedHoldSeconds, what `--stable-for
// ksm` waits): ksmd merges a page only once its checksum held between two visits, and a
// write breaks it again, so a page merged at a given moment held since the visit before
// its last, on average 1.5 passes; the plain `mem scan --anonymous` figure is
// kept beside it (unfilteredPredicted). The measurement is the containers' own share of KSM's saving
// (their mapped KSM pages − the distinct KSM pages behind them, pagemap +
// kpageflags) once it has settled: ≥ 2 full scans, then until it moves < 1 % over a
// full scan (or --max-s). KSM runs at pages_to_scan 100, sleep_millisecs 20 (if it
// is already on at other settings, the bench refuses: it would change another user's
// scanner). Every tunable changed is restored. Markdown row on stdout,
// bench/results/validate-sharing.{json,svg}.
//   npx tsx bench/validate-sharing.ts [--mib 16] [--max-s 600] [--idle] [--running-for S]
// (--idle: every container idles once loaded, the same programs without the changes;
// --running-for S: the containers run S seconds once all are ready before the prediction,
// so both sides see programs past their start-up)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { installSignalHandlers, onCleanup, runBenchmark, sh } from "./lib.js";
import { holdKsmExclusive, REPO, type Running } from "./reclaim-harness.js";
import { importDebianImage, memScan, missingPrograms, relErr, signedPct, startWorkload, WORKLOADS, type Workload } from "./real-workloads.js";
import { lineChart } from "./svg-chart.js";
import type { ScanReport } from "../src/reclaim/profile.js";
import { ksmMerged } from "../src/reclaim/kernel/anon-pages.js";
import { ksmAvailable, ksmOff, ksmOn, readKsm } from "../src/reclaim/kernel/ksm.js";
import { kernelJiffyMs, trackedPages } from "../src/reclaim/kernel/ksm-rate.js";
import { DEFAULT_KSM_RATE, mergedHoldSeconds } from "../src/reclaim/model/ksm-time.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const DEFAULT_RATE = { pagesToScan: 100, sleepMillisecs: 20 };

export interface SharingResult {
  containers: { name: string; workload: string; writer: boolean }[];
  predictedSaved: number;
  /** the window of the prediction's stability filter: 1.5 ksmd passes at DEFAULT_RATE over the containers' anonymous pages (+ pages KSM tracked already) */
  stableForSeconds: number;
  /** the scan's three looks: the sharing at each instant and of the pages held since the first, and the level the held sharing settles at (the prediction) */
  stableLooks: ScanReport["stableLooks"];
  /** the same scan without the filter (every page's content at one instant) */
  unfilteredPredicted: number;
  predictedByKind: { duplicate: number; sameFilled: number; zero: number } | undefined;
  anonPagesScanned: number;
  measuredSaved: number;
  /** measured saved at each full scan after KSM came on: [seconds, pages] */
  series: [number, number][];
  error: number;
  seconds: number;
  fullScans: number;
  ksmWasOn: boolean;
  idle: boolean;
  /** seconds the containers ran, once all were ready, before the prediction (--running-for) */
  runningForSeconds: number;
  /**
   * A diagnostic per program (its two containers): the scan's mergeable copies (zero + within +
   * across; zero pages are one content host-wide, so the sum over programs exceeds the total) and
   * the pages KSM merged, mapped KSM pages − the distinct KSM pages behind them among these two.
   */
  byWorkload: { workload: string; predictedMergeable: number; unfilteredMergeable: number; changed: number; measuredMerging: number; measuredSaved: number }[];
}

export async function validateSharing(root: string, mib: number, maxS: number, idle = false, workloads: readonly Workload[] = WORKLOADS, runningS = 0): Promise<SharingResult> {
  const started: Running[] = [];
  const containers: SharingResult["containers"] = [];
  const k0 = readKsm();
  if ((k0.run ?? 0) !== 0 && (k0.pages_to_scan !== DEFAULT_RATE.pagesToScan || k0.sleep_millisecs !== DEFAULT_RATE.sleepMillisecs)) {
    throw new Error(`KSM is on at another user's settings (pages_to_scan ${k0.pages_to_scan}, sleep_millisecs ${k0.sleep_millisecs}): not the default rate, and not ours to change`);
  }
  const ksmWasOn = (k0.run ?? 0) !== 0;
  try {
    for (const w of workloads) {
      for (const writer of [false, true]) {
        const name = `share-${process.pid}-${started.length}`;
        started.push(await startWorkload(root, name, w, { mib, seed: 7, rate: idle ? 0 : writer ? 1000 : 200, write: writer && !idle ? 0.2 : 0, runArgs: ["--memory-merge"] }));
        containers.push({ name, workload: w.name, writer: writer && !idle && w.reportsThroughput });
      }
    }
    // --running-for: the programs run that long before anything is measured, past their start-up
    if (runningS > 0) await sleep(runningS * 1000);
    const names = started.map((c) => c.name);
    const plain = memScan(root, names, ["--anonymous"]);
    const anonPages = plain.containers.reduce((s, c) => s + c.present, 0);
    const stableFor = Math.ceil(mergedHoldSeconds(anonPages + (ksmWasOn ? trackedPages() : 0), { ...DEFAULT_KSM_RATE, ...DEFAULT_RATE, jiffyMs: kernelJiffyMs() }));
    process.stderr.write(`sharing: unfiltered prediction ${plain.sharablePages}; sampling again after 1.5 passes (${stableFor} s)\n`);
    const scan = memScan(root, names, ["--anonymous", "--stable-for", `${stableFor}s`]);
    process.stderr.write(`sharing: looks ${JSON.stringify(scan.stableLooks)}\n`);
    // KSM must not have touched these pages yet (a merged page is no longer exclusively
    // anonymous, so the scan would miss it): another user turning KSM on meanwhile spoils the row
    const early = ksmMerged(started.flatMap((c) => c.pids()));
    const k1 = readKsm();
    if (!ksmWasOn && (early.merging > 0 || (k1.run ?? 0) !== 0)) {
      throw new Error(`KSM was turned on by another user while the prediction was taken (run ${k1.run}, pages_to_scan ${k1.pages_to_scan}; ${early.merging} of these containers' pages merged): rerun when KSM is free`);
    }
    const t0 = Date.now();
    const series: [number, number][] = [];
    const pids = (): number[] => started.flatMap((c) => c.pids());
    try {
      if (!ksmWasOn) ksmOn(root, DEFAULT_RATE);
      const f0 = readKsm().full_scans ?? 0;
      let prev = -1, measured = 0, fullScans = 0;
      for (let f = f0 + 1; ; f++) {
        while ((readKsm().full_scans ?? 0) < f) {
          if (Date.now() - t0 > maxS * 1000) break;
          await sleep(250);
        }
        const m = ksmMerged(pids());
        measured = m.merging - m.kpages;
        fullScans = (readKsm().full_scans ?? 0) - f0;
        series.push([(Date.now() - t0) / 1000, measured]);
        process.stderr.write(`sharing: ${series.at(-1)![0].toFixed(0)} s, full scans ${fullScans}, saved ${measured} (predicted ${scan.sharablePages})\n`);
        if (Date.now() - t0 > maxS * 1000) break;
        if (fullScans >= 2 && prev > 0 && Math.abs(measured - prev) / prev < 0.01) break;
        prev = measured;
      }
      const byWorkload = [...new Set(containers.map((c) => c.workload))].map((workload) => {
        const mine = started.filter((_, i) => containers[i]!.workload === workload);
        const m = ksmMerged(mine.flatMap((c) => c.pids()));
        const mergeable = (r: typeof scan, k: "copies" | "changed"): number => r.containers.filter((p) => mine.some((c) => c.name === p.name))
          .reduce((n, p) => n + (p.mergeable ? (k === "changed" ? p.mergeable.changed ?? 0 : p.mergeable.zero + p.mergeable.within + p.mergeable.across) : 0), 0);
        return {
          workload, predictedMergeable: mergeable(scan, "copies"), unfilteredMergeable: mergeable(plain, "copies"), changed: mergeable(scan, "changed"),
          measuredMerging: m.merging, measuredSaved: m.merging - m.kpages,
        };
      });
      process.stderr.write(byWorkload.map((b) => `  ${b.workload}: scan mergeable ${b.predictedMergeable} (unfiltered ${b.unfilteredMergeable}, ${b.changed} changed), KSM merging ${b.measuredMerging}, saved ${b.measuredSaved}\n`).join(""));
      return {
        byWorkload, containers, predictedSaved: scan.sharablePages, stableLooks: scan.stableLooks, stableForSeconds: scan.stableForSeconds ?? stableFor, unfilteredPredicted: plain.sharablePages, predictedByKind: scan.sharable,
        anonPagesScanned: scan.containers.reduce((s, c) => s + c.present, 0), measuredSaved: measured, series,
        error: relErr(scan.sharablePages, measured), seconds: (Date.now() - t0) / 1000, fullScans, ksmWasOn, idle, runningForSeconds: runningS,
      };
    } finally {
      if (!ksmWasOn) ksmOff(root);
    }
  } finally {
    await Promise.all(started.map((c) => c.stop()));
  }
}

export function sharingRow(r: SharingResult): string {
  return `| sharing | ${r.containers.length} containers: ${[...new Set(r.containers.map((c) => c.workload))].join(", ")} (2 each, ${r.idle ? "idle once loaded" : "one writing 20 % of 1000 ops/s, one reading 200 ops/s"}${r.runningForSeconds > 0 ? `; measured once they have run ${r.runningForSeconds} s` : ""}) | sharing | ` +
    `KSM saved pages, \`mem scan --anonymous --stable-for\` 1.5 passes (${r.stableForSeconds.toFixed(0)} s) before KSM, held ${r.stableLooks?.held[2] ?? "--"}, less the held sharing's fall at its three looks (${r.stableLooks?.held.join(" / ") ?? "--"}; every page: ${r.stableLooks?.instant.join(" / ") ?? "--"}) carried to its limit (unfiltered: ${r.unfilteredPredicted}) | containers' own share after ${r.fullScans} full scans at 100 pages / 20 ms (${r.seconds.toFixed(0)} s) | ` +
    `${r.predictedSaved} | ${r.measuredSaved} | ${signedPct(r.error)} |`;
}

if (process.argv[1]?.endsWith("validate-sharing.ts")) {
  await runBenchmark(async () => {
    const mib = arg("--mib", 16), maxS = arg("--max-s", 600), runningS = arg("--running-for", 0);
    if (!ksmAvailable()) throw new Error("this kernel has no KSM (/sys/kernel/mm/ksm)");
    const missing = missingPrograms();
    if (missing.length > 0) throw new Error(`missing programs: ${missing.join(", ")}`);
    const root = mkdtempSync("/var/tmp/tsbox-bench-sharing-");
    installSignalHandlers(5000);
    onCleanup("KSM lock", await holdKsmExclusive());
    onCleanup("state root", () => { sh(["umount", "-R", root], 30_000); rmSync(root, { recursive: true, force: true }); });
    onCleanup("KSM settings", () => { ksmOff(root); });
    importDebianImage(root);
    const idle = process.argv.includes("--idle");
    const r = await validateSharing(root, mib, maxS, idle, WORKLOADS, runningS);
    process.stdout.write(sharingRow(r) + "\n");
    const dir = join(REPO, "bench", "results");
    mkdirSync(dir, { recursive: true });
    const base = `validate-sharing${idle ? "-idle" : ""}${runningS > 0 ? "-running" : ""}`;
    writeFileSync(join(dir, `${base}.json`), JSON.stringify({ at: new Date().toISOString(), mib, ...r }, null, 2) + "\n");
    const end = r.series.at(-1)?.[0] ?? 1;
    writeFileSync(join(dir, `${base}.svg`), lineChart("KSM at its default rate on 12 real programs: pages saved over time", "seconds since KSM on", "pages saved",
      [{ name: "predicted (mem scan --anonymous --stable-for 1.5 passes, before KSM)", color: "#1f77b4", dashed: true, points: [[0, r.predictedSaved], [end, r.predictedSaved]] },
       { name: "measured (containers' share, per full scan)", color: "#d62728", points: r.series }]));
  });
}
