// The JS half of `mem scan`, on hand-built inputs: duplicate accounting
// across containers, sampling, confidence intervals, maps parsing.
import { describe, expect, it } from "vitest";
import { aggregate, codecProfile, Kind, zramProfile, type ContainerPages } from "../src/reclaim/measure/aggregate.js";
import { codecOf, zramRatioOf } from "../src/reclaim/model/from-profile.js";
import { KeyIndex } from "../src/reclaim/measure/key-index.js";
import { parseMaps, scannable } from "../src/reclaim/measure/procfs.js";
import { chooseIndices, ci95, rng } from "../src/reclaim/measure/sampling.js";

/** Pages from a compact spec: "z" zero, "s" same-filled, "x" gone, a number = content key; sizes default 4096. */
function pages(spec: (string | number)[], opts: { classified?: number[]; lz4?: number[]; dev?: number[]; anon?: number } = {}): ContainerPages {
  const n = spec.length;
  const c: ContainerPages = {
    count: n, kind: new Uint8Array(n), key: new Float64Array(n), lz4: new Uint16Array(n), strong: new Uint16Array(n), dev: new Uint16Array(n),
    classified: new Uint8Array(n).fill(opts.classified ? 0 : 1), anon: new Uint8Array(n).fill(1),
  };
  spec.forEach((s, i) => {
    if (s === "z") c.kind[i] = Kind.Zero;
    else if (s === "s") c.kind[i] = Kind.Same;
    else if (s === "x") c.kind[i] = Kind.Gone;
    else { c.kind[i] = Kind.Data; c.key[i] = s as number; c.lz4[i] = opts.lz4?.[i] ?? 4096; c.strong[i] = Math.min(4096, c.lz4[i]!); c.dev[i] = opts.dev?.[i] ?? c.lz4[i]!; }
  });
  for (const i of opts.classified ?? []) c.classified[i] = 1;
  for (let i = 0; i < (opts.anon ?? 0); i++) c.anon[i] = 0;
  return c;
}

describe("aggregate", () => {
  it("counts copies beyond the first, within and across containers, in report order", () => {
    // A: 1 1 1 2 3 z s x      B: 1 2 4 4 5 z
    const a = pages([1, 1, 1, 2, 3, "z", "s", "x"], { anon: 2 });
    const b = pages([1, 2, 4, 4, 5, "z"]);
    const { profiles: [pa, pb], sharablePages } = aggregate([a, b], false);
    expect(pa).toMatchObject({ present: 7, sampled: 7, zero: 1, sameFilled: 1, duplicateWithin: 2, duplicateAcross: 0, unique: 1 });
    expect(pa!.anonFraction).toBeCloseTo(5 / 7);
    expect(pb).toMatchObject({ present: 6, sampled: 6, zero: 1, sameFilled: 0, duplicateWithin: 1, duplicateAcross: 2, unique: 1 });
    // KSM's view, over the anonymous pages only (A's first two pages are file pages, so A's third,
    // its only anonymous 1, is the kept copy): A 1 2 3 z s → nothing; B 1 2 4 4 5 z → 1 and 2 across,
    // 4 within; zero pages: 2, one KSM page keeps them
    expect(pa!.mergeable).toEqual({ zero: 1, within: 0, across: 0, sameFilled: 0 });
    expect(pb!.mergeable).toEqual({ zero: 1, within: 1, across: 2, sameFilled: 0 });
    expect(sharablePages).toBe(3 + 1);
    expect(pa!.ci95).toBeUndefined(); // every page read and compressed: exact
  });

  it("KSM's view: zero and same-filled pages are merged as any identical pages; file pages never", () => {
    // A: 3 file pages of content 7, then anon: 7 z z s(1) s(1) s(2)    B: anon z s(1) s(2) 8 8 8
    const a = pages([7, 7, 7, 7, "z", "z", "s", "s", "s"], { anon: 3 });
    a.key[6] = 1; a.key[7] = 1; a.key[8] = 2;
    const b = pages(["z", "s", "s", 8, 8, 8]);
    b.key[1] = 1; b.key[2] = 2;
    const { profiles: [pa, pb], sharablePages, sharable } = aggregate([a, b], false);
    expect(pa!.mergeable).toEqual({ zero: 2, within: 1, across: 0, sameFilled: 1 });
    expect(pb!.mergeable).toEqual({ zero: 1, within: 2, across: 2, sameFilled: 2 });
    // 3 zero pages → 2 saved; same-filled 1 ×3, 2 ×2 → 3 saved; content 8 ×3 → 2 saved; 7 has one anonymous copy
    expect(sharable).toEqual({ duplicate: 2, sameFilled: 3, zero: 2 });
    expect(sharablePages).toBe(7);
    // use_zero_pages: all zero pages map the kernel's zero page
    expect(aggregate([a, b], false, { useZeroPages: true, maxPageSharing: 256 }).sharable.zero).toBe(3);
    // max_page_sharing 2: 3 zero pages need 2 KSM pages; fill word 1 (3 copies) 2; content 8 (3 copies) 2
    const chained = aggregate([a, b], false, { useZeroPages: false, maxPageSharing: 2 });
    expect(chained.sharable).toEqual({ duplicate: 1, sameFilled: 2, zero: 1 });
    // the copy that heads the second KSM page of 8's chain is kept: B's third 8
    expect(chained.profiles[1]!.mergeable).toEqual({ zero: 1, within: 1, across: 1, sameFilled: 1 });
    // the classified counts are unchanged: duplicates over every page, same-filled pages apart
    expect(pa).toMatchObject({ zero: 2, sameFilled: 3, duplicateWithin: 3 });
  });

  it("the first copy of a shared content is neither unique nor a duplicate", () => {
    const { profiles: [p] } = aggregate([pages([7, 7, 8])], false);
    expect(p).toMatchObject({ duplicateWithin: 1, unique: 1, sampled: 3 });
  });

  it("sample mode: counts over the classified pages, duplicate status from all pages, scaled sharable pages and a CI", () => {
    // content 9 appears twice; only its second copy (index 3) is in the sample
    const c = pages([9, 1, 2, 9, 3, 4, 5, 6], { classified: [3, 4] });
    const { profiles: [p], sharablePages } = aggregate([c], true);
    expect(p).toMatchObject({ present: 8, sampled: 2, duplicateWithin: 1, unique: 1 });
    expect(sharablePages).toBe(1); // KSM's view counts every page, exactly: one copy of 9 beyond the first
    expect(p!.ci95).toBeGreaterThan(0.3);
  });

  it("compressed sizes: ratio and the ESX 2 KiB / 1 KiB classes over the measured data pages", () => {
    const { profiles: [p] } = aggregate([pages([1, 2, 3, 4, "z"], { lz4: [1000, 2048, 3000, 4096] })], false);
    const lz4 = p!.compression[0]!;
    expect(lz4).toMatchObject({ codec: "lz4", le2k: 0.5, le1k: 0.25, incompressible: 0.25 });
    expect(lz4.ratio).toBeCloseTo((4 * 4096) / (1000 + 2048 + 3000 + 4096));
    expect(p!.compression[1]!.codec).toBe("zstd");
  });

  it("zram figures: the device compressor's sizes in zsmalloc's classes, a page at the huge class size stored whole", () => {
    // LZ4 would store all three whole; the device's compressor (lzo-rle here) makes two 2040-byte objects
    // (+ 8-byte handle: the 2048 class, two to a one-page zspage) and one huge page (a page of its own)
    const c = { ...pages([1, 2, 3, "z", "s"], { lz4: [4096, 4096, 4096], dev: [2040, 2040, 4000] }), devCodec: "lzo-rle" };
    const { profiles: [p] } = aggregate([c], false);
    expect(p!.zram).toMatchObject({ compressor: "lzo-rle", le2k: 2 / 3, le1k: 0, incompressible: 1 / 3 });
    expect(p!.zram!.ratio).toBeCloseTo(3 / 2);
    expect(p!.zram!.comprRatio).toBeCloseTo((3 * 4096) / (2040 + 2040 + 4096));
    expect(p!.compression[0]!.ratio).toBe(1);
    // the simulation's codec is the zram one; over all pages zero and same-filled ones are free
    expect(codecOf({ id: "", name: "", mode: "full", ...p! }).ratio).toBeCloseTo(3 / 2);
    expect(zramRatioOf({ id: "", name: "", mode: "full", ...p! })).toBeCloseTo(5 / 2);
  });

  it("zram figures from a size sample count each class's objects scaled before its zspages", () => {
    // one 2040-byte object fills half a zspage: 1 page for 1 page in; standing for two, 1 page for 2
    expect(zramProfile("lzo-rle", [2040]).ratio).toBe(1);
    expect(zramProfile("lzo-rle", [2040], 2).ratio).toBe(2);
  });

  it("full mode with a size sample reports the sample's CI", () => {
    const c = pages([1, 2, 3, 4, 5, 6, 7, 8], { lz4: [1000, 0, 0, 0, 4096, 0, 0, 0] });
    const { profiles: [p] } = aggregate([c], false);
    expect(p!.compression[0]).toMatchObject({ le2k: 0.5, incompressible: 0.5 });
    expect(p!.ci95).toBeGreaterThan(0);
  });

  it("empty containers give zeros, not NaN", () => {
    const { profiles: [p] } = aggregate([pages([])], true);
    expect(p).toMatchObject({ present: 0, sampled: 0, anonFraction: 0 });
    expect(codecProfile("lz4", [])).toMatchObject({ ratio: 1, le2k: 0, incompressible: 0 });
  });
});

describe("sampling", () => {
  it("chooses k distinct sorted indices, reproducibly for a seed", () => {
    const a = chooseIndices(1000, 100, rng(5));
    expect(a).toHaveLength(100);
    expect(new Set(a).size).toBe(100);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(a.every((i) => i >= 0 && i < 1000)).toBe(true);
    expect(chooseIndices(1000, 100, rng(5))).toEqual(a);
    expect(chooseIndices(1000, 100, rng(6))).not.toEqual(a);
    expect(chooseIndices(3, 10, rng(1))).toEqual([0, 1, 2]);
  });

  it("is uniform enough: each decile gets its share", () => {
    const picks = chooseIndices(100_000, 10_000, rng(9));
    const deciles = new Array(10).fill(0);
    for (const i of picks) deciles[Math.floor(i / 10_000)]++;
    for (const d of deciles) expect(Math.abs(d - 1000)).toBeLessThan(120);
  });

  it("ci95: the normal half-width with the finite-population correction", () => {
    expect(ci95(0.5, 1000, 1e12)).toBeCloseTo(1.96 * Math.sqrt(0.25 / 1000), 4);
    expect(ci95(0.5, 1000, 1000)).toBe(0);
    expect(ci95(0.5, 500, 1000)).toBeCloseTo(1.96 * Math.sqrt(0.25 / 500) * Math.sqrt(500 / 999), 6);
  });
});

describe("maps", () => {
  const text = `00400000-00401000 r-xp 00000000 08:01 1234                               /mm/memmix
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
Size:               1024 kB
Rss:                 512 kB
7f0000100000-7f0000200000 rw-p 00000000 00:00 0
Rss:                   0 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
`;
  it("parses maps and smaps, and skips kernel pages and mappings with nothing resident", () => {
    const m = parseMaps(text);
    expect(m.map((x) => [x.start, x.end, x.path, x.rssKiB])).toEqual([
      [0x400000, 0x401000, "/mm/memmix", undefined], [0x7f0000000000, 0x7f0000100000, "", 512],
      [0x7f0000100000, 0x7f0000200000, "", 0], [0x7ffd00000000, 0x7ffd00021000, "[stack]", undefined],
      [0xffffffffff600000, 0xffffffffff601000, "[vsyscall]", undefined],
    ]);
    expect(m.map(scannable)).toEqual([true, true, false, true, false]);
  });
});

describe("KeyIndex", () => {
  it("maps keys up to 2^52 to values, through growth", () => {
    const ix = new KeyIndex(4);
    const keys = Array.from({ length: 5000 }, (_, i) => (i * 2654435761 * 1048573) % 2 ** 52);
    keys.forEach((k, i) => expect(ix.getOrSet(k, i)).toBe(-1));
    expect(ix.size).toBe(5000);
    keys.forEach((k, i) => { expect(ix.get(k)).toBe(i); expect(ix.getOrSet(k, 99)).toBe(i); });
    expect(ix.get(0.5 + 2 ** 40)).toBe(-1);
    expect(ix.get(2 ** 52 - 1)).toBe(keys.includes(2 ** 52 - 1) ? keys.indexOf(2 ** 52 - 1) : -1);
  });
});
