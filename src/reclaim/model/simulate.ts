// The step loop: every step, each guest's demand meets the policy's
// techniques (host-memory.ts, phase by phase), and the host's free memory,
// each guest's pages by where they live, the faults they take and the time
// those cost are recorded; the run ends in a summary per guest and for the
// host.

import type { FreeState } from "./free-memory-states.js";
import { HostMemory, sum, zeros, type GuestPages, type HostPages, type StepEnd } from "./host-memory.js";
import type { Policy } from "./policies.js";
import type { Scenario } from "./scenario.js";

export interface GuestStep {
  /** host pages holding this guest's memory, not counting shared, compressed or swapped pages */
  resident: number;
  ballooned: number;
  /** host pages saved by sharing this guest's pages */
  shared: number;
  compressed: number;
  swapped: number;
  /** this guest's pages in the tmem pools */
  tmem: number;
  faults: number;
  lostNs: number;
  blocked: boolean;
}

/** A step's pages by where they are (HostPages), and the faults and the time lost to them. */
export interface Totals extends HostPages {
  faults: number;
  lostNs: number;
}

export interface HostStep {
  step: number;
  /** the free-memory state that drove this step's reclaim (without the state machine: "hard" when below the target) */
  state: FreeState;
  freePages: number;
  /** the host could not hold the guests' memory even after reclaiming: every guest stalls */
  overcommitted: boolean;
  totals: Totals;
  guests?: GuestStep[];
}

export interface GuestResult {
  name: string;
  /** time lost / time simulated */
  slowdown: number;
  /**
   * the share of its throughput the guest lost: time lost / (time simulated + time lost), the
   * fraction of its time spent waiting on refaults, swap-ins and decompression (or blocked)
   */
  lostThroughput: number;
  faults: number;
  lostSeconds: number;
  blockedSteps: number;
  /** mean pages per step */
  mean: GuestPages;
}

export interface Summary {
  policy: string;
  hostPages: number;
  guests: number;
  steps: number;
  overcommittedSteps: number;
  maxSlowdown: number;
  meanSlowdown: number;
  /** the worst guest's lost throughput, and the mean over the guests: what the density budget bounds */
  maxLostThroughput: number;
  meanLostThroughput: number;
  /** mean host pages per step each technique freed; tmemPool is what the pools used */
  savedPages: { sharing: number; balloon: number; compression: number; swap: number; tmemPool: number };
  /** mean host pages the guests had touched (what "none" would need) */
  touchedPages: number;
  minFreePages: number;
}

export interface Simulation {
  summary: Summary;
  guests: GuestResult[];
  steps: HostStep[];
}

export interface SimulateOptions {
  /** keep every guest's numbers at every step (large for big scenarios) */
  perGuestSteps?: boolean;
}

/** What the steps add up to, per guest and for the host, until the summary divides it by the steps. */
interface Tally {
  lostNs: number[];
  faults: number[];
  blockedSteps: number[];
  /** per guest, summed over the steps */
  pages: GuestPages[];
  /** host pages each technique freed (the pools: used), summed over the steps */
  saved: Summary["savedPages"];
  touchedPages: number;
  overcommittedSteps: number;
  minFreePages: number;
}

export function simulate(sc: Scenario, policy: Policy, opts: SimulateOptions = {}): Simulation {
  const host = new HostMemory(sc, policy);
  const tally = newTally(sc.guests.length);
  const steps: HostStep[] = [];
  for (let t = 0; t < sc.steps; t++) steps.push(record(tally, t, host.step(t), host, opts));
  const guests = guestResults(sc, tally);
  return { summary: summarize(sc, policy, tally, guests), guests, steps };
}

function newTally(n: number): Tally {
  return {
    lostNs: zeros(n),
    faults: zeros(n),
    blockedSteps: zeros(n),
    pages: Array.from({ length: n }, () => ({ resident: 0, ballooned: 0, shared: 0, compressed: 0, swapped: 0, tmem: 0 })),
    saved: { sharing: 0, balloon: 0, compression: 0, swap: 0, tmemPool: 0 },
    touchedPages: 0,
    overcommittedSteps: 0,
    minFreePages: Infinity,
  };
}

/** Adds step `t` to the tally and returns its record. */
function record(tally: Tally, t: number, end: StepEnd, host: HostMemory, opts: SimulateOptions): HostStep {
  const { faults, lostNs, blocked } = end;
  for (let i = 0; i < faults.length; i++) {
    if (blocked[i]) tally.blockedSteps[i]! += 1;
    tally.lostNs[i]! += lostNs[i]!;
    tally.faults[i]! += faults[i]!;
  }
  if (end.overcommitted) tally.overcommittedSteps++;
  tally.minFreePages = Math.min(tally.minFreePages, end.freePages);
  tally.touchedPages += host.touchedPages();
  const perGuest: GuestStep[] = faults.map((_, i) => ({ ...host.pagesOf(i), faults: faults[i]!, lostNs: lostNs[i]!, blocked: blocked[i]! }));
  perGuest.forEach((x, i) => {
    const m = tally.pages[i]!;
    m.resident += x.resident;
    m.ballooned += x.ballooned;
    m.shared += x.shared;
    m.compressed += x.compressed;
    m.swapped += x.swapped;
    m.tmem += x.tmem;
  });
  const totals: Totals = { ...host.totals(), faults: sum(faults), lostNs: sum(lostNs) };
  const saved = tally.saved;
  saved.sharing += totals.shared;
  saved.balloon += totals.balloonFreed;
  saved.compression += totals.compressed - totals.compressionPool;
  saved.swap += totals.swapped;
  saved.tmemPool += totals.tmem;
  return { step: t, state: end.state, freePages: end.freePages, overcommitted: end.overcommitted, totals, ...(opts.perGuestSteps ? { guests: perGuest } : {}) };
}

/** Each guest over the run: its slowdown is the time it lost over the time simulated; pages are means per step. */
function guestResults(sc: Scenario, tally: Tally): GuestResult[] {
  const T = Math.max(1, sc.steps);
  const stepNs = sc.stepSeconds * 1e9;
  const span = T * stepNs;
  return sc.guests.map((g, i) => {
    const m = tally.pages[i]!;
    return {
      name: g.name,
      slowdown: tally.lostNs[i]! / span,
      lostThroughput: tally.lostNs[i]! / (span + tally.lostNs[i]!),
      faults: tally.faults[i]!,
      lostSeconds: tally.lostNs[i]! / 1e9,
      blockedSteps: tally.blockedSteps[i]!,
      mean: {
        resident: m.resident / T,
        ballooned: m.ballooned / T,
        shared: m.shared / T,
        compressed: m.compressed / T,
        swapped: m.swapped / T,
        tmem: m.tmem / T,
      },
    };
  });
}

function summarize(sc: Scenario, policy: Policy, tally: Tally, guests: readonly GuestResult[]): Summary {
  const n = guests.length;
  const T = Math.max(1, sc.steps);
  const slow = guests.map((r) => r.slowdown);
  const lost = guests.map((r) => r.lostThroughput);
  const saved = tally.saved;
  return {
    policy: policy.name,
    hostPages: sc.hostPages,
    guests: n,
    steps: sc.steps,
    overcommittedSteps: tally.overcommittedSteps,
    maxSlowdown: n === 0 ? 0 : Math.max(...slow),
    meanSlowdown: n === 0 ? 0 : sum(slow) / n,
    maxLostThroughput: n === 0 ? 0 : Math.max(...lost),
    meanLostThroughput: n === 0 ? 0 : sum(lost) / n,
    savedPages: {
      sharing: saved.sharing / T,
      balloon: saved.balloon / T,
      compression: saved.compression / T,
      swap: saved.swap / T,
      tmemPool: saved.tmemPool / T,
    },
    touchedPages: tally.touchedPages / T,
    minFreePages: tally.minFreePages === Infinity ? sc.hostPages : tally.minFreePages,
  };
}

/** A scenario fits when the host never ran out and no guest lost more than `budget` (a fraction) of its throughput. */
export function fits(s: Summary, budget: number): boolean {
  return s.overcommittedSteps === 0 && s.maxLostThroughput <= budget;
}
