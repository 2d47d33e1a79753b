// V1 sweep: K = 1..8 pagemix containers with --memory-merge; predicted KSM
// savings from the scanner (scanAnonymous: Σ over its content groups of the
// anonymous pages, n − ceil(n/max_page_sharing)) against what the kernel merged. Markdown table on stdout,
// bench/results/validate-ksm.{json,svg}.
//   npx tsx bench/validate-ksm.ts [--max-k 8] [--pages 4096]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installSignalHandlers, mustSh, onCleanup, runBenchmark, sh } from "./lib.js";
import { buildPagemix, holdKsmExclusive, ksmInUse, REPO, validateKsm, type KsmRow } from "./reclaim-harness.js";
import { lineChart } from "./svg-chart.js";
import { ksmOff } from "../src/reclaim/kernel/ksm.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

await runBenchmark(async () => {
  const maxK = arg("--max-k", 8), pages = arg("--pages", 4096);
  const root = mkdtempSync("/var/tmp/tsbox-bench-ksm-");
  installSignalHandlers(5000);
  // One KSM user at a time among tsbox's tests and benchmarks; none other at all.
  onCleanup("KSM lock", await holdKsmExclusive());
  const busy = ksmInUse();
  if (busy) throw new Error(`cannot measure KSM: ${busy}`);
  onCleanup("state root", () => { sh(["umount", "-R", root], 30_000); rmSync(root, { recursive: true, force: true }); });
  // If interrupted while KSM is on, put the settings back (no-op without a record).
  onCleanup("KSM settings", () => { ksmOff(root); });
  const tar = join(REPO, ".tmp", "test", "busybox.tar");
  mustSh(["bash", "-c", `test -f ${tar} || bash ${join(REPO, "scripts", "make-busybox-rootfs.sh")} ${tar}`]);
  mustSh([process.execPath, "--", join(REPO, "bin", "tsbox.js"), "--root", root, "import", tar, "busybox"]);
  const bin = buildPagemix();
  const rows: KsmRow[] = [];
  for (let k = 1; k <= maxK; k++) {
    const r = await validateKsm(root, bin, k, pages);
    process.stderr.write(`K=${k}: predicted ${r.predictedSaved}, measured ${r.measuredSaved} (${(r.errorSaved * 100).toFixed(2)} %), ${r.seconds.toFixed(0)} s\n`);
    rows.push(r);
  }
  const pct = (e: number): string => `${(e * 100).toFixed(2)} %`;
  const lines = [
    `## KSM: predicted vs measured saved pages (${pages} pages = ${pages / 256} MiB per container)`,
    "",
    "| K | anon pages | scan: duplicates / zero / same | predicted saved | measured saved | error | predicted merging | ksm_merging_pages | error | Δ global pages_sharing | full scans | other KSM users |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.k} | ${r.anonPages} | ${r.scanDuplicates} / ${r.scanZero} / ${r.scanSame} | ${r.predictedSaved} | ${r.measuredSaved} | ${pct(r.errorSaved)} | ${r.predictedMerging} | ${r.measuredMerging} | ${pct(r.errorMerging)} | ${r.globalSaved} | ${r.fullScans} | ${r.otherProcesses} |`),
  ];
  process.stdout.write(lines.join("\n") + "\n");
  const dir = join(REPO, "bench", "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "validate-ksm.json"), JSON.stringify({ at: new Date().toISOString(), pages, rows }, null, 2) + "\n");
  writeFileSync(join(dir, "validate-ksm.svg"), lineChart("KSM: pages saved vs identical containers", "containers (K)", "pages saved",
    [{ name: "predicted (from the scanned pages)", color: "#1f77b4", points: rows.map((r) => [r.k, r.predictedSaved]), dashed: true },
     { name: "measured (kernel: merged − KSM pages)", color: "#d62728", points: rows.map((r) => [r.k, r.measuredSaved]) }]));
});
