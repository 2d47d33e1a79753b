// Which pages held their content over a window: KSM's rule for what it may
// merge. ksmd puts a page in its unstable tree (where it can meet a copy) only
// when the page's checksum is the same as at ksmd's previous visit, one full
// pass earlier (mm/ksm.c cmp_and_merge_page), and a merged page that is
// written is copied again (cow_ksm). A page a program keeps writing —
// reference counts, LRU clocks, a collector's marks — is never merged however
// many copies of it exist at one instant. So the sharing figure counts only the
// pages whose content, at the same process and address, is the same at both
// ends of a window as long as a pass. Pure: two samples in, a flag per page out.
//
// Right after programs start, many of their copies are short-lived (buffers
// of the load, garbage a collector or allocator hands out again): pages that
// held over one window are still being overwritten for minutes, fewer each
// time. So the window is looked at three times (start, middle, end), and the
// sharing held at each look gives the rate at which held copies are still
// being lost; settledSaving carries that loss on to the level it tends to,
// what KSM keeps once it has settled. Pure too: counts in, one count out.

import type { KsmSettings } from "../profile.js";
import { Kind } from "./aggregate.js";
import { KeyIndex } from "./key-index.js";

/** The content of pages at one moment: per page, its process, address, kind (aggregate.ts Kind) and content key. */
export interface ContentSample {
  pid: ArrayLike<number>;
  addr: ArrayLike<number>;
  kind: ArrayLike<number>;
  key: ArrayLike<number>;
}

/** Looks pages of a sample up by process and address. */
export class SampleIndex {
  private byPid = new Map<number, KeyIndex>();
  /** pages the sample read */
  readonly pages: number = 0;

  constructor(readonly sample: ContentSample) {
    for (let i = 0; i < sample.pid.length; i++) {
      if (sample.kind[i] === Kind.Gone) continue;
      this.pages++;
      const pid = sample.pid[i]!;
      let idx = this.byPid.get(pid);
      if (idx === undefined) this.byPid.set(pid, (idx = new KeyIndex(1024)));
      idx.getOrSet(sample.addr[i]!, i);
    }
  }

  /**
   * True when the page at pid/addr was in the sample with the same kind and
   * content (zero pages: both zero). A page the sample did not have (mapped,
   * or faulted in, since) has not been seen twice: not stable.
   */
  same(pid: number, addr: number, kind: number, key: number): boolean {
    if (kind === Kind.Gone) return false;
    const j = this.byPid.get(pid)?.get(addr) ?? -1;
    if (j < 0 || this.sample.kind[j] !== kind) return false;
    return kind === Kind.Zero || this.sample.key[j] === key;
  }
}

/** 1 for each page of `later` whose content is as in `earlier` (same process, address, kind, content), else 0. */
export function stablePages(earlier: SampleIndex, later: ContentSample): Uint8Array {
  return heldInAll([earlier], later);
}

/** 1 for each page of `later` whose content is as in every one of `earlier` (held at each look). */
export function heldInAll(earlier: readonly SampleIndex[], later: ContentSample): Uint8Array {
  const n = later.pid.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const pid = later.pid[i]!, addr = later.addr[i]!, kind = later.kind[i]!, key = later.key[i]!;
    out[i] = earlier.every((e) => e.same(pid, addr, kind, key)) ? 1 : 0;
  }
  return out;
}

/**
 * The pages KSM would free by merging the sample's pages (those with keep[i]
 * set, or all): per content (data by key, same-filled by fill word, zero
 * pages one content) n copies need ceil(n / max_page_sharing) KSM pages;
 * zero pages are all saved with use_zero_pages. The same figure as
 * aggregate()'s sharablePages over the same pages.
 */
export function sampleSaving(sample: ContentSample, ksm: KsmSettings, keep?: ArrayLike<number>): number {
  const max = Math.max(1, ksm.maxPageSharing);
  const data = new KeyIndex(1024), same = new KeyIndex(64);
  const copies: number[] = [];
  let zeros = 0;
  for (let i = 0; i < sample.pid.length; i++) {
    if (keep !== undefined && !keep[i]) continue;
    const kind = sample.kind[i]!;
    if (kind === Kind.Zero) { zeros++; continue; }
    if (kind !== Kind.Data && kind !== Kind.Same) continue;
    const idx = kind === Kind.Data ? data : same;
    let slot = idx.getOrSet(sample.key[i]!, copies.length);
    if (slot < 0) { slot = copies.length; copies.push(0); }
    copies[slot]!++;
  }
  let saved = ksm.useZeroPages ? zeros : zeros - Math.ceil(zeros / max);
  for (const n of copies) saved += n - Math.ceil(n / max);
  return saved;
}

export interface Settled {
  /** the held sharing expected to be left once the losses have run their course (or, not settling, one window on) */
  pages: number;
  /** true: the held sharing lost less in the second half than in the first (q < 1); false: it did not, and there is no limit in sight */
  settling: boolean;
}

/**
 * What the sharing held over a window comes to once KSM has settled on it.
 * Three equally spaced looks (start, middle, end); `held` the sharing of the
 * pages unchanged since the first look, at each look (at the first: every
 * page's), `instant` the sharing of every page at each look. A held copy
 * lost does not come back as a held copy; the held sharing's second half
 * lost q = (held[1] − held[2]) / (held[0] − held[1]) of what its first did
 * (copies lost at a rate, fewer left to lose), and each half-window to come
 * is taken to lose q times the one before: (held[1] − held[2])·q / (1 − q)
 * in all, the level KSM's saving settles at (it is measured settled, and
 * keeps only what holds). A loss that did not shrink (q ≥ 1) has no limit:
 * one more window at the last half's loss is taken off (twice it), and the
 * figure is flagged not settling. Programs that make a copy again after
 * losing it (two replicas that collect their garbage alike) lose only the
 * share of the held fall that their sharing at one instant fell too,
 * (instant[0] − instant[2]) / (held[0] − held[2]): that share of the
 * projected loss is taken off. Never below 0.
 */
export function settledSaving(held: readonly [number, number, number], instant: readonly [number, number, number]): Settled {
  const lost1 = held[0] - held[1], lost2 = held[1] - held[2];
  const fell = held[0] - held[2];
  if (lost2 <= 0 || fell <= 0) return { pages: Math.max(0, held[2]), settling: true };
  const net = Math.min(1, Math.max(0, (instant[0] - instant[2]) / fell));
  if (lost1 <= lost2) return { pages: Math.max(0, held[2] - net * 2 * lost2), settling: false };
  const q = lost2 / lost1;
  return { pages: Math.max(0, held[2] - (net * lost2 * q) / (1 - q)), settling: true };
}
