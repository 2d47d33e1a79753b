// `tsbox mem scan`'s table: one row per container, fractions of the pages
// classified, then what KSM would free by merging and how fast the scan went.
// ZRAM RATIO is the data pages' ratio in a zram device (its compressor's
// sizes in zsmalloc's size classes: original over mem_used_total).

import { humanSize, table } from "../../format.js";
import { PAGE_SIZE, type ScanReport } from "../profile.js";

const pct = (x: number, of: number): string => (of > 0 ? `${((100 * x) / of).toFixed(1)}%` : "--");

/** What the sharable pages are, as KSM would merge them (anonymous pages only). */
function sharableKinds(r: ScanReport): string {
  if (r.sharable === undefined) return "";
  const { duplicate, sameFilled, zero } = r.sharable;
  const k = r.ksm;
  const rules = k === undefined ? "" : `, use_zero_pages ${k.useZeroPages ? 1 : 0}, max_page_sharing ${k.maxPageSharing}`;
  const changed = r.containers.reduce((n, p) => n + (p.mergeable?.changed ?? 0), 0);
  const l = r.stableLooks;
  const settle = l === undefined ? "" : `, ${l.held[2]} held; ${l.settling ? "settling at" : "not settling, a window on"} ${l.settledPages} (at ${l.seconds.join(" / ")} s: held ${l.held.join(" / ")}, all ${l.instant.join(" / ")})`;
  const stable = r.stableForSeconds === undefined ? "" : `; only pages unchanged over ${r.stableForSeconds} s (${changed} changed, left out${settle})`;
  return `: ${duplicate} duplicate, ${sameFilled} same-filled, ${zero} zero; anonymous pages only${rules}${stable}`;
}

export function scanTable(r: ScanReport): string {
  const rows = r.containers.map((p) => {
    const [lz4, zstd] = p.compression;
    return [
      p.id.slice(0, 12), p.name, p.mode, humanSize(p.present * PAGE_SIZE), String(p.sampled),
      pct(p.zero, p.sampled), pct(p.sameFilled, p.sampled), pct(p.duplicateWithin, p.sampled),
      pct(p.duplicateAcross, p.sampled), pct(p.unique, p.sampled), pct(p.anonFraction, 1),
      lz4 ? `${lz4.ratio.toFixed(2)}` : "--", lz4 ? pct(lz4.le2k, 1) : "--",
      zstd ? `${zstd.ratio.toFixed(2)}` : "--", zstd ? pct(zstd.le2k, 1) : "--",
      p.zram ? `${p.zram.ratio.toFixed(2)} ${p.zram.compressor}` : "--",
      p.ci95 === undefined ? "--" : `±${(100 * p.ci95).toFixed(1)}`,
    ];
  });
  const gib = r.bytesAnalysed / 2 ** 30;
  return table(["CONTAINER ID", "NAME", "MODE", "PRESENT", "SAMPLED", "ZERO", "SAME", "DUP WITHIN", "DUP ACROSS",
    "UNIQUE", "ANON", "LZ4 RATIO", "LZ4 <=2K", "ZSTD RATIO", "ZSTD <=2K", "ZRAM RATIO", "CI95 (PP)"], rows)
    + `\nsharable: ${humanSize(r.sharablePages * PAGE_SIZE)} (${r.sharablePages} pages${sharableKinds(r)}); `
    + `analysed ${humanSize(r.bytesAnalysed)} in ${r.elapsedMs} ms (${(gib / Math.max(r.elapsedMs / 1000, 1e-9)).toFixed(2)} GiB/s)\n`;
}
