// Row "density": end to end, real programs (bench/real-workloads.ts) started one
// by one into a memory budget (a parent cgroup of our own with that limit, given
// to `run --cgroup-parent`), in turn python dict, redis, memcached, sqlite, node,
// each loading --mib of records (equal seeds: replicas) and then doing --rate
// operations a second on random keys, 5 % of them overwrites, reporting its own
// operations per second. A count fits when every running container keeps ≥ 95 %
// of its rate over the window and none is OOM-killed or fails to load.
// Configurations and the policy each is compared with, as named:
//   plain      → none
//   KSM        → sharing   (--memory-merge; ksmd fast while a container loads,
//                           at the kernel's default 100 pages / 20 ms while measured)
//   zram swap  → swap      (a zram device of our own as swap, the host's compressor:
//                           the kernel swaps under the budget instead of OOM-killing; the
//                           device's own memory, mem_used_total, is taken off the budget's
//                           limit every 200 ms, since the cgroup is not charged for it)
// Prediction: `tsbox mem simulate --containers` on the first five containers (one
// of each program), the budget as host memory, with this host's calibrated costs
// (`mem calibrate --quick` first): density.guestsThatFit for the policy (the
// scenario's guests repeated in turn, as they are started here). none and sharing
// from the plain run (without swap), swap from the zram run (its device on). Markdown rows on stdout,
// bench/results/validate-density.{json,svg}.
// A run of some configurations (--configs) keeps the other rows of the last run
// with the same parameters in the JSON and the chart.
//   npx tsx bench/validate-density.ts [--budget-mib 256] [--mib 16] [--rate 500] [--window 5] [--max 40] [--configs plain,ksm,zramswap]
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { installSignalHandlers, onCleanup, runBenchmark, sh } from "./lib.js";
import { holdKsmExclusive, REPO, tsboxSync, type Running } from "./reclaim-harness.js";
import { importDebianImage, missingPrograms, opsLines, opsRate, signedPct, startWorkload, WORKLOADS } from "./real-workloads.js";
import { hostCompressor, zramSwap } from "./validate-swap.js";
import { lineChart } from "./svg-chart.js";
import { ksmMerged } from "../src/reclaim/kernel/anon-pages.js";
import { ksmAvailable, ksmOff, ksmOn, readKsm } from "../src/reclaim/kernel/ksm.js";
import { readMmStat } from "../src/reclaim/kernel/zram.js";
import { detectHierarchy } from "../src/cgroupfs/index.js";

const MIB = 2 ** 20;
const SLOWDOWN = 0.05;
const WORKINGSET_S = 10;
const KSM_DEFAULT = { pagesToScan: 100, sleepMillisecs: 20 };
const KSM_FAST = { pagesToScan: 20_000, sleepMillisecs: 10 };
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const MIX = WORKLOADS.filter((w) => w.reportsThroughput);

interface Budget { name: string; usage(): number; setLimit(bytes: number): void; remove(): void }

function makeBudget(bytes: number, tag: string): Budget {
  const h = detectHierarchy();
  const v1 = h.version === "v1";
  const name = `tsbox-vdensity-${process.pid}-${tag}`;
  const memDir = join(v1 ? h.mounts.get("memory")! : h.mounts.get("cgroup2")!, name);
  mkdirSync(memDir);
  writeFileSync(join(memDir, v1 ? "memory.limit_in_bytes" : "memory.max"), String(bytes));
  const remove = (): void => {
    const mounts = v1 ? [...new Set(h.mounts.values())] : [h.mounts.get("cgroup2")!];
    for (const m of mounts) { try { rmdirSync(join(m, name)); } catch { /* absent or gone */ } }
  };
  onCleanup(`budget cgroup ${name}`, remove);
  return {
    name, usage: () => Number(readFileSync(join(memDir, v1 ? "memory.usage_in_bytes" : "memory.current"), "utf8")),
    setLimit: (b) => { try { writeFileSync(join(memDir, v1 ? "memory.limit_in_bytes" : "memory.max"), String(b)); } catch { /* EBUSY: the next tick retries */ } },
    remove,
  };
}

interface Config { name: string; policy: "none" | "sharing" | "swap"; ksm: boolean; zram: boolean }
const CONFIGS: Config[] = [
  { name: "plain", policy: "none", ksm: false, zram: false },
  { name: "KSM", policy: "sharing", ksm: true, zram: false },
  { name: "zram swap", policy: "swap", ksm: false, zram: true },
];

interface Step { k: number; usageMiB: number; zramMiB?: number; alive: boolean; throughput: number[]; minThroughput: number }
interface Fill { config: string; policy: string; fit: number; stop: string; steps: Step[] }
interface Params { budget: number; mib: number; rate: number; windowS: number; max: number }

function simulateFit(root: string, names: string[], budget: number): Record<string, number> {
  // the working set and how often its pages are touched, measured over a window: what swap costs
  const r = tsboxSync(root, ["mem", "simulate", ...names.flatMap((n) => ["--containers", n]), "--workingset-for", `${WORKINGSET_S}s`, "--host-memory", String(budget), "--budget", `${SLOWDOWN * 100}%`, "--format", "json"]);
  if (r.code !== 0) throw new Error(`mem simulate: ${r.stderr.trim()}`);
  return (JSON.parse(r.stdout) as { density: { guestsThatFit: Record<string, number> } }).density.guestsThatFit;
}

async function settleKsm(running: Running[]): Promise<void> {
  let prev = -1;
  for (let i = 0; i < 20; i++) {
    const f = readKsm().full_scans ?? 0;
    while ((readKsm().full_scans ?? 0) < f + 1) await sleep(100);
    const m = ksmMerged(running.flatMap((r) => r.pids())).merging;
    if (m === prev) return;
    prev = m;
  }
}

async function fill(root: string, cfg: Config, p: Params, onFive?: (names: string[]) => void): Promise<Fill> {
  const budget = makeBudget(p.budget, cfg.name.replace(/\W+/g, "").toLowerCase());
  const running: Running[] = [];
  const steps: Step[] = [];
  let fit = 0, stop = `reached --max ${p.max}`;
  const swap = cfg.zram ? zramSwap(p.budget * 4, hostCompressor()) : undefined;
  // zram's compressed pages are host memory the cgroup is not charged for: the budget stands for the
  // host's RAM, so the containers' limit is the budget less what the device holds (mem_used_total).
  const zramOf = (): number => (swap ? readMmStat(swap.dev).memUsedTotal : 0);
  const follow = swap ? setInterval(() => budget.setLimit(Math.max(16 * MIB, p.budget - zramOf())), 200) : undefined;
  try {
    if (cfg.ksm) ksmOn(root, KSM_FAST);
    for (let k = 1; k <= p.max; k++) {
      const w = MIX[(k - 1) % MIX.length]!;
      const name = `vd-${process.pid}-${cfg.name.replace(/\W+/g, "")}-${k}`;
      if (cfg.ksm) ksmOn(root, KSM_FAST);
      const c = await startWorkload(root, name, w, { mib: p.mib, seed: 7, rate: p.rate, write: 0.05,
        runArgs: ["--cgroup-parent", budget.name, ...(cfg.ksm ? ["--memory-merge"] : [])] }).catch(() => undefined);
      if (!c) { steps.push({ k, usageMiB: budget.usage() / MIB, alive: false, throughput: [], minThroughput: 0 }); stop = `${w.name} (container ${k}) died while loading (OOM)`; break; }
      running.push(c);
      if (cfg.ksm) {
        await settleKsm(running);
        ksmOn(root, KSM_DEFAULT);
      }
      if (k === MIX.length && onFive) onFive(running.map((r) => r.name));
      const from = running.map(opsLines);
      const end = Date.now() + (p.windowS + 8) * 1000;
      while (Date.now() < end && running.some((r, i) => r.cli.exitCode === null && opsLines(r) < from[i]! + p.windowS + 1)) await sleep(100);
      const alive = running.every((r) => r.cli.exitCode === null);
      const throughput = running.map((r) => opsRate(r, p.windowS) / p.rate);
      const minThroughput = alive ? Math.min(...throughput) : 0;
      steps.push({ k, usageMiB: budget.usage() / MIB, zramMiB: zramOf() / MIB, alive, throughput, minThroughput });
      process.stderr.write(`${cfg.name} k=${k} (${w.name}): ${(budget.usage() / MIB).toFixed(1)} MiB + zram ${(zramOf() / MIB).toFixed(1)} MiB, alive ${alive}, min throughput ${(minThroughput * 100).toFixed(1)} %\n`);
      if (!alive) { stop = `an OOM kill at ${k}`; break; }
      if (minThroughput < 1 - SLOWDOWN) { stop = `throughput ${(minThroughput * 100).toFixed(1)} % at ${k}`; break; }
      fit = k;
    }
  } finally {
    if (follow) clearInterval(follow);
    try {
      if (cfg.ksm) ksmOff(root);
    } finally {
      await Promise.all(running.map((r) => r.stop()));
      swap?.off();
      budget.remove();
    }
  }
  return { config: cfg.name, policy: cfg.policy, fit, stop, steps };
}

interface Results extends Params { at: string; predictedAll: Record<string, number>; rows: (Fill & { predicted: number })[]; runAt?: Record<string, string> }

export function densityChart(rows: (Fill & { predicted: number })[], p: Params): string {
  const colors = ["#7f7f7f", "#2ca02c", "#1f77b4"];
  return lineChart(`Real programs in ${p.budget / MIB} MiB: slowest container's ops/s vs containers (predicted fit as dots at 95 %)`, "containers started", "slowest / its rate (%)",
    [...rows.map((r, i) => ({ name: `${r.config} (measured fit ${r.fit})`, color: colors[i % colors.length]!, points: r.steps.map((s): [number, number] => [s.k, s.minThroughput * 100]) })),
     ...rows.map((r, i) => ({ name: `${r.config}: model (${r.policy}) fits ${r.predicted}`, color: colors[i % colors.length]!, dashed: true, points: [[r.predicted, 0], [r.predicted, 95]] as [number, number][] })),
     { name: "95 %", color: "#d62728", dashed: true, points: [[1, 95], [Math.max(p.max / 2, ...rows.map((r) => r.steps.length)), 95]] }], 760, 480);
}

export function densityRows(rows: (Fill & { predicted: number })[], p: Params): string[] {
  return rows.map((r) => `| density | ${MIX.map((w) => w.name).join(", ")} in turn (${p.mib} MiB of records, ${p.rate} ops/s, 5 % writes) in ${p.budget / MIB} MiB, ${r.config} | ${r.policy} | ` +
    `containers that fit at ≤ 5 % lost throughput (\`mem simulate --containers\`, first five) | containers that keep ≥ 95 % of their own ops/s, none killed (stopped by ${r.stop}) | ` +
    `${r.predicted} | ${r.fit} | ${r.predicted - r.fit >= 0 ? "+" : "−"}${Math.abs(r.predicted - r.fit)} (${signedPct(r.fit ? (r.predicted - r.fit) / r.fit : 0, 0)}) |`);
}

if (process.argv[1]?.endsWith("validate-density.ts")) {
  await runBenchmark(async () => {
    const p: Params = { budget: arg("--budget-mib", 256) * MIB, mib: arg("--mib", 16), rate: arg("--rate", 500), windowS: arg("--window", 5), max: arg("--max", 40) };
    const only = process.argv.includes("--configs") ? process.argv[process.argv.indexOf("--configs") + 1]!.split(",") : undefined;
    const configs = CONFIGS.filter((c) => !only || only.includes(c.name.replace(/\W+/g, "").toLowerCase()));
    const missing = missingPrograms(MIX);
    if (missing.length > 0) throw new Error(`missing programs: ${missing.join(", ")}`);
    const root = mkdtempSync("/var/tmp/tsbox-bench-vdensity-");
    installSignalHandlers(5000);
    onCleanup("state root", () => { sh(["umount", "-R", root], 30_000); rmSync(root, { recursive: true, force: true }); });
    if (configs.some((c) => c.ksm)) {
      if (!ksmAvailable()) throw new Error("this kernel has no KSM");
      onCleanup("KSM lock", await holdKsmExclusive());
      if ((readKsm().run ?? 0) !== 0) throw new Error("KSM is already on (another user's scanner): its rate is not ours to set");
      onCleanup("KSM settings", () => { ksmOff(root); });
    }
    importDebianImage(root);
    // ksmd's part of the calibration sets KSM's host-wide rate: only when this run uses KSM (which it then holds exclusively)
    const cal = tsboxSync(root, ["mem", "calibrate", "--quick", ...(configs.some((c) => c.ksm) ? [] : ["--no-ksm"])]);
    if (cal.code !== 0) process.stderr.write(`mem calibrate --quick failed (${cal.stderr.trim()}): the model charges its default costs\n`);
    let predicted: Record<string, number> | undefined;
    const fills: Fill[] = [];
    for (const cfg of configs) {
      fills.push(await fill(root, cfg, p, (names) => {
        // none and sharing from the plain run (a KSM run's scan would see pages already merged);
        // swap from the zram run, whose device is on (the model sees the host's swap), before the budget fills
        if (cfg.ksm) return;
        const fit = simulateFit(root, names, p.budget);
        predicted = cfg.zram ? { ...predicted, swap: fit.swap ?? 0 } : { ...fit, ...(predicted?.swap !== undefined ? { swap: predicted.swap } : {}) };
        process.stderr.write(`predicted (${cfg.name}): ${JSON.stringify(fit)}\n`);
      }));
    }
    if (!predicted) throw new Error("no prediction: the first configuration did not reach five containers");
    const ran = fills.map((f) => ({ ...f, predicted: predicted![f.policy] ?? 0 }));
    process.stdout.write(densityRows(ran, p).join("\n") + "\n");
    const dir = join(REPO, "bench", "results");
    mkdirSync(dir, { recursive: true });
    // a run of some configurations keeps the other configurations' rows of the last run (with its parameters)
    const file = join(dir, "validate-density.json");
    const last = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) as Results : undefined;
    const same = last !== undefined && last.budget === p.budget && last.mib === p.mib && last.rate === p.rate && last.windowS === p.windowS;
    const kept = same ? last.rows.filter((r) => !ran.some((f) => f.config === r.config)) : [];
    const rows = CONFIGS.flatMap((c) => [...kept, ...ran].filter((r) => r.config === c.name));
    const at = new Date().toISOString();
    const runAt = Object.fromEntries(rows.map((r) => [r.config, ran.includes(r) ? at : (same ? last.runAt?.[r.config] ?? last.at : at)]));
    const results: Results = { at, ...p, predictedAll: { ...(same ? last.predictedAll : {}), ...predicted }, rows, runAt };
    writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
    writeFileSync(join(dir, "validate-density.svg"), densityChart(rows, p));
  });
}
