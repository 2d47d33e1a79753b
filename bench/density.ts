// V8, measured density: identical working pagemix containers are started one
// by one into a memory budget (a v1/v2 parent cgroup of our own with a memory
// limit, given to `run --cgroup-parent`) until the last one started makes any
// container lose more than 5 % of its throughput against the single-container
// baseline, or dies (OOM) or cannot fill. Four configurations: plain, KSM
// (--memory-merge; ksmd fast while a container fills and settles, then at the
// kernel's default rate while throughput is measured), balloon (`mem
// balloon --target` working set + 2 MiB on each container once it is up,
// then `--deflate`; --hold-balloon keeps it inflated), KSM + balloon.
//
// Workload: pagemix in its working mode (test/fixtures/pagemix.c): RATE passes
// a second over all its anonymous pages (reads only, so KSM sharing holds),
// paced (up to 1 s of backlog made up, beyond that lost); it prints pages
// read per second. It also reads
// its own cache file once: idle clean page cache charged to it, which is what
// a balloon can take back on this swapless host.
//
// Prediction: the model (`mem simulate`'s library) on the profiles measured
// from the plain run's first two containers (`mem scan` full + their cgroup
// numbers, through scenarioFromReport), with the budget as host memory;
// largestFit at a 5 % slowdown budget under the policy matching each
// configuration (none, sharing, balloon, sharing + balloon), and the same with
// ballooning on, since a cgroup at its limit reclaims clean cache by itself.
//   npx tsx bench/density.ts [--budget-mib 96] [--pages 4096] [--cache-mib 8] [--rate 50] [--window 5] [--max 24]
//     [--configs plain,ksm,balloon,ksmballoon] [--hold-balloon]
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { installSignalHandlers, mustSh, onCleanup, runBenchmark, sh } from "./lib.js";
import { buildPagemix, DEFAULT_MIX, pruneStale, REPO, startContainer, tsboxSync, type Running } from "./reclaim-harness.js";
import { ksmMerged } from "../src/reclaim/kernel/anon-pages.js";
import { ksmOff, ksmOn, readKsm } from "../src/reclaim/kernel/ksm.js";
import { memoryCgroupOf, readMemory } from "../src/reclaim/kernel/cgroup-memory.js";
import { scanContainers } from "../src/reclaim/measure/scan.js";
import { largestFit, POLICIES, scenarioFromReport, type MemStatNumbers } from "../src/reclaim/model/index.js";
import type { Policy } from "../src/reclaim/model/policies.js";
import { readState } from "../src/state/container-store.js";
import { detectHierarchy } from "../src/cgroupfs/index.js";
import type { ScanReport } from "../src/reclaim/profile.js";
import { lineChart } from "./svg-chart.js";

const MIB = 1024 * 1024;
const SLOWDOWN = 0.05;
/** ksmd's rate while throughput is measured: the kernel's defaults (100 pages every 20 ms) */
const KSM_STEADY = { pagesToScan: 100, sleepMillisecs: 20 };
/** room left above the working set when ballooning */
const BALLOON_MARGIN = 2 * MIB;
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

interface Budget { name: string; usage(): number; failcnt(): number | undefined; remove(): void }

/**
 * A parent cgroup with a memory limit; containers go under it with
 * `run --cgroup-parent`, which creates it in the other hierarchies.
 */
function makeBudget(bytes: number, tag: string): Budget {
  const h = detectHierarchy();
  const v1 = h.version === "v1";
  const name = `tsbox-density-${process.pid}-${tag}`;
  const memDir = join(v1 ? h.mounts.get("memory")! : h.mounts.get("cgroup2")!, name);
  mkdirSync(memDir);
  writeFileSync(join(memDir, v1 ? "memory.limit_in_bytes" : "memory.max"), String(bytes));
  const remove = (): void => {
    const mounts = v1 ? [...new Set(h.mounts.values())] : [h.mounts.get("cgroup2")!];
    for (const m of mounts) { try { rmdirSync(join(m, name)); } catch { /* absent or already gone */ } }
  };
  onCleanup(`budget cgroup ${name}`, remove);
  return {
    name,
    usage: () => Number(readFileSync(join(memDir, v1 ? "memory.usage_in_bytes" : "memory.current"), "utf8")),
    failcnt: () => (v1 ? Number(readFileSync(join(memDir, "memory.failcnt"), "utf8")) : undefined),
    remove,
  };
}

interface Config { name: string; ksm: boolean; balloon: boolean; policy: Policy }
const CONFIGS: Config[] = [
  { name: "plain", ksm: false, balloon: false, policy: POLICIES.none },
  { name: "KSM", ksm: true, balloon: false, policy: POLICIES.sharing },
  { name: "balloon", ksm: false, balloon: true, policy: POLICIES.balloon },
  { name: "KSM + balloon", ksm: true, balloon: true, policy: { ...POLICIES.sharing, balloon: true, description: "sharing and ballooning" } },
];

interface Step {
  k: number;
  usageMiB: number;
  alive: boolean;
  /** each running container's pages read per second over the window, ÷ the single-container baseline */
  throughput: number[];
  minThroughput: number;
  /** bytes the balloon reclaimed from the container just started */
  ballooned?: number;
}

interface Fill { config: string; fit: number; stop: string; baseline: number; steps: Step[]; profile?: { report: ScanReport; stats: Map<string, MemStatNumbers> } }

/** Mean of the last `n` "ops N" lines a container printed. */
function opsRate(c: Running, n: number): number {
  const ops = [...c.output().matchAll(/^ops (\d+)$/gm)].map((m) => Number(m[1]));
  const last = ops.slice(-n);
  return last.length === 0 ? 0 : last.reduce((a, b) => a + b, 0) / last.length;
}

function statNumbers(root: string, c: Running): MemStatNumbers {
  const m = readMemory(memoryCgroupOf(readState(root, c.id) ?? { id: c.id }));
  return { usage: m.usage, anon: m.anon, file: m.activeFile + m.inactiveFile, inactiveFile: m.inactiveFile };
}

async function settleKsm(running: Running[]): Promise<void> {
  // this container's merged pages stop changing over a full scan
  let prev = -1;
  for (;;) {
    const f = readKsm().full_scans ?? 0;
    while ((readKsm().full_scans ?? 0) < f + 1) await sleep(100);
    const m = ksmMerged(running.flatMap((r) => r.pids())).merging;
    if (m === prev) return;
    prev = m;
  }
}

interface Params { budget: number; pages: number; rate: number; max: number; windowS: number; cacheDir: string }

/** baseline: pages read per second of one container alone (the first configuration's k = 1); 0 = measure it now. */
async function fill(root: string, cfg: Config, p: Params, wantProfile: boolean, baseline0 = 0, deflateAfter = true): Promise<Fill> {
  const tag = cfg.name.replace(/\W+/g, "").toLowerCase();
  const budget = makeBudget(p.budget, tag);
  const running: Running[] = [];
  const steps: Step[] = [];
  let fit = 0, baseline = baseline0, stop = `reached --max ${p.max}`;
  let profile: Fill["profile"];
  try {
    if (cfg.ksm) ksmOn(root, { pagesToScan: 20_000, sleepMillisecs: 10 });
    for (let k = 1; k <= p.max; k++) {
      const name = `density-${process.pid}-${tag}-${k}`;
      const cache = join(p.cacheDir, `c${k}`);
      execFileSync("dd", [`if=${cache}`, "iflag=nocache", "count=0", "status=none"]); // its cache is charged to the reader
      const c = await startContainer(root, name, ["--cgroup-parent", budget.name, ...(cfg.ksm ? ["--memory-merge"] : []),
        "-v", `${join(REPO, ".tmp", "reclaim")}:/pm:ro`, "busybox", "/pm/pagemix", String(1000 + k), String(p.pages),
        ...[DEFAULT_MIX.zero, DEFAULT_MIX.same, DEFAULT_MIX.shared, DEFAULT_MIX.within, DEFAULT_MIX.text].map(String),
        String(p.rate), `/pm/density-cache/c${k}`], "ready", 120_000)
        .catch(() => undefined); // OOM-killed while filling
      if (!c) { steps.push({ k, usageMiB: budget.usage() / MIB, alive: false, throughput: [], minThroughput: 0 }); stop = `container ${k} was killed while filling (OOM)`; break; }
      running.push(c);
      if (cfg.ksm) {
        // Merge fast while the new container fills, then measure at the kernel's default scan rate: at
        // 20,000 pages per 10 ms ksmd takes a core, and on this 2-core host the workers lose throughput to it.
        ksmOn(root, { pagesToScan: 20_000, sleepMillisecs: 10 });
        await settleKsm(running);
        ksmOn(root, { pagesToScan: KSM_STEADY.pagesToScan, sleepMillisecs: KSM_STEADY.sleepMillisecs });
      }
      let ballooned: number | undefined;
      if (cfg.balloon) {
        // To the working set plus a margin: `--auto` targets the working set itself, which on cgroup v1 is a
        // hard limit with no room left, and the container's next kernel allocation (pipe buffers for its
        // output, page tables) OOM-kills it inside its own cgroup (seen with KSM, whose merging lowers the
        // charge the target is computed from).
        const ws = readMemory(memoryCgroupOf(readState(root, c.id) ?? { id: c.id })).workingSet;
        const r = tsboxSync(root, ["mem", "balloon", name, "--target", String(ws + BALLOON_MARGIN), "--format", "json"]);
        if (r.code === 0) ballooned = (JSON.parse(r.stdout) as { reclaimedBytes: number }).reclaimedBytes;
        // Then let go (unless --hold-balloon): the idle cache it gave back stays free.
        if (deflateAfter) tsboxSync(root, ["mem", "balloon", name, "--deflate"]);
      }
      if (wantProfile && k === 2) {
        // before the window: the model's inputs, measured as `mem simulate --containers` does
        const report = scanContainers(running.map((r) => ({ id: r.id, name: r.name, pids: r.pids })), { mode: "full" });
        profile = { report, stats: new Map(running.map((r) => [r.id, statNumbers(root, r)])) };
      }
      const from = running.map((r) => [...r.output().matchAll(/^ops /gm)].length);
      // a full window of "ops" lines from every container, printed after the start (and KSM, balloon) settled
      const end = Date.now() + (p.windowS + 3) * 1000;
      while (Date.now() < end && running.some((r, i) => r.cli.exitCode === null && [...r.output().matchAll(/^ops /gm)].length < from[i]! + p.windowS + 1)) await sleep(100);
      const alive = running.every((r) => r.cli.exitCode === null);
      const rates = running.map((r) => opsRate(r, p.windowS));
      if (baseline === 0) baseline = rates[0]!;
      const throughput = rates.map((x) => (baseline > 0 ? x / baseline : 0));
      const minThroughput = alive ? Math.min(...throughput) : 0;
      steps.push({ k, usageMiB: budget.usage() / MIB, alive, throughput, minThroughput, ...(ballooned !== undefined ? { ballooned } : {}) });
      process.stderr.write(`${cfg.name} k=${k}: ${(budget.usage() / MIB).toFixed(1)} MiB, alive ${alive}, min throughput ${(minThroughput * 100).toFixed(1)} %` +
        `${ballooned !== undefined ? `, ballooned ${(ballooned / MIB).toFixed(1)} MiB` : ""}, failcnt ${budget.failcnt() ?? "-"}\n`);
      if (!alive) { stop = `an OOM kill at k=${k}`; break; }
      if (minThroughput < 1 - SLOWDOWN) { stop = `throughput ${(minThroughput * 100).toFixed(1)} % of the baseline at k=${k}`; break; }
      fit = k;
    }
  } finally {
    try {
      if (cfg.ksm) ksmOff(root);
    } finally {
      await Promise.all(running.map((r) => r.stop()));
      budget.remove();
    }
  }
  return { config: cfg.name, fit, stop, baseline, steps, ...(profile ? { profile } : {}) };
}

await runBenchmark(async () => {
  const budgetMiB = arg("--budget-mib", 96), pages = arg("--pages", 4096), cacheMiB = arg("--cache-mib", 8);
  const p: Params = { budget: budgetMiB * MIB, pages, rate: arg("--rate", 50), max: arg("--max", 24), windowS: arg("--window", 5), cacheDir: join(REPO, ".tmp", "reclaim", "density-cache") };
  const root = mkdtempSync("/var/tmp/tsbox-bench-density-");
  installSignalHandlers(5000);
  onCleanup("state root", () => { sh(["umount", "-R", root], 30_000); rmSync(root, { recursive: true, force: true }); });
  onCleanup("KSM settings", () => { ksmOff(root); });
  onCleanup("cache files", () => { rmSync(p.cacheDir, { recursive: true, force: true }); });
  const tar = join(REPO, ".tmp", "test", "busybox.tar");
  mustSh(["bash", "-c", `test -f ${tar} || bash ${join(REPO, "scripts", "make-busybox-rootfs.sh")} ${tar}`]);
  mustSh([process.execPath, "--", join(REPO, "bin", "tsbox.js"), "--root", root, "import", tar, "busybox"]);
  buildPagemix();
  mkdirSync(p.cacheDir, { recursive: true });
  for (let k = 1; k <= p.max; k++) execFileSync("dd", ["if=/dev/urandom", `of=${join(p.cacheDir, `c${k}`)}`, "bs=1M", `count=${cacheMiB}`, "conv=fsync", "status=none"]);
  const only = process.argv.includes("--configs") ? process.argv[process.argv.indexOf("--configs") + 1]!.split(",") : undefined;
  const fills: Fill[] = [];
  for (const cfg of CONFIGS) {
    if (only && !only.includes(cfg.name.replace(/\W+/g, "").toLowerCase())) continue;
    await pruneStale(root);
    fills.push(await fill(root, cfg, p, fills.length === 0, fills[0]?.baseline, !process.argv.includes("--hold-balloon")));
  }
  await pruneStale(root);
  const prof = fills[0]?.profile;
  if (!prof) throw new Error("no profile: the first configuration did not reach two containers");
  const sc = scenarioFromReport(prof.report, prof.stats, { hostBytes: p.budget });
  const rows = fills.map((f) => {
    const cfg = CONFIGS.find((c) => c.name === f.config)!;
    // A cgroup at its limit reclaims clean cache by itself: the same configuration with the balloon added.
    const withReclaim: Policy = { ...cfg.policy, balloon: true };
    return {
      ...f, policy: cfg.policy.name + (cfg.policy.balloon && cfg.policy.sharing ? "+balloon" : ""),
      predicted: largestFit(sc, cfg.policy, SLOWDOWN, p.max * 4), predictedWithReclaim: largestFit(sc, withReclaim, SLOWDOWN, p.max * 4),
    };
  });
  const g = sc.guests[1] ?? sc.guests[0]!;
  const d = g.trace[0]!;
  const mib = (pagesN: number): string => (pagesN * 4096 / MIB).toFixed(1);
  const lines = [
    `## Density: ${pages / 256} MiB working pagemix containers (+ ${cacheMiB} MiB idle cache each) in a ${budgetMiB} MiB budget`,
    "",
    `Criterion: every container keeps ≥ ${100 - SLOWDOWN * 100} % of the single-container throughput (${Math.round(fills[0]!.baseline)} pages read/s at ${p.rate} passes/s), none OOM-killed.`,
    `Model input (second container, measured): anon ${mib(d.anon)} MiB, cache ${mib(d.cache)} MiB, working set ${mib(d.workingSet)} MiB, zero ${mib(d.zero)} MiB, duplicates within ${mib(d.sharableWithin)} MiB, across ${mib(d.sharableAcross)} MiB.`,
    "",
    "| configuration | model policy | predicted | + the kernel's cache reclaim (balloon on) | measured | error (with reclaim) | what stopped it |",
    "|---|---|---:|---:|---:|---:|---|",
    ...rows.map((r) => `| ${r.config} | ${r.policy} | ${r.predicted} | ${r.predictedWithReclaim} | ${r.fit} | ${r.fit ? (Math.abs(r.predictedWithReclaim - r.fit) / r.fit * 100).toFixed(0) + " %" : "-"} | ${r.stop} |`),
    "",
    "What limits density here: no swap, so the budget is a cliff. At the parent's limit the kernel first reclaims clean cache (the idle",
    "cache files: an implicit balloon, which the model's `none` and `sharing` policies do not count, hence the column with the balloon",
    "on), then, with only anonymous memory left, OOM-kills; throughput holds until then (the workers read their pages, nothing to refault).",
    "ksmd at 20,000 pages / 10 ms takes a core: measured at that rate the workers lost > 5 % at 2-3 containers, so throughput is measured",
    `with ksmd at the kernel's default ${KSM_STEADY.pagesToScan} pages / ${KSM_STEADY.sleepMillisecs} ms (fast only while a new container fills).`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
  const out = join(REPO, "bench", "results");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "density.json"), JSON.stringify({ at: new Date().toISOString(), budgetMiB, pages, cacheMiB, rate: p.rate, scenarioGuests: sc.guests,
    rows: rows.map(({ profile: _, ...r }) => r) }, null, 2) + "\n");
  const colors = ["#7f7f7f", "#2ca02c", "#1f77b4", "#9467bd"];
  writeFileSync(join(out, "density.svg"), lineChart(`Density in ${budgetMiB} MiB: predicted vs measured (1 plain, 2 KSM, 3 balloon, 4 KSM+balloon)`, "configuration", "containers",
    [{ name: "model, policy as named", color: "#ff7f0e", dashed: true, points: rows.map((r) => [CONFIGS.findIndex((c) => c.name === r.config) + 1, r.predicted]) },
     { name: "model + kernel cache reclaim", color: "#1f77b4", dashed: true, points: rows.map((r) => [CONFIGS.findIndex((c) => c.name === r.config) + 1, r.predictedWithReclaim]) },
     { name: "measured", color: "#2ca02c", points: rows.map((r) => [CONFIGS.findIndex((c) => c.name === r.config) + 1, r.fit]) }]));
  writeFileSync(join(out, "density-throughput.svg"), lineChart(`Throughput of the slowest container vs containers started (${budgetMiB} MiB budget)`, "containers started", "slowest / baseline (%)",
    [...rows.map((r, i) => ({ name: r.config, color: colors[CONFIGS.findIndex((c) => c.name === r.config)] ?? colors[i]!, points: r.steps.map((s): [number, number] => [s.k, s.minThroughput * 100]) })),
     { name: "95 %", color: "#d62728", dashed: true, points: [[1, 95], [Math.max(...rows.map((r) => r.steps.length)), 95]] }]));
});
