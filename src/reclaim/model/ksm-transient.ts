// The start-up transient of sharing in a scenario: guests started together
// hold all their pages unmerged until ksmd has looked at them twice
// (ksm-time.ts). Their pages are laid out in ksmd's order from the first
// step's demand: per guest, its zero pages, its within-guest duplicates next
// to their originals, the content it has in common with its group (page j
// the same in every guest of the group), then its other anonymous pages.
// Only anonymous pages count: KSM never merges page cache.

import { ksmTimeline, timeToSaving, type KsmRate } from "./ksm-time.js";
import { demandAt, type Scenario } from "./scenario.js";

export interface KsmTransient {
  pagesToScan: number;
  sleepMillisecs: number;
  /** one full pass over the guests' anonymous pages, seconds */
  passSeconds: number;
  /** pages saved once ksmd has merged everything (no writes) */
  steadySavedPages: number;
  secondsTo90: number;
  secondsToSteady: number;
  /** ksmd's share of a CPU while it scans */
  ksmdCpu: number;
  /** the guests' pages before anything merges (what the host must hold first), and once merged */
  peakPages: number;
  steadyPages: number;
}

/** Layouts longer than this are scaled down, pages_to_scan with them: the times stay the same. */
const MAX_LAYOUT = 1 << 21;

export function ksmTransient(sc: Scenario, rate: KsmRate): KsmTransient {
  const demands = sc.guests.map((g) => demandAt(g, 0));
  const touched = sc.guests.reduce((n, g, i) => n + Math.min(g.sizePages, demands[i]!.anon + demands[i]!.cache), 0);
  const anonTotal = demands.reduce((n, d) => n + d.anon, 0);
  const f = Math.max(1, Math.ceil(anonTotal / MAX_LAYOUT));
  const scaled = (x: number): number => Math.round(x / f);
  const contents = new Int32Array(Math.max(0, demands.reduce((n, d) => n + scaled(d.anon), 0))).fill(-1);
  // a group's common content: as many ids as its largest member holds
  const widest = new Map<string, number>();
  sc.guests.forEach((g, i) => widest.set(g.contentGroup, Math.max(widest.get(g.contentGroup) ?? 0, scaled(demands[i]!.sharableAcross))));
  const groups = new Map<string, number>();
  let next = 1; // content 0: the zero page
  let at = 0;
  sc.guests.forEach((g, i) => {
    const d = demands[i]!;
    const anon = scaled(d.anon);
    const end = at + anon;
    const put = (n: number, id: (k: number) => number): void => { for (let k = 0; k < n && at < end; k++) contents[at++] = id(k); };
    put(scaled(d.zero), () => 0);
    const within = scaled(d.sharableWithin);
    for (let k = 0; k < within && at + 1 < end; k++) { contents[at++] = next; contents[at++] = next++; }
    const across = scaled(d.sharableAcross);
    let base = groups.get(g.contentGroup);
    if (base === undefined) { base = next; next += Math.max(widest.get(g.contentGroup)!, 1); groups.set(g.contentGroup, base); }
    put(across, (k) => base! + k);
    at = end;
  });
  const r: KsmRate = { ...rate, pagesToScan: Math.max(1, Math.round(rate.pagesToScan / f)), scanNs: rate.scanNs * f };
  const t = ksmTimeline({ contents, maxPageSharing: sc.tunables.maxPageSharing }, r);
  const saved = t.steadySaved * f;
  return {
    pagesToScan: rate.pagesToScan,
    sleepMillisecs: rate.sleepMillisecs,
    passSeconds: t.passSeconds,
    steadySavedPages: saved,
    secondsTo90: timeToSaving(t, 0.9),
    secondsToSteady: timeToSaving(t, 1),
    ksmdCpu: t.ksmdCpu,
    peakPages: touched,
    steadyPages: touched - saved,
  };
}
