// Real compression on a zram device, to check the per-page compression
// prediction against the kernel. tsbox never touches an existing device: it
// hot-adds its own (/sys/class/zram-control), configures it, and resets and
// removes it afterwards, so the host's zram0 stays as it was.

import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TsboxError, errnoCode } from "../../errors.js";
import { PAGE_SIZE } from "../profile.js";
import { mknod } from "../../native/shim.js";
import { poolPages, zsmalloc, type Zsmalloc } from "../model/zsmalloc.js";

const CONTROL = "/sys/class/zram-control";

export interface ZramDevice {
  id: number;
  /** /sys/block/zramN */
  sys: string;
  /** a block device node for it (made in a temp dir when /dev has none) */
  node: string;
  tmp?: string;
}

/** zram.rst's mm_stat, in order. */
export interface MmStat {
  origDataSize: number; comprDataSize: number; memUsedTotal: number; memLimit: number; memUsedMax: number;
  samePages: number; pagesCompacted: number; hugePages: number; hugePagesSince?: number;
}

export function parseMmStat(text: string): MmStat {
  const f = text.trim().split(/\s+/).map(Number);
  return {
    origDataSize: f[0]!, comprDataSize: f[1]!, memUsedTotal: f[2]!, memLimit: f[3]!, memUsedMax: f[4]!,
    samePages: f[5]!, pagesCompacted: f[6]!, hugePages: f[7] ?? 0, ...(f[8] !== undefined ? { hugePagesSince: f[8] } : {}),
  };
}

/** Why zram cannot be used here, or undefined. */
export function zramUnavailable(): string | undefined {
  if (!existsSync(CONTROL)) return `${CONTROL} is missing (zram module not loaded, or built without hot_add)`;
  return undefined;
}

export function algorithms(sys: string): string[] {
  return readFileSync(join(sys, "comp_algorithm"), "utf8").replace(/[[\]]/g, "").trim().split(/\s+/);
}

/** The compressor a device uses (the bracketed one): a new device's is the host's default. */
export function currentAlgorithm(sys: string): string {
  const m = /\[([^\]]+)\]/.exec(readFileSync(join(sys, "comp_algorithm"), "utf8"));
  return m ? m[1]! : algorithms(sys)[0]!;
}

/** The compressor a new device gets on this host (CONFIG_ZRAM_DEF_COMP): read from a device hot-added for it and removed. */
export function hostDefaultAlgorithm(): string {
  const dev = zramAdd(undefined, 16 * PAGE_SIZE);
  try {
    return currentAlgorithm(dev.sys);
  } finally {
    zramRemove(dev);
  }
}

/**
 * The compressor the host's zram uses, without making a device: zram0's
 * where the host has it, else that of a zram device it swaps to, else the
 * kernel's default for a new device (CONFIG_ZRAM_DEF_COMP: lzo-rle).
 */
export function hostZramCompressor(swapDevices: readonly string[] = []): string {
  const zram = ["zram0", ...swapDevices.map((d) => /^\/dev\/(zram\d+)$/.exec(d)?.[1]).filter((d) => d !== undefined)];
  for (const name of zram) {
    const sys = `/sys/block/${name}`;
    if (existsSync(join(sys, "comp_algorithm"))) return currentAlgorithm(sys);
  }
  return "lzo-rle";
}

/** A new zram device with `algorithm` (undefined: the host's default) and `disksize` bytes; tear it down with zramRemove(). */
export function zramAdd(algorithm: string | undefined, disksize: number): ZramDevice {
  const why = zramUnavailable();
  if (why) throw new TsboxError(`zram: ${why}`);
  const id = Number(readFileSync(join(CONTROL, "hot_add"), "utf8").trim());
  const sys = `/sys/block/zram${id}`;
  const dev: ZramDevice = { id, sys, node: `/dev/zram${id}` };
  try {
    if (algorithm !== undefined) {
      if (!algorithms(sys).includes(algorithm)) throw new TsboxError(`zram: no ${algorithm} compressor (have: ${algorithms(sys).join(", ")})`);
      writeFileSync(join(sys, "comp_algorithm"), algorithm);
    }
    writeFileSync(join(sys, "disksize"), String(disksize));
    if (!existsSync(dev.node)) {
      // No udev here: make our own node for the device.
      const [major, minor] = readFileSync(join(sys, "dev"), "utf8").trim().split(":").map(Number);
      dev.tmp = mkdtempSync(join(tmpdir(), "tsbox-zram-"));
      dev.node = join(dev.tmp, `zram${id}`);
      mknod(dev.node, 0o060600, major!, minor!);
    }
    return dev;
  } catch (e) {
    zramRemove(dev);
    throw e;
  }
}

/** Reset (frees its memory) and hot-remove the device; tolerant of a half-made one. */
export function zramRemove(dev: ZramDevice): void {
  try {
    writeFileSync(join(dev.sys, "reset"), "1");
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
  }
  try {
    writeFileSync(join(CONTROL, "hot_remove"), String(dev.id));
  } catch (e) {
    if (errnoCode(e) !== "ENOENT" && errnoCode(e) !== "ENODEV") throw e;
  }
  if (dev.tmp) rmSync(dev.tmp, { recursive: true, force: true });
}

export const readMmStat = (dev: ZramDevice): MmStat => parseMmStat(readFileSync(join(dev.sys, "mm_stat"), "utf8"));

/**
 * Writes the pages at consecutive offsets. With perPage, each page is synced on
 * its own and its stored size read from mm_stat's compr_data_size delta.
 */
export function writePages(dev: ZramDevice, pages: Buffer[], perPage = false, startPage = 0): number[] {
  const fd = openSync(dev.node, "r+");
  const sizes: number[] = [];
  try {
    let prev = perPage ? readMmStat(dev).comprDataSize : 0;
    pages.forEach((p, i) => {
      writeSync(fd, p, 0, PAGE_SIZE, (startPage + i) * PAGE_SIZE);
      if (perPage) {
        fsyncSync(fd);
        const now = readMmStat(dev).comprDataSize;
        sizes.push(now - prev);
        prev = now;
      }
    });
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return sizes;
}

export interface ZramPrediction {
  pages: number;
  orig: number;
  /** compr_data_size: Σ stored sizes (a huge page counts PAGE_SIZE) */
  compr: number;
  /** mem_used_total of a fresh device holding these pages: zsmalloc's pages for them (model/zsmalloc.ts) */
  memUsedTotal: number;
  samePages: number;
  hugePages: number;
  /** per non-same page stored size */
  sizes: number[];
  /** fraction of non-same pages stored in ≤ 2048 / ≤ 1024 bytes */
  le2k: number;
  le1k: number;
}

/**
 * A page as the scanner (src/reclaim/measure, native-shims/scan/scan.c) saw it:
 * kind 0 data, 1 zero, 2 same-filled (one repeated 8-byte word, which zram
 * also stores without data); size its block size under the device's
 * compressor, as the kernel's (scan.c: LZ4, LZO1X-1 or LZO-RLE), capped at 4096.
 */
export interface SizedPage { kind: number; size: number }

/**
 * What zram will store for these pages, written to a fresh device: same-filled
 * pages no data, a page compressing to zsmalloc's huge class size or more
 * stored whole, the rest in zsmalloc's size classes.
 */
export function predictZram(pages: readonly SizedPage[], pool: Zsmalloc = zsmalloc()): ZramPrediction {
  let compr = 0, same = 0, huge = 0;
  const sizes: number[] = [];
  for (const p of pages) {
    if (p.kind === 1 || p.kind === 2) { same++; continue; }
    let c = p.size;
    if (c >= pool.hugeClassSize) { c = PAGE_SIZE; huge++; }
    compr += c;
    sizes.push(c);
  }
  return {
    pages: pages.length, orig: pages.length * PAGE_SIZE, compr, memUsedTotal: poolPages(pool, sizes) * PAGE_SIZE, samePages: same, hugePages: huge, sizes,
    le2k: fraction(sizes, 2048), le1k: fraction(sizes, 1024),
  };
}

export function fraction(sizes: number[], limit: number): number {
  return sizes.length === 0 ? 0 : sizes.filter((s) => s <= limit).length / sizes.length;
}
