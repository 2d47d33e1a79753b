// `mem balance` against static limits: how many containers whose working sets
// grow and shrink fit in one memory budget at ≤ 5 % lost throughput.
//
// Workload: pagemix in its phased mode (test/fixtures/pagemix.c PHASES):
// PAGES of anonymous memory read RATE times a second; every PERIOD seconds (by
// the wall clock) the working set drops to LOW % (the rest given back with
// MADV_DONTNEED) or grows back to all of it. Odd containers are high while
// even ones are low, so at any moment half the mix is at its peak. Each
// container reports its own throughput: pages read over pages its schedule
// asked for ("ops N due M" a second); a stall of up to a second is made up,
// beyond that the passes are lost. No swap here: anonymous memory cannot be
// reclaimed, only given back by the workload.
//
// Every container runs under a parent cgroup of our own whose hard limit is the
// budget (+ 8 MiB for the kernel's own charges), so the budget is physical in
// every configuration. A container started into a full budget fills before
// the balancer takes it over (a round later): at the parent's limit the kernel
// may then OOM-kill one of the containers, which ends the fill like any kill:
//   static    k containers, each `run --memory budget/k` (the budget split
//             evenly, the usual static partition); k from just below the
//             model's static figure upward until one is OOM-killed or loses
//             > 5 %.
//   balance   containers without a limit, `tsbox mem balance --budget BUDGET`
//             running; one more container at a time until one is OOM-killed
//             or loses > 5 % (the balancer holds the v1 OOM killer off, so a
//             container it cannot serve shows as lost throughput).
//   model     `mem simulate`'s library on a scenario of the same phased
//             demand (the peak and low usage measured from a lone container):
//             largestFit at 5 % under `none` (every page a guest touched
//             stays: a static reservation), `balloon` (the host balloons
//             guests in proportion to what they hold) and `tmem` (each guest
//             balloons itself to its working set: the closest to what the
//             balancer does).
//   npx tsx bench/balance.ts [--budget-mib 320] [--pages 16384] [--low 25] [--period 3] [--rate 20] [--cycles 2] [--interval-ms 250] [--max 12]
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { installSignalHandlers, mustSh, onCleanup, runBenchmark, sh } from "./lib.js";
import { buildPagemix, REPO, startContainer, type Running } from "./reclaim-harness.js";
import { memoryCgroupOf } from "../src/reclaim/kernel/cgroup-memory.js";
import { readCounters } from "../src/reclaim/balance/signal.js";
import { largestFit, POLICIES, type Demand, type Guest, type Scenario } from "../src/reclaim/model/index.js";
import { DEFAULT_CODEC, defaultTunables, DEFAULT_COSTS } from "../src/reclaim/model/scenario.js";
import { readState } from "../src/state/container-store.js";
import { detectHierarchy } from "../src/cgroupfs/index.js";
import { lineChart } from "./svg-chart.js";

const MIB = 1024 * 1024;
const LOST = 0.05;
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const P = {
  budget: arg("--budget-mib", 320) * MIB, pages: arg("--pages", 16384), low: arg("--low", 25), period: arg("--period", 3),
  rate: arg("--rate", 20), cycles: arg("--cycles", 2), intervalMs: arg("--interval-ms", 250), max: arg("--max", 12),
};
const windowS = P.cycles * 2 * P.period;
const CLI = join(REPO, "bin", "tsbox.js");

interface Parent { name: string; peak(): number; remove(): void }
function makeParent(tag: string): Parent {
  const h = detectHierarchy();
  const v1 = h.version === "v1";
  const name = `tsbox-balance-${process.pid}-${tag}`;
  const dir = join(v1 ? h.mounts.get("memory")! : h.mounts.get("cgroup2")!, name);
  mkdirSync(dir);
  writeFileSync(join(dir, v1 ? "memory.limit_in_bytes" : "memory.max"), String(P.budget + 8 * MIB));
  const remove = (): void => {
    const mounts = v1 ? [...new Set(h.mounts.values())] : [h.mounts.get("cgroup2")!];
    for (const m of mounts) { try { rmdirSync(join(m, name)); } catch { /* absent or gone */ } }
  };
  onCleanup(`parent cgroup ${name}`, remove);
  return { name, peak: () => Number(readFileSync(join(dir, v1 ? "memory.max_usage_in_bytes" : "memory.peak"), "utf8")), remove };
}

/** Container k's pagemix: odd ones start high, even ones low. */
function pagemixArgs(k: number): string[] {
  return ["-v", `${join(REPO, ".tmp", "reclaim")}:/pm:ro`, "busybox", "/pm/pagemix", String(2000 + k), String(P.pages),
    "10", "10", "30", "10", "20", String(P.rate), "-", `${P.period}:${P.low}:${k % 2 === 1 ? 0 : P.period}`];
}

/** ops ÷ due over the container's last `seconds` report lines: its own throughput. */
function throughput(c: Running, seconds: number): number {
  const rows = [...c.output().matchAll(/^ops (\d+) due (\d+)$/gm)].slice(-seconds);
  const ops = rows.reduce((a, m) => a + Number(m[1]), 0), due = rows.reduce((a, m) => a + Number(m[2]), 0);
  return due > 0 ? Math.min(1.5, ops / due) : 0;
}
const reports = (c: Running): number => [...c.output().matchAll(/^ops \d+ due \d+$/gm)].length;

interface Step { k: number; alive: boolean; throughput: number[]; min: number; parentPeakMiB: number; limitsMiB?: number[] }

/** Waits a full window (every running container reports `windowS` more seconds), then reads each one's throughput. */
async function measure(running: Running[], parent: Parent): Promise<Omit<Step, "k">> {
  const from = running.map(reports);
  const end = Date.now() + (windowS + 5) * 1000;
  while (Date.now() < end && running.every((r) => r.cli.exitCode === null) && running.some((r, i) => reports(r) < from[i]! + windowS + 1)) await sleep(200);
  const alive = running.every((r) => r.cli.exitCode === null);
  const tp = running.map((r) => throughput(r, windowS));
  return { alive, throughput: tp, min: alive ? Math.min(...tp) : 0, parentPeakMiB: parent.peak() / MIB };
}

const log = (s: string): void => { process.stderr.write(s + "\n"); };

async function lone(root: string): Promise<{ baseline: number; peak: number; low: number }> {
  const parent = makeParent("lone");
  const c = await startContainer(root, `bal-${process.pid}-lone`, ["--cgroup-parent", parent.name, ...pagemixArgs(1)], "ready", 120_000);
  try {
    const cg = memoryCgroupOf(readState(root, c.id) ?? { id: c.id });
    let peak = 0, low = Infinity;
    const end = Date.now() + windowS * 1000;
    const from = reports(c);
    while (Date.now() < end || reports(c) < from + windowS) {
      const u = readCounters(cg).usage;
      peak = Math.max(peak, u);
      low = Math.min(low, u);
      await sleep(100);
    }
    return { baseline: throughput(c, windowS), peak, low };
  } finally {
    await c.stop();
    parent.remove();
  }
}

async function staticFill(root: string, from: number, baseline: number): Promise<{ fit: number; steps: Step[]; stop: string }> {
  const steps: Step[] = [];
  let fit = 0, stop = `reached --max ${P.max}`;
  for (let k = from; k <= P.max; k++) {
    const parent = makeParent(`static${k}`);
    const limit = Math.floor(P.budget / k / 4096) * 4096;
    const running: Running[] = [];
    try {
      for (let i = 1; i <= k; i++) {
        const c = await startContainer(root, `bal-${process.pid}-s${k}-${i}`, ["--cgroup-parent", parent.name, "--memory", String(limit), ...pagemixArgs(i)], "ready", 120_000)
          .catch(() => undefined);
        if (!c) break;
        running.push(c);
      }
      const m = running.length < k ? { alive: false, throughput: [], min: 0, parentPeakMiB: parent.peak() / MIB } : await measure(running, parent);
      const rel = m.throughput.map((x) => x / baseline);
      const step = { k, ...m, throughput: rel, min: m.alive ? Math.min(...rel) : 0 };
      steps.push(step);
      log(`static k=${k} (--memory ${(limit / MIB).toFixed(1)} MiB): alive ${m.alive}, min throughput ${(step.min * 100).toFixed(1)} %`);
      if (!m.alive) { stop = `an OOM kill at k=${k} (--memory ${(limit / MIB).toFixed(0)} MiB each)`; break; }
      if (step.min < 1 - LOST) { stop = `throughput ${(step.min * 100).toFixed(1)} % at k=${k}`; break; }
      fit = k;
    } finally {
      await Promise.all(running.map((r) => r.stop()));
      parent.remove();
    }
  }
  return { fit, steps, stop };
}

const START_WAIT_S = 30;

/**
 * Starts a container, giving up after START_WAIT_S: under the balancer a
 * container the budget has no room for waits for memory (the OOM killer is
 * held off) instead of dying. Giving up kills its processes through its
 * cgroup (the one under the parent that is none of `running`), so its
 * `run --rm` removes it as usual.
 */
async function startOrGiveUp(root: string, name: string, args: string[], parent: Parent, running: Running[]): Promise<Running | undefined> {
  const starting = startContainer(root, name, args, "ready", 600_000);
  starting.catch(() => undefined);
  const c = await Promise.race([starting, sleep(START_WAIT_S * 1000).then(() => undefined)]);
  if (c) return c;
  const h = detectHierarchy();
  const dir = join(h.version === "v1" ? h.mounts.get("memory")! : h.mounts.get("cgroup2")!, parent.name);
  const known = new Set(running.map((r) => r.id));
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    if (!d.isDirectory() || known.has(d.name)) continue;
    for (const pid of readFileSync(join(dir, d.name, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
      try { process.kill(Number(pid), "SIGKILL"); } catch { /* gone */ }
    }
  }
  return starting.catch(() => undefined).then(() => undefined);
}

async function balancedFill(root: string, from: number, baseline: number): Promise<{ fit: number; steps: Step[]; stop: string; balancerLog: string }> {
  const parent = makeParent("balance");
  const running: Running[] = [];
  const steps: Step[] = [];
  let fit = 0, stop = `reached --max ${P.max}`;
  let out = "", err = "";
  const bal: ChildProcess = spawn(process.execPath, ["--", CLI, "--root", root, "--log-level", "warn", "mem", "balance", "--budget", String(P.budget),
    "--interval", `${P.intervalMs}ms`, "--format", "json"], { stdio: ["ignore", "pipe", "pipe"] });
  bal.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
  bal.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
  const balExit = new Promise<void>((r) => bal.once("close", () => r()));
  onCleanup("balancer", () => { bal.kill("SIGTERM"); });
  try {
    for (let k = 1; k <= P.max; k++) {
      const c = await startOrGiveUp(root, `bal-${process.pid}-b${k}`, ["--cgroup-parent", parent.name, ...pagemixArgs(k)], parent, running);
      if (!c) {
        steps.push({ k, alive: false, throughput: [], min: 0, parentPeakMiB: parent.peak() / MIB });
        stop = `container ${k} did not get ready in ${START_WAIT_S} s: no room in the budget for its fill (it waited for memory; given up)`;
        break;
      }
      running.push(c);
      if (k < from) continue; // below the static figure: known to fit, no window
      const m = await measure(running, parent);
      const rel = m.throughput.map((x) => x / baseline);
      const limitsMiB = running.map((r) => {
        const st = readState(root, r.id);
        return st ? (readCounters(memoryCgroupOf(st)).limit ?? 0) / MIB : Number.NaN; // NaN: gone
      });
      const step = { k, ...m, throughput: rel, min: m.alive ? Math.min(...rel) : 0, limitsMiB };
      steps.push(step);
      log(`balance k=${k}: alive ${m.alive}, min throughput ${(step.min * 100).toFixed(1)} %, limits ${limitsMiB.map((l) => l.toFixed(0)).join(" ")} MiB`);
      if (!m.alive) { stop = `an OOM kill at k=${k}`; break; }
      if (step.min < 1 - LOST) { stop = `throughput ${(step.min * 100).toFixed(1)} % at k=${k}`; break; }
      fit = k;
    }
  } finally {
    bal.kill("SIGTERM");
    await balExit;
    await Promise.all(running.map((r) => r.stop()));
    parent.remove();
  }
  if (bal.exitCode !== 0) log(`balancer exit ${bal.exitCode}: ${err.trim()}`);
  return { fit, steps, stop, balancerLog: out };
}

/** The phased demand as the model's scenario: two guests, one high while the other is low, over `cycles` cycles. */
function phasedScenario(peak: number, low: number): Scenario {
  const pg = (b: number): number => Math.ceil(b / 4096);
  const d = (bytes: number): Demand => ({ anon: pg(bytes), cache: 0, workingSet: pg(bytes), zero: 0, sharableWithin: 0, sharableAcross: 0 });
  const steps = P.cycles * 2;
  const trace = (startHigh: boolean): Demand[] => Array.from({ length: steps }, (_, i) => d((i % 2 === 0) === startHigh ? peak : low));
  const guest = (name: string, startHigh: boolean): Guest => ({ name, sizePages: pg(peak), shares: 1000, contentGroup: "pagemix", codec: DEFAULT_CODEC, trace: trace(startHigh) });
  return {
    hostPages: pg(P.budget), steps, stepSeconds: P.period, guests: [guest("odd", true), guest("even", false)],
    costs: { ...DEFAULT_COSTS, swapDevice: "none" }, tunables: defaultTunables(P.period),
  };
}

await runBenchmark(async () => {
  const root = mkdtempSync("/var/tmp/tsbox-bench-balance-");
  installSignalHandlers(5000);
  onCleanup("state root", () => { sh(["umount", "-R", root], 30_000); rmSync(root, { recursive: true, force: true }); });
  const tar = join(REPO, ".tmp", "test", "busybox.tar");
  mustSh(["bash", "-c", `test -f ${tar} || bash ${join(REPO, "scripts", "make-busybox-rootfs.sh")} ${tar}`]);
  mustSh([process.execPath, "--", CLI, "--root", root, "import", tar, "busybox"]);
  buildPagemix();
  const t0 = Date.now();
  const load0 = loadavg();
  const alone = await lone(root);
  log(`lone container: throughput ${(alone.baseline * 100).toFixed(1)} % of its schedule, usage ${(alone.low / MIB).toFixed(1)}–${(alone.peak / MIB).toFixed(1)} MiB`);
  const sc = phasedScenario(alone.peak, alone.low);
  const predicted = {
    static: largestFit(sc, POLICIES.none, LOST, P.max * 4), balance: largestFit(sc, POLICIES.balloon, LOST, P.max * 4),
    selfBalloon: largestFit(sc, POLICIES.tmem, LOST, P.max * 4),
  };
  log(`model: none ${predicted.static}, balloon ${predicted.balance}, tmem ${predicted.selfBalloon}`);
  const st = await staticFill(root, Math.max(1, Math.min(predicted.static, Math.floor(P.budget / alone.peak)) - 1), alone.baseline);
  const bl = await balancedFill(root, Math.max(1, st.fit - 1), alone.baseline);
  const raises = bl.balancerLog.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { reason: string; short?: number });
  const count = (r: string): number => raises.filter((x) => x.reason === r).length;
  const result = {
    at: new Date().toISOString(), params: { ...P, budgetMiB: P.budget / MIB, windowS }, elapsedS: Math.round((Date.now() - t0) / 1000),
    load: { before: load0, after: loadavg() },
    lone: { throughput: alone.baseline, peakMiB: alone.peak / MIB, lowMiB: alone.low / MIB },
    predicted, measured: { static: st.fit, balance: bl.fit }, stop: { static: st.stop, balance: bl.stop },
    balancerWrites: { total: raises.length, emergency: count("emergency"), pressure: count("pressure"), probe: count("probe"), slack: count("slack"),
      budget: count("budget"), floor: count("floor"), shortOfBudget: raises.filter((x) => (x.short ?? 0) > 0).length },
    steps: { static: st.steps, balance: bl.steps },
  };
  const lines = [
    `## Balance: phased pagemix containers (${(P.pages / 256).toFixed(0)} MiB, ${P.low} % between phases of ${P.period} s) in a ${P.budget / MIB} MiB budget`,
    "",
    `Criterion: every container keeps ≥ ${100 - LOST * 100} % of a lone container's throughput (${(alone.baseline * 100).toFixed(1)} % of its own schedule), none OOM-killed.`,
    "",
    "| configuration | model (policy) | measured | what stopped it |",
    "|---|---:|---:|---|",
    `| static limits (budget / k each) | ${predicted.static} (none) | ${st.fit} | ${st.stop} |`,
    `| mem balance --budget | ${predicted.balance} (balloon); ${predicted.selfBalloon} (tmem: self-ballooning to the working set) | ${bl.fit} | ${bl.stop} |`,
    "",
    `Balancer writes: ${JSON.stringify(result.balancerWrites)}; run time ${result.elapsedS} s; load ${load0[0]!.toFixed(1)} before, ${result.load.after[0]!.toFixed(1)} after.`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
  const outDir = join(REPO, "bench", "results");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "balance.json"), JSON.stringify(result, null, 2) + "\n");
  const maxK = Math.max(...[...st.steps, ...bl.steps].map((s) => s.k), 1);
  // Lost throughput (up from 0): the fits sit along the bottom, clear of the legend.
  const lost = (s: Step): number => Math.max(0, (1 - s.min) * 100);
  writeFileSync(join(outDir, "balance.svg"), lineChart(
    `${(P.pages / 256).toFixed(0)} MiB phased containers in ${P.budget / MIB} MiB: fit static ${st.fit}, balance ${bl.fit} (model: none ${predicted.static}, balloon ${predicted.balance}, tmem ${predicted.selfBalloon})`,
    "containers", "lost throughput of the slowest container (%)",
    [{ name: `static limits, budget / k each (fit ${st.fit})`, color: "#7f7f7f", points: st.steps.map((s): [number, number] => [s.k, lost(s)]) },
     { name: `mem balance --budget (fit ${bl.fit})`, color: "#2ca02c", points: bl.steps.map((s): [number, number] => [s.k, lost(s)]) },
     { name: "5 % (the criterion)", color: "#d62728", dashed: true, points: [[1, 5], [maxK, 5]] }], 760, 420));
});
