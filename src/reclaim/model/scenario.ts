// What the model simulates: one host, its guests and their demand over time,
// all counted in 4 KiB pages (counts, never per-page objects, so hundreds of
// guests over thousands of steps stay cheap).

import type { CodecProfile } from "../profile.js";

/** One guest's memory at one time step, in pages of its own (guest-physical) memory. */
export interface Demand {
  /** anonymous and dirty pages (must be written somewhere before they can be dropped) */
  anon: number;
  /** clean page cache (can be dropped and re-read from its file) */
  cache: number;
  /** pages touched during the step, drawn from anon and cache in proportion */
  workingSet: number;
  /** zero-filled pages among anon + cache (KSM: one content host-wide) */
  zero: number;
  /** non-zero pages identical to another page of the same guest, same-filled ones included (copies beyond the first) */
  sharableWithin: number;
  /** pages identical to pages of other guests of the same content group */
  sharableAcross: number;
  /**
   * the anonymous working set by how often its pages are touched, as measured
   * (`mem workingset`'s ladder of windows), hottest first. Where it is given the
   * host reclaims as Linux does, coldest first (idle pages, then the coldest
   * band), and a swapped page faults every time it is touched, not once per
   * step. Absent: victims are blind and fault back once per step.
   */
  touches?: TouchBand[];
}

/** Working-set pages touched about `perSecond` times a second each. */
export interface TouchBand { pages: number; perSecond: number }

export interface Guest {
  name: string;
  /** configured memory size */
  sizePages: number;
  /** proportional-share weight (ESX shares) */
  shares: number;
  /** guests in one content group (same OS image) can share their `sharableAcross` pages */
  contentGroup: string;
  codec: CodecProfile;
  /** demand per step; the last entry repeats when the trace is shorter than the scenario */
  trace: Demand[];
}

/** Where a fault cost came from: this host's profile (`tsbox mem calibrate`), the scenario, or the defaults. */
export type CostSource = "calibrated" | "scenario" | "default";

/** The source of each fault cost the model charges. */
export interface CostSources { fileRefault: CostSource; swapIn: CostSource; compressedFault: CostSource; swapOut?: CostSource }

/** Access costs of the memory hierarchy, nanoseconds per 4 KiB page. */
export interface Costs {
  dramNs: number;
  flashNs: number;
  diskNs: number;
  /** a refault of a clean file page (read again from its file); undefined: a disk access (diskNs) */
  fileRefaultNs?: number;
  /** a swap-in from the swap device; undefined: the device's access (diskNs or flashNs; zram: a compressed page's fault) */
  swapInNs?: number;
  /**
   * swapping a page out to make room: reclaim, and on zram the compression, charged to the guest
   * whose fault needed the room (a guest swapped coldest first whose working set is out pays one
   * per fault); undefined: not charged
   */
  swapOutNs?: number;
  /** touching a page held compressed (the fault and its decompression); undefined: each guest codec's decompressNs */
  compressedFaultNs?: number;
  /** where the three fault costs above came from; undefined: the defaults */
  sources?: CostSources;
  /** a page copy: a copy-on-write break, a tmem put/get */
  copyNs: number;
  /**
   * where swapped anonymous pages live (file pages always come back from
   * disk); "zram": compressed in host memory, which they still take at the
   * guest's zram ratio (codec.ratio); "none": the host has no swap, so no
   * policy can swap
   */
  swapDevice: "disk" | "flash" | "zram" | "none";
}

/** ESX's free-memory thresholds, fractions of host memory. */
export interface Thresholds { high: number; soft: number; hard: number; low: number }

export interface Tunables {
  /** fraction of shared pages written (so copied apart) per step */
  writeBreakRate: number;
  /** most pages one balloon can inflate or deflate by in one step */
  balloonRatePages: number;
  /** a balloon never takes more than this fraction of its guest (ESX Mem.CtlMaxPercent = 65) */
  balloonMaxFraction: number;
  /** the compression cache of a guest holds at most this fraction of its size (ESX Mem.MemZipMaxPct = 10) */
  compressionCacheFraction: number;
  /** the idle-memory tax τ (0..1) */
  idleTax: number;
  thresholds: Thresholds;
  /** tmem self-ballooning leaves a guest its working set plus this fraction of its size */
  selfBalloonHeadroom: number;
  /** KSM's use_zero_pages: zero pages map the kernel's zero page (all saved) instead of one KSM page */
  useZeroPages: boolean;
  /** KSM's max_page_sharing: n copies of a content need ceil(n / max) KSM pages */
  maxPageSharing: number;
}

export interface Scenario {
  hostPages: number;
  steps: number;
  stepSeconds: number;
  guests: Guest[];
  costs: Costs;
  tunables: Tunables;
}

export const DEFAULT_COSTS: Costs = { dramNs: 80, flashNs: 100_000, diskNs: 10_000_000, copyNs: 1_000, swapDevice: "disk" };

export const DEFAULT_THRESHOLDS: Thresholds = { high: 0.06, soft: 0.04, hard: 0.02, low: 0.01 };

/** Tunables for a given step length: the balloon rate is ~1 GiB per minute (Xen's 5 GB → 900 MB in < 3 min). */
export function defaultTunables(stepSeconds: number): Tunables {
  return {
    writeBreakRate: 0.01,
    balloonRatePages: Math.max(1, Math.round((262_144 * stepSeconds) / 60)),
    balloonMaxFraction: 0.65,
    compressionCacheFraction: 0.1,
    idleTax: 0.75,
    thresholds: { ...DEFAULT_THRESHOLDS },
    selfBalloonHeadroom: 0.05,
    useZeroPages: false,
    maxPageSharing: 256,
  };
}

/** Default codec when nothing was measured: lz4-class figures from the anchors (2.6×, ~2 µs). */
export const DEFAULT_CODEC: CodecProfile = { codec: "lz4", ratio: 2.6, le2k: 0.7, le1k: 0.4, incompressible: 0.1, decompressNs: 2_000 };
export const ZSTD_CODEC: CodecProfile = { codec: "zstd", ratio: 3.4, le2k: 0.8, le1k: 0.5, incompressible: 0.08, decompressNs: 6_000 };

export function demandAt(g: Guest, step: number): Demand {
  const t = g.trace;
  return t[Math.min(step, t.length - 1)]!;
}
