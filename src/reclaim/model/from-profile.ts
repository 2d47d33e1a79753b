// Guests from measurements: a container's MemoryProfile (`tsbox mem scan`)
// and, when there, its cgroup numbers (`tsbox mem stat`) become a guest with a
// constant demand.

import { PAGE_SIZE, type CodecProfile, type MemoryProfile, type ScanReport } from "../profile.js";
import { DEFAULT_CODEC, type Demand, type Guest, type TouchBand } from "./scenario.js";

/** The cgroup numbers the model uses, bytes (memory.current/usage, memory.stat anon/file/inactive_file, the limit). */
export interface MemStatNumbers {
  usage: number;
  anon: number;
  file: number;
  inactiveFile: number;
  /** the container's memory limit; absent or non-finite when unlimited */
  limit?: number;
  /** the working set measured over a window (`mem workingset`), bytes; absent: usage − inactive file */
  workingSet?: number;
  /** the anonymous working set by how often it is touched (`mem workingset`'s ladder), hottest first */
  touches?: TouchBand[];
}

export interface FromProfileOptions {
  /** the guest's configured size when no limit is known, pages */
  sizePages?: number;
  contentGroup?: string;
  shares?: number;
  /** pages of this guest identical to other guests' (defaults to the profile's duplicateAcross, scaled) */
  sharableAcross?: number;
}

const pages = (bytes: number): number => Math.floor(bytes / PAGE_SIZE);

/**
 * Prefers the lz4-class codec (what zram/zswap use by default), with the
 * zram figures where the scan measured them: sizes under the device's own
 * compressor (lzo-rle by default), the ratio after zsmalloc's size classes.
 */
export function codecOf(p: MemoryProfile): CodecProfile {
  const c = p.compression.find((x) => x.codec === "lz4") ?? p.compression[0] ?? DEFAULT_CODEC;
  const z = p.zram;
  return z === undefined || c.codec !== "lz4" ? c : { ...c, ratio: z.ratio, le2k: z.le2k, le1k: z.le1k, incompressible: z.incompressible };
}

/**
 * What zram would take of a profile's pages, as a ratio: every page in,
 * zero and same-filled ones stored without data, the data pages at the zram
 * ratio (codecOf). Over all the profile's pages: which of them the kernel
 * swaps is its choice, so the prediction is for an even share of them.
 */
export function zramRatioOf(p: MemoryProfile): number {
  const data = p.sampled - p.zero - p.sameFilled;
  const stored = data / codecOf(p).ratio;
  return stored > 0 ? p.sampled / stored : Infinity;
}

export function guestFromProfile(p: MemoryProfile, stat?: MemStatNumbers, o: FromProfileOptions = {}): Guest {
  const scale = p.sampled > 0 ? p.present / p.sampled : 0;
  let anon: number;
  let cache: number;
  let workingSet: number;
  if (stat) {
    anon = pages(stat.anon);
    cache = pages(stat.file);
    // measured over a window when given (pages touched, kernel/workingset.ts), else the kubelet's
    // snapshot: usage minus inactive file, which counts every anonymous page, touched or not
    workingSet = Math.min(anon + cache, pages(stat.workingSet ?? Math.max(0, stat.usage - stat.inactiveFile)));
    const anonTouched = (stat.touches ?? []).reduce((s, b) => s + b.pages, 0);
    if (anonTouched > 0) {
      // with the anonymous pages touched known apart (the bands), the file pages touched count only as far as
      // the cgroup holds file pages: a mapped file's page cache (a shared image, the host's /usr) is charged to
      // whoever read it first, and a container touching it holds none of it
      const fileTouched = Math.max(0, pages(stat.workingSet ?? 0) - anonTouched);
      workingSet = Math.min(anon, anonTouched) + Math.min(cache, fileTouched);
    }
  } else {
    // without the cgroup's split, the present pages are all there is: anon counted active, file pages idle
    anon = Math.round(p.present * p.anonFraction);
    cache = p.present - anon;
    workingSet = anon;
  }
  const content = anon + cache;
  const clampTo = (x: number, max: number): number => Math.max(0, Math.min(max, Math.round(x)));
  // KSM's view when the scan measured it (anonymous pages only, same-filled copies included, exact);
  // else the classified counts, scaled
  const m = p.mergeable;
  const zero = clampTo(m ? m.zero : p.zero * scale, content);
  const sharableWithin = clampTo(m ? m.within : p.duplicateWithin * scale, content - zero);
  const sharableAcross = clampTo(o.sharableAcross ?? (m ? m.across : p.duplicateAcross * scale), content - zero - sharableWithin);
  const limit = stat?.limit !== undefined && Number.isFinite(stat.limit) && stat.limit > 0 ? pages(stat.limit) : undefined;
  const sizePages = Math.max(content, o.sizePages ?? limit ?? Math.ceil(content * 1.25));
  const touches = stat?.touches?.filter((b) => b.pages > 0 && Number.isFinite(b.perSecond) && b.perSecond > 0);
  const demand: Demand = { anon, cache, workingSet, zero, sharableWithin, sharableAcross, ...(touches !== undefined && touches.length > 0 ? { touches } : {}) };
  return {
    name: p.name || p.id.slice(0, 12) || "container",
    sizePages,
    shares: o.shares ?? 1000,
    contentGroup: o.contentGroup ?? "scan",
    codec: codecOf(p),
    trace: [demand],
  };
}

/**
 * Every container of one scan as a guest. duplicateAcross counts a container's copies of content
 * first seen in an earlier container (mergeable.across: the same over KSM's view); the first
 * container holds those originals, so it is given as many common pages as the largest of the
 * others, and the model's saving is Σ duplicateAcross.
 */
export function guestsFromScanReport(r: ScanReport, stats: ReadonlyMap<string, MemStatNumbers> = new Map(), o: FromProfileOptions = {}): Guest[] {
  const across = r.containers.map((p) => (p.mergeable ? p.mergeable.across : p.sampled > 0 ? (p.duplicateAcross * p.present) / p.sampled : 0));
  const firstAcross = Math.max(0, ...across.slice(1));
  return r.containers.map((p, i) => guestFromProfile(p, stats.get(p.id), { ...o, sharableAcross: i === 0 ? firstAcross : across[i]! }));
}
