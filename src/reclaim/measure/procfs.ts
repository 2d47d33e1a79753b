// A process's resident pages from /proc/PID/smaps and /proc/PID/pagemap
// (Documentation/admin-guide/mm/pagemap.rst): bit 63 present, bit 62
// swapped (not present, so not scanned), bit 61 file page or shared anon,
// bits 0–54 the page frame number (root only; 0 for others).

import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { errnoCode } from "../../errors.js";
import { PAGE_SIZE } from "../profile.js";

export interface Mapping {
  start: number;
  end: number;
  perms: string;
  inode: number;
  path: string;
  /** resident KiB from smaps (undefined when parsing plain maps) */
  rssKiB?: number;
}

/**
 * /proc/PID/maps or /proc/PID/smaps (header lines, plus Rss: lines in
 * smaps); addresses fit a double exactly (user space is < 2^57).
 */
export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (m) {
      out.push({ start: Number.parseInt(m[1]!, 16), end: Number.parseInt(m[2]!, 16), perms: m[3]!, inode: Number(m[4]), path: m[5] ?? "" });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && out.length > 0) out[out.length - 1]!.rssKiB = Number(rss[1]);
  }
  return out;
}

/** Mappings whose pages are memory the process owns and /proc/PID/mem can read. */
export function scannable(m: Mapping): boolean {
  // [vvar]/[vsyscall] are kernel pages, not the container's; reading them through mem fails (EIO).
  // Rss 0: nothing resident, so no need to walk pagemap over it (runtimes reserve terabytes of address space).
  return !/^\[(vvar|vvar_vclock|vsyscall)\]$/.test(m.path) && m.end > m.start && m.rssKiB !== 0;
}

/** The resident pages of one process, address order. */
export interface ProcessPages {
  pid: number;
  addrs: number[];
  pfns: number[];
  anon: boolean[];
}

const PRESENT = 0x8000_0000; // bit 63 in the high word
const FILE_OR_SHARED = 0x2000_0000; // bit 61
const CHUNK = 8192; // pagemap entries per read (64 KiB)

/**
 * Present pages of pid, or undefined if the process is gone (or became
 * unreadable) before its maps and pagemap were read.
 */
export function presentPages(pid: number): ProcessPages | undefined {
  let maps: string;
  let fd: number;
  try {
    maps = readFileSync(`/proc/${pid}/smaps`, "utf8");
    fd = openSync(`/proc/${pid}/pagemap`, "r");
  } catch (e) {
    if (gone(e)) return undefined;
    throw e;
  }
  const out: ProcessPages = { pid, addrs: [], pfns: [], anon: [] };
  const buf = Buffer.alloc(CHUNK * 8);
  const words = new Uint32Array(buf.buffer, buf.byteOffset, CHUNK * 2);
  try {
    for (const m of parseMaps(maps)) {
      if (!scannable(m)) continue;
      for (let first = m.start / PAGE_SIZE; first < m.end / PAGE_SIZE; first += CHUNK) {
        const n = Math.min(CHUNK, m.end / PAGE_SIZE - first);
        let got: number;
        try {
          got = readSync(fd, buf, 0, n * 8, first * 8) / 8;
        } catch (e) {
          if (gone(e)) return undefined;
          throw e;
        }
        for (let i = 0; i < got; i++) {
          const hi = words[2 * i + 1]!;
          if ((hi & PRESENT) === 0) continue;
          out.addrs.push((first + i) * PAGE_SIZE);
          out.pfns.push((hi & 0x7f_ffff) * 0x1_0000_0000 + words[2 * i]!);
          out.anon.push((hi & FILE_OR_SHARED) === 0);
        }
        if (got < n) break; // the mapping went away meanwhile
      }
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** The process exited (or its memory went away) under us: skip it, never fatal. */
export function gone(e: unknown): boolean {
  const c = errnoCode(e);
  return c === "ENOENT" || c === "ESRCH" || c === "EIO" || c === "EACCES" || c === "EPERM";
}
