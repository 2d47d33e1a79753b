// Each process's share of what KSM saves. The kernel's per-process
// ksm_process_profit counts every page of the process mapped to a KSM page
// (ksm_merging_pages), the copy KSM keeps included: a KSM page mapped by m
// processes is m pages of merging in their ksm_stat, but saves m − 1. Summed
// over processes, it exceeds general_profit by pages_shared pages (about
// twice it when contents come in pairs). Here each mapping of a KSM page is
// given (m − 1)/m of a page, m its mappings (/proc/kpagecount), so the
// shares of all the processes add up to pages_sharing, and their profits to
// general_profit. Root only (pagemap PFNs, kpageflags, kpagecount).

import { closeSync, openSync, readSync } from "node:fs";
import { PAGE_SIZE } from "../profile.js";
import { presentPages } from "../measure/procfs.js";
import { processKsm } from "./ksm.js";

const KPF_KSM = 1n << 21n;

/** sizeof(struct ksm_rmap_item) on a 64-bit kernel: what each page KSM tracks costs (ksm.rst). */
export const RMAP_ITEM_BYTES = 64;

export interface KsmShare {
  /** the processes' pages mapped to KSM pages (their ksm_merging_pages) */
  merging: number;
  /** what those mappings save, each (m − 1)/m of a page */
  savedPages: number;
  /** pages mapped to the kernel's zero page by KSM (use_zero_pages): each saves a whole page */
  zeroPages: number;
  /** the pages KSM tracks for them (rmap items), each costing RMAP_ITEM_BYTES */
  rmapItems: number;
  /** (savedPages + zeroPages) × page size − rmapItems × RMAP_ITEM_BYTES, rounded to bytes */
  profit: number;
}

/** What KSM saves the processes, apportioned over every KSM page's mappings; processes gone meanwhile are skipped. */
export function ksmShare(pids: readonly number[]): KsmShare {
  const flags = openSync("/proc/kpageflags", "r");
  const counts = openSync("/proc/kpagecount", "r");
  const word = Buffer.alloc(8);
  const read = (fd: number, pfn: number): bigint => (readSync(fd, word, 0, 8, pfn * 8) === 8 ? word.readBigUInt64LE(0) : 0n);
  let merging = 0, saved = 0, zeroPages = 0, rmapItems = 0;
  try {
    for (const pid of pids) {
      const stat = processKsm(pid);
      if (!stat) continue;
      // only processes KSM tracks have KSM pages: skip the page walk of the others
      if ((stat.ksm_rmap_items ?? 0) === 0 && (stat.ksm_merging_pages ?? 0) === 0 && (stat.ksm_zero_pages ?? 0) === 0) continue;
      const p = presentPages(pid);
      if (!p) continue; // exited
      zeroPages += stat.ksm_zero_pages ?? 0;
      rmapItems += stat.ksm_rmap_items ?? 0;
      for (let i = 0; i < p.pfns.length; i++) {
        const pfn = p.pfns[i]!;
        // KSM pages are anonymous (pagemap bit 61 clear)
        if (pfn === 0 || !p.anon[i] || (read(flags, pfn) & KPF_KSM) === 0n) continue;
        const m = Number(read(counts, pfn));
        merging++;
        if (m > 1) saved += (m - 1) / m;
      }
    }
  } finally {
    closeSync(flags);
    closeSync(counts);
  }
  return { merging, savedPages: saved, zeroPages, rmapItems, profit: Math.round((saved + zeroPages) * PAGE_SIZE - rmapItems * RMAP_ITEM_BYTES) };
}
