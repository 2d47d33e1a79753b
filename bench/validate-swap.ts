// Row "compression on real swap": a hot-added zram device of our own as real swap
// (mkswap, swapon at priority 32767, with the compressor a new device gets, or
// the host's zram0's if it has one: never forced), one real workload at a time
// (bench/real-workloads.ts) in a container whose memory limit is then lowered to
// half of its anonymous memory below its usage, so the kernel chooses which pages
// go to swap. The prediction is `tsbox mem scan --anonymous --full --compress-all`
// taken before the limit is lowered: the ratio of all its anonymous pages to what
// they would take in zram (zero and same-filled pages free, the rest at the
// scan's ratio for the device's compressor, LZ4 where the scan has no such
// codec); the measurement is zram's own: orig_data_size / mem_used_total (the
// memory the device really holds, allocator included), and orig / compr_data_size
// (the compressor alone). Policy: compression to swap ("compress" without its
// 2 KiB rule). The device is swapped off and removed in `finally`; zram0 is only
// read. Markdown rows on stdout, bench/results/validate-swap.{json,svg}.
//   npx tsx bench/validate-swap.ts [--mib 24] [--fraction 0.5]
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { installSignalHandlers, onCleanup, runBenchmark, sh } from "./lib.js";
import { REPO } from "./reclaim-harness.js";
import { importDebianImage, memScan, missingPrograms, relErr, signedPct, startWorkload, WORKLOADS, type Workload } from "./real-workloads.js";
import { lineChart } from "./svg-chart.js";
import { currentAlgorithm, readMmStat, zramAdd, zramRemove, zramUnavailable, type MmStat, type ZramDevice } from "../src/reclaim/kernel/zram.js";
import { memoryCgroupOf, parseStat, readMemory } from "../src/reclaim/kernel/cgroup-memory.js";
import { readState } from "../src/state/container-store.js";
import type { MemoryProfile } from "../src/reclaim/profile.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const PAGE = 4096;

/** The host's compressor: zram0's (read only) if the host has it, else what a new device gets. */
export function hostCompressor(): string | undefined {
  return existsSync("/sys/block/zram0/comp_algorithm") ? currentAlgorithm("/sys/block/zram0") : undefined;
}

/** A zram device of our own as swap at the highest priority; `off()` swaps it off and removes it. */
export function zramSwap(bytes: number, algorithm: string | undefined): { dev: ZramDevice; algorithm: string; off(): void } {
  const dev = zramAdd(algorithm, bytes);
  let on = false;
  const off = (): void => {
    try {
      if (on) execFileSync("swapoff", [dev.node]);
    } finally {
      zramRemove(dev);
    }
  };
  try {
    execFileSync("mkswap", [dev.node], { stdio: "ignore" });
    execFileSync("swapon", ["-p", "32767", dev.node]);
    on = true;
  } catch (e) {
    off();
    throw e;
  }
  return { dev, algorithm: currentAlgorithm(dev.sys), off };
}

/** Predicted zram ratio of a profile's pages: zero and same-filled free, the rest at the codec's ratio. */
export function predictedRatio(p: MemoryProfile, algorithm: string): { ratio: number; codec: string } {
  const byCodec = p.compression.find((c) => c.codec === algorithm) ?? p.compression.find((c) => c.codec === "lz4") ?? p.compression[0]!;
  const data = p.present - p.zero - p.sameFilled;
  const stored = data * PAGE / byCodec.ratio;
  return { ratio: p.present * PAGE / stored, codec: byCodec.codec };
}

export interface SwapRow {
  workload: string;
  algorithm: string;
  codecUsed: string;
  anonPages: number;
  limitMiB: number;
  containerSwapMiB: number;
  predictedRatio: number;
  ratioMemUsed: number;
  ratioCompr: number;
  errorMemUsed: number;
  errorCompr: number;
  mm: MmStat;
}

function containerSwap(dir: string, v1: boolean): number {
  if (v1) return parseStat(readFileSync(join(dir, "memory.stat"), "utf8")).total_swap ?? 0;
  return Number(readFileSync(join(dir, "memory.swap.current"), "utf8"));
}

export async function validateSwapOne(root: string, w: Workload, mib: number, fraction: number, algorithm: string | undefined, i: number): Promise<SwapRow> {
  const c = await startWorkload(root, `swap-${process.pid}-${i}`, w, { mib, seed: 11 + i });
  let stopped = false;
  const stop = async (): Promise<void> => { if (!stopped) { stopped = true; await c.stop(); } };
  try {
    await sleep(1000);
    const scan = memScan(root, [c.name], ["--anonymous", "--full", "--compress-all"]);
    const prof = scan.containers[0]!;
    const cg = memoryCgroupOf(readState(root, c.id) ?? { id: c.id });
    const m = readMemory(cg);
    const sw = zramSwap(Math.max(64 << 20, m.anon * 2), algorithm);
    try {
      const pred = predictedRatio(prof, sw.algorithm);
      const limit = Math.floor((m.usage - fraction * m.anon) / PAGE) * PAGE;
      // The scan just read every page (marked accessed): v1 gives up with EBUSY after a few reclaim passes
      // over pages that look recently used, so retry while the LRU ages them.
      const file = join(cg.dir, cg.version === "v1" ? "memory.limit_in_bytes" : "memory.max");
      for (let tries = 0; ; tries++) {
        try {
          writeFileSync(file, String(limit));
          break;
        } catch (e) {
          if (tries >= 100) throw new Error(`${w.name}: the kernel did not reclaim to ${limit} B (usage ${m.usage}, anon ${m.anon}): ${String(e)}`);
          await sleep(100);
        }
      }
      await sleep(2000);
      const mm = readMmStat(sw.dev);
      const swapped = containerSwap(cg.dir, cg.version === "v1");
      const ratioMemUsed = mm.origDataSize / mm.memUsedTotal, ratioCompr = mm.origDataSize / mm.comprDataSize;
      const row: SwapRow = {
        workload: w.name, algorithm: sw.algorithm, codecUsed: pred.codec, anonPages: prof.present, limitMiB: limit / 2 ** 20,
        containerSwapMiB: swapped / 2 ** 20, predictedRatio: pred.ratio, ratioMemUsed, ratioCompr,
        errorMemUsed: relErr(pred.ratio, ratioMemUsed), errorCompr: relErr(pred.ratio, ratioCompr), mm,
      };
      process.stderr.write(`${w.name}: swapped ${(mm.origDataSize / 2 ** 20).toFixed(1)} MiB (container ${row.containerSwapMiB.toFixed(1)}), predicted ${pred.ratio.toFixed(3)} (${pred.codec}), orig/mem_used ${ratioMemUsed.toFixed(3)}, orig/compr ${ratioCompr.toFixed(3)}\n`);
      // The container goes first: its swap is freed with it, and swapoff has nothing to bring back.
      await stop();
      return row;
    } finally {
      await stop();
      sw.off();
    }
  } finally {
    await stop();
  }
}

export function swapRows(rows: SwapRow[]): string[] {
  return rows.map((r) => `| compression on real swap | ${r.workload} | compress (to zram swap, ${r.algorithm}) | zram ratio, \`mem scan --anonymous --full --compress-all\` (${r.codecUsed}) | orig_data_size / mem_used_total after the limit went to ${r.limitMiB.toFixed(0)} MiB (${(r.mm.origDataSize / 2 ** 20).toFixed(1)} MiB swapped) | ` +
    `${r.predictedRatio.toFixed(2)} | ${r.ratioMemUsed.toFixed(2)} | ${signedPct(r.errorMemUsed)} (compressor alone: ${r.ratioCompr.toFixed(2)}, ${signedPct(r.errorCompr)}) |`);
}

if (process.argv[1]?.endsWith("validate-swap.ts")) {
  await runBenchmark(async () => {
    const mib = arg("--mib", 24), fraction = arg("--fraction", 0.5);
    const why = zramUnavailable();
    if (why) throw new Error(`no zram: ${why}`);
    const missing = missingPrograms();
    if (missing.length > 0) throw new Error(`missing programs: ${missing.join(", ")}`);
    const root = mkdtempSync("/var/tmp/tsbox-bench-swap-");
    installSignalHandlers(5000);
    onCleanup("state root", () => { sh(["umount", "-R", root], 30_000); rmSync(root, { recursive: true, force: true }); });
    importDebianImage(root);
    const algorithm = hostCompressor();
    const rows: SwapRow[] = [];
    for (const [i, w] of WORKLOADS.entries()) rows.push(await validateSwapOne(root, w, mib, fraction, algorithm, i));
    const mean = rows.reduce((s, r) => s + Math.abs(r.errorMemUsed), 0) / rows.length;
    process.stdout.write([...swapRows(rows), `mean |error| against mem_used_total: ${(mean * 100).toFixed(1)} %`].join("\n") + "\n");
    const dir = join(REPO, "bench", "results");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "validate-swap.json"), JSON.stringify({ at: new Date().toISOString(), mib, fraction, rows, meanAbsError: mean }, null, 2) + "\n");
    writeFileSync(join(dir, "validate-swap.svg"), lineChart(`zram as swap (${rows[0]?.algorithm}): ratio per real workload (${rows.map((r, k) => `${k + 1} ${r.workload}`).join(", ")})`, "workload", "orig / memory held",
      [{ name: "predicted (mem scan)", color: "#1f77b4", dashed: true, points: rows.map((r, k) => [k + 1, r.predictedRatio]) },
       { name: "measured orig / mem_used_total", color: "#d62728", points: rows.map((r, k) => [k + 1, r.ratioMemUsed]) },
       { name: "measured orig / compr_data_size", color: "#ff7f0e", points: rows.map((r, k) => [k + 1, r.ratioCompr]) }]));
  });
}
