// The page scanner's C core (native-shims/scan/scan.c) against known vectors and
// independent references: XXH64, our LZ4 block compressor (decoded by a JS
// reference decoder, sizes against the lz4 CLI), the deflate-class estimate
// (against zlib), and page classification on a file of known pages.
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { lz4Block, resetScan, scanPages, SizeWant, unlz4Block, xxh64 } from "../src/native/scan.js";
import { REPO } from "./helpers.js";

const dir = mkdtempSync(join(REPO, ".tmp", "scan-native-"));
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

/** The LZ4 block format, decoded the obvious way (lz4_Block_format.md). */
function lz4DecodeRef(block: Buffer): Buffer {
  const out: number[] = [];
  let i = 0;
  for (;;) {
    const token = block[i++]!;
    let lit = token >> 4;
    if (lit === 15) for (let b = 255; b === 255;) { b = block[i++]!; lit += b; }
    for (let k = 0; k < lit; k++) out.push(block[i++]!);
    if (i >= block.length) break;
    const off = block[i]! | (block[i + 1]! << 8);
    i += 2;
    let ml = token & 15;
    if (ml === 15) for (let b = 255; b === 255;) { b = block[i++]!; ml += b; }
    ml += 4;
    if (off === 0 || off > out.length) throw new Error("bad offset");
    for (let k = 0; k < ml; k++) out.push(out[out.length - off]!);
  }
  return Buffer.from(out);
}

const M64 = (1n << 64n) - 1n;
const P1 = 11400714785074694791n, P2 = 14029467366897019727n, P3 = 1609587929392839161n, P4 = 9650029242287828579n, P5 = 2870177450012600261n;
const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M64;
const round = (acc: bigint, v: bigint): bigint => (rotl((acc + v * P2) & M64, 31n) * P1) & M64;
const merge = (acc: bigint, v: bigint): bigint => (((acc ^ round(0n, v)) * P1) + P4) & M64;
/** XXH64 in BigInt arithmetic, straight from the spec (xxhash_spec.md). */
function xxh64Ref(b: Buffer): bigint {
  let p = 0, h: bigint;
  if (b.length >= 32) {
    let v1 = (P1 + P2) & M64, v2 = P2, v3 = 0n, v4 = (0n - P1) & M64;
    for (; p + 32 <= b.length; p += 32) {
      v1 = round(v1, b.readBigUInt64LE(p)); v2 = round(v2, b.readBigUInt64LE(p + 8));
      v3 = round(v3, b.readBigUInt64LE(p + 16)); v4 = round(v4, b.readBigUInt64LE(p + 24));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M64;
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else h = P5;
  h = (h + BigInt(b.length)) & M64;
  for (; p + 8 <= b.length; p += 8) h = ((rotl(h ^ round(0n, b.readBigUInt64LE(p)), 27n) * P1) + P4) & M64;
  if (p + 4 <= b.length) { h = ((rotl(h ^ ((BigInt(b.readUInt32LE(p)) * P1) & M64), 23n) * P2) + P3) & M64; p += 4; }
  for (; p < b.length; p++) h = (rotl(h ^ ((BigInt(b[p]!) * P5) & M64), 11n) * P1) & M64;
  h = ((h ^ (h >> 33n)) * P2) & M64;
  h = ((h ^ (h >> 29n)) * P3) & M64;
  return h ^ (h >> 32n);
}

function splitmix(seed: number): () => number {
  let s = BigInt(seed);
  return () => {
    s = (s + 0x9e3779b97f4a7c15n) & M64;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    return Number((z ^ (z >> 31n)) & 0xffn);
  };
}
const WORDS = "memory page the of kernel and shared to container a cache in compressed is swap".split(" ");
function textPage(seed: number, randomPrefix = 0): Buffer {
  const r = splitmix(seed);
  const b = Buffer.alloc(4096);
  for (let i = 0; i < randomPrefix; i++) b[i] = r();
  let s = "";
  while (s.length < 4096) s += WORDS[r() % WORDS.length] + (r() % 7 === 0 ? ".\n" : " ");
  b.write(s.slice(0, 4096 - randomPrefix), randomPrefix, "latin1");
  return b;
}
const randomPage = (seed: number): Buffer => { const r = splitmix(seed); return Buffer.from(Array.from({ length: 4096 }, r)); };

describe("XXH64", () => {
  it("matches the published vectors and a BigInt reference", () => {
    expect(xxh64(Buffer.from(""))).toBe(0xef46db3751d8e999n);
    expect(xxh64(Buffer.from("a"))).toBe(0xd24ec4f1a98c6e5bn);
    expect(xxh64(Buffer.from("abc"))).toBe(0x44bc2cf5ad770999n);
    for (const b of [textPage(1), randomPage(2), randomPage(3).subarray(0, 37), Buffer.alloc(4096, 7)]) expect(xxh64(b)).toBe(xxh64Ref(b));
  });
});

describe("LZ4 block compressor", () => {
  const inputs: [string, Buffer][] = [
    ["text", textPage(1)], ["text after random", textPage(2, 1500)], ["random", randomPage(3)],
    ["zero", Buffer.alloc(4096)], ["short", Buffer.from("abcabcabcabcabcabc")], ["tiny", Buffer.from("ab")], ["empty", Buffer.alloc(0)],
    ["long run then text", Buffer.concat([Buffer.alloc(3000, 0x41), textPage(4).subarray(0, 1096)])],
  ];
  for (const [name, data] of inputs) {
    it(`round-trips ${name} through a reference decoder and our own`, () => {
      const block = lz4Block(data);
      expect(lz4DecodeRef(block).equals(data)).toBe(true);
      expect(unlz4Block(block, 4096)?.equals(data)).toBe(true);
    });
  }

  it("rejects malformed blocks instead of reading or writing out of bounds", () => {
    expect(unlz4Block(Buffer.from([0x0f, 0x10, 0x00]), 4096)).toBeUndefined(); // offset beyond the output
    expect(unlz4Block(Buffer.from([0xf0]), 4096)).toBeUndefined(); // length runs off the end
    expect(unlz4Block(lz4Block(textPage(5)), 1000)).toBeUndefined(); // output larger than the room
  });

  it("compresses like the lz4 CLI (within 2 %)", (ctx) => {
    if (spawnSync("lz4", ["--version"]).status !== 0) return ctx.skip();
    for (const data of [textPage(6), textPage(7, 1024), textPage(8, 3000)]) {
      const f = join(dir, "page");
      writeFileSync(f, data);
      const r = spawnSync("lz4", ["-1", "-f", "-q", "--no-frame-crc", "-BD", f, `${f}.lz4`]);
      expect(r.status).toBe(0);
      // a one-block frame: 7 bytes of header, 4 of block size, 4 of end mark
      const cli = spawnSync("stat", ["-c", "%s", `${f}.lz4`], { encoding: "ascii" }).stdout.trim();
      const ours = lz4Block(data).length;
      expect(Math.abs(ours - (Number(cli) - 15)) / ours).toBeLessThan(0.02);
    }
  });
});

describe("page classification (a file stands in for /proc/PID/mem)", () => {
  const same = Buffer.alloc(4096);
  for (let i = 0; i < 4096; i += 8) same.writeBigUInt64LE(0x1122334455667788n, i);
  const pages = [Buffer.alloc(4096), same, textPage(10), randomPage(11), textPage(10), textPage(12, 3000)];
  const file = join(dir, "pages");
  writeFileSync(file, Buffer.concat(pages));
  const addrs = Float64Array.from([0, 1, 2, 3, 4, 5, 9].map((i) => i * 4096)); // page 9 is past the end
  const scan = (want: SizeWant) => {
    const n = addrs.length;
    const out = { kind: new Uint8Array(n), key: new Float64Array(n), lz4: new Uint16Array(n), strong: new Uint16Array(n), dev: new Uint16Array(n) };
    const fd = openSync(file, "r");
    try { resetScan(); scanPages({ fd }, addrs, 0, n, want, out); } finally { closeSync(fd); }
    return out;
  };

  it("zero, same-filled, data and unreadable pages; equal contents, equal keys; sizes per page", () => {
    const out = scan(SizeWant.Yes);
    expect([...out.kind]).toEqual([1, 2, 0, 0, 0, 0, 3]);
    expect(out.key[2]).toBe(out.key[4]);
    expect(out.key[2]).toBe(Number(xxh64Ref(pages[2]!) & ((1n << 52n) - 1n)));
    expect(new Set([out.key[2], out.key[3], out.key[5]]).size).toBe(3);
    expect(out.lz4[2]).toBe(lz4Block(pages[2]!).length);
    expect(out.lz4[3]).toBe(4096); // random: does not compress
    expect(out.lz4[5]).toBeGreaterThan(3000);
    expect(out.lz4[0]).toBe(0); // zero and same-filled pages are not compressed
    expect(out.lz4[4]).toBe(out.lz4[2]);
    expect(scan(SizeWant.No).lz4.every((x) => x === 0)).toBe(true);
  });

  it("the deflate-class estimate stays within 15 % of zlib level 6 on text, never above LZ4", () => {
    const corpus = [textPage(20), textPage(21, 512), textPage(22, 2048), textPage(23, 1024), textPage(24)];
    writeFileSync(file, Buffer.concat(corpus));
    const a = Float64Array.from(corpus.map((_, i) => i * 4096));
    const out = { kind: new Uint8Array(5), key: new Float64Array(5), lz4: new Uint16Array(5), strong: new Uint16Array(5), dev: new Uint16Array(5) };
    const fd = openSync(file, "r");
    try { resetScan(); scanPages({ fd }, a, 0, 5, SizeWant.Yes, out); } finally { closeSync(fd); }
    const est = out.strong.reduce((s, x) => s + x, 0);
    const zlib = corpus.reduce((s, p) => s + deflateRawSync(p).length, 0);
    expect(Math.abs(est - zlib) / zlib).toBeLessThan(0.15);
    for (let i = 0; i < 5; i++) expect(out.strong[i]).toBeLessThanOrEqual(out.lz4[i]!);
    expect(out.strong[0]).toBeLessThan(out.lz4[0]! * 0.8); // entropy coding beats LZ4 on text
  });
});
