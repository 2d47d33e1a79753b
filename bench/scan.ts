// Page-scan benchmark (issue 6): full-scan throughput of `tsbox mem scan` on
// a container holding ~1 GiB, in GiB per second of wall time and per CPU
// second (one core), and the sampling mode's accuracy against the full scan.
//
//   npx tsx bench/scan.ts [--mib N] [--seeds N] [--ksmd-only]      (npm run bench:scan builds first)
//   (--ksmd-only: the full scan and ksmd alone, no sampling accuracy; prints, writes no results)
//
// The container runs test/fixtures/memmix.c (compiled here with cc -static):
// 20 % duplicate pages, 10 % zero, 5 % same-filled, 20 % text-like, the rest
// unique random. The peer is the kernel's own scanner: ksmd, unthrottled
// (pages_to_scan 100000, sleep_millisecs 0), on a second container with
// the same pages opted in to KSM (`run --memory-merge`), measured by its CPU
// time (/proc/PID/schedstat) against the pages it scanned (pages_scanned):
// the throughput per core of both. The table also gives the ratio to KSM's
// default rate (100 pages per 20 ms), which is a throttle, not ksmd's speed.
// KSM settings are recorded and restored (tsbox's ksmOn/ksmOff), under the
// host-wide lock the KSM tests use.
// Writes a Markdown table to stdout and bench/results/scan.json.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO, TSBOX_ARGV, installSignalHandlers, mustSh, onCleanup, quantile, runBenchmark, sh } from "./lib.js";
import { holdKsmExclusive } from "./reclaim-harness.js";
import { ksmOff, ksmOn, readKsm } from "../src/reclaim/kernel/ksm.js";

// The parts of src/reclaim/profile.ts's ScanReport read here (bench/ type-checks on its own).
interface CodecProfile { codec: string; le2k: number; le1k: number; incompressible: number }
interface MemoryProfile {
  sampled: number; zero: number; sameFilled: number; duplicateWithin: number; unique: number;
  compression: CodecProfile[]; ci95?: number;
}
interface ScanReport { containers: MemoryProfile[]; elapsedMs: number; bytesAnalysed: number; cpuMs?: number }

const RESULTS = join(REPO, "bench", "results", "scan.json");
const KSM_DEFAULT_BYTES_PER_S = (100 / 0.02) * 4096; // pages_to_scan=100 every sleep_millisecs=20
const GOAL_GIB_PER_CORE = 1;

function option(flag: string, dflt: number): number {
  const i = process.argv.indexOf(flag);
  if (i < 0) return dflt;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer`);
  return n;
}

function tsbox(root: string, args: string[]): string {
  return mustSh([...TSBOX_ARGV, "--root", root, ...args], 600_000);
}

const scan = (root: string, args: string[]): ScanReport => JSON.parse(tsbox(root, ["mem", "scan", "--format", "json", ...args, "benchmem"])) as ScanReport;

/** The fractions the model uses, as percentages of the classified pages (sizes: of the measured data pages). */
function fractions(p: MemoryProfile): Record<string, number> {
  const lz4 = p.compression.find((c) => c.codec === "lz4")!;
  const zstd = p.compression.find((c) => c.codec === "zstd")!;
  const f = (x: number): number => (100 * x) / p.sampled;
  return {
    zero: f(p.zero), sameFilled: f(p.sameFilled), duplicateWithin: f(p.duplicateWithin), unique: f(p.unique),
    lz4Le2k: 100 * lz4.le2k, lz4Le1k: 100 * lz4.le1k, lz4Incompressible: 100 * lz4.incompressible, zstdLe2k: 100 * zstd.le2k,
  };
}

async function startContainer(root: string, bin: string, mib: number, name = "benchmem", merge = false): Promise<ChildProcess> {
  const cli = spawn(TSBOX_ARGV[0]!, [...TSBOX_ARGV.slice(1), "--root", root, "run", "--rm", "--name", name, ...(merge ? ["--memory-merge"] : []),
    "-v", `${bin}:/mm:ro`, "busybox", "/mm/memmix", String(mib), "20", "10", "5", "20", "7", "1"], { stdio: ["ignore", "pipe", "pipe"] });
  onCleanup("stop the container", () => {
    if (cli.exitCode === null) { cli.kill("SIGTERM"); sh(["sh", "-c", `while kill -0 ${cli.pid} 2>/dev/null; do sleep 0.1; done`], 30_000); }
  });
  let out = "";
  cli.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
  cli.stderr!.on("data", (d: Buffer) => { out += d.toString(); });
  const end = Date.now() + 300_000;
  while (!out.includes("ready")) {
    if (cli.exitCode !== null || Date.now() > end) throw new Error(`memmix did not start: ${out.trim()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return cli;
}

function stopContainer(cli: ChildProcess): void {
  if (cli.exitCode === null) { cli.kill("SIGTERM"); sh(["sh", "-c", `while kill -0 ${cli.pid} 2>/dev/null; do sleep 0.1; done`], 30_000); }
}

/** ksmd's time on a CPU so far, ns (first field of /proc/PID/schedstat). */
function ksmdCpuNs(): number {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, "utf8").trim() !== "ksmd") continue;
      return Number(readFileSync(`/proc/${d}/schedstat`, "utf8").split(" ")[0]);
    } catch { /* gone */ }
  }
  throw new Error("no ksmd thread (kernel without CONFIG_KSM?)");
}

interface KsmdRun {
  /** the first two full scans (what KSM needs to merge a new container) and the steady ones after */
  phase: "first two full scans" | "next full scans";
  pagesScanned: number;
  pagesSkipped: number;
  cpuMs: number;
  wallMs: number;
  gibPerCpuS: number;
  loadavg: number;
}

/**
 * Unthrottled ksmd on a container with the same pages, opted in: from run=1 to two more full
 * scans (merging everything there is), then two further full scans (steady state, smart_scan
 * skipping what did not merge). Throughput = pages_scanned × 4 KiB / ksmd's CPU time.
 */
async function measureKsmd(root: string, bin: string, mib: number): Promise<{ runs: KsmdRun[]; otherUsersRunning: boolean; settings: Record<string, number | undefined> } | undefined> {
  if (!existsSync("/sys/kernel/mm/ksm/run")) return undefined;
  const release = await holdKsmExclusive();
  onCleanup("release the KSM lock", release);
  const cli = await startContainer(root, bin, mib, "benchksm", true);
  const before = readKsm();
  const otherUsersRunning = (before.run ?? 0) !== 0;
  const runs: KsmdRun[] = [];
  try {
    ksmOn(root, { pagesToScan: 100_000, sleepMillisecs: 0 });
    const settings = readKsm();
    let f = before.full_scans ?? 0;
    for (const phase of ["first two full scans", "next full scans"] as const) {
      const c0 = readKsm(), cpu0 = ksmdCpuNs(), t0 = Date.now();
      f += 2;
      while ((readKsm().full_scans ?? 0) < f) await sleep(20);
      const c1 = readKsm(), cpuNs = ksmdCpuNs() - cpu0;
      const pages = (c1.pages_scanned ?? 0) - (c0.pages_scanned ?? 0);
      runs.push({
        phase, pagesScanned: pages, pagesSkipped: (c1.pages_skipped ?? 0) - (c0.pages_skipped ?? 0),
        cpuMs: Math.round(cpuNs / 1e6), wallMs: Date.now() - t0, gibPerCpuS: Math.round(((pages * 4096) / 2 ** 30 / (cpuNs / 1e9)) * 100) / 100,
        loadavg: loadavg()[0]!,
      });
    }
    return { runs, otherUsersRunning, settings: { pages_to_scan: settings.pages_to_scan, sleep_millisecs: settings.sleep_millisecs, smart_scan: settings.smart_scan } };
  } finally {
    ksmOff(root);
    stopContainer(cli);
  }
}

async function main(): Promise<void> {
  if (!existsSync(join(REPO, "dist", "tsbox.cjs"))) throw new Error("dist/ is missing: run `npm run build` (or `npm run bench:scan`)");
  if (process.getuid?.() !== 0) throw new Error("needs root");
  installSignalHandlers(10_000);
  const mib = option("--mib", 1024), seeds = option("--seeds", 5);
  const ksmdOnly = process.argv.includes("--ksmd-only");
  const work = mkdtempSync("/var/tmp/tsbox-bench-scan-");
  onCleanup("remove the work dir", () => { sh(["umount", "-R", work]); rmSync(work, { recursive: true, force: true }); });
  const root = join(work, "root");
  const bin = join(work, "bin");
  mkdirSync(bin);
  mustSh(["bash", join(REPO, "scripts", "make-busybox-rootfs.sh"), join(work, "busybox.tar")]);
  tsbox(root, ["import", join(work, "busybox.tar"), "busybox"]);
  mustSh(["cc", "-static", "-O2", "-o", join(bin, "memmix"), join(REPO, "test", "fixtures", "memmix.c")]);
  const load0 = loadavg()[0]!;
  const scanner = await startContainer(root, bin, mib);

  // Throughput: the scan's own clock (pages listed, read, classified and merged; the
  // decompression timing after it is excluded) and its CPU time.
  const runs: Record<string, { wallGiBs: number[]; cpuGiBs: number[]; bytes: number }> = {};
  const modes = [["full", ["--full"]], ["full --compress-all", ["--full", "--compress-all"]], ["sample 10000", ["--sample", "10000"]]] as const;
  for (const [label, args] of ksmdOnly ? modes.slice(0, 1) : modes) {
    const r = (runs[label] = { wallGiBs: [] as number[], cpuGiBs: [] as number[], bytes: 0 });
    for (let i = 0; i < 3; i++) {
      const rep = scan(root, [...args]);
      const gib = rep.bytesAnalysed / 2 ** 30;
      r.bytes = rep.bytesAnalysed;
      r.wallGiBs.push(gib / (rep.elapsedMs / 1000));
      r.cpuGiBs.push(gib / ((rep.cpuMs ?? rep.elapsedMs) / 1000));
    }
  }

  // Accuracy: every page compressed is the reference; sample mode at 1k and 10k pages, several seeds.
  const truth = scan(root, ["--full", "--compress-all"]).containers[0]!;
  const ref = fractions(truth);
  const accuracy: Record<string, { meanAbsErr: Record<string, number>; maxAbsErr: Record<string, number>; meanCi95: number; withinCi: number }> = {};
  for (const n of ksmdOnly ? [] : [1000, 10000]) {
    const errs: Record<string, number[]> = {};
    let ci = 0, within = 0, total = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const p = scan(root, ["--sample", String(n), "--seed", String(seed)]).containers[0]!;
      ci += (p.ci95 ?? 0) / seeds;
      for (const [k, v] of Object.entries(fractions(p))) {
        const e = Math.abs(v - ref[k]!);
        (errs[k] ??= []).push(e);
        total++;
        if (e <= 100 * (p.ci95 ?? 0)) within++;
      }
    }
    const map = (fn: (xs: number[]) => number): Record<string, number> => Object.fromEntries(Object.entries(errs).map(([k, xs]) => [k, Math.round(fn(xs) * 100) / 100]));
    accuracy[String(n)] = {
      meanAbsErr: map((xs) => xs.reduce((s, x) => s + x, 0) / xs.length),
      maxAbsErr: map((xs) => Math.max(...xs)),
      meanCi95: Math.round(ci * 10000) / 100,
      withinCi: Math.round((100 * within) / total),
    };
  }

  const loadScan = loadavg()[0]!;
  // ksmd on the same pages, after the scanner's runs (merging would change what the scanner reads)
  stopContainer(scanner);
  const ksmd = await measureKsmd(root, bin, mib);
  const steady = ksmd?.runs.find((r) => r.phase === "next full scans");
  const first = ksmd?.runs.find((r) => r.phase === "first two full scans");

  const med = (xs: number[]): number => Math.round(quantile(xs, 0.5) * 100) / 100;
  let md = `## mem scan on one container of ${mib} MiB (${(runs.full!.bytes / 2 ** 30).toFixed(2)} GiB present; load average ${load0.toFixed(1)} → ${loadScan.toFixed(1)})\n\n`;
  md += "| mode | GiB/s (wall) | GiB/s per core (CPU time) | × unthrottled ksmd, per core (first two scans / steady) | × KSM's default rate (a throttle) |\n|---|---|---|---|---|\n";
  for (const [label, r] of Object.entries(runs)) {
    const cpu = quantile(r.cpuGiBs, 0.5);
    const vs = (k: KsmdRun | undefined): string => (k ? `${(cpu / k.gibPerCpuS).toFixed(1)}×` : "--");
    md += `| ${label} | ${med(r.wallGiBs)} | ${med(r.cpuGiBs)} | ${vs(first)} / ${vs(steady)} | ${Math.round((cpu * 2 ** 30) / KSM_DEFAULT_BYTES_PER_S)}× |\n`;
  }
  if (ksmd) {
    md += `\nksmd unthrottled (pages_to_scan ${ksmd.settings.pages_to_scan}, sleep_millisecs ${ksmd.settings.sleep_millisecs}, smart_scan ${ksmd.settings.smart_scan})${ksmd.otherUsersRunning ? "; another KSM user had it running" : ""}:\n\n`;
    md += "| phase | pages scanned | pages skipped | ksmd CPU | wall | GiB/s per core | load average |\n|---|---:|---:|---:|---:|---:|---:|\n";
    for (const k of ksmd.runs) md += `| ${k.phase} | ${k.pagesScanned} | ${k.pagesSkipped} | ${k.cpuMs} ms | ${k.wallMs} ms | ${k.gibPerCpuS} | ${k.loadavg.toFixed(1)} |\n`;
  }
  md += `\nGoal ≥ ${GOAL_GIB_PER_CORE} GiB/s per core in full mode: ${quantile(runs.full!.cpuGiBs, 0.5) >= GOAL_GIB_PER_CORE ? "met" : "NOT met"}.\n\n`;
  md += `## Sampling accuracy vs the full scan (absolute error, percentage points; ${seeds} seeds)\n\n`;
  const keys = Object.keys(ref);
  md += `| N | ${keys.join(" | ")} | mean ci95 | errors within ci95 |\n|---|${keys.map(() => "---|").join("")}---|---|\n`;
  for (const [n, a] of Object.entries(accuracy)) {
    md += `| ${n} | ${keys.map((k) => `${a.meanAbsErr[k]} (max ${a.maxAbsErr[k]})`).join(" | ")} | ±${a.meanCi95} | ${a.withinCi} % |\n`;
  }
  md += `\nReference (full, every page compressed): ${keys.map((k) => `${k} ${ref[k]!.toFixed(2)} %`).join(", ")}.\n`;
  process.stdout.write(md);
  if (ksmdOnly) return; // a partial run: the results file keeps the last whole one
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify({
    date: new Date().toISOString(), host: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg(), kernel: release() },
    mib, runs, reference: ref, accuracy, ksmd,
  }, null, 2)}\n`);
}

await runBenchmark(main);
