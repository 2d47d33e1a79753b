// KSM over time, as ksmd does it (mm/ksm.c): every wake-up it takes the next
// pages_to_scan mergeable pages in its scan order (processes in the order they
// joined KSM, each by address), then sleeps sleep_millisecs. A full pass over
// N pages takes ceil(N / pages_to_scan) wake-ups. A page is merged only after
// two looks: on the first ksmd records its checksum; on the next, if the
// checksum held, the page goes into the unstable tree, where the next copy of
// the same content found in that pass merges with it into a KSM page (the
// stable tree). A page whose content is already in the stable tree merges at
// first sight. So a fresh set of containers saves nothing for one pass and
// reaches its saving during the second; a container joining contents others
// already share saves as soon as ksmd reaches it. Until then, every copy is
// a page of its own: the host must hold them all unmerged.
// ksmd sleeps in whole jiffies: sleep_millisecs rounded up to the tick, and
// the timer fires on the tick after that (measured here, HZ 250: 20 ms → 25.8
// ms a wake-up with 256 pages, 10 ms → 16.5 ms), so a wake-up is one tick
// longer than the rounded sleep, plus the scan itself.

/** ksmd's rate and its CPU cost per page (the host profile's, or defaults). */
export interface KsmRate {
  pagesToScan: number;
  sleepMillisecs: number;
  /** ksmd CPU per page scanned, ns (host profile ksm.perPageScanned) */
  scanNs: number;
  /** ksmd CPU per page merged beyond scanning it, ns (host profile ksm.perPageMerged) */
  mergeNs: number;
  /** the kernel's tick, ms (1000 / CONFIG_HZ); 0: sleeps exactly sleep_millisecs */
  jiffyMs: number;
}

/** The kernel's default rate (100 pages every 20 ms); CPU costs of the order `mem calibrate` measures. */
export const DEFAULT_KSM_RATE: KsmRate = { pagesToScan: 100, sleepMillisecs: 20, scanNs: 1_000, mergeNs: 5_000, jiffyMs: 4 };

/** Seconds from one wake-up of ksmd to the next: the rounded sleep, a tick, the scan. */
export function wakeSeconds(r: KsmRate): number {
  const sleepMs = r.jiffyMs > 0 ? (Math.ceil(r.sleepMillisecs / r.jiffyMs - 1e-9) + 1) * r.jiffyMs : r.sleepMillisecs;
  return sleepMs / 1e3 + (Math.max(1, r.pagesToScan) * r.scanNs) / 1e9;
}

export interface KsmTimelineInput {
  /**
   * Content of each mergeable page in ksmd's scan order: equal numbers are
   * identical pages, a negative number a page like no other.
   */
  contents: ArrayLike<number>;
  /** contents already in the stable tree when ksmd reaches these pages (shared by containers already merged) */
  stable?: ReadonlySet<number>;
  /**
   * contents of other pages ksmd has already looked at twice and scans before
   * these in every pass (a running container's unmerged pages): each pass they
   * wait in the unstable tree, so a copy here merges with one at its second look
   */
  settled?: ReadonlySet<number>;
  /** other processes' mergeable pages ksmd scans in every pass before these (they lengthen the pass) */
  otherPages?: number;
  /** most mappings per KSM page (max_page_sharing): n copies keep ceil(n / max) pages */
  maxPageSharing?: number;
}

export interface KsmTimeline {
  /** one full pass over every mergeable page, seconds */
  passSeconds: number;
  /** pages saved once merging is done (no writes) */
  steadySaved: number;
  /** (seconds since ksmd first reached these pages, pages saved), one point per change */
  curve: [number, number][];
  /** ksmd's share of one CPU while it scans (it never stops while there are mergeable pages) */
  ksmdCpu: number;
  /** ksmd CPU spent merging, seconds (on top of scanning) */
  mergeCpuSeconds: number;
  /** the pages these processes hold before anything merges: what the host must fit first */
  peakPages: number;
}

/** Seconds at which ksmd has looked at the g-th page (0-based, counting across passes) of its scan. */
export function scanTime(g: number, r: KsmRate): number {
  const p = Math.max(1, r.pagesToScan);
  const batch = Math.floor(g / p);
  return batch * wakeSeconds(r) + (((g % p) + 1) * r.scanNs) / 1e9;
}

export function ksmTimeline(input: KsmTimelineInput, r: KsmRate): KsmTimeline {
  const n = input.contents.length;
  const other = input.otherPages ?? 0;
  const pass = n + other;
  const max = Math.max(1, input.maxPageSharing ?? 256);
  const stable = input.stable ?? new Set<number>();
  const settled = input.settled ?? new Set<number>();
  // copies merged so far per content; saved = Σ (m − ceil(m / max)) over the contents' merged copies
  const merged = new Map<number, number>();
  const savedBy = (m: number): number => (m < 2 ? 0 : m - Math.ceil(m / max));
  let saved = 0;
  const curve: [number, number][] = [[0, 0]];
  const merge = (c: number, copies: number, g: number): void => {
    const before = merged.get(c) ?? 0;
    merged.set(c, before + copies);
    saved += savedBy(before + copies) - savedBy(before);
    curve.push([scanTime(g, r), saved]);
  };
  const done = new Uint8Array(n);
  // first pass: checksums recorded; only contents already in the stable tree merge (stable pages count as the first copy)
  for (let i = 0; i < n; i++) {
    const c = input.contents[i]!;
    if (c >= 0 && stable.has(c)) {
      if (!merged.has(c)) merged.set(c, 1);
      merge(c, 1, other + i);
      done[i] = 1;
    }
  }
  // second pass: the first unmerged copy of a content waits in the unstable tree, the next merges with it
  const waiting = new Set<number>();
  for (let i = 0; i < n; i++) {
    const c = input.contents[i]!;
    if (c < 0 || done[i]) continue;
    if (merged.has(c)) merge(c, 1, pass + other + i);
    else if (waiting.has(c) || settled.has(c)) { waiting.delete(c); merge(c, 2, pass + other + i); }
    else waiting.add(c);
  }
  const wake = wakeSeconds(r);
  const mergedPages = [...merged.values()].reduce((a, b) => a + b, 0);
  const passSeconds = Math.ceil(pass / Math.max(1, r.pagesToScan)) * wake;
  return {
    passSeconds,
    steadySaved: saved,
    curve: compress(curve),
    ksmdCpu: wake > 0 ? (r.pagesToScan * r.scanNs) / 1e9 / wake : 1,
    mergeCpuSeconds: (mergedPages * r.mergeNs) / 1e9,
    peakPages: n,
  };
}

/** Keeps the last point of each instant. */
function compress(curve: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (const p of curve) {
    if (out.length > 0 && out[out.length - 1]![0] === p[0]) out[out.length - 1] = p;
    else out.push(p);
  }
  return out;
}

/** Seconds until the saving first reaches `fraction` (0..1] of its steady value; 0 when there is nothing to save. */
export function timeToSaving(t: KsmTimeline, fraction: number): number {
  const want = fraction * t.steadySaved;
  if (t.steadySaved <= 0) return 0;
  for (const [s, saved] of t.curve) if (saved >= want - 1e-9) return s;
  return t.curve[t.curve.length - 1]![0];
}

/**
 * The saving with writes: each copy-on-write break (cow_ksm per second)
 * leaves a private copy until ksmd has seen its new content twice, on
 * average 1.5 passes later (half a pass to reach it, one more to trust its
 * checksum), so that many pages stay unmerged at any time.
 */
export function savedWithBreaks(t: KsmTimeline, breaksPerSecond: number): number {
  return Math.max(0, t.steadySaved - breaksPerSecond * 1.5 * t.passSeconds);
}

/** One full pass of ksmd over `pages` at rate r, seconds. */
export const passSeconds = (pages: number, r: KsmRate): number => Math.ceil(pages / Math.max(1, r.pagesToScan)) * wakeSeconds(r);

/**
 * How long a page's content must have held for it to be merged at a given
 * moment, on average: ksmd merged it at its last visit at the latest, and only
 * if its checksum was the one of the visit before, so it held since that
 * earlier visit: one pass, plus the time since the last visit (half a pass on
 * average). `mem scan --stable-for ksm` samples contents this far apart.
 */
export const mergedHoldSeconds = (pages: number, r: KsmRate): number => 1.5 * passSeconds(pages, r);
