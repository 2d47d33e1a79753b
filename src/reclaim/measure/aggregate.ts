// From per-page scanner results to MemoryProfiles: duplicates found by
// content hash across all scanned containers (the first copy in report
// order is the one kept), zero and same-filled pages counted apart, and the
// compressed-size distribution. Pure: the scanner's output in, numbers out.

import { KSM_DEFAULTS, PAGE_SIZE, type CodecProfile, type KsmSettings, type MemoryProfile, type MergeablePages, type ZramProfile } from "../profile.js";
import { poolPages, zsmalloc } from "../model/zsmalloc.js";
import { KeyIndex } from "./key-index.js";
import { ci95 } from "./sampling.js";

/** What the scanner found in a page (enum kind in native-shims/scan/scan.c). */
export const Kind = { Data: 0, Zero: 1, Same: 2, Gone: 3 } as const;

/** What the scanner read from one container, in scan order (all its pages, each physical frame once). */
export interface ContainerPages {
  count: number;
  kind: Uint8Array;
  /** content key (52 bits of the hash) of Data pages */
  key: Float64Array;
  /** compressed sizes (0 = not measured) */
  lz4: Uint16Array;
  strong: Uint16Array;
  /** size under the zram compressor the scan was given (scanPages' dev; = lz4 by default) */
  dev: Uint16Array;
  /** that compressor's name (lz4 when absent) */
  devCodec?: string;
  /** 1 = the page is in the classified set (every page in full mode; the N drawn in sample mode) */
  classified: Uint8Array;
  /** 1 = exclusively anonymous (pagemap bit 61 clear) */
  anon: Uint8Array;
  /** 1 = content unchanged over the scan's stability window (stability.ts); absent: every page counts as stable */
  stable?: Uint8Array;
}

export type ProfileCounts = Omit<MemoryProfile, "id" | "name" | "mode"> & { dataPages: number };

export interface Aggregate {
  profiles: ProfileCounts[];
  /** pages KSM would free (mergeable(): every page, exact in sample mode too) */
  sharablePages: number;
  sharable: { duplicate: number; sameFilled: number; zero: number };
}

/**
 * KSM's view of the pages: only exclusively anonymous ones, identical pages
 * one content (data by hash, same-filled by fill word, zero pages one
 * content host-wide). Per container, the copies beyond each content's first
 * (report order, then scan order); over all, the pages merging frees: a
 * content with n copies needs ceil(n / max_page_sharing) KSM pages (each
 * takes at most max_page_sharing mappings: mm/ksm.c's stable node chains),
 * so the first copy and every max_page_sharing-th one are kept; zero pages
 * likewise, or all saved with use_zero_pages (they map the kernel's zero page).
 * With a stability window (ContainerPages.stable), a page whose content
 * changed within it takes no part: counted as `changed` instead.
 */
export function mergeable(
  containers: readonly ContainerPages[], ksm: KsmSettings,
  /** aggregate()'s content slots of the data pages (slotOf[container][page]), numbered 0..contents−1 */
  data: { slotOf: readonly Int32Array[]; contents: number },
): { perContainer: MergeablePages[]; sharable: Aggregate["sharable"] } {
  let sames = 0;
  for (const c of containers) for (let i = 0; i < c.count; i++) if (c.kind[i] === Kind.Same) sames++;
  // per content (the data slots, then one per fill word): the container of its first anonymous
  // copy (−1: none yet), and its anonymous copies so far
  const owner = new Int32Array(data.contents + sames).fill(-1), seen = new Int32Array(data.contents + sames);
  const sameSlot = new KeyIndex(64);
  let fills = 0;
  const max = Math.max(1, ksm.maxPageSharing);
  const perContainer = containers.map((c, ci): MergeablePages => {
    const m: MergeablePages = { zero: 0, within: 0, across: 0, sameFilled: 0, ...(c.stable ? { changed: 0 } : {}) };
    for (let i = 0; i < c.count; i++) {
      if (!c.anon[i]) continue;
      const kind = c.kind[i];
      // a page written within the window is not merged (KSM's checksum rule): no copy, not a first copy either
      if (c.stable && !c.stable[i] && kind !== Kind.Gone) { m.changed = (m.changed ?? 0) + 1; continue; }
      if (kind === Kind.Zero) { m.zero++; continue; }
      if (kind !== Kind.Data && kind !== Kind.Same) continue;
      let slot: number;
      if (kind === Kind.Data) slot = data.slotOf[ci]![i]!;
      else if ((slot = sameSlot.getOrSet(c.key[i]!, data.contents + fills)) < 0) slot = data.contents + fills++;
      if (owner[slot]! < 0) owner[slot] = ci;
      // the first copy, and every max_page_sharing-th after it, is a KSM page of the content's chain: kept
      if (seen[slot]!++ % max === 0) continue;
      if (owner[slot] === ci) m.within++;
      else m.across++;
      if (kind === Kind.Same) m.sameFilled++;
    }
    return m;
  });
  const zeros = perContainer.reduce((n, m) => n + m.zero, 0);
  const copies = perContainer.reduce((n, m) => n + m.within + m.across, 0);
  const sameFilled = perContainer.reduce((n, m) => n + m.sameFilled, 0);
  const zero = ksm.useZeroPages ? zeros : zeros - Math.ceil(zeros / max);
  return { perContainer, sharable: { duplicate: copies - sameFilled, sameFilled, zero } };
}

/**
 * decompressNs is left 0 (measured separately). `sampleMode`: the counts are
 * over the classified pages and come with ci95. The mergeable pages and
 * sharablePages are KSM's view (mergeable()), over every page.
 */
export function aggregate(containers: readonly ContainerPages[], sampleMode: boolean, ksm: KsmSettings = KSM_DEFAULTS): Aggregate {
  // Pass 1: for every content, its first page (container, index) and how many copies.
  const total = containers.reduce((s, c) => s + c.count, 0);
  const first = new KeyIndex(total); // key → slot
  const owner = new Int32Array(total);
  const copies = new Int32Array(total);
  let contents = 0;
  const slots = containers.map((c, ci) => {
    const slotOf = new Int32Array(c.count);
    for (let i = 0; i < c.count; i++) {
      if (c.kind[i] !== Kind.Data) continue;
      let slot = first.getOrSet(c.key[i]!, contents);
      if (slot < 0) { slot = contents++; owner[slot] = ci; }
      copies[slot]!++;
      slotOf[i] = slot;
    }
    return slotOf;
  });
  // Pass 2: classify each page by whether an earlier copy exists, and where.
  const seen = new Uint8Array(contents);
  const merge = mergeable(containers, ksm, { slotOf: slots, contents });
  const profiles = containers.map((c, ci): ProfileCounts => {
    let present = 0, sampled = 0, zero = 0, same = 0, within = 0, across = 0, unique = 0, anon = 0, dataPages = 0;
    const sizes = { lz4: [] as number[], strong: [] as number[], dev: [] as number[] };
    for (let i = 0; i < c.count; i++) {
      const kind = c.kind[i];
      if (kind === Kind.Gone) continue;
      present++;
      if (c.anon[i]) anon++;
      let dupe = 0; // 0 none, 1 within, 2 across, 3 unique
      if (kind === Kind.Data) {
        dataPages++;
        const slot = slots[ci]![i]!;
        if (seen[slot]) dupe = owner[slot] === ci ? 1 : 2;
        else { seen[slot] = 1; if (copies[slot] === 1) dupe = 3; }
      }
      if (!c.classified[i]) continue;
      sampled++;
      if (kind === Kind.Zero) zero++;
      else if (kind === Kind.Same) same++;
      else {
        if (dupe === 1) within++;
        else if (dupe === 2) across++;
        else if (dupe === 3) unique++;
        if (c.lz4[i]! > 0) { sizes.lz4.push(c.lz4[i]!); sizes.strong.push(c.strong[i]!); sizes.dev.push(c.dev[i]! || c.lz4[i]!); }
      }
    }
    const compression = [codecProfile("lz4", sizes.lz4), codecProfile("zstd", sizes.strong)];
    const profile: ProfileCounts = {
      present, sampled, zero, sameFilled: same, duplicateWithin: within, duplicateAcross: across, unique,
      anonFraction: present > 0 ? anon / present : 0, compression, mergeable: merge.perContainer[ci]!, dataPages,
    };
    // the measured sizes stand for every data page of the container (a sample in sample mode or the 1-in-8 size sample)
    if (sizes.dev.length > 0) profile.zram = zramProfile(c.devCodec ?? "lz4", sizes.dev, dataPages / sizes.dev.length);
    const widths: number[] = [];
    if (sampleMode) for (const x of [zero, same, within, across, unique]) widths.push(ci95(sampled ? x / sampled : 0, sampled, present));
    const measured = sizes.lz4.length;
    if (measured < dataPages && (sampleMode || measured > 0)) {
      // sizes from a sample of the data pages (sample mode, or the full scan's 1-in-8 size sample)
      for (const cp of compression) for (const f of [cp.le2k, cp.le1k, cp.incompressible]) widths.push(ci95(f, measured, dataPages));
    }
    if (widths.length > 0) profile.ci95 = Math.max(...widths);
    return profile;
  });
  const { duplicate, sameFilled, zero } = merge.sharable;
  return { profiles, sharablePages: duplicate + sameFilled + zero, sharable: merge.sharable };
}

/** The distribution of one codec's per-page sizes (decompressNs filled in later). */
export function codecProfile(codec: "lz4" | "zstd", sizes: readonly number[]): CodecProfile {
  let total = 0, le2k = 0, le1k = 0, incompressible = 0;
  for (const s of sizes) {
    const c = Math.min(s, PAGE_SIZE);
    total += c;
    if (c <= 2048) le2k++;
    if (c <= 1024) le1k++;
    if (c >= PAGE_SIZE) incompressible++;
  }
  const n = sizes.length;
  return {
    codec,
    ratio: total > 0 ? (n * PAGE_SIZE) / total : 1,
    le2k: n ? le2k / n : 0,
    le1k: n ? le1k / n : 0,
    incompressible: n ? incompressible / n : 0,
    decompressNs: 0,
  };
}

/**
 * What a fresh zram device holds for data pages of these sizes under its
 * compressor (`scale`: the sizes are a sample standing for that many times
 * as many pages): a size at zsmalloc's huge class size or more is stored
 * whole, the rest packed in its size classes (kernel/zram.ts predictZram's rules).
 */
export function zramProfile(compressor: string, sizes: readonly number[], scale = 1): ZramProfile {
  const pool = zsmalloc();
  let total = 0, le2k = 0, le1k = 0, huge = 0;
  const stored = sizes.map((s) => {
    const c = s >= pool.hugeClassSize ? PAGE_SIZE : s;
    total += c;
    if (c <= 2048) le2k++;
    if (c <= 1024) le1k++;
    if (c === PAGE_SIZE) huge++;
    return c;
  });
  const n = sizes.length;
  const pages = poolPages(pool, stored, scale);
  return {
    compressor,
    comprRatio: total > 0 ? (n * PAGE_SIZE) / total : 1,
    ratio: pages > 0 ? (Math.round(n * scale) * PAGE_SIZE) / (pages * PAGE_SIZE) : 1,
    le2k: n ? le2k / n : 0,
    le1k: n ? le1k / n : 0,
    incompressible: n ? huge / n : 0,
  };
}
