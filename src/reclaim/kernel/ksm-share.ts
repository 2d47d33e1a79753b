// Each process's share of what KSM saves. The kernel's per-process
// ksm_process_profit counts every page of the process mapped to a KSM page
// (ksm_merging_pages), the copy KSM keeps included: a KSM page mapped by m
// processes is m pages of merging in their ksm_stat, but saves m − 1. Summed
// over processes, it exceeds general_profit by pages_shared pages (about
// twice it when contents come in pairs). Here each mapping of a KSM page is
// given (m − 1)/m of a page, m its mappings in the processes KSM tracks, so
// the shares of all the processes add up to pages_sharing, and their profits
// to general_profit. Root only (pagemap PFNs, kpageflags).

import { closeSync, openSync, readSync, readdirSync } from "node:fs";
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

/**
 * Every process KSM tracks pages of (rmap items), now. A process that maps
 * KSM pages without rmap items of its own (a fork of a tracked process that
 * ksmd has not scanned yet) is not one: its mappings save nothing in the
 * kernel's counters until ksmd walks it.
 */
export function ksmUsers(): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const s = processKsm(Number(d));
    if (s !== undefined && (s.ksm_rmap_items ?? 0) > 0) out.push(Number(d));
  }
  return out;
}

/** One walk of the KSM pages of the processes KSM tracks: what their shares are computed from. */
export interface KsmCensus {
  /**
   * For each KSM page (by PFN), its mappings in the processes KSM tracks: the
   * m of pages_sharing's Σ (m − 1). /proc/kpagecount would also count the
   * mappings of untracked forks, which the kernel's counters leave out.
   */
  mappings: Map<number, number>;
  /** each process walked: its ksm_stat, and the KSM page behind each of its mappings of one */
  processes: Map<number, { stat: Record<string, number>; pfns: number[] }>;
}

/** Reads every user's pages once (pagemap, kpageflags); processes gone meanwhile are left out. */
export function ksmCensus(users: readonly number[] = ksmUsers()): KsmCensus {
  const census: KsmCensus = { mappings: new Map(), processes: new Map() };
  const flags = openSync("/proc/kpageflags", "r");
  const word = Buffer.alloc(8);
  const isKsm = (pfn: number): boolean => readSync(flags, word, 0, 8, pfn * 8) === 8 && (word.readBigUInt64LE(0) & KPF_KSM) !== 0n;
  try {
    for (const pid of users) {
      const stat = processKsm(pid);
      // only processes KSM tracks have KSM pages it counts: skip the page walk of the others
      if (!stat || ((stat.ksm_rmap_items ?? 0) === 0 && (stat.ksm_zero_pages ?? 0) === 0)) continue;
      const p = presentPages(pid);
      if (!p) continue; // exited
      const pfns: number[] = [];
      for (let i = 0; i < p.pfns.length; i++) {
        const pfn = p.pfns[i]!;
        // KSM pages are anonymous (pagemap bit 61 clear)
        if (pfn === 0 || !p.anon[i] || !isKsm(pfn)) continue;
        pfns.push(pfn);
        census.mappings.set(pfn, (census.mappings.get(pfn) ?? 0) + 1);
      }
      census.processes.set(pid, { stat, pfns });
    }
  } finally {
    closeSync(flags);
  }
  return census;
}

/**
 * What KSM saves the processes, apportioned over every KSM page's mappings in
 * tracked processes, from one census of them (every user's by default: take
 * one and pass it when asking for several groups); a process the census did
 * not walk (untracked, or gone) saves nothing.
 */
export function ksmShare(pids: readonly number[], census: KsmCensus = ksmCensus()): KsmShare {
  let merging = 0, saved = 0, zeroPages = 0, rmapItems = 0;
  for (const pid of pids) {
    const walked = census.processes.get(pid);
    if (!walked) continue;
    zeroPages += walked.stat.ksm_zero_pages ?? 0;
    rmapItems += walked.stat.ksm_rmap_items ?? 0;
    for (const pfn of walked.pfns) {
      const m = census.mappings.get(pfn) ?? 1;
      merging++;
      if (m > 1) saved += (m - 1) / m;
    }
  }
  return { merging, savedPages: saved, zeroPages, rmapItems, profit: Math.round((saved + zeroPages) * PAGE_SIZE - rmapItems * RMAP_ITEM_BYTES) };
}
