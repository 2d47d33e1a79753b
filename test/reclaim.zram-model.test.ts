// The zram model against the kernel: the scanner's per-page sizes under
// LZO-RLE, LZO and LZ4 are the sizes zram stores (compr_data_size, page by
// page, to the byte), and zsmalloc's size classes give mem_used_total of a
// fresh device exactly. Each test hot-adds its own device and removes it.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { holdZramExclusive } from "../bench/reclaim-harness.js";
import { lz4Block, lzoBlock } from "../src/native/scan.js";
import { predictZram, readMmStat, writePages, zramAdd, zramRemove, zramUnavailable } from "../src/reclaim/kernel/zram.js";
import { classOf, poolPages, zsmalloc } from "../src/reclaim/model/zsmalloc.js";

const root = process.getuid?.() === 0;

/** Pages of several kinds: random, words, small integers, sparse bytes, a random tail, a 16-letter alphabet, near-zero runs. */
function pages(n: number, seed: number): Buffer[] {
  let s = seed;
  const rnd = (): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 2 ** 32; };
  const words = ["the", "memory", "kernel", "page", "zram", "swap", "container", "\n", '{"a":1}', "0000", "\0\0\0\0\0\0\0\0"];
  return Array.from({ length: n }, (_, i) => {
    const b = Buffer.alloc(4096);
    switch (i % 7) {
      case 0: for (let k = 0; k < 4096; k++) b[k] = Math.floor(rnd() * 256); break;
      case 1: { let o = 0; while (o < 4096) o += b.write(words[Math.floor(rnd() * words.length)]! + " ", o); break; }
      case 2: for (let k = 0; k < 4096; k += 8) b.writeBigUInt64LE(BigInt(Math.floor(rnd() * 1000)), k); break;
      case 3: for (let k = 0; k < 4096; k++) b[k] = rnd() < 0.7 ? 0 : Math.floor(rnd() * 256); break;
      case 4: for (let k = Math.floor(rnd() * 4096); k < 4096; k++) b[k] = Math.floor(rnd() * 256); break;
      case 5: for (let k = 0; k < 4096; k++) b[k] = 65 + Math.floor(rnd() * 16); break;
      default: for (let k = 0; k < 4096; k++) b[k] = rnd() < 0.9 ? 0 : 1; b[4095] = 3;
    }
    return b;
  });
}

describe("zsmalloc size classes (Linux ≥ 6.2, chain size 8)", () => {
  it("stores a page compressing to 3625 bytes or more whole, merges classes with the same zspage shape", () => {
    const pool = zsmalloc(8);
    expect(pool.hugeClassSize).toBe(3625);
    // the object carries its 8-byte handle: 3624 + 8 fits the 3632-byte class (9 objects in 8 pages)
    expect(classOf(pool, 3624)).toEqual({ size: 3632, pagesPerZspage: 8, objsPerZspage: 9 });
    expect(classOf(pool, 4096)).toEqual({ size: 4096, pagesPerZspage: 1, objsPerZspage: 1 });
    expect(classOf(pool, 1).size).toBe(32);
    // 1000 + 8 bytes: the 1008 class merged into the 1024 one (both 4 objects in 1 page)
    expect(classOf(pool, 1000)).toEqual({ size: 1024, pagesPerZspage: 1, objsPerZspage: 4 });
    expect(poolPages(pool, [1000, 1000, 1000, 1000, 1000])).toBe(2);
  });

  it("LZO-RLE codes a zero run as one instruction, LZO as a match", () => {
    const page = Buffer.alloc(4096, 0x41);
    page.fill(0, 100, 2000);
    expect(lzoBlock(page, true).length).toBeLessThan(lzoBlock(page, false).length);
    expect(lzoBlock(page, true).subarray(0, 2)).toEqual(Buffer.from([17, 1])); // the bitstream version header
  });
});

describe.skipIf(!root || zramUnavailable() !== undefined)("zram model against the kernel", () => {
  // its devices are the host's: not while mem calibrate's tests check the host's are as they were
  let releaseZram: (() => void) | undefined;
  beforeAll(async () => { releaseZram = await holdZramExclusive(); }, 600_000);
  afterAll(() => releaseZram?.());
  for (const algorithm of ["lzo-rle", "lzo", "lz4"]) {
    it(`${algorithm}: every page's stored size to the byte, mem_used_total exact on a fresh device`, () => {
      const data = pages(700, 11);
      const dev = zramAdd(algorithm, 64 << 20);
      try {
        const kernel = writePages(dev, data, true);
        const sized = data.map((p) => ({ kind: 0, size: algorithm === "lz4" ? lz4Block(p).length : lzoBlock(p, algorithm === "lzo-rle").length }));
        const pred = predictZram(sized);
        const stored = sized.map((p) => (p.size >= zsmalloc().hugeClassSize ? 4096 : p.size));
        expect(stored).toEqual(kernel);
        const mm = readMmStat(dev);
        expect(mm.comprDataSize).toBe(pred.compr);
        expect(mm.hugePages).toBe(pred.hugePages);
        expect(mm.memUsedTotal).toBe(pred.memUsedTotal);
      } finally {
        zramRemove(dev);
      }
      expect(existsSync(dev.sys)).toBe(false); // removed again
    });
  }
});
