// Typed binding to the page scanner, build/libtsbox_scan.so
// (native-shims/scan/scan.c), opened by library.ts.
// Pages go in and results come out through one arena of C memory that both
// sides see (ffi-rs createExternalBuffer), so a batch costs one foreign call
// and no copies.

import { DataType, createExternalBuffer, load, type JsExternal } from "./ffi.js";
import { TsboxError } from "../errors.js";
import { scanLib } from "./library.js";

/** pages per call: 64 MiB of memory, 352 KiB of arena */
export const BATCH = 16384;

/** Per-page results, written by scanBatch at the same indices as the addresses. */
export interface PageResults {
  /** aggregate.ts Kind: 0 data, 1 zero, 2 same-filled, 3 gone */
  kind: Uint8Array;
  /** 52 bits of the XXH64 content hash, exact in a double (Data pages) */
  key: Float64Array;
  /** sizes compressed on its own: LZ4 block and deflate-class estimate; PAGE_SIZE = did not compress, 0 = not measured */
  lz4: Uint16Array;
  strong: Uint16Array;
  /** size under the zram compressor chosen by setZramCodec (LZ4 unless chosen), same conventions */
  dev: Uint16Array;
}

interface Arena {
  addrs: Float64Array; keys: Float64Array; lz4: Uint16Array; strong: Uint16Array; kinds: Uint8Array; want: Uint8Array; dev: Uint16Array; scratch: Buffer;
}
let arena: Arena | undefined;

function getArena(): Arena {
  if (arena) return arena;
  const library = scanLib();
  const ptr = load({ library, funcName: "tsbox_scan_arena", retType: DataType.External, paramsType: [DataType.I32], paramsValue: [BATCH] }) as JsExternal;
  const size = BATCH * 24 + 16 * 1024;
  const buf = createExternalBuffer(ptr, size);
  if (buf.length !== size) throw new TsboxError("page scanner: no memory for its arena");
  const at = (k: number): number => buf.byteOffset + k * BATCH;
  arena = {
    addrs: new Float64Array(buf.buffer, at(0), BATCH),
    keys: new Float64Array(buf.buffer, at(8), BATCH),
    lz4: new Uint16Array(buf.buffer, at(16), BATCH),
    strong: new Uint16Array(buf.buffer, at(18), BATCH),
    kinds: new Uint8Array(buf.buffer, at(20), BATCH),
    want: new Uint8Array(buf.buffer, at(21), BATCH),
    dev: new Uint16Array(buf.buffer, at(22), BATCH),
    scratch: buf.subarray(24 * BATCH),
  };
  return arena;
}

function call(funcName: string, paramsType: DataType[], paramsValue: unknown[], retType = DataType.I32): number {
  return load({ library: scanLib(), funcName, retType, paramsType, paramsValue }) as number;
}

/** A new scan: forgets the compressed sizes cached by content. */
export function resetScan(): void {
  getArena();
  call("tsbox_scan_reset", [], [], DataType.Void);
}

/** The zram compressors the scanner sizes pages with, as zram names them (scan.c enum codec). */
export const ZRAM_CODECS = { lz4: 0, lzo: 1, "lzo-rle": 2 } as const;
export type ZramCodec = keyof typeof ZRAM_CODECS;
export const isZramCodec = (s: string): s is ZramCodec => Object.hasOwn(ZRAM_CODECS, s);

/** The compressor the `dev` sizes follow from now on (forgets the sizes cached by content). */
export function setZramCodec(codec: ZramCodec): void {
  getArena();
  if (call("tsbox_scan_codec", [DataType.I32], [ZRAM_CODECS[codec]]) !== 0) throw new TsboxError(`page scanner: no ${codec} compressor`);
}

/** Compressed sizes for a page: no, yes, or if its content is in the 1-in-8 size sample (chosen by hash). */
export const SizeWant = { No: 0, Yes: 1, IfSampled: 2 } as const;
export type SizeWant = (typeof SizeWant)[keyof typeof SizeWant];
/** The share of contents in the size sample (SIZE_SAMPLE in scan.c). */
export const SIZE_SAMPLE_RATE = 1 / 8;

/**
 * Reads and classifies pages at addrs[from, from+n) (ascending) of process
 * `source.pid` (process_vm_readv), or of the file `source.fd` (tests), into
 * out at the same indices, in calls of BATCH pages. want: per page (indices
 * as addrs) or one value for all. Unreadable pages come back as Gone.
 */
export function scanPages(source: { pid: number } | { fd: number }, addrs: Float64Array, from: number, n: number, want: Uint8Array | SizeWant, out: PageResults): void {
  const a = getArena();
  for (let start = from; start < from + n; start += BATCH) {
    const count = Math.min(BATCH, from + n - start);
    a.addrs.set(addrs.subarray(start, start + count));
    if (typeof want === "number") a.want.fill(want, 0, count);
    else a.want.set(want.subarray(start, start + count));
    const rc = call("tsbox_scan_pages", [DataType.I32, DataType.I32, DataType.I32],
      "pid" in source ? [-1, source.pid, count] : [source.fd, 0, count]);
    if (rc < 0) throw new TsboxError(`page scanner: error ${-rc}`);
    out.kind.set(a.kinds.subarray(0, count), start);
    out.key.set(a.keys.subarray(0, count), start);
    out.lz4.set(a.lz4.subarray(0, count), start);
    out.strong.set(a.strong.subarray(0, count), start);
    out.dev.set(a.dev.subarray(0, count), start);
  }
}

/** Median ns to decode one page with the LZ4 decoder, over pages of fd at addresses (each decoded `reps` times, fastest kept). */
export function lz4DecompressNs(fd: number, addresses: readonly number[], reps = 16): number {
  const a = getArena();
  const n = Math.min(addresses.length, BATCH);
  for (let i = 0; i < n; i++) a.addrs[i] = addresses[i]!;
  return call("tsbox_scan_lz4_decompress_ns", [DataType.I32, DataType.I32, DataType.I32], [fd, n, reps], DataType.Double);
}

// ---- the codecs on their own, for tests ----

/** Our LZ4 block compressor on data (≤ 7 KiB). */
export function lz4Block(data: Buffer): Buffer {
  const a = getArena();
  data.copy(a.scratch, 0);
  const c = call("tsbox_scan_test_lz4", [DataType.I32], [data.length]);
  if (c < 0) throw new RangeError("lz4Block: input too large");
  return Buffer.from(a.scratch.subarray(8192, 8192 + c));
}

/** Our LZ4 block decoder; undefined for a malformed block. */
export function unlz4Block(block: Buffer, capacity: number): Buffer | undefined {
  const a = getArena();
  block.copy(a.scratch, 8192);
  const d = call("tsbox_scan_test_unlz4", [DataType.I32, DataType.I32], [block.length, capacity]);
  return d < 0 ? undefined : Buffer.from(a.scratch.subarray(0, d));
}

/** Linux's LZO1X-1 (or LZO-RLE with rle) on data (21 bytes to 7 KiB), as the kernel's zram compresses it. */
export function lzoBlock(data: Buffer, rle: boolean): Buffer {
  const a = getArena();
  data.copy(a.scratch, 0);
  const c = call("tsbox_scan_test_lzo", [DataType.I32, DataType.I32], [data.length, rle ? 1 : 0]);
  if (c < 0) throw new RangeError("lzoBlock: input must be 21 bytes to 7 KiB");
  return Buffer.from(a.scratch.subarray(8192, 8192 + c));
}

/** XXH64, seed 0, of data (≤ 8 KiB), as an unsigned bigint. */
export function xxh64(data: Buffer): bigint {
  const a = getArena();
  data.copy(a.scratch, 0);
  call("tsbox_scan_test_xxh64", [DataType.I32], [data.length]);
  return a.scratch.readBigUInt64LE(8192);
}

