// Row "compression on real swap": a hot-added zram device of our own as real swap
// (mkswap, swapon at priority 32767, with the compressor a new device gets, or
// the host's zram0's if it has one: never forced), one real workload at a time
// (bench/real-workloads.ts) in a container whose memory limit is then lowered below
// its page cache and half of its anonymous memory, so the kernel chooses which pages
// go to swap, in its own LRU order (the container is scanned once: see below). Two
// predictions, both from that one scan, taken before the limit is lowered:
//  - "all pages": `tsbox mem scan --anonymous --full --compress-all
//    --zram-compressor ALG`'s zram figure over all the container's anonymous
//    pages (zero and same-filled pages free, the others sized with the device's
//    compressor and packed in zsmalloc's size classes: model/from-profile.ts
//    zramRatioOf). What `mem simulate` charges: it cannot know which pages the
//    kernel will pick, so it predicts an even share of them.
//  - "swapped pages": the same per-page sizes for
//    exactly the pages the kernel swapped out (pagemap's swap bit afterwards),
//    as a fresh device would hold them (kernel/zram.ts predictZram): the model
//    alone, the kernel's choice of pages taken out of the error.
// The measurement is zram's own: orig_data_size / mem_used_total (the memory
// the device really holds, allocator included), orig / compr_data_size (the
// compressor alone), and mem_used_total again after the device is compacted
// (pages freed by swap-ins stay in zsmalloc's zspages until then).
// Policy: compression to swap ("compress" without its 2 KiB rule). The device
// is swapped off and removed in `finally`; zram0 is only read. While it is on, the
// device is the host's swap: a row where other cgroups swapped to it too (the
// device holds more than the container's swap) is run again. Markdown rows
// on stdout, bench/results/validate-swap.{json,svg}.
//   npx tsx bench/validate-swap.ts [--mib 24] [--fraction 0.5]
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { installSignalHandlers, onCleanup, runBenchmark, sh } from "./lib.js";
import { REPO } from "./reclaim-harness.js";
import { importDebianImage, missingPrograms, relErr, signedPct, startWorkload, WORKLOADS, type Workload } from "./real-workloads.js";
import { lineChart } from "./svg-chart.js";
import { currentAlgorithm, hostDefaultAlgorithm, predictZram, readMmStat, zramAdd, zramRemove, zramUnavailable, type MmStat, type ZramDevice } from "../src/reclaim/kernel/zram.js";
import { scanAnonymous, type ScannedPage } from "../src/reclaim/measure/scan.js";
import { isZramCodec } from "../src/native/scan.js";
import { zramRatioOf } from "../src/reclaim/model/from-profile.js";
import { memoryCgroupOf, parseStat, readMemory } from "../src/reclaim/kernel/cgroup-memory.js";
import { readState } from "../src/state/container-store.js";

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
      // While it is on, the device is every cgroup's swap: a cgroup at its limit that swapped
      // to it (another program on the host) makes swapoff fail with ENOMEM until it frees memory.
      for (let tries = 0; on; tries++) {
        try {
          execFileSync("swapoff", [dev.node], { stdio: "pipe" });
          on = false;
        } catch (e) {
          if (tries >= 120) throw e;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
        }
      }
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

/** The scanned pages now in swap (pagemap bit 62), by process and address. */
export function swappedOf(pages: readonly ScannedPage[]): ScannedPage[] {
  const out: ScannedPage[] = [];
  const byPid = new Map<number, ScannedPage[]>();
  for (const p of pages) byPid.set(p.pid, [...(byPid.get(p.pid) ?? []), p]);
  const buf = Buffer.alloc(8);
  for (const [pid, ps] of byPid) {
    let fd: number;
    try {
      fd = openSync(`/proc/${pid}/pagemap`, "r");
    } catch {
      continue; // gone: its pages left swap with it
    }
    try {
      for (const p of ps) {
        if (readSync(fd, buf, 0, 8, (p.addr / PAGE) * 8) !== 8) continue;
        if ((buf.readUInt32LE(4) & 0x4000_0000) !== 0) out.push(p);
      }
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

export interface SwapRow {
  workload: string;
  algorithm: string;
  /** the compressor `mem scan` sized pages with */
  codecUsed: string;
  anonPages: number;
  limitMiB: number;
  containerSwapMiB: number;
  /** `mem scan`'s zram ratio over all the anonymous pages */
  predictedRatio: number;
  /** the pages of the scan found in swap afterwards, and predictZram's ratios for them */
  swappedScanned: number;
  /** fraction of zero or same-filled pages (stored without data): over all the anonymous pages, over the pages swapped */
  sameAll: number;
  sameSwapped: number;
  /** the data pages' zram ratio: over all, over the pages swapped */
  dataRatioAll: number;
  dataRatioSwapped: number;
  predictedSwapped: number;
  predictedSwappedCompr: number;
  ratioMemUsed: number;
  ratioCompr: number;
  /** orig_data_size / mem_used_total after writing compact */
  ratioCompacted: number;
  errorMemUsed: number;
  errorSwapped: number;
  errorCompr: number;
  mm: MmStat;
  mmCompacted: MmStat;
}

function containerSwap(dir: string, v1: boolean): number {
  if (v1) return parseStat(readFileSync(join(dir, "memory.stat"), "utf8")).total_swap ?? 0;
  return Number(readFileSync(join(dir, "memory.swap.current"), "utf8"));
}

/** Swap in the device beyond the container's: other cgroups of the host swapped to it (it is the host's swap meanwhile). */
export class ForeignSwap extends Error {}

export async function validateSwapOne(root: string, w: Workload, mib: number, fraction: number, algorithm: string | undefined, i: number): Promise<SwapRow> {
  const c = await startWorkload(root, `swap-${process.pid}-${i}`, w, { mib, seed: 11 + i });
  let stopped = false;
  const stop = async (): Promise<void> => { if (!stopped) { stopped = true; await c.stop(); } };
  try {
    await sleep(1000);
    const cg = memoryCgroupOf(readState(root, c.id) ?? { id: c.id });
    const m = readMemory(cg);
    const alg = algorithm ?? hostDefaultAlgorithm();
    const scanCodec = isZramCodec(alg) ? alg : "lz4";
    // One look only. The scanner reads each page through the kernel's user-page lookup, which marks
    // it accessed: after one look every page is referenced, after a second every page is on the
    // active list in the scan's order (kpageflags), and the kernel then swaps in that order, not its
    // own. The profile is the one `mem scan --anonymous --full --compress-all` prints (the same
    // scanner, in-process here so the pages' places come with it).
    const scanned = scanAnonymous([{ id: c.id, name: c.name, pids: () => c.pids() }], { zramCodec: scanCodec });
    const prof = scanned.report.containers[0]!;
    const pages = scanned.pages;
    const sw = zramSwap(Math.max(64 << 20, m.anon * 2), alg);
    try {
      const predicted = zramRatioOf(prof);
      // Below the page cache as well: the kernel reclaims the container's file pages first, and
      // a limit lowered by the anonymous share alone left 1–5 MiB swapped, where zsmalloc's
      // partly filled zspages outweigh the data.
      const limit = Math.floor((m.usage - m.activeFile - m.inactiveFile - fraction * m.anon) / PAGE) * PAGE;
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
      if (mm.origDataSize > swapped * 1.05 + 16 * PAGE) {
        throw new ForeignSwap(`${w.name}: the device holds ${(mm.origDataSize / 2 ** 20).toFixed(1)} MiB, the container swapped ${(swapped / 2 ** 20).toFixed(1)} MiB: other cgroups swapped to it`);
      }
      const inSwap = predictZram(swappedOf(pages).map((p) => ({ kind: p.kind, size: p.size })));
      // pages swapped in again leave holes in zsmalloc's zspages until the pool is compacted
      writeFileSync(join(sw.dev.sys, "compact"), "1");
      const mmCompacted = readMmStat(sw.dev);
      const ratioMemUsed = mm.origDataSize / mm.memUsedTotal, ratioCompr = mm.origDataSize / mm.comprDataSize;
      const predictedSwapped = inSwap.orig / inSwap.memUsedTotal;
      const row: SwapRow = {
        workload: w.name, algorithm: sw.algorithm, codecUsed: prof.zram?.compressor ?? "lz4", anonPages: prof.present, limitMiB: limit / 2 ** 20,
        containerSwapMiB: swapped / 2 ** 20, predictedRatio: predicted, swappedScanned: inSwap.pages, predictedSwapped,
        sameAll: (prof.zero + prof.sameFilled) / Math.max(1, prof.sampled), sameSwapped: inSwap.samePages / Math.max(1, inSwap.pages),
        dataRatioAll: prof.zram?.ratio ?? 0, dataRatioSwapped: (inSwap.pages - inSwap.samePages) * PAGE / Math.max(1, inSwap.memUsedTotal),
        predictedSwappedCompr: inSwap.orig / inSwap.compr, ratioMemUsed, ratioCompr,
        ratioCompacted: mmCompacted.origDataSize / mmCompacted.memUsedTotal,
        errorMemUsed: relErr(predicted, ratioMemUsed), errorSwapped: relErr(predictedSwapped, ratioMemUsed), errorCompr: relErr(inSwap.orig / inSwap.compr, ratioCompr), mm, mmCompacted,
      };
      process.stderr.write(`${w.name}: swapped ${(mm.origDataSize / 2 ** 20).toFixed(1)} MiB (container ${row.containerSwapMiB.toFixed(1)}, scanned pages in swap ${inSwap.pages}), ` +
        `predicted ${predicted.toFixed(3)} all / ${predictedSwapped.toFixed(3)} swapped (${row.codecUsed}), orig/mem_used ${ratioMemUsed.toFixed(3)} (max ${mm.memUsedMax}, compacted ${ratioCompacted(row)}), orig/compr ${ratioCompr.toFixed(3)} (predicted ${row.predictedSwappedCompr.toFixed(3)}); ` +
        `zero or same-filled ${(100 * row.sameAll).toFixed(1)} % of all, ${(100 * row.sameSwapped).toFixed(1)} % of the swapped; data pages' ratio ${row.dataRatioAll.toFixed(3)} all, ${row.dataRatioSwapped.toFixed(3)} swapped\n`);
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

const ratioCompacted = (r: SwapRow): string => `${r.ratioCompacted.toFixed(3)}, ${r.mmCompacted.pagesCompacted} pages compacted`;

export function swapRows(rows: SwapRow[]): string[] {
  return rows.map((r) => `| compression on real swap | ${r.workload} | compress (to zram swap, ${r.algorithm}) | zram ratio in zsmalloc's classes: all anonymous pages (\`mem scan --anonymous --full --compress-all\`, ${r.codecUsed}) / the pages swapped | orig_data_size / mem_used_total after the limit went to ${r.limitMiB.toFixed(0)} MiB (${(r.mm.origDataSize / 2 ** 20).toFixed(1)} MiB swapped) | ` +
    `${r.predictedRatio.toFixed(2)} / ${r.predictedSwapped.toFixed(2)} | ${r.ratioMemUsed.toFixed(2)} | ${signedPct(r.errorMemUsed)} / ${signedPct(r.errorSwapped)} (compressor alone: ${r.predictedSwappedCompr.toFixed(2)} vs ${r.ratioCompr.toFixed(2)}, ${signedPct(r.errorCompr)}; compacted ${r.ratioCompacted.toFixed(2)}) |`);
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
    for (const [i, w] of WORKLOADS.entries()) {
      for (let attempt = 0; ; attempt++) {
        try {
          rows.push(await validateSwapOne(root, w, mib, fraction, algorithm, i));
          break;
        } catch (e) {
          if (!(e instanceof ForeignSwap) || attempt >= 3) throw e;
          process.stderr.write(`${e.message}: again\n`);
        }
      }
    }
    const meanOf = (f: (r: SwapRow) => number): number => rows.reduce((s, r) => s + Math.abs(f(r)), 0) / rows.length;
    const mean = meanOf((r) => r.errorMemUsed), meanSwapped = meanOf((r) => r.errorSwapped), meanCompr = meanOf((r) => r.errorCompr);
    process.stdout.write([...swapRows(rows), `mean |error| against mem_used_total: ${(mean * 100).toFixed(1)} % (all pages), ${(meanSwapped * 100).toFixed(1)} % (the pages swapped); compressor alone ${(meanCompr * 100).toFixed(1)} %`].join("\n") + "\n");
    const dir = join(REPO, "bench", "results");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "validate-swap.json"), JSON.stringify({ at: new Date().toISOString(), mib, fraction, rows, meanAbsError: mean, meanAbsErrorSwapped: meanSwapped, meanAbsErrorCompr: meanCompr }, null, 2) + "\n");
    writeFileSync(join(dir, "validate-swap.svg"), lineChart(`zram as swap (${rows[0]?.algorithm}): ratio per real workload (${rows.map((r, k) => `${k + 1} ${r.workload}`).join(", ")})`, "workload", "orig / memory held",
      [{ name: "predicted, all anonymous pages (mem scan)", color: "#1f77b4", dashed: true, points: rows.map((r, k) => [k + 1, r.predictedRatio]) },
       { name: "predicted, the pages swapped", color: "#2ca02c", dashed: true, points: rows.map((r, k) => [k + 1, r.predictedSwapped]) },
       { name: "measured orig / mem_used_total", color: "#d62728", points: rows.map((r, k) => [k + 1, r.ratioMemUsed]) },
       { name: "measured orig / compr_data_size", color: "#ff7f0e", points: rows.map((r, k) => [k + 1, r.ratioCompr]) }]));
  });
}
