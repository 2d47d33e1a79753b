// `tsbox mem scan`: reads every resident page of each container's processes
// and classifies it in C (native.ts), then merges the hashes across
// containers (aggregate.ts). Pages are read with process_vm_readv, 64 per
// call (/proc/PID/mem walks the page tables once per page). Each physical
// frame is read once: a page mapped by two processes, or by two containers,
// is already shared and belongs to the first that maps it. Full mode
// classifies every page and measures compressed sizes on a hash-chosen
// 1-in-8 sample of contents (or every page with compressAll); sample mode
// classifies N random pages per container, still hashing every page so each
// sampled page's duplicate status is exact.

import { closeSync, openSync, readSync } from "node:fs";
import * as zlib from "node:zlib";
import { PAGE_SIZE, type MemoryProfile, type ScanReport } from "../profile.js";
import { aggregate, Kind, type ContainerPages } from "./aggregate.js";
import { lz4DecompressNs, resetScan, scanPages, SizeWant } from "./native.js";
import { KeyIndex } from "./key-index.js";
import { gone, presentPages } from "./procfs.js";
import { chooseIndices, rng } from "./sampling.js";

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
}

export const DEFAULT_SAMPLE = 10_000;

interface Population {
  pids: number[];
  /** per page: index into pids, address */
  proc: Int32Array;
  addrs: Float64Array;
  anon: Uint8Array;
}

/** Present pages of the container, each physical frame once across the whole scan (pfnSeen). */
function population(pids: readonly number[], pfnSeen: KeyIndex): Population {
  const procs = pids.map(presentPages).filter((p) => p !== undefined);
  let n = 0;
  for (const p of procs) n += p.addrs.length;
  const proc = new Int32Array(n), addrs = new Float64Array(n), anon = new Uint8Array(n);
  let j = 0;
  procs.forEach((p, pi) => {
    for (let i = 0; i < p.addrs.length; i++) {
      const pfn = p.pfns[i]!;
      // 0: no PFNs (not root), nothing to deduplicate on
      if (pfn !== 0 && pfnSeen.getOrSet(pfn, 0) >= 0) continue;
      proc[j] = pi; addrs[j] = p.addrs[i]!; anon[j] = p.anon[i] ? 1 : 0; j++;
    }
  });
  return { pids: procs.map((p) => p.pid), proc: proc.subarray(0, j), addrs: addrs.subarray(0, j), anon: anon.subarray(0, j) };
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
    strong: new Uint16Array(n), classified, anon: pop.anon,
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
const strongCodec: { compress(b: Buffer): Buffer; decompress(b: Buffer): Buffer } =
  typeof zlib.zstdCompressSync === "function"
    ? { compress: (b) => zlib.zstdCompressSync(b), decompress: (b) => zlib.zstdDecompressSync(b) }
    : { compress: (b) => zlib.deflateRawSync(b), decompress: (b) => zlib.inflateRawSync(b) };

/** The fastest of reps decodes of a strong-class frame, ns. */
function zstdDecodeNs(frame: Buffer, reps: number): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    strongCodec.decompress(frame);
    best = Math.min(best, Number(process.hrtime.bigint() - t));
  }
  return best;
}

/**
 * Median decompression time per page: LZ4 with our decoder (in C), zstd
 * (deflate on Nodes without it) through Node's zlib binding, minus the cost
 * of the call itself (a 1-byte frame),
 * over up to `count` random compressible data pages.
 */
function decompressTimes(pop: Population, pages: ContainerPages, count: number, random: () => number): { lz4: number; zstd: number } {
  const candidates: number[] = [];
  for (let i = 0; i < pages.count; i++) if (pages.kind[i] === Kind.Data && pages.lz4[i]! > 0 && pages.lz4[i]! < PAGE_SIZE) candidates.push(i);
  const chosen = chooseIndices(candidates.length, count, random).map((k) => candidates[k]!);
  const lz4: number[] = [], zstd: number[] = [];
  const overhead = zstdDecodeNs(strongCodec.compress(Buffer.from("x")), 64);
  const page = Buffer.alloc(PAGE_SIZE);
  for (const i of chosen) {
    const fd = openMem(pop.pids[pop.proc[i]!]!);
    if (fd === undefined) continue;
    try {
      const ns = lz4DecompressNs(fd, [pop.addrs[i]!]);
      if (ns > 0) lz4.push(ns);
      if (readSync(fd, page, 0, PAGE_SIZE, pop.addrs[i]!) === PAGE_SIZE) {
        zstd.push(Math.max(0, zstdDecodeNs(strongCodec.compress(page), 16) - overhead));
      }
    } catch (e) {
      if (!gone(e)) throw e;
    } finally {
      closeSync(fd);
    }
  }
  return { lz4: median(lz4), zstd: median(zstd) };
}

export function scanContainers(targets: readonly ScanTarget[], opts: ScanOptions): ScanReport {
  const started = Date.now();
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const random = rng(opts.seed ?? 1);
  const pfnSeen = new KeyIndex(1 << 16);
  resetScan();
  const pops: Population[] = [];
  const pages: ContainerPages[] = [];
  for (const t of targets) {
    const pop = population([...t.pids()].sort((a, b) => a - b), pfnSeen);
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
    pages.push(readPages(pop, classified, want));
  }
  const agg = aggregate(pages, opts.mode === "sample");
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
  return {
    scannedAt: new Date(started).toISOString(),
    containers,
    sharablePages: agg.sharablePages,
    elapsedMs: Math.round(elapsedMs),
    bytesAnalysed: read * PAGE_SIZE,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  };
}
