// `tsbox mem scan`: reads every resident page of each container's processes
// and classifies it in C (native/scan.ts), then merges the hashes across
// containers (aggregate.ts). Pages are read with process_vm_readv, 64 per
// call (/proc/PID/mem walks the page tables once per page). Each physical
// frame is read once: a page mapped by two processes, or by two containers,
// is already shared and belongs to the first that maps it. Full mode
// classifies every page and measures compressed sizes on a hash-chosen
// 1-in-8 sample of contents (or every page with compressAll); sample mode
// classifies N random pages per container, still hashing every page so each
// sampled page's duplicate status is exact.

import { closeSync, openSync, readSync } from "node:fs";
import { UsageError } from "../../errors.js";
import * as zlib from "node:zlib";
import { KSM_DEFAULTS, PAGE_SIZE, type KsmSettings, type MemoryProfile, type ScanReport } from "../profile.js";
import { aggregate, Kind, type ContainerPages } from "./aggregate.js";
import { isZramCodec, lz4DecompressNs, scanPages, setZramCodec, SizeWant, ZRAM_CODECS, type ZramCodec } from "../../native/scan.js";
import { hostSwapDevices } from "../kernel/swap.js";
import { hostZramCompressor } from "../kernel/zram.js";
import { KeyIndex } from "./key-index.js";
import { gone, presentPages } from "./procfs.js";
import { chooseIndices, rng } from "./sampling.js";
import { heldInAll, SampleIndex, sampleSaving, settledSaving, type ContentSample } from "./stability.js";

export interface ScanTarget {
  id: string;
  name: string;
  /** the container's processes now (its cgroup's cgroup.procs) */
  pids(): number[];
}

export interface ScanOptions {
  mode: "full" | "sample";
  /** pages per container in sample mode */
  sample?: number;
  seed?: number;
  /** full mode: compressed sizes of every page instead of the 1-in-8 content sample */
  compressAll?: boolean;
  /** pages per container timed for decompression (default 64) */
  timedPages?: number;
  /**
   * Only exclusively anonymous pages (pagemap bit 61 clear: private anonymous
   * memory, copy-on-write copies included): the population KSM may merge and
   * zram/swap may take. Shared memory and file pages are left out.
   */
  anonymousOnly?: boolean;
  /** the KSM settings the sharable figures follow (the host's, read by the caller; default the kernel's defaults) */
  ksm?: KsmSettings;
  /** the zram compressor pages are also sized with (ContainerPages.dev; default lz4, the LZ4 sizes again) */
  zramCodec?: ZramCodec;
  /**
   * The targets' contents sampled earlier (sampleContents, earliest first)
   * and how long ago the first was, seconds: the sharable figures then count
   * only pages whose content is the same in every sample (stability.ts), the
   * pages KSM's checksum rule lets it merge. With `looks` (the sharing at the
   * first look and of the pages held since, at the second: two samples
   * equally spaced before the scan), the figures are taken to the level the
   * held sharing settles at (settledSaving). scanContainersStable takes the
   * samples and waits.
   */
  stableSince?: { samples: SampleIndex[]; seconds: number; looks?: { first: number; middle: number; middleHeld: number; seconds: number[] } };
}

export const DEFAULT_SAMPLE = 10_000;

/**
 * The compressor the scan sizes pages with for the zram figures: the one
 * asked for, else the host's zram's (kernel/zram.ts hostZramCompressor). A
 * compressor the scanner lacks (zstd, deflate...) falls back to LZ4, with a
 * note saying so.
 */
export function scanZramCodec(asked?: string): { codec: ZramCodec; note?: string } {
  if (asked !== undefined) {
    if (!isZramCodec(asked)) throw new UsageError(`invalid argument "${asked}" for "--zram-compressor" flag: expected one of ${Object.keys(ZRAM_CODECS).join(", ")}`);
    return { codec: asked };
  }
  const host = hostZramCompressor(hostSwapDevices());
  if (isZramCodec(host)) return { codec: host };
  return { codec: "lz4", note: `the host's zram compressor ${host} is not one the scanner has: zram sizes are LZ4's` };
}

interface Population {
  pids: number[];
  /** per page: index into pids, address */
  proc: Int32Array;
  addrs: Float64Array;
  anon: Uint8Array;
}

/** Present pages of the container, each physical frame once across the whole scan (pfnSeen). */
function population(pids: readonly number[], pfnSeen: KeyIndex, anonymousOnly = false): Population {
  const procs = pids.map(presentPages).filter((p) => p !== undefined);
  let n = 0;
  for (const p of procs) n += p.addrs.length;
  const proc = new Int32Array(n), addrs = new Float64Array(n), anon = new Uint8Array(n);
  let j = 0;
  procs.forEach((p, pi) => {
    for (let i = 0; i < p.addrs.length; i++) {
      if (anonymousOnly && !p.anon[i]) continue;
      const pfn = p.pfns[i]!;
      // 0: no PFNs (not root), nothing to deduplicate on
      if (pfn !== 0 && pfnSeen.getOrSet(pfn, 0) >= 0) continue;
      proc[j] = pi; addrs[j] = p.addrs[i]!; anon[j] = p.anon[i] ? 1 : 0; j++;
    }
  });
  return { pids: procs.map((p) => p.pid), proc: proc.subarray(0, j), addrs: addrs.subarray(0, j), anon: anon.subarray(0, j) };
}

/** The population's pages as a ContentSample (process, address, kind, key). */
function contentSample(pop: Population, pages: ContainerPages): ContentSample {
  const pid = new Int32Array(pages.count);
  for (let i = 0; i < pages.count; i++) pid[i] = pop.pids[pop.proc[i]!]!;
  return { pid, addr: pop.addrs, kind: pages.kind, key: pages.key };
}

/**
 * The content key of every page of the targets now, hashed by the scanner
 * and nothing else measured: the first look of a stable-content scan.
 */
export function sampleContents(targets: readonly ScanTarget[], anonymousOnly = false): SampleIndex {
  const pfnSeen = new KeyIndex(1 << 16);
  const parts: ContentSample[] = [];
  for (const t of targets) {
    const pop = population([...t.pids()].sort((a, b) => a - b), pfnSeen, anonymousOnly);
    parts.push(contentSample(pop, readPages(pop, new Uint8Array(pop.addrs.length), SizeWant.No)));
  }
  return new SampleIndex(concatSamples(parts));
}

/** Several containers' samples as one. */
function concatSamples(parts: readonly ContentSample[]): ContentSample {
  const cat = <T extends Int32Array | Float64Array | Uint8Array>(make: (n: number) => T, pick: (c: ContentSample) => ArrayLike<number>): T => {
    const out = make(parts.reduce((n, c) => n + c.pid.length, 0));
    let at = 0;
    for (const c of parts) { const a = pick(c); for (let i = 0; i < a.length; i++) out[at++] = a[i]!; }
    return out;
  };
  return {
    pid: cat((n) => new Int32Array(n), (c) => c.pid), addr: cat((n) => new Float64Array(n), (c) => c.addr),
    kind: cat((n) => new Uint8Array(n), (c) => c.kind), key: cat((n) => new Float64Array(n), (c) => c.key),
  };
}

/**
 * scanContainers over the pages whose content held for a window: the
 * contents sampled, a wait, then the scan, its sharable figures over the
 * pages unchanged between the two (ScanOptions.stableSince). `seconds`, or
 * a function of the pages the first sample read (e.g. one ksmd pass over them).
 */
export async function scanContainersStable(
  targets: readonly ScanTarget[], opts: ScanOptions, seconds: number | ((sampledPages: number) => number), wait: (ms: number) => Promise<unknown>,
): Promise<ScanReport> {
  // three looks: start, middle, end (the scan), so the sharing's fall over each half can be compared
  const ksm = opts.ksm ?? KSM_DEFAULTS;
  // each look's time is when it starts reading, so the two halves are equally long
  const t = Date.now();
  const first = sampleContents(targets, opts.anonymousOnly);
  const window = (typeof seconds === "number" ? seconds : seconds(first.pages)) * 1000;
  await wait(Math.max(0, t + window / 2 - Date.now()));
  const tm = Date.now();
  const middle = sampleContents(targets, opts.anonymousOnly);
  await wait(Math.max(0, t + window - Date.now()));
  const te = Date.now();
  return scanContainers(targets, {
    ...opts,
    stableSince: {
      samples: [first, middle], seconds: (te - t) / 1000,
      looks: {
        first: sampleSaving(first.sample, ksm), middle: sampleSaving(middle.sample, ksm),
        middleHeld: sampleSaving(middle.sample, ksm, heldInAll([first], middle.sample)), seconds: [0, (tm - t) / 1000, (te - t) / 1000],
      },
    },
  });
}

function openMem(pid: number): number | undefined {
  try {
    return openSync(`/proc/${pid}/mem`, "r");
  } catch (e) {
    if (gone(e)) return undefined;
    throw e;
  }
}

/** Reads and classifies the population's pages; a process or page gone meanwhile becomes Gone. */
function readPages(pop: Population, classified: Uint8Array, want: Uint8Array | SizeWant): ContainerPages {
  const n = pop.addrs.length;
  const out: ContainerPages = {
    count: n, kind: new Uint8Array(n).fill(Kind.Gone), key: new Float64Array(n), lz4: new Uint16Array(n),
    strong: new Uint16Array(n), dev: new Uint16Array(n), classified, anon: pop.anon,
  };
  let i = 0;
  while (i < n) {
    const pi = pop.proc[i]!;
    let end = i;
    while (end < n && pop.proc[end] === pi) end++;
    scanPages({ pid: pop.pids[pi]! }, pop.addrs, i, end - i, want, out);
    i = end;
  }
  return out;
}

const median = (xs: number[]): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// zstd where Node has it (≥ 22.15), else deflate: the strong class either way.
const zstd = typeof zlib.zstdCompressSync === "function";
const strongCompress = (b: Buffer): Buffer => (zstd ? zlib.zstdCompressSync(b) : zlib.deflateRawSync(b));

/** The fastest of reps runs of fn, ns. */
function fastest(fn: () => void, reps: number): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t));
  }
  return best;
}

/**
 * Time to decode one page of the strong class. zstd: the pages compressed
 * one frame each, decoded in one call (a zstd decoder reads concatenated
 * frames), so the binding's fixed cost (~10 µs, more than a page's decode)
 * is paid once and subtracted: the mean per page. Deflate: per page, minus
 * the cost of decoding an empty stream; the median.
 */
function strongDecodeNs(pages: readonly Buffer[]): number {
  if (pages.length === 0) return 0;
  if (zstd) {
    const all = Buffer.concat(pages.map((p) => zlib.zstdCompressSync(p)));
    const empty = zlib.zstdCompressSync(Buffer.alloc(0));
    const t = fastest(() => zlib.zstdDecompressSync(all), 8) - fastest(() => zlib.zstdDecompressSync(empty), 8);
    return Math.max(0, t / pages.length);
  }
  const overhead = fastest(() => zlib.inflateRawSync(zlib.deflateRawSync(Buffer.alloc(0))), 32);
  return median(pages.map((p) => { const f = strongCompress(p); return Math.max(0, fastest(() => zlib.inflateRawSync(f), 16) - overhead); }));
}

/**
 * Decompression time per page over up to `count` random compressible data
 * pages: LZ4 with our decoder in C (median, each page's fastest of 16), and
 * the strong class through Node's zlib (strongDecodeNs).
 */
function decompressTimes(pop: Population, pages: ContainerPages, count: number, random: () => number): { lz4: number; zstd: number } {
  const candidates: number[] = [];
  for (let i = 0; i < pages.count; i++) if (pages.kind[i] === Kind.Data && pages.lz4[i]! > 0 && pages.lz4[i]! < PAGE_SIZE) candidates.push(i);
  const chosen = chooseIndices(candidates.length, count, random).map((k) => candidates[k]!);
  const lz4: number[] = [], contents: Buffer[] = [];
  for (const i of chosen) {
    const fd = openMem(pop.pids[pop.proc[i]!]!);
    if (fd === undefined) continue;
    try {
      const ns = lz4DecompressNs(fd, [pop.addrs[i]!]);
      if (ns > 0) lz4.push(ns);
      const page = Buffer.alloc(PAGE_SIZE);
      if (readSync(fd, page, 0, PAGE_SIZE, pop.addrs[i]!) === PAGE_SIZE) contents.push(page);
    } catch (e) {
      if (!gone(e)) throw e;
    } finally {
      closeSync(fd);
    }
  }
  return { lz4: median(lz4), zstd: strongDecodeNs(contents) };
}

/**
 * The aggregate's sharing taken to the level the looks say it settles at
 * (settledSaving): every sharable count scaled by settled / held, the
 * expected loss spread evenly, since which of the held copies will go is
 * not known. Mutates agg; returns the held figure and whether the loss shrank.
 */
function settleTo(agg: ReturnType<typeof aggregate>, first: number, middleHeld: number, instants: [number, number, number]): { held: number; settling: boolean; instants: number[] } {
  const held = agg.sharablePages;
  const s = settledSaving([first, middleHeld, held], instants);
  if (held <= 0 || s.pages >= held) return { held, settling: s.settling, instants };
  const f = s.pages / held;
  for (const p of agg.profiles) {
    const m = p.mergeable;
    if (m === undefined) continue;
    m.zero = Math.round(m.zero * f); m.within = Math.round(m.within * f); m.across = Math.round(m.across * f);
    m.sameFilled = Math.min(m.within + m.across, Math.round(m.sameFilled * f));
  }
  const k = agg.sharable;
  agg.sharable = { duplicate: Math.round(k.duplicate * f), sameFilled: Math.round(k.sameFilled * f), zero: Math.round(k.zero * f) };
  agg.sharablePages = agg.sharable.duplicate + agg.sharable.sameFilled + agg.sharable.zero;
  return { held, settling: s.settling, instants };
}

export function scanContainers(targets: readonly ScanTarget[], opts: ScanOptions): ScanReport {
  return scan(targets, opts).report;
}

function scan(targets: readonly ScanTarget[], opts: ScanOptions): { report: ScanReport; pops: Population[]; pages: ContainerPages[] } {
  const started = Date.now();
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const random = rng(opts.seed ?? 1);
  const pfnSeen = new KeyIndex(1 << 16);
  setZramCodec(opts.zramCodec ?? "lz4"); // and forgets the sizes cached by the last scan
  const pops: Population[] = [];
  const pages: ContainerPages[] = [];
  for (const t of targets) {
    const pop = population([...t.pids()].sort((a, b) => a - b), pfnSeen, opts.anonymousOnly);
    const n = pop.addrs.length;
    const classified = new Uint8Array(n);
    let want: Uint8Array | SizeWant;
    if (opts.mode === "sample") {
      for (const i of chooseIndices(n, opts.sample ?? DEFAULT_SAMPLE, random)) classified[i] = SizeWant.Yes;
      want = classified;
    } else {
      classified.fill(1);
      want = opts.compressAll ? SizeWant.Yes : SizeWant.IfSampled;
    }
    pops.push(pop);
    const read = readPages(pop, classified, want);
    read.devCodec = opts.zramCodec ?? "lz4";
    if (opts.stableSince) read.stable = heldInAll(opts.stableSince.samples, contentSample(pop, read));
    pages.push(read);
  }
  const ksm = opts.ksm ?? KSM_DEFAULTS;
  const agg = aggregate(pages, opts.mode === "sample", ksm);
  const looks = opts.stableSince?.looks;
  const settled = looks === undefined ? undefined
    : settleTo(agg, looks.first, looks.middleHeld, [looks.first, looks.middle, sampleSaving(concatSamples(pops.map((p, i) => contentSample(p, pages[i]!))), ksm)]);
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const containers = targets.map((t, ci): MemoryProfile => {
    const { dataPages: _, ...counts } = agg.profiles[ci]!;
    const times = decompressTimes(pops[ci]!, pages[ci]!, opts.timedPages ?? 64, random);
    counts.compression[0]!.decompressNs = Math.round(times.lz4);
    counts.compression[1]!.decompressNs = Math.round(times.zstd);
    return { id: t.id, name: t.name, mode: opts.mode, ...counts };
  });
  let read = 0;
  for (const p of pages) for (let i = 0; i < p.count; i++) if (p.kind[i] !== Kind.Gone) read++;
  const report: ScanReport = {
    scannedAt: new Date(started).toISOString(),
    containers,
    sharablePages: agg.sharablePages,
    sharable: agg.sharable,
    ksm,
    anonymousOnly: opts.anonymousOnly === true,
    ...(opts.stableSince ? { stableForSeconds: Math.round(opts.stableSince.seconds * 10) / 10 } : {}),
    ...(looks && settled ? {
      stableLooks: {
        seconds: looks.seconds.map((x) => Math.round(x * 10) / 10), instant: settled.instants, held: [looks.first, looks.middleHeld, settled.held],
        settledPages: agg.sharablePages, settling: settled.settling,
      },
    } : {}),
    elapsedMs: Math.round(elapsedMs),
    bytesAnalysed: read * PAGE_SIZE,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  };
  return { report, pops, pages };
}

/**
 * One page the anonymous scan read: where, what kind (aggregate.ts Kind), its
 * own LZ4 block size and its size under the zram compressor the scan was given.
 */
export interface ScannedPage {
  pid: number; addr: number; kind: number; lz4: number; size: number;
  /** its content group: pages with equal numbers are identical (the index into AnonymousScan.groups) */
  content: number;
}

export interface AnonymousScan {
  /** the profiles (MemoryProfile) of the anonymous pages alone, full mode, every page's size measured */
  report: ScanReport;
  /**
   * Copies per distinct content over all targets, each physical frame once:
   * data pages by content hash, zero pages as one group, same-filled pages by
   * their fill word. KSM keeps one page per group (per max_page_sharing chain).
   */
  groups: number[];
  pages: ScannedPage[];
}

/**
 * The scanner on what KSM and zram act on: the anonymous private pages of
 * the targets' processes, classified and sized by the same C code as
 * `tsbox mem scan` (hash, zero/same test, LZ4 block size of every page).
 */
export function scanAnonymous(targets: readonly ScanTarget[], opts: { timedPages?: number; zramCodec?: ZramCodec } = {}): AnonymousScan {
  const { report, pops, pages } = scan(targets, {
    mode: "full", compressAll: true, anonymousOnly: true, timedPages: opts.timedPages ?? 16, ...(opts.zramCodec ? { zramCodec: opts.zramCodec } : {}),
  });
  const byContent = new Map<string, number>();
  const ids = new Map<string, number>();
  const out: ScannedPage[] = [];
  pages.forEach((c, ci) => {
    const pop = pops[ci]!;
    for (let i = 0; i < c.count; i++) {
      const kind = c.kind[i]!;
      if (kind === Kind.Gone) continue;
      // the key of a same-filled page is its fill word's low bits (scan.c)
      const group = kind === Kind.Zero ? "z" : `${kind === Kind.Same ? "s" : "d"}${c.key[i]}`;
      byContent.set(group, (byContent.get(group) ?? 0) + 1);
      let id = ids.get(group);
      if (id === undefined) ids.set(group, (id = ids.size));
      out.push({ pid: pop.pids[pop.proc[i]!]!, addr: pop.addrs[i]!, kind, lz4: c.lz4[i]!, size: c.dev[i]!, content: id });
    }
  });
  return { report, groups: [...byContent.values()], pages: out };
}
