// `mem balance` against static limits: how many containers whose working sets
// grow and shrink fit in one memory budget at ≤ 5 % lost throughput.
//
// Workloads (--workload):
//   debian   (the default) Debian's own programs, from the image of
//            bench/real-workloads.ts (the host's /usr, read-only): redis-server
//            (driven by python3 over a unix socket) and python3 holding a dict,
//            in turn (containers 1, 2 redis; 3, 4 dict; 5, 6 redis; …). Each
//            holds --mib MiB of records in its phased mode (bench/workloads/
//            drive.py PHASES): every PERIOD seconds (by the wall clock) its data
//            drops to LOW % (redis: FLUSHDB of the database holding the rest,
//            then MEMORY PURGE so jemalloc returns the pages; the dict: the rest
//            held in a dict of its own, freed whole, so pymalloc's arenas are
//            unmapped) or is reloaded over about a second. RATE reads a second
//            of random keys among those loaded; each reports "ops N" a second
//            (paced: up to a second of backlog made up, beyond that lost), its
//            throughput is ops over RATE. Reads only: a write into the part that
//            stays would pin the dict's arenas (pymalloc frees an arena only when
//            all of it is free) and the dict would give back little.
//   pagemix  tsbox's fixture in its phased mode (test/fixtures/pagemix.c PHASES):
//            PAGES of anonymous memory read RATE times a second; every PERIOD
//            seconds the working set drops to LOW % (the rest given back with
//            MADV_DONTNEED) or grows back to all of it; "ops N due M" a second.
// Odd containers are high while even ones are low, so at any moment half the
// mix is at its peak. No swap here: anonymous memory cannot be reclaimed, only
// given back by the workload.
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
//             demand (the peak and low usage measured from a lone container
//             of each program, its cgroup's usage sampled every 100 ms):
//             largestFit at 5 % under `none` (every page a guest touched
//             stays: a static reservation), `balloon` (the host balloons
//             guests in proportion to what they hold) and `tmem` (each guest
//             balloons itself to its working set: the closest to what the
//             balancer does).
//   npx tsx bench/balance.ts [--workload debian|pagemix] [--budget-mib 320] [--mib 48] [--pages 16384] [--low 25]
//                            [--period 5 (pagemix: 3)] [--rate 300 (pagemix: 20)] [--cycles 2] [--interval-ms 250] [--max 12]
// Results: bench/results/balance.{json,svg} (debian), balance-pagemix.{json,svg}.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { installSignalHandlers, mustSh, onCleanup, runBenchmark, sh } from "./lib.js";
import { buildPagemix, REPO, startContainer, type Running } from "./reclaim-harness.js";
import { IMAGE, importDebianImage, missingPrograms, WORKLOAD_DIR, WORKLOADS, type Workload } from "./real-workloads.js";
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
const wi = process.argv.indexOf("--workload");
const WORKLOAD = wi > 0 ? process.argv[wi + 1] : "debian";
if (WORKLOAD !== "debian" && WORKLOAD !== "pagemix") throw new Error(`--workload ${WORKLOAD}: debian or pagemix`);
const DEBIAN = WORKLOAD === "debian";
const P = {
  workload: WORKLOAD, budget: arg("--budget-mib", 320) * MIB, mib: arg("--mib", 48), pages: arg("--pages", 16384), low: arg("--low", 25),
  period: arg("--period", DEBIAN ? 5 : 3), rate: arg("--rate", DEBIAN ? 300 : 20), cycles: arg("--cycles", 2), intervalMs: arg("--interval-ms", 250),
  max: arg("--max", 12),
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

/** One program of the mix: container k runs kind `kindOf(k)`; odd containers start high, even ones low. */
interface Kind { name: string; args(k: number): string[] }
const phases = (k: number): string => `${P.period}:${P.low}:${k % 2 === 1 ? 0 : P.period}`;
const debianKind = (name: string): Kind => {
  const w: Workload = WORKLOADS.find((x) => x.name === name)!;
  return { name, args: (k) => ["-v", "/usr:/usr:ro", "-v", `${WORKLOAD_DIR}:/w:ro`, IMAGE, ...w.argv(P.mib, 2000 + k, P.rate, 0), "-", phases(k)] };
};
const KINDS: Kind[] = DEBIAN ? [debianKind("redis"), debianKind("python dict")] : [{
  name: "pagemix",
  args: (k) => ["-v", `${join(REPO, ".tmp", "reclaim")}:/pm:ro`, "busybox", "/pm/pagemix", String(2000 + k), String(P.pages),
    "10", "10", "30", "10", "20", String(P.rate), "-", phases(k)],
}];
/** Containers 1, 2 the first kind, 3, 4 the next, …: each kind high and low at once. */
const kindOf = (k: number): number => Math.floor((k - 1) / 2) % KINDS.length;
const containerArgs = (k: number): string[] => KINDS[kindOf(k)]!.args(k);
/** The first container of each kind (it starts high). */
const firstOf = (kind: number): number => 2 * kind + 1;

// pagemix reports "ops N due M" (due: what its schedule asked for), the drivers "ops N" of RATE.
const REPORT = DEBIAN ? /^ops (\d+)$/gm : /^ops (\d+) due (\d+)$/gm;
/** ops ÷ due over the container's last `seconds` report lines: its own throughput. */
function throughput(c: Running, seconds: number): number {
  const rows = [...c.output().matchAll(REPORT)].slice(-seconds);
  const ops = rows.reduce((a, m) => a + Number(m[1]), 0), due = rows.reduce((a, m) => a + (DEBIAN ? P.rate : Number(m[2])), 0);
  return due > 0 ? Math.min(1.5, ops / due) : 0;
}
const reports = (c: Running): number => [...c.output().matchAll(REPORT)].length;
/** Each container's throughput over its kind's lone throughput. */
const relative = (tp: number[], baselines: number[]): number[] => tp.map((x, i) => x / baselines[kindOf(i + 1)]!);

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

interface Lone { kind: string; baseline: number; peak: number; low: number }
async function lone(root: string, kind: number): Promise<Lone> {
  const parent = makeParent(`lone${kind}`);
  const c = await startContainer(root, `bal-${process.pid}-lone${kind}`, ["--cgroup-parent", parent.name, ...containerArgs(firstOf(kind))], "ready", 120_000);
  try {
    const cg = memoryCgroupOf(readState(root, c.id) ?? { id: c.id });
    let peak = 0, low = Infinity;
    const end = Date.now() + windowS * 1000;
    const from = reports(c);
    // windowS whole seconds after `from`: the first report line covers the part of a second since ready
    while (Date.now() < end || reports(c) < from + windowS + 1) {
      const u = readCounters(cg).usage;
      peak = Math.max(peak, u);
      low = Math.min(low, u);
      await sleep(100);
    }
    return { kind: KINDS[kind]!.name, baseline: throughput(c, windowS), peak, low };
  } finally {
    await c.stop();
    parent.remove();
  }
}

async function staticFill(root: string, from: number, baselines: number[]): Promise<{ fit: number; steps: Step[]; stop: string }> {
  const steps: Step[] = [];
  let fit = 0, stop = `reached --max ${P.max}`;
  for (let k = from; k <= P.max; k++) {
    const parent = makeParent(`static${k}`);
    const limit = Math.floor(P.budget / k / 4096) * 4096;
    const running: Running[] = [];
    try {
      for (let i = 1; i <= k; i++) {
        const c = await startContainer(root, `bal-${process.pid}-s${k}-${i}`, ["--cgroup-parent", parent.name, "--memory", String(limit), ...containerArgs(i)], "ready", 120_000)
          .catch(() => undefined);
        if (!c) break;
        running.push(c);
      }
      const m = running.length < k ? { alive: false, throughput: [], min: 0, parentPeakMiB: parent.peak() / MIB } : await measure(running, parent);
      const rel = relative(m.throughput, baselines);
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
async function startOrGiveUp(root: string, name: string, args: string[], parent: Parent, running: Running[]): Promise<Running | string> {
  let failed: unknown;
  const starting = startContainer(root, name, args, "ready", 600_000).catch((e: unknown) => { failed = e; return undefined; });
  const c = await Promise.race([starting, sleep(START_WAIT_S * 1000).then(() => undefined)]);
  if (c) return c;
  if (failed !== undefined) {
    log(`${name}: ${String(failed)}`);
    return `its program failed while loading: ${String(failed).split("\n").slice(-1)[0]!.slice(0, 200)}`;
  }
  const h = detectHierarchy();
  const dir = join(h.version === "v1" ? h.mounts.get("memory")! : h.mounts.get("cgroup2")!, parent.name);
  const known = new Set(running.map((r) => r.id));
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    if (!d.isDirectory() || known.has(d.name)) continue;
    for (const pid of readFileSync(join(dir, d.name, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
      try { process.kill(Number(pid), "SIGKILL"); } catch { /* gone */ }
    }
  }
  await starting;
  return `no room in the budget for its fill (it waited for memory ${START_WAIT_S} s; given up)`;
}

async function balancedFill(root: string, from: number, baselines: number[]): Promise<{ fit: number; steps: Step[]; stop: string; balancerLog: string }> {
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
      const c = await startOrGiveUp(root, `bal-${process.pid}-b${k}`, ["--cgroup-parent", parent.name, ...containerArgs(k)], parent, running);
      if (typeof c === "string") {
        steps.push({ k, alive: false, throughput: [], min: 0, parentPeakMiB: parent.peak() / MIB });
        stop = `container ${k} did not get ready: ${c}`;
        break;
      }
      running.push(c);
      if (k < from) continue; // below the static figure: known to fit, no window
      const m = await measure(running, parent);
      const rel = relative(m.throughput, baselines);
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

/** The phased demand as the model's scenario: the guests in the containers' order (each kind's measured peak and low), odd ones high while even ones are low, over `cycles` cycles. */
function phasedScenario(alone: Lone[]): Scenario {
  const pg = (b: number): number => Math.ceil(b / 4096);
  const d = (bytes: number): Demand => ({ anon: pg(bytes), cache: 0, workingSet: pg(bytes), zero: 0, sharableWithin: 0, sharableAcross: 0 });
  const steps = P.cycles * 2;
  const guest = (k: number): Guest => {
    const { kind, peak, low } = alone[kindOf(k)]!;
    const trace = Array.from({ length: steps }, (_, i) => d((i % 2 === 0) === (k % 2 === 1) ? peak : low));
    return { name: `${kind} ${k}`, sizePages: pg(peak), shares: 1000, contentGroup: kind, codec: DEFAULT_CODEC, trace };
  };
  return {
    hostPages: pg(P.budget), steps, stepSeconds: P.period, guests: Array.from({ length: 2 * KINDS.length }, (_, i) => guest(i + 1)),
    costs: { ...DEFAULT_COSTS, swapDevice: "none" }, tunables: defaultTunables(P.period),
  };
}

await runBenchmark(async () => {
  const root = mkdtempSync("/var/tmp/tsbox-bench-balance-");
  installSignalHandlers(5000);
  onCleanup("state root", () => { sh(["umount", "-R", root], 30_000); rmSync(root, { recursive: true, force: true }); });
  if (DEBIAN) {
    const missing = missingPrograms(WORKLOADS.filter((w) => KINDS.some((k) => k.name === w.name)));
    if (missing.length > 0) throw new Error(`missing on this host: ${missing.join(", ")}`);
    importDebianImage(root);
  } else {
    const tar = join(REPO, ".tmp", "test", "busybox.tar");
    mkdirSync(join(REPO, ".tmp", "test"), { recursive: true }); // the script's mktemp needs it (a fresh checkout has none)
    mustSh(["bash", "-c", `test -f ${tar} || bash ${join(REPO, "scripts", "make-busybox-rootfs.sh")} ${tar}`]);
    mustSh([process.execPath, "--", CLI, "--root", root, "import", tar, "busybox"]);
    buildPagemix();
  }
  const t0 = Date.now();
  const load0 = loadavg();
  const alone: Lone[] = [];
  for (let kind = 0; kind < KINDS.length; kind++) {
    const a = await lone(root, kind);
    alone.push(a);
    log(`lone ${a.kind}: throughput ${(a.baseline * 100).toFixed(1)} % of its schedule, usage ${(a.low / MIB).toFixed(1)}–${(a.peak / MIB).toFixed(1)} MiB`);
  }
  const baselines = alone.map((a) => a.baseline);
  const maxPeak = Math.max(...alone.map((a) => a.peak));
  const sc = phasedScenario(alone);
  const predicted = {
    static: largestFit(sc, POLICIES.none, LOST, P.max * 4), balance: largestFit(sc, POLICIES.balloon, LOST, P.max * 4),
    selfBalloon: largestFit(sc, POLICIES.tmem, LOST, P.max * 4),
  };
  log(`model: none ${predicted.static}, balloon ${predicted.balance}, tmem ${predicted.selfBalloon}`);
  const st = await staticFill(root, Math.max(1, Math.min(predicted.static, Math.floor(P.budget / maxPeak)) - 1), baselines);
  const bl = await balancedFill(root, Math.max(1, st.fit - 1), baselines);
  const raises = bl.balancerLog.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { reason: string; short?: number });
  const count = (r: string): number => raises.filter((x) => x.reason === r).length;
  const result = {
    at: new Date().toISOString(), params: { ...P, budgetMiB: P.budget / MIB, windowS }, elapsedS: Math.round((Date.now() - t0) / 1000),
    load: { before: load0, after: loadavg() },
    lone: alone.map((a) => ({ kind: a.kind, throughput: a.baseline, peakMiB: a.peak / MIB, lowMiB: a.low / MIB })),
    predicted, measured: { static: st.fit, balance: bl.fit }, stop: { static: st.stop, balance: bl.stop },
    balancerWrites: { total: raises.length, emergency: count("emergency"), pressure: count("pressure"), probe: count("probe"), slack: count("slack"),
      budget: count("budget"), floor: count("floor"), shortOfBudget: raises.filter((x) => (x.short ?? 0) > 0).length },
    steps: { static: st.steps, balance: bl.steps },
  };
  const what = DEBIAN ? `${KINDS.map((k) => k.name).join(" and ")} containers (${P.mib} MiB of records`
    : `pagemix containers (${(P.pages / 256).toFixed(0)} MiB`;
  const lones = alone.map((a) => `${a.kind} ${(a.baseline * 100).toFixed(1)} % of its schedule, ${(a.low / MIB).toFixed(0)}–${(a.peak / MIB).toFixed(0)} MiB`).join("; ");
  const lines = [
    `## Balance: phased ${what}, ${P.low} % between phases of ${P.period} s) in a ${P.budget / MIB} MiB budget`,
    "",
    `Criterion: every container keeps ≥ ${100 - LOST * 100} % of a lone container's throughput (lone: ${lones}), none OOM-killed.`,
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
  const file = DEBIAN ? "balance" : "balance-pagemix";
  writeFileSync(join(outDir, `${file}.json`), JSON.stringify(result, null, 2) + "\n");
  const maxK = Math.max(...[...st.steps, ...bl.steps].map((s) => s.k), 1);
  // Lost throughput (up from 0): the fits sit along the bottom, clear of the legend.
  const lost = (s: Step): number => Math.max(0, (1 - s.min) * 100);
  writeFileSync(join(outDir, `${file}.svg`), lineChart(
    `${DEBIAN ? `${P.mib} MiB phased redis/python dict` : `${(P.pages / 256).toFixed(0)} MiB phased pagemix`} containers in ${P.budget / MIB} MiB: fit static ${st.fit}, balance ${bl.fit} (model: none ${predicted.static}, balloon ${predicted.balance}, tmem ${predicted.selfBalloon})`,
    "containers", "lost throughput of the slowest container (%)",
    [{ name: `static limits, budget / k each (fit ${st.fit})`, color: "#7f7f7f", points: st.steps.map((s): [number, number] => [s.k, lost(s)]) },
     { name: `mem balance --budget (fit ${bl.fit})`, color: "#2ca02c", points: bl.steps.map((s): [number, number] => [s.k, lost(s)]) },
     { name: "5 % (the criterion)", color: "#d62728", dashed: true, points: [[1, 5], [maxK, 5]] }], 760, 420));
});
