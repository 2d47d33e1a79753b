// The anonymous pages of a process as KSM and zram see them: every present
// page of a private mapping whose physical page is anonymous (kpageflags
// ANON) and not the shared zero page, read through /proc/PID/mem. This is
// the population KSM may merge, so it is what the KSM prediction counts.
// Root only (pagemap PFNs and kpageflags need CAP_SYS_ADMIN).
//
// Kept small on purpose: `tsbox mem scan` (src/reclaim/measure) is the
// general scanner; this one answers the narrower "which pages can KSM merge".

import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { createHash } from "node:crypto";
import { errnoCode } from "../../errors.js";
import { PAGE_SIZE } from "../profile.js";

const PM_PRESENT = 1n << 63n;
const PFN_MASK = (1n << 55n) - 1n;
const KPF_ANON = 1n << 12n;
const KPF_KSM = 1n << 21n;
const KPF_ZERO_PAGE = 1n << 24n;

export interface AnonPage {
  pfn: number;
  /** sha1 of the 4 KiB content (hex) */
  hash: string;
  /** the content, when asked for (zram validation) */
  data?: Buffer;
}

interface Mapping { start: number; end: number; perms: string; name: string }

export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), perms: m[3]!, name: m[4] ?? "" });
  }
  return out;
}

/** Anonymous private present pages of pid; [] if the process is gone. */
export function anonPages(pid: number, opts: { keepData?: boolean; ksmOnly?: boolean } = {}): AnonPage[] {
  let maps: string;
  try {
    maps = readFileSync(`/proc/${pid}/maps`, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ESRCH") return [];
    throw e;
  }
  const out: AnonPage[] = [];
  const fds: number[] = [];
  try {
    const pagemap = openSync(`/proc/${pid}/pagemap`, "r");
    fds.push(pagemap);
    const mem = openSync(`/proc/${pid}/mem`, "r");
    fds.push(mem);
    const kflags = openSync("/proc/kpageflags", "r");
    fds.push(kflags);
    const flagBuf = Buffer.alloc(8);
    for (const m of parseMaps(maps)) {
      // shared mappings hold shmem/file pages; vsyscall cannot be read
      if (m.perms[3] !== "p" || m.perms[0] !== "r" || m.name === "[vsyscall]") continue;
      const n = (m.end - m.start) / PAGE_SIZE;
      const entries = Buffer.alloc(n * 8);
      readSync(pagemap, entries, 0, entries.length, (m.start / PAGE_SIZE) * 8);
      for (let i = 0; i < n; i++) {
        const e = entries.readBigUInt64LE(i * 8);
        if ((e & PM_PRESENT) === 0n) continue;
        const pfn = e & PFN_MASK;
        readSync(kflags, flagBuf, 0, 8, Number(pfn) * 8);
        const f = flagBuf.readBigUInt64LE(0);
        if ((f & KPF_ANON) === 0n || (f & KPF_ZERO_PAGE) !== 0n) continue;
        if (opts.ksmOnly) {
          if ((f & KPF_KSM) !== 0n) out.push({ pfn: Number(pfn), hash: "" });
          continue;
        }
        const data = Buffer.alloc(PAGE_SIZE);
        try {
          readSync(mem, data, 0, PAGE_SIZE, m.start + i * PAGE_SIZE);
        } catch (e) {
          if (errnoCode(e) === "EIO") continue; // unmapped meanwhile
          throw e;
        }
        const page: AnonPage = { pfn: Number(pfn), hash: createHash("sha1").update(data).digest("hex") };
        if (opts.keepData) page.data = data;
        out.push(page);
      }
    }
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ESRCH") return out; // exited mid-scan
    throw e;
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  return out;
}

/**
 * What KSM has done to these processes: `merging` mapped pages now backed by
 * KSM pages, `kpages` distinct KSM pages behind them; merging − kpages is what
 * their merging saved, whatever other processes KSM scans at the same time.
 */
export function ksmMerged(pids: number[]): { merging: number; kpages: number } {
  const pages = pids.flatMap((p) => anonPages(p, { ksmOnly: true }));
  return { merging: pages.length, kpages: new Set(pages.map((p) => p.pfn)).size };
}

/**
 * Pages grouped by content: hash → copies. By default one per physical page
 * (PFN), which is right before KSM has run; `perMapping` counts every mapped
 * page, which gives the same groups after KSM has merged some of them.
 */
export function contentGroups(pages: Iterable<AnonPage>, perMapping = false): Map<string, number> {
  const seen = new Set<number>();
  const groups = new Map<string, number>();
  for (const p of pages) {
    if (!perMapping && seen.has(p.pfn)) continue;
    seen.add(p.pfn);
    groups.set(p.hash, (groups.get(p.hash) ?? 0) + 1);
  }
  return groups;
}
