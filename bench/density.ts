// V8, measured density: identical pagemix containers are started one by one
// into a memory budget (a v1/v2 parent cgroup of our own with a memory limit,
// outside tsbox's default one, given to `run --cgroup-parent`), until one is
// OOM-killed or fails to fill. Without KSM,
// then with KSM (--memory-merge, scanner fast, settled after every start).
// Prediction: without KSM ⌊budget / U1⌋ (U1 = one container's charge); with KSM
// the first costs its merged charge, each further one U1 − (the pages it adds
// to the predicted savings), and the one being started is charged in full
// until KSM reaches it.
//   npx tsx bench/density.ts [--budget-mib 96] [--pages 4096] [--max 24]
// Not measured (TODO): the workload's throughput (the 5 % criterion).
// Without swap on this host the limit is a cliff (OOM), not a slowdown.
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { installSignalHandlers, mustSh, onCleanup, runBenchmark, sh } from "./lib.js";
import { buildPagemix, DEFAULT_MIX, pruneStale, REPO, startContainer, type Running } from "./reclaim-harness.js";
import { anonPages, contentGroups, ksmMerged } from "../src/reclaim/kernel/anon-pages.js";
import { ksmOff, ksmOn, predictKsm, readKsm } from "../src/reclaim/kernel/ksm.js";
import { detectHierarchy } from "../src/cgroupfs/index.js";
import { lineChart } from "./svg-chart.js";

const MIB = 1024 * 1024;
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

interface Budget { name: string; usage(): number; remove(): void }

/**
 * A parent cgroup with a memory limit; containers go under it with
 * `run --cgroup-parent`, which creates it in the other hierarchies.
 */
function makeBudget(bytes: number): Budget {
  const h = detectHierarchy();
  const v1 = h.version === "v1";
  const name = `tsbox-density-${process.pid}`;
  const memDir = join(v1 ? h.mounts.get("memory")! : h.mounts.get("cgroup2")!, name);
  mkdirSync(memDir);
  writeFileSync(join(memDir, v1 ? "memory.limit_in_bytes" : "memory.max"), String(bytes));
  return {
    name,
    usage: () => Number(readFileSync(join(memDir, v1 ? "memory.usage_in_bytes" : "memory.current"), "utf8")),
    remove: () => {
      const mounts = v1 ? [...new Set(h.mounts.values())] : [h.mounts.get("cgroup2")!];
      for (const m of mounts) { try { rmdirSync(join(m, name)); } catch { /* absent or already gone */ } }
    },
  };
}

interface Step { k: number; usageMiB: number; alive: boolean }

async function fill(root: string, bin: string, budgetBytes: number, pages: number, max: number, ksm: boolean): Promise<{ fit: number; steps: Step[]; u1: number; savedPerExtra: number }> {
  const budget = makeBudget(budgetBytes);
  const running: Running[] = [];
  const steps: Step[] = [];
  let u1 = 0, savedPerExtra = 0, fit = 0;
  try {
    if (ksm) ksmOn(root, { pagesToScan: 20_000, sleepMillisecs: 10 });
    for (let k = 1; k <= max; k++) {
      const name = `density-${process.pid}-${ksm ? "ksm" : "plain"}-${k}`;
      const c = await startContainer(root, name, ["--cgroup-parent", budget.name, ...(ksm ? ["--memory-merge"] : []),
        "-v", `${join(REPO, ".tmp", "reclaim")}:/pm:ro`, "busybox", "/pm/pagemix", String(1000 + k), String(pages),
        ...[DEFAULT_MIX.zero, DEFAULT_MIX.same, DEFAULT_MIX.shared, DEFAULT_MIX.within, DEFAULT_MIX.text].map(String)], "ready", 120_000)
        .catch(() => undefined); // OOM-killed while filling
      if (!c) { steps.push({ k, usageMiB: budget.usage() / MIB, alive: false }); break; }
      running.push(c);
      if (ksm) {
        // settle: this container's merged pages stop changing over a full scan
        let prev = -1;
        for (;;) {
          const f = readKsm().full_scans ?? 0;
          while ((readKsm().full_scans ?? 0) < f + 1) await sleep(100);
          const m = ksmMerged(running.flatMap((r) => r.pids())).merging;
          if (m === prev) break;
          prev = m;
        }
      } else await sleep(500);
      const alive = running.every((r) => r.cli.exitCode === null);
      steps.push({ k, usageMiB: budget.usage() / MIB, alive });
      process.stderr.write(`${ksm ? "KSM" : "plain"} k=${k}: ${(budget.usage() / MIB).toFixed(1)} MiB, all alive: ${alive}\n`);
      if (!alive) break;
      fit = k;
      if (k === 1) u1 = budget.usage();
      if (k === 2) {
        // per mapping: KSM has already merged these pages, so physical pages would hide the copies
        const g1 = predictKsm(contentGroups(running[0]!.pids().flatMap((p) => anonPages(p)), true).values()).saved;
        const g2 = predictKsm(contentGroups(running.flatMap((r) => r.pids()).flatMap((p) => anonPages(p)), true).values()).saved;
        savedPerExtra = g2 - g1; // what adding the second container adds to the savings (its internal duplicates too)
      }
    }
  } finally {
    if (ksm) ksmOff(root);
    await Promise.all(running.map((r) => r.stop()));
    budget.remove();
  }
  return { fit, steps, u1, savedPerExtra };
}

await runBenchmark(async () => {
  const budgetMiB = arg("--budget-mib", 96), pages = arg("--pages", 4096), max = arg("--max", 24);
  const root = mkdtempSync("/var/tmp/tsbox-bench-density-");
  installSignalHandlers(5000);
  onCleanup("state root", () => { sh(["umount", "-R", root], 30_000); rmSync(root, { recursive: true, force: true }); });
  onCleanup("KSM settings", () => { ksmOff(root); });
  const tar = join(REPO, ".tmp", "test", "busybox.tar");
  mustSh(["bash", "-c", `test -f ${tar} || bash ${join(REPO, "scripts", "make-busybox-rootfs.sh")} ${tar}`]);
  mustSh([process.execPath, join(REPO, "bin", "tsbox.js"), "--root", root, "import", tar, "busybox"]);
  buildPagemix();
  await pruneStale(root);
  const budget = budgetMiB * MIB;
  const plain = await fill(root, buildPagemix(), budget, pages, max, false);
  await pruneStale(root);
  const ksm = await fill(root, buildPagemix(), budget, pages, max, true);
  await pruneStale(root);
  const u1 = plain.u1;
  const predictedPlain = Math.floor(budget / u1);
  // With KSM: the first container, merged, costs ksmU1; each further one U1 − what it adds to the savings;
  // the one being started is charged in full (U1) until the scanner reaches it.
  const ksmU1 = ksm.u1 || u1;
  const incr = u1 - ksm.savedPerExtra * 4096;
  const predictedKsm = budget < u1 ? 0 : budget < ksmU1 + u1 ? 1 : Math.floor((budget - ksmU1 - u1) / incr) + 2;
  const lines = [
    `## Density: ${pages / 256} MiB pagemix containers in a ${budgetMiB} MiB budget (parent cgroup memory limit)`,
    "",
    "| | one container's charge U1 | per further container | predicted | measured |",
    "|---|---|---|---|---|",
    `| no KSM | ${(u1 / MIB).toFixed(1)} MiB | ${(u1 / MIB).toFixed(1)} MiB | ${predictedPlain} | ${plain.fit} |`,
    `| KSM (--memory-merge) | ${(ksmU1 / MIB).toFixed(1)} MiB | ${(incr / MIB).toFixed(1)} MiB | ${predictedKsm} | ${ksm.fit} |`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
  const out = join(REPO, "bench", "results");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "density.json"), JSON.stringify({ at: new Date().toISOString(), budgetMiB, pages, plain, ksm, predictedPlain, predictedKsm, incr }, null, 2) + "\n");
  writeFileSync(join(out, "density.svg"), lineChart(`Density: budget ${budgetMiB} MiB`, "containers started", "budget cgroup usage (MiB)",
    [{ name: "no KSM", color: "#7f7f7f", points: plain.steps.map((s) => [s.k, s.usageMiB]) },
     { name: "KSM", color: "#2ca02c", points: ksm.steps.map((s) => [s.k, s.usageMiB]) },
     { name: "budget", color: "#d62728", dashed: true, points: [[1, budgetMiB], [Math.max(plain.steps.length, ksm.steps.length), budgetMiB]] }]));
});
