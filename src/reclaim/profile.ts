// The contract between measurement (src/reclaim/measure: `tsbox mem stat`,
// `tsbox mem scan`) and the model (src/reclaim/model: `tsbox mem simulate`).
// A MemoryProfile is what the scanner reports for one container and what the
// model turns into a guest; `tsbox mem scan --format json` prints a
// ScanReport, and a scenario file may embed profiles instead of synthetic
// workloads.

export const PAGE_SIZE = 4096;

/** Compressed size of pages compressed one at a time with one codec. */
export interface CodecProfile {
  /** codec family: "lz4" (lz4/lzo-rle class) or "zstd" (zstd/deflate class) */
  codec: "lz4" | "zstd";
  /** Σ original bytes / Σ compressed bytes over the non-zero, non-same-filled pages */
  ratio: number;
  /** fraction (0..1) of those pages that compress to ≤ 2048 bytes (ESX keeps them) */
  le2k: number;
  /** fraction (0..1) that compress to ≤ 1024 bytes (ESX's quarter slot) */
  le1k: number;
  /** fraction (0..1) that do not compress below PAGE_SIZE (zram "huge" pages) */
  incompressible: number;
  /** measured time to decompress one page, nanoseconds (median) */
  decompressNs: number;
}

/**
 * What zram would hold for a container's non-zero, non-same-filled pages
 * (zero and same-filled pages it stores without data), written to a fresh
 * device: each page's size under the device's compressor, a page at
 * zsmalloc's huge class size or more stored whole, the objects packed in
 * zsmalloc's size classes (model/zsmalloc.ts). A pool that has had objects
 * freed holds more until it is compacted.
 */
export interface ZramProfile {
  /** the device's compressor, as zram names it (lzo-rle, lzo, lz4) */
  compressor: string;
  /** Σ original bytes / Σ stored bytes (compr_data_size's view) */
  comprRatio: number;
  /** Σ original bytes / zsmalloc's pages for them (mem_used_total's view): what the host gets back */
  ratio: number;
  /** fraction (0..1) stored in ≤ 2048 / ≤ 1024 bytes, and stored whole (huge) */
  le2k: number;
  le1k: number;
  incompressible: number;
}

/** Page contents of one container's resident memory, counted in 4 KiB pages. */
export interface MemoryProfile {
  /** container id and name (empty for synthetic guests) */
  id: string;
  name: string;
  /** "full": every present page read; "sample": `sampled` random present pages */
  mode: "full" | "sample";
  /** present pages in the container's processes' mappings (the population) */
  present: number;
  /** pages read and classified (= present in full mode) */
  sampled: number;
  /** the counts below are over the sampled pages; scale by present/sampled for estimates */
  zero: number;
  /** filled with one repeated non-zero 8-byte word (zram/zswap store these without data) */
  sameFilled: number;
  /** copies beyond the first of a content seen in the same container */
  duplicateWithin: number;
  /** copies beyond the first of a content first seen in another container (order: the report's container order) */
  duplicateAcross: number;
  /** pages whose content occurs exactly once among all scanned containers */
  unique: number;
  /** anonymous (private, not file-backed) share of `present` pages, 0..1 */
  anonFraction: number;
  compression: CodecProfile[];
  /**
   * The same pages as a zram device would hold them: sized with the device's
   * compressor and packed in zsmalloc's size classes. Absent in profiles
   * from before it was measured.
   */
  zram?: ZramProfile;
  /**
   * What KSM could merge in this container: its exclusively anonymous pages
   * only (KSM never merges file pages), every page counted exactly (in sample
   * mode too), never scaled. Absent in profiles from before it was measured.
   */
  mergeable?: MergeablePages;
  /** 95 % confidence half-width (fraction points) of each fraction above, in sample mode */
  ci95?: number;
}

/**
 * A container's anonymous pages as KSM sees them. Identical pages are one
 * content: data pages by hash, same-filled pages by their fill word, and all
 * zero pages one content host-wide. Copies beyond the first of a content (in
 * report order, then scan order) are what merging saves: `within` when the
 * first copy is in the same container, `across` when in an earlier one.
 */
export interface MergeablePages {
  /** anonymous zero pages (one content host-wide; what merging them saves depends on use_zero_pages) */
  zero: number;
  /**
   * copies beyond the first whose first copy is in this container (data and
   * same-filled pages), less the copies that head a further KSM page of the
   * content's chain (every max_page_sharing-th copy)
   */
  within: number;
  /** copies beyond the first whose first copy is in an earlier container */
  across: number;
  /** how many of within + across are same-filled pages */
  sameFilled: number;
  /**
   * with a stability window (`mem scan --stable-for`): the anonymous pages whose
   * content changed within it, or that appeared, left out of the counts above
   * (ksmd merges a page only once its checksum held for a pass)
   */
  changed?: number;
}

/** The KSM settings the sharing prediction follows (/sys/kernel/mm/ksm). */
export interface KsmSettings {
  /** 1: zero pages are mapped to the kernel's zero page, all of them saved; 0: an ordinary content */
  useZeroPages: boolean;
  /**
   * The most mappings one KSM page takes (stable node chains): a content with
   * n copies needs ceil(n / maxPageSharing) KSM pages
   */
  maxPageSharing: number;
}

/** The kernel's defaults (mm/ksm.c): use_zero_pages 0, max_page_sharing 256. */
export const KSM_DEFAULTS: KsmSettings = { useZeroPages: false, maxPageSharing: 256 };

/** What `tsbox mem scan --format json` prints. */
export interface ScanReport {
  /** ISO time of the scan */
  scannedAt: string;
  containers: MemoryProfile[];
  /**
   * Pages KSM would free, over the exclusively anonymous pages: duplicate
   * data pages, same-filled pages and zero pages, less the KSM pages kept
   * (ceil(copies / max_page_sharing) per content; zero pages per use_zero_pages)
   */
  sharablePages: number;
  /** sharablePages by kind (absent in reports from before) */
  sharable?: { duplicate: number; sameFilled: number; zero: number };
  /** the KSM settings the sharable figures follow (the host's at scan time) */
  ksm?: KsmSettings;
  /** true when only exclusively anonymous pages were scanned (`--anonymous`) */
  anonymousOnly?: boolean;
  /** seconds between the first content sample of `--stable-for` and the scan: the sharable figures count only pages unchanged over them */
  stableForSeconds?: number;
  /**
   * `--stable-for`'s three looks (start, middle, end of the window): when,
   * seconds from the first; the sharing of every page at each (instant); the
   * sharing of the pages unchanged since the first look, at each (held; the
   * last is the window's held figure); the level it is expected to settle at
   * (settledPages = sharablePages, settledSaving in measure/stability.ts);
   * settling false when the held sharing lost no less in the second half
   * than in the first (no limit in sight: one more window's loss taken off)
   */
  stableLooks?: { seconds: number[]; instant: number[]; held: number[]; settledPages: number; settling: boolean };
  /** wall time of the scan and bytes analysed, for the throughput figure */
  elapsedMs: number;
  bytesAnalysed: number;
  /** CPU time (user + system) the scan took, for throughput per core (optional: measurement only) */
  cpuMs?: number;
}
