// Page-scan benchmark (issue 6): full-scan throughput of `tsbox mem scan` on
// a container holding ~1 GiB, in GiB per second of wall time and per CPU
// second (one core), and the sampling mode's accuracy against the full scan.
//
//   npx tsx bench/scan.ts [--mib N] [--seeds N]      (npm run bench:scan builds first)
//
// The container runs test/fixtures/memmix.c (compiled here with cc -static):
// 20 % duplicate pages, 10 % zero, 5 % same-filled, 20 % text-like, the rest
// unique random. There is no peer tool to run side by side; for scale the
// table gives the ratio to KSM's default scan rate (100 pages per 20 ms).
// Writes a Markdown table to stdout and bench/results/scan.json.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { dirname, join } from "node:path";
import { REPO, TSBOX_ARGV, installSignalHandlers, mustSh, onCleanup, quantile, runBenchmark, sh } from "./lib.js";

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

async function startContainer(root: string, bin: string, mib: number): Promise<ChildProcess> {
  const cli = spawn(TSBOX_ARGV[0]!, [...TSBOX_ARGV.slice(1), "--root", root, "run", "--rm", "--name", "benchmem", "-v", `${bin}:/mm:ro`,
    "busybox", "/mm/memmix", String(mib), "20", "10", "5", "20", "7", "1"], { stdio: ["ignore", "pipe", "pipe"] });
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

async function main(): Promise<void> {
  if (!existsSync(join(REPO, "dist", "tsbox.cjs"))) throw new Error("dist/ is missing: run `npm run build` (or `npm run bench:scan`)");
  if (process.getuid?.() !== 0) throw new Error("needs root");
  installSignalHandlers(10_000);
  const mib = option("--mib", 1024), seeds = option("--seeds", 5);
  const work = mkdtempSync("/var/tmp/tsbox-bench-scan-");
  onCleanup("remove the work dir", () => { sh(["umount", "-R", work]); rmSync(work, { recursive: true, force: true }); });
  const root = join(work, "root");
  const bin = join(work, "bin");
  mkdirSync(bin);
  mustSh(["bash", join(REPO, "scripts", "make-busybox-rootfs.sh"), join(work, "busybox.tar")]);
  tsbox(root, ["import", join(work, "busybox.tar"), "busybox"]);
  mustSh(["cc", "-static", "-O2", "-o", join(bin, "memmix"), join(REPO, "test", "fixtures", "memmix.c")]);
  await startContainer(root, bin, mib);

  // Throughput: the scan's own clock (pages listed, read, classified and merged; the
  // decompression timing after it is excluded) and its CPU time.
  const runs: Record<string, { wallGiBs: number[]; cpuGiBs: number[]; bytes: number }> = {};
  for (const [label, args] of [["full", ["--full"]], ["full --compress-all", ["--full", "--compress-all"]], ["sample 10000", ["--sample", "10000"]]] as const) {
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
  for (const n of [1000, 10000]) {
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

  const med = (xs: number[]): number => Math.round(quantile(xs, 0.5) * 100) / 100;
  let md = `## mem scan on one container of ${mib} MiB (${(runs.full!.bytes / 2 ** 30).toFixed(2)} GiB present)\n\n`;
  md += "| mode | GiB/s (wall) | GiB/s per core (CPU time) | × KSM default rate |\n|---|---|---|---|\n";
  for (const [label, r] of Object.entries(runs)) {
    md += `| ${label} | ${med(r.wallGiBs)} | ${med(r.cpuGiBs)} | ${Math.round((quantile(r.cpuGiBs, 0.5) * 2 ** 30) / KSM_DEFAULT_BYTES_PER_S)}× |\n`;
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
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify({
    date: new Date().toISOString(), host: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg(), kernel: release() },
    mib, runs, reference: ref, accuracy,
  }, null, 2)}\n`);
}

await runBenchmark(main);
