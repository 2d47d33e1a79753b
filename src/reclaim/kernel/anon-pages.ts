// What KSM has done to a set of processes, read from the kernel: their
// present pages (pagemap) whose physical page carries KPF_KSM (kpageflags).
// The prediction side is the scanner's (src/reclaim/measure/scan.ts,
// scanAnonymous); this file only measures. Root only (pagemap PFNs and
// kpageflags need CAP_SYS_ADMIN).

import { closeSync, openSync, readSync } from "node:fs";
import { errnoCode } from "../../errors.js";
import { PAGE_SIZE } from "../profile.js";
import { presentPages } from "../measure/procfs.js";

const KPF_KSM = 1n << 21n;

/**
 * `merging` mapped pages now backed by KSM pages, `kpages` distinct KSM pages
 * behind them; merging − kpages is what their merging saved, whatever other
 * processes KSM scans at the same time.
 */
export function ksmMerged(pids: number[]): { merging: number; kpages: number } {
  const kflags = openSync("/proc/kpageflags", "r");
  const flag = Buffer.alloc(8);
  let merging = 0;
  const kpages = new Set<number>();
  try {
    for (const pid of pids) {
      const p = presentPages(pid);
      if (!p) continue; // exited
      for (const pfn of p.pfns) {
        if (pfn === 0) continue;
        readSync(kflags, flag, 0, 8, pfn * 8);
        if ((flag.readBigUInt64LE(0) & KPF_KSM) === 0n) continue;
        merging++;
        kpages.add(pfn);
      }
    }
  } finally {
    closeSync(kflags);
  }
  return { merging, kpages: kpages.size };
}

/** The contents of pages of processes (/proc/PID/mem); undefined where a page or its process has gone. */
export function readPages(pages: readonly { pid: number; addr: number }[]): (Buffer | undefined)[] {
  const fds = new Map<number, number | undefined>();
  const fdOf = (pid: number): number | undefined => {
    if (fds.has(pid)) return fds.get(pid);
    let fd: number | undefined;
    try {
      fd = openSync(`/proc/${pid}/mem`, "r");
    } catch (e) {
      if (errnoCode(e) !== "ENOENT" && errnoCode(e) !== "ESRCH") throw e;
    }
    fds.set(pid, fd);
    return fd;
  };
  try {
    return pages.map(({ pid, addr }) => {
      const fd = fdOf(pid);
      if (fd === undefined) return undefined;
      const b = Buffer.alloc(PAGE_SIZE);
      try {
        return readSync(fd, b, 0, PAGE_SIZE, addr) === PAGE_SIZE ? b : undefined;
      } catch (e) {
        if (errnoCode(e) === "EIO" || errnoCode(e) === "ESRCH") return undefined; // unmapped or exited meanwhile
        throw e;
      }
    });
  } finally {
    for (const fd of fds.values()) if (fd !== undefined) closeSync(fd);
  }
}
