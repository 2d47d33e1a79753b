// The timing part of `tsbox mem ksm status`: the KSM-over-time model at the
// host's rate (src/reclaim/model/ksm-time.ts via kernel/ksm-rate.ts), and
// with --for, ksmd's measured scan rate and copy-on-write breaks.

import { table } from "../format.js";

export interface KsmTimingReport {
  pagesToScan: number;
  sleepMillisecs: number;
  /** the kernel's tick, ms */
  jiffyMs: number;
  /** ksmd CPU per page scanned, ns, and where it came from */
  scanNs: number;
  scanNsSource: "calibrated" | "default";
  /** pages ksmd tracks (Σ ksm_rmap_items): one pass walks them */
  trackedPages: number;
  /** one full pass, seconds */
  passSeconds: number;
  /** pages ksmd looks at per second at this rate (the model's; measured.scannedPerSecond is the kernel's) */
  pagesPerSecond: number;
  /** a new container of 1 GiB with contents of its own is merged after at most: the pass under way, then two looks */
  freshMergeSeconds: number;
  /** one whose contents others already share: the pass under way, then one look */
  sharedMergeSeconds: number;
  /** ksmd's share of a CPU while it scans */
  ksmdCpu: number;
  /** measured over --for seconds */
  measured?: { seconds: number; scannedPerSecond?: number; cowBreaksPerSecond?: number; fullScans: number; unmergedByBreaks?: number };
}

export async function ksmTimingReport(root: string, seconds?: number): Promise<KsmTimingReport> {
  const { hostProfileFile, readHostProfile } = await import("../reclaim/host-profile.js");
  const { ksmTiming, sampleKsmRates } = await import("../reclaim/kernel/ksm-rate.js");
  const { wakeSeconds } = await import("../reclaim/model/ksm-time.js");
  let profile;
  try {
    profile = readHostProfile(hostProfileFile(root));
  } catch {
    profile = undefined; // an invalid profile is `mem simulate`'s error to report; here the defaults do
  }
  const t = ksmTiming(profile);
  const rep: KsmTimingReport = {
    pagesToScan: t.rate.pagesToScan, sleepMillisecs: t.rate.sleepMillisecs, jiffyMs: t.rate.jiffyMs, scanNs: t.rate.scanNs,
    scanNsSource: profile?.ksm.perPageScanned ? "calibrated" : "default",
    trackedPages: t.trackedPages, passSeconds: round(t.passSeconds), pagesPerSecond: Math.round(t.rate.pagesToScan / wakeSeconds(t.rate)),
    freshMergeSeconds: round(t.newContainerSeconds(GIB_PAGES, false)), sharedMergeSeconds: round(t.newContainerSeconds(GIB_PAGES, true)),
    ksmdCpu: Math.round(t.ksmdCpu * 10_000) / 10_000,
  };
  if (seconds !== undefined) {
    const m = await sampleKsmRates(seconds);
    // a broken page stays a copy until ksmd has seen its new content twice: 1.5 passes on average
    const unmerged = m.cowBreaksPerSecond === undefined ? undefined : Math.round(m.cowBreaksPerSecond * 1.5 * t.passSeconds);
    rep.measured = { ...m, ...(unmerged !== undefined ? { unmergedByBreaks: unmerged } : {}) };
  }
  return rep;
}

const GIB_PAGES = 262_144;
const round = (x: number): number => Math.round(x * 1000) / 1000;
const secs = (x: number): string => (x < 10 ? `${x.toFixed(2)}s` : `${x.toFixed(0)}s`);

export function timingTable(t: KsmTimingReport): string {
  const m = t.measured;
  return table(["TRACKED PAGES", "PASS", "PAGES/S", "NEW 1GiB MERGED", "SHARED 1GiB MERGED", "KSMD CPU", "SCANNED/S", "COW BREAKS/S", "UNMERGED BY BREAKS"],
    [[String(t.trackedPages), secs(t.passSeconds), String(t.pagesPerSecond), `≤ ${secs(t.freshMergeSeconds)}`, `≤ ${secs(t.sharedMergeSeconds)}`, `${(t.ksmdCpu * 100).toFixed(1)}%`,
      m?.scannedPerSecond === undefined ? "-" : m.scannedPerSecond.toFixed(0),
      m?.cowBreaksPerSecond === undefined ? "-" : m.cowBreaksPerSecond.toFixed(1),
      m?.unmergedByBreaks === undefined ? "-" : String(m.unmergedByBreaks)]]);
}
