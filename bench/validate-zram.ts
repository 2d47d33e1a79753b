// V3/V4 sweep: pagemix containers with different page mixes; their anonymous
// pages written to a hot-added zram device (the host's default compressor),
// mm_stat against the per-page sizes under that compressor and zsmalloc's size
// classes; a sample written page by page for the ≤2 KiB / ≤1 KiB shares.
// Markdown on stdout, bench/results/validate-zram.{json,svg}.
//   npx tsx bench/validate-zram.ts [--pages 4096]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installSignalHandlers, mustSh, onCleanup, runBenchmark, sh } from "./lib.js";
import { buildPagemix, REPO, startPagemix, validateZram, type Mix, type ZramRow } from "./reclaim-harness.js";
import { lineChart } from "./svg-chart.js";

const MIXES: [string, Mix, number][] = [
  ["default", { zero: 10, same: 10, shared: 30, within: 10, text: 20 }, 2],
  ["text and records", { zero: 0, same: 0, shared: 0, within: 0, text: 100 }, 3],
  ["half random", { zero: 0, same: 0, shared: 25, within: 0, text: 25 }, 5],
  ["zero-heavy", { zero: 50, same: 10, shared: 0, within: 0, text: 30 }, 7],
  ["random", { zero: 0, same: 0, shared: 0, within: 0, text: 0 }, 9],
];

await runBenchmark(async () => {
  const i = process.argv.indexOf("--pages");
  const pages = i > 0 ? Number(process.argv[i + 1]) : 4096;
  const root = mkdtempSync("/var/tmp/tsbox-bench-zram-");
  installSignalHandlers(5000);
  onCleanup("state root", () => { sh(["umount", "-R", root], 30_000); rmSync(root, { recursive: true, force: true }); });
  const tar = join(REPO, ".tmp", "test", "busybox.tar");
  mustSh(["bash", "-c", `test -f ${tar} || bash ${join(REPO, "scripts", "make-busybox-rootfs.sh")} ${tar}`]);
  mustSh([process.execPath, "--", join(REPO, "bin", "tsbox.js"), "--root", root, "import", tar, "busybox"]);
  const bin = buildPagemix();
  const rows: (ZramRow & { mix: string })[] = [];
  for (const [name, mix, seed] of MIXES) {
    const c = await startPagemix(root, bin, `zram-${process.pid}-${seed}`, seed, pages, mix, false);
    try {
      rows.push({ mix: name, ...validateZram(c.pids()) });
    } finally {
      await c.stop();
    }
  }
  const pct = (e: number): string => `${(e * 100).toFixed(1)} %`;
  const lines = [
    `## zram (${rows[0]?.algorithm ?? "?"}): predicted vs measured (${pages} pages of pagemix per row, plus the process's own pages)`,
    "",
    "| mix | pages | predicted ratio | mm_stat ratio | error | mem_used_total pred/meas | error | same pages pred/meas | huge pages pred/meas | ≤2 KiB pred/meas | ≤1 KiB pred/meas (sample) |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.mix} | ${r.pages} | ${r.predictedRatio.toFixed(3)} | ${r.measuredRatio.toFixed(3)} | ${pct(r.errorRatio)} | ${r.predictedMemUsed}/${r.memUsedTotal} | ${pct(r.errorMemUsed)} | ${r.predictedSame}/${r.measuredSame} | ${r.predictedHuge}/${r.measuredHuge} | ${pct(r.predictedLe2k)}/${pct(r.measuredLe2k)} | ${pct(r.predictedLe1k)}/${pct(r.measuredLe1k)} (${r.sample}) |`),
  ];
  process.stdout.write(lines.join("\n") + "\n");
  const dir = join(REPO, "bench", "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "validate-zram.json"), JSON.stringify({ at: new Date().toISOString(), pages, rows }, null, 2) + "\n");
  writeFileSync(join(dir, "validate-zram.svg"), lineChart(`zram ${rows[0]?.algorithm ?? ""}: compression ratio per page mix`, "mix (row of the table)", "orig / compr",
    [{ name: "predicted (per-page sizes)", color: "#1f77b4", points: rows.map((r, k) => [k + 1, r.predictedRatio]), dashed: true },
     { name: "measured (mm_stat)", color: "#d62728", points: rows.map((r, k) => [k + 1, r.measuredRatio]) }]));
});
