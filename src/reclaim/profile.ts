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
  /** 95 % confidence half-width (fraction points) of each fraction above, in sample mode */
  ci95?: number;
}

/** What `tsbox mem scan --format json` prints. */
export interface ScanReport {
  /** ISO time of the scan */
  scannedAt: string;
  containers: MemoryProfile[];
  /** pages freed if every duplicate (within and across) were shared once */
  sharablePages: number;
  /** wall time of the scan and bytes analysed, for the throughput figure */
  elapsedMs: number;
  bytesAnalysed: number;
  /** CPU time (user + system) the scan took, for throughput per core (optional: measurement only) */
  cpuMs?: number;
}
