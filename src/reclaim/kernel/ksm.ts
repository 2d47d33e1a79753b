// The kernel's KSM scanner (/sys/kernel/mm/ksm): read its counters, turn it
// on with tsbox's scan rate and off again restoring exactly what tsbox
// changed (the previous values are recorded under the state root before the
// first change, so `off` works from another process and after a crash).

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TsboxError, errnoCode } from "../../errors.js";
import { writeJsonAtomic } from "../../util/atomic.js";
import { ShapeError, integer, object, optional, readChecked } from "../../util/shape.js";
import { KSM_DEFAULTS, type KsmSettings } from "../profile.js";

export const KSM_DIR = "/sys/kernel/mm/ksm";

/** Counters `mem ksm status` reports (absent when the kernel lacks the file). */
export const KSM_COUNTERS = [
  "run", "pages_to_scan", "sleep_millisecs", "pages_shared", "pages_sharing", "pages_unshared",
  "pages_volatile", "full_scans", "ksm_zero_pages", "general_profit", "max_page_sharing", "use_zero_pages",
  "pages_scanned", "pages_skipped", "smart_scan",
] as const;
export type KsmCounter = (typeof KSM_COUNTERS)[number];
export type KsmCounters = Partial<Record<KsmCounter, number>>;

/** Settings `on` may change; `off` writes back the recorded ones in this order, run last. */
const TUNABLES = ["pages_to_scan", "sleep_millisecs", "run"] as const;
export type KsmTunable = (typeof TUNABLES)[number];

export function ksmAvailable(dir = KSM_DIR): boolean {
  return existsSync(join(dir, "run"));
}

function requireKsm(dir: string): void {
  if (!ksmAvailable(dir)) throw new TsboxError(`KSM is not available: ${dir} is missing (kernel built without CONFIG_KSM)`);
}

export function readKsm(dir = KSM_DIR): KsmCounters {
  requireKsm(dir);
  const out: KsmCounters = {};
  for (const k of KSM_COUNTERS) {
    try {
      out[k] = Number(readFileSync(join(dir, k), "utf8").trim());
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e;
    }
  }
  return out;
}

function writeTunable(dir: string, k: KsmTunable, v: number): void {
  try {
    writeFileSync(join(dir, k), String(v));
  } catch (e) {
    throw new TsboxError(`KSM: writing ${v} to ${join(dir, k)}: ${(e as Error).message}`, 125, { cause: e });
  }
}

export const ksmRecordFile = (root: string): string => join(root, "reclaim", "ksm-previous.json");

const checkRecord = object({ pages_to_scan: optional(integer), sleep_millisecs: optional(integer), run: optional(integer) });

/** The values from before tsbox's first `on`; undefined without a record. */
function readRecord(file: string, dir: string): Partial<Record<KsmTunable, number>> | undefined {
  try {
    return readChecked(file, checkRecord);
  } catch (e) {
    if (!(e instanceof ShapeError)) throw e;
    throw new TsboxError(`KSM: ${file} is corrupt (${e.message}): set ${dir} by hand, then remove it`);
  }
}

export interface KsmOnOptions { pagesToScan?: number; sleepMillisecs?: number }

/** Default scan rate while tsbox has KSM on: 10,000 pages per 20 ms ≈ 2 GB/s at most. */
export const DEFAULT_PAGES_TO_SCAN = 10_000;

/**
 * run=1 with the given rate. The values replaced are recorded once (a second
 * `on` keeps the first record, so `off` returns to the state before tsbox).
 */
export function ksmOn(root: string, opts: KsmOnOptions = {}, dir = KSM_DIR): Record<KsmTunable, number> {
  requireKsm(dir);
  const wanted: Partial<Record<KsmTunable, number>> = {
    pages_to_scan: opts.pagesToScan ?? DEFAULT_PAGES_TO_SCAN,
    ...(opts.sleepMillisecs !== undefined ? { sleep_millisecs: opts.sleepMillisecs } : {}),
    run: 1,
  };
  const file = ksmRecordFile(root);
  const current = readKsm(dir);
  const record = readRecord(file, dir) ?? {};
  for (const k of TUNABLES) {
    if (wanted[k] !== undefined && record[k] === undefined && current[k] !== undefined) record[k] = current[k];
  }
  mkdirSync(join(root, "reclaim"), { recursive: true });
  writeJsonAtomic(file, record, true);
  for (const k of TUNABLES) if (wanted[k] !== undefined) writeTunable(dir, k, wanted[k]);
  return record as Record<KsmTunable, number>;
}

/** Restores what `on` recorded; without a record, just run=0. Returns the values written. */
export function ksmOff(root: string, dir = KSM_DIR): Partial<Record<KsmTunable, number>> {
  requireKsm(dir);
  const file = ksmRecordFile(root);
  const record = readRecord(file, dir) ?? { run: 0 };
  for (const k of TUNABLES) if (record[k] !== undefined) writeTunable(dir, k, record[k]);
  rmSync(file, { force: true });
  return record;
}

/** /proc/PID/ksm_stat as numbers (plus ksm_merging_pages on kernels that only have that file); undefined if gone. */
export function processKsm(pid: number): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync(`/proc/${pid}/ksm_stat`, "utf8").split("\n")) {
      // numbers, and since 6.8 "ksm_merge_any: yes" / "ksm_mergeable: yes"
      const m = /^(\w+):?\s+(-?\d+|yes|no)\s*$/.exec(line);
      if (m) out[m[1]!] = m[2] === "yes" ? 1 : m[2] === "no" ? 0 : Number(m[2]);
    }
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ESRCH") return undefined;
    if (code !== "ENOENT") throw e;
    try {
      out.ksm_merging_pages = Number(readFileSync(`/proc/${pid}/ksm_merging_pages`, "utf8").trim());
    } catch {
      return undefined;
    }
  }
  return out;
}

export interface ContainerKsm { id: string; name: string; pids: number; ksmMergingPages: number; ksmProcessProfit: number; mergeAny: boolean }

export function containerKsm(c: { id: string; name: string }, pids: number[]): ContainerKsm {
  let merging = 0, profit = 0, any = false, n = 0;
  for (const pid of pids) {
    const s = processKsm(pid);
    if (!s) continue;
    n++;
    merging += s.ksm_merging_pages ?? 0;
    profit += s.ksm_process_profit ?? 0;
    if (s.ksm_merge_any === 1) any = true;
  }
  return { id: c.id, name: c.name, pids: n, ksmMergingPages: merging, ksmProcessProfit: profit, mergeAny: any };
}

/**
 * Pages KSM saves for content groups of `n` identical anonymous pages: each
 * KSM page is shared by at most max_page_sharing mappings, so a group needs
 * ceil(n / max) KSM pages and saves the rest.
 */
export function predictKsm(groups: Iterable<number>, maxPageSharing = 256): { saved: number; merging: number; shared: number } {
  let saved = 0, merging = 0, shared = 0;
  for (const n of groups) {
    if (n < 2) continue;
    const kpages = Math.ceil(n / maxPageSharing);
    saved += n - kpages;
    merging += n;
    shared += kpages;
  }
  return { saved, merging, shared };
}

/** The host's KSM settings the sharing prediction follows; the kernel's defaults where KSM is missing. */
export function hostKsmSettings(dir = KSM_DIR): KsmSettings {
  if (!ksmAvailable(dir)) return { ...KSM_DEFAULTS };
  const c = readKsm(dir);
  return {
    useZeroPages: c.use_zero_pages === undefined ? KSM_DEFAULTS.useZeroPages : c.use_zero_pages === 1,
    // the kernel refuses values below 2; a missing file is an older kernel without chains (no limit)
    maxPageSharing: c.max_page_sharing === undefined ? Number.MAX_SAFE_INTEGER : Math.max(2, c.max_page_sharing),
  };
}

/** Saved pages as ksm.rst defines them. */
export const ksmSaved = (c: KsmCounters): number => (c.pages_sharing ?? 0) + (c.ksm_zero_pages ?? 0);
