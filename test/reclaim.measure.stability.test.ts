// `mem scan --stable-for`'s filter on hand-built samples: which pages held
// their content between two looks (KSM's checksum rule), and what the sharing
// figures count once the pages that changed are left out.
import { describe, expect, it } from "vitest";
import { aggregate, Kind, type ContainerPages } from "../src/reclaim/measure/aggregate.js";
import { heldInAll, SampleIndex, sampleSaving, settledSaving, stablePages, type ContentSample } from "../src/reclaim/measure/stability.js";
import { KSM_DEFAULTS } from "../src/reclaim/profile.js";
import { DEFAULT_KSM_RATE, mergedHoldSeconds, passSeconds } from "../src/reclaim/model/ksm-time.js";

/** A sample from [pid, addr, content] rows: content a number (data key), "z" zero, "s<n>" same-filled word n, "x" gone. */
function sample(rows: [number, number, number | string][]): ContentSample {
  const n = rows.length;
  const s = { pid: new Int32Array(n), addr: new Float64Array(n), kind: new Uint8Array(n), key: new Float64Array(n) };
  rows.forEach(([pid, addr, c], i) => {
    s.pid[i] = pid; s.addr[i] = addr;
    if (c === "z") s.kind[i] = Kind.Zero;
    else if (c === "x") s.kind[i] = Kind.Gone;
    else if (typeof c === "string") { s.kind[i] = Kind.Same; s.key[i] = Number(c.slice(1)); }
    else { s.kind[i] = Kind.Data; s.key[i] = c; }
  });
  return s;
}

/** A container's scanned pages from a sample, all anonymous, with the stability flags given. */
function container(s: ContentSample, stable?: Uint8Array): ContainerPages {
  const n = s.pid.length;
  return {
    count: n, kind: Uint8Array.from(s.kind), key: Float64Array.from(s.key), lz4: new Uint16Array(n).fill(4096), strong: new Uint16Array(n).fill(4096),
    dev: new Uint16Array(n).fill(4096), classified: new Uint8Array(n).fill(1), anon: new Uint8Array(n).fill(1), ...(stable ? { stable } : {}),
  };
}

describe("stable pages", () => {
  it("a page is stable when the same process has the same content at the same address in both samples", () => {
    const before = new SampleIndex(sample([[10, 0x1000, 7], [10, 0x2000, 8], [10, 0x3000, "z"], [10, 0x4000, "s5"], [11, 0x1000, 7], [11, 0x2000, 9]]));
    const after = sample([
      [10, 0x1000, 7], //   unchanged
      [10, 0x2000, 9], //   rewritten (a reference count moved)
      [10, 0x3000, "z"], // still zero
      [10, 0x4000, "s6"], // same-filled with another word: changed
      [11, 0x1000, 7], //   another process, same address: its own page, unchanged
      [11, 0x2000, "z"], // data → zero: changed
      [11, 0x5000, 7], //   faulted in since the first look: not seen twice
      [12, 0x1000, 7], //   a process the first look did not have
      [10, 0x6000, "x"], // gone
    ]);
    expect([...stablePages(before, after)]).toEqual([1, 0, 1, 0, 1, 0, 0, 0, 0]);
    expect(before.pages).toBe(6);
  });

  it("a content changed back between the looks is stable, as ksmd's checksum sees it", () => {
    // a counter up and down again: the two looks see the same bytes
    const before = new SampleIndex(sample([[1, 0x1000, 42]]));
    expect([...stablePages(before, sample([[1, 0x1000, 42]]))]).toEqual([1]);
  });

  it("the sharing counts only the stable copies; a changed page is neither a copy nor the copy kept", () => {
    // two replicas of contents 1..4 and two zero pages each; the writer (B) changed contents 1 and 2 and a zero page
    const a = sample([[1, 0x1000, 1], [1, 0x2000, 2], [1, 0x3000, 3], [1, 0x4000, 4], [1, 0x5000, "z"], [1, 0x6000, "z"]]);
    const bBefore = sample([[2, 0x1000, 1], [2, 0x2000, 2], [2, 0x3000, 3], [2, 0x4000, 4], [2, 0x5000, "z"], [2, 0x6000, "z"]]);
    const bAfter = sample([[2, 0x1000, 101], [2, 0x2000, 1], [2, 0x3000, 3], [2, 0x4000, 4], [2, 0x5000, 5], [2, 0x6000, "z"]]);
    const both = (k: keyof ContentSample): number[] => [...Array.from(a[k]), ...Array.from(bBefore[k])];
    const before = new SampleIndex({ pid: both("pid"), addr: both("addr"), kind: both("kind"), key: both("key") });
    const unfiltered = aggregate([container(a), container(bAfter)], false);
    // at one instant: B's content 1 (now at 0x2000), 3, 4 are copies of A's; zero pages 3 → 2 saved
    expect(unfiltered.sharable).toEqual({ duplicate: 3, sameFilled: 0, zero: 2 });
    const filtered = aggregate([container(a, stablePages(before, a)), container(bAfter, stablePages(before, bAfter))], false);
    // only 3 and 4 held in B (content 1 moved to another address: ksmd has not seen it there twice); zero pages 3 stable → 2 saved
    expect(filtered.sharable).toEqual({ duplicate: 2, sameFilled: 0, zero: 2 });
    expect(filtered.profiles[0]!.mergeable).toEqual({ zero: 2, within: 0, across: 0, sameFilled: 0, changed: 0 });
    expect(filtered.profiles[1]!.mergeable).toEqual({ zero: 1, within: 0, across: 2, sameFilled: 0, changed: 3 });
    expect(filtered.sharablePages).toBe(4);
  });

  it("without a window every page counts, and no `changed` figure is reported", () => {
    const a = sample([[1, 0x1000, 1], [1, 0x2000, 1]]);
    expect(aggregate([container(a)], false).profiles[0]!.mergeable).toEqual({ zero: 0, within: 1, across: 0, sameFilled: 0 });
  });

  it("`--stable-for ksm` waits 1.5 passes: the visit before ksmd's last, and on average half a pass since", () => {
    // 1000 pages at 100 a wake-up: 10 wake-ups of 20 ms rounded to the 4 ms tick, one tick more, and the scan (100 × 1 µs)
    expect(passSeconds(1000, DEFAULT_KSM_RATE)).toBeCloseTo(10 * 0.0241, 9);
    expect(mergedHoldSeconds(1000, DEFAULT_KSM_RATE)).toBeCloseTo(1.5 * 10 * 0.0241, 9);
  });

  it("held in all looks: a page changed and changed back between two looks is out only if a look saw the change", () => {
    const s0 = new SampleIndex(sample([[1, 0x1000, 1], [1, 0x2000, 2], [1, 0x3000, 3]]));
    const s1 = new SampleIndex(sample([[1, 0x1000, 1], [1, 0x2000, 9], [1, 0x3000, 3]]));
    const end = sample([[1, 0x1000, 1], [1, 0x2000, 2], [1, 0x3000, 4]]);
    // 0x2000 is back to its first content at the end, but the middle look saw it changed
    expect([...stablePages(s0, end)]).toEqual([1, 1, 0]);
    expect([...heldInAll([s0, s1], end)]).toEqual([1, 0, 0]);
    expect([...heldInAll([], end)]).toEqual([1, 1, 1]);
  });
});

describe("the saving of a sample", () => {
  it("is aggregate()'s sharablePages over the same pages, with or without a mask", () => {
    const a = sample([[1, 0x1000, 1], [1, 0x2000, 2], [1, 0x3000, "z"], [1, 0x4000, "s5"], [1, 0x5000, "x"]]);
    const b = sample([[2, 0x1000, 1], [2, 0x2000, 1], [2, 0x3000, "z"], [2, 0x4000, "s5"], [2, 0x5000, "z"], [2, 0x6000, 3]]);
    const both = (k: keyof ContentSample): number[] => [...Array.from(a[k]), ...Array.from(b[k])];
    const all: ContentSample = { pid: both("pid"), addr: both("addr"), kind: both("kind"), key: both("key") };
    // content 1: 3 copies → 2 saved; same-filled 5: 2 → 1; zero pages: 3 → 2
    expect(sampleSaving(all, KSM_DEFAULTS)).toBe(aggregate([container(a), container(b)], false).sharablePages);
    expect(sampleSaving(all, KSM_DEFAULTS)).toBe(5);
    const keepA = Uint8Array.from([1, 1, 1, 0, 1]), keepB = Uint8Array.from([1, 0, 1, 1, 1, 1]);
    expect(sampleSaving(all, KSM_DEFAULTS, [...keepA, ...keepB]))
      .toBe(aggregate([container(a, keepA), container(b, keepB)], false).sharablePages);
    // zero pages all saved with use_zero_pages; a chain of 2 mappings per KSM page keeps more
    expect(sampleSaving(all, { useZeroPages: true, maxPageSharing: 256 })).toBe(6);
    expect(sampleSaving(all, { useZeroPages: false, maxPageSharing: 2 })).toBe(1 + 1 + 1);
  });
});

describe("the held sharing once the losses have run their course", () => {
  it("held copies lost 200, then 100, and the sharing fell as much: 50, 25, … to come, 100 in all", () => {
    expect(settledSaving([1000, 800, 700], [1000, 800, 700])).toEqual({ pages: 600, settling: true });
  });

  it("is exact for copies lost at a constant rate beside copies never written", () => {
    // 400 copies that never change and 1000 lost at 5 % a second, looked at 0, 11 and 22 s
    const at = (t: number): number => 400 + 1000 * Math.exp(-0.05 * t);
    const looks = [at(0), at(11), at(22)] as const;
    expect(settledSaving(looks, looks).pages).toBeCloseTo(400, 6);
  });

  it("nothing held lost in the second half: the held figure", () => {
    expect(settledSaving([1000, 900, 900], [1000, 900, 900])).toEqual({ pages: 900, settling: true });
    expect(settledSaving([500, 500, 500], [500, 500, 500])).toEqual({ pages: 500, settling: true });
  });

  it("copies lost and made again (two replicas collecting garbage alike): the sharing did not fall, nothing more is taken off", () => {
    // node idle: 56 held copies went in the second half, made again at other addresses
    expect(settledSaving([5860, 5860, 5804], [5860, 5860, 5860])).toEqual({ pages: 5804, settling: false });
    // half of the held fall was made again: half the projected loss
    expect(settledSaving([1000, 800, 700], [1000, 900, 850])).toEqual({ pages: 650, settling: true });
  });

  it("a held loss that did not shrink has no limit: one more window at the last half's, flagged, never below 0", () => {
    expect(settledSaving([1000, 900, 800], [1000, 900, 800])).toEqual({ pages: 600, settling: false });
    expect(settledSaving([300, 200, 100], [300, 200, 100])).toEqual({ pages: 0, settling: false });
    expect(settledSaving([1000, 890, 800], [1000, 890, 800]).pages).toBeCloseTo(800 - 90 * (90 / 110) / (20 / 110), 6);
  });
});
