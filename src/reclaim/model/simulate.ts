// The step loop: every step, each guest's demand meets the policy's
// techniques, and the host's free memory, each guest's pages by where they
// live, the faults they take and the time those cost come out. A fluid model
// over page counts: pages taken from a working set fault back once per step
// (the working set is what a guest touches in a step), host victims are
// chosen blind so a guest's active share of them faults back, and reclaim
// happens in the step that needs it except for balloons, which move at most
// `balloonRatePages` per step.

import { apportion } from "./apportion.js";
import { cachePoolPages, compressVictims, freedPerVictim } from "./compression-cache.js";
import { actionsIn, nextFreeState, type FreeState, type StateActions } from "./free-memory-states.js";
import { squeeze, inflateToward, type GuestSqueeze } from "./guest-reclaim.js";
import { revokeByShares } from "./idle-tax.js";
import { sharePages } from "./page-sharing.js";
import type { Policy } from "./policies.js";
import { demandAt, type Demand, type Scenario } from "./scenario.js";
import { flush, get, newPool, poolSize, put, shrinkTo } from "./tmem.js";

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

export interface Totals {
  resident: number;
  ballooned: number;
  shared: number;
  compressed: number;
  /** host pages the compression cache occupies */
  compressionPool: number;
  swapped: number;
  tmem: number;
  /** host pages the balloons freed (balloon pages over memory the guest had touched) */
  balloonFreed: number;
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
  faults: number;
  lostSeconds: number;
  blockedSteps: number;
  /** mean pages per step */
  mean: { resident: number; ballooned: number; shared: number; compressed: number; swapped: number; tmem: number };
}

export interface Summary {
  policy: string;
  hostPages: number;
  guests: number;
  steps: number;
  overcommittedSteps: number;
  maxSlowdown: number;
  meanSlowdown: number;
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

const zeros = (n: number): number[] => new Array<number>(n).fill(0);
const sum = (a: readonly number[]): number => a.reduce((x, y) => x + y, 0);

export function simulate(sc: Scenario, policy: Policy, opts: SimulateOptions = {}): Simulation {
  const { guests, costs, tunables: tu } = sc;
  const n = guests.length;
  const M = sc.hostPages;
  const target = Math.floor(tu.thresholds.high * M);
  const stepNs = sc.stepSeconds * 1e9;
  const swapNs = costs.swapDevice === "flash" ? costs.flashNs : costs.diskNs;
  const lostPer = (ns: number): number => Math.max(0, ns - costs.dramNs);
  const maxBalloon = guests.map((g) => (policy.tmem ? g.sizePages : Math.floor(g.sizePages * tu.balloonMaxFraction)));
  const cacheCap = guests.map((g) => Math.floor(g.sizePages * tu.compressionCacheFraction));

  const balloon = zeros(n);
  const touched = zeros(n);
  const swapped = zeros(n);
  const compressed = zeros(n);
  const eph = newPool("ephemeral", n);
  const pers = newPool("persistent", n);
  let state: FreeState = "high";

  const lost = zeros(n);
  const faultsTotal = zeros(n);
  const blockedSteps = zeros(n);
  const means = guests.map(() => ({ resident: 0, ballooned: 0, shared: 0, compressed: 0, swapped: 0, tmem: 0 }));
  const saved = { sharing: 0, balloon: 0, compression: 0, swap: 0, tmemPool: 0 };
  let touchedSum = 0;
  let overcommittedSteps = 0;
  let minFree = Infinity;
  const out: HostStep[] = [];

  // per-step views, recomputed whenever balloons change
  let demand: Demand[] = [];
  const sq: GuestSqueeze[] = new Array(n);
  const backed = zeros(n);
  const active = zeros(n);
  let shared = zeros(n);
  let breaks = zeros(n);
  const cand = zeros(n);

  const look = (): void => {
    const shareIn = [];
    for (let i = 0; i < n; i++) {
      const g = guests[i]!;
      const d = demand[i]!;
      const s = squeeze(d, g.sizePages, balloon[i]!);
      sq[i] = s;
      backed[i] = Math.min(touched[i]!, g.sizePages - balloon[i]!);
      active[i] = d.workingSet - s.evictedActiveCache - s.evictedActiveAnon;
      const all = d.anon + d.cache;
      const keep = (x: number): number => (all === 0 ? 0 : Math.floor((x * s.content) / all));
      shareIn.push({ contentGroup: g.contentGroup, within: keep(d.zero + d.sharableWithin), across: keep(d.sharableAcross) });
    }
    if (policy.sharing) ({ saved: shared, breaks } = sharePages(shareIn, tu.writeBreakRate));
    for (let i = 0; i < n; i++) {
      cand[i] = Math.max(0, backed[i]! - shared[i]!);
      // pages the guest no longer holds cannot stay swapped or compressed
      swapped[i] = Math.min(swapped[i]!, cand[i]!);
      compressed[i] = Math.min(compressed[i]!, cand[i]! - swapped[i]!);
    }
  };
  const resident = (i: number): number => cand[i]! - swapped[i]! - compressed[i]!;
  const used = (): number => {
    let u = poolSize(eph) + poolSize(pers);
    for (let i = 0; i < n; i++) u += resident(i) + cachePoolPages(compressed[i]!, guests[i]!.codec);
    return u;
  };

  for (let t = 0; t < sc.steps; t++) {
    demand = guests.map((g) => demandAt(g, t));
    const faults = zeros(n);
    const lostNow = zeros(n);
    for (let i = 0; i < n; i++) {
      const g = guests[i]!;
      const d = demand[i]!;
      touched[i] = Math.max(touched[i]!, Math.min(g.sizePages, d.anon + d.cache));
      if (policy.tmem) {
        const keep = d.workingSet + Math.floor(tu.selfBalloonHeadroom * g.sizePages);
        balloon[i] = inflateToward(balloon[i]!, g.sizePages - keep, tu.balloonRatePages, maxBalloon[i]!);
      }
    }
    look();

    // host-swapped and compressed pages the guest touches come back (blind victims: its active share)
    for (let i = 0; i < n; i++) {
      const a = backed[i]! > 0 ? Math.min(1, active[i]! / backed[i]!) : 0;
      const fs = Math.floor(swapped[i]! * a);
      const fc = Math.floor(compressed[i]! * a);
      swapped[i]! -= fs;
      compressed[i]! -= fc;
      faults[i]! += fs + fc;
      lostNow[i]! += fs * lostPer(swapNs) + fc * lostPer(guests[i]!.codec.decompressNs);
    }

    const free0 = M - used();
    let acts: StateActions;
    if (policy.stateMachine) {
      state = nextFreeState(state, free0 / M, tu.thresholds);
      acts = actionsIn(state);
    } else {
      state = free0 < target ? "hard" : "high";
      acts = { balloon: true, compress: true, swap: true, block: false };
    }
    let observed: FreeState = state;

    // balloons: inflate toward the need (rate-limited), or give back a surplus. Squeezing a guest
    // also shrinks what it shares, so the host gains less than the balloon took: a few passes.
    if (policy.balloon) {
      const limit = guests.map((g, i) => Math.min(maxBalloon[i]!, Math.max(balloon[i]!, g.sizePages - touched[i]!) + tu.balloonRatePages));
      const need0 = target - free0;
      for (let pass = 0; pass < 4 && acts.balloon && need0 > 0; pass++) {
        const need = target - (M - used());
        if (need <= 0) break;
        // inflating below size − touched frees nothing on the host: start from there
        const start = guests.map((g, i) => Math.max(balloon[i]!, g.sizePages - touched[i]!));
        // the rate limits the host pages a balloon frees; untouched guest pages are handed over at once
        const room = guests.map((_, i) => Math.max(0, limit[i]! - start[i]!));
        const take = whoGivesUp(need, room);
        if (take.every((x) => x === 0)) break;
        for (let i = 0; i < n; i++) if (take[i]! > 0) balloon[i] = start[i]! + take[i]!;
        look();
      }
      if (need0 < 0 && (!policy.stateMachine || state === "high")) {
        const give = apportion(-need0, balloon, balloon.map((b) => Math.min(b, tu.balloonRatePages)));
        for (let i = 0; i < n; i++) balloon[i]! -= give[i]!;
        look();
      }
    }

    // a step is long next to ESX's reaction time: the balloons inflated during it, and the state
    // is re-read before the host resorts to compressing and swapping
    if (policy.stateMachine && policy.balloon) {
      state = nextFreeState(state, (M - used()) / M, tu.thresholds);
      acts = actionsIn(state);
    }

    // the host's own reclaim: compress and/or swap blind victims
    if ((policy.compress && acts.compress) || (policy.swap && acts.swap)) {
      const need = target - (M - used());
      if (need > 0) {
        const res = guests.map((_, i) => resident(i));
        const take = whoGivesUp(need, res);
        for (let i = 0; i < n; i++) {
          if (take[i]! === 0) continue;
          const c = guests[i]!.codec;
          const per = policy.compress ? freedPerVictim(c, policy.swap) : 1;
          const victims = per > 0 ? Math.min(res[i]!, Math.ceil(take[i]! / per)) : 0;
          if (policy.compress) {
            const o = compressVictims(victims, c, Math.max(0, cacheCap[i]! - compressed[i]!));
            compressed[i]! += o.compressed;
            if (policy.swap) swapped[i]! += o.rejected;
          } else {
            swapped[i]! += victims;
          }
        }
      }
    }

    // tmem: what guests dropped goes to the pools, within the memory above the target
    if (policy.tmem) {
      for (let i = 0; i < n; i++) {
        flush(eph, i, eph.pages[i]! - Math.min(eph.pages[i]!, sq[i]!.evictedIdleCache + sq[i]!.evictedActiveCache));
        flush(pers, i, pers.pages[i]! - Math.min(pers.pages[i]!, sq[i]!.evictedIdleAnon + sq[i]!.evictedActiveAnon));
      }
      const capacity = Math.max(0, M - (used() - poolSize(eph) - poolSize(pers)) - target);
      for (let i = 0; i < n; i++) put(pers, i, sq[i]!.evictedIdleAnon + sq[i]!.evictedActiveAnon - pers.pages[i]!, capacity);
      shrinkTo(eph, capacity - poolSize(pers));
      for (let i = 0; i < n; i++) put(eph, i, sq[i]!.evictedIdleCache + sq[i]!.evictedActiveCache - eph.pages[i]!, capacity - poolSize(pers));
    }

    // refaults of working-set pages the guest itself gave up, and copy-on-write breaks
    for (let i = 0; i < n; i++) {
      const s = sq[i]!;
      const cacheOut = s.evictedIdleCache + s.evictedActiveCache;
      const anonOut = s.evictedIdleAnon + s.evictedActiveAnon;
      const hitC = policy.tmem ? get(eph, i, s.evictedActiveCache, cacheOut) : 0;
      const hitA = policy.tmem ? get(pers, i, s.evictedActiveAnon, anonOut) : 0;
      faults[i]! += s.evictedActiveCache + s.evictedActiveAnon + breaks[i]!;
      lostNow[i]! += (hitC + hitA + breaks[i]!) * lostPer(costs.copyNs)
        + (s.evictedActiveCache - hitC) * lostPer(costs.diskNs)
        + (s.evictedActiveAnon - hitA) * lostPer(swapNs);
    }

    const free = M - used();
    const overcommitted = free < 0;
    const blocked = zeros(n);
    if (overcommitted) {
      overcommittedSteps++;
      for (let i = 0; i < n; i++) blocked[i] = 1;
    } else if (policy.stateMachine && free < Math.floor(tu.thresholds.low * M)) {
      // low state: the guests that should give up memory are stopped until it is found
      const res = guests.map((_, i) => resident(i));
      const over = whoGivesUp(target - free, res);
      for (let i = 0; i < n; i++) if (over[i]! > 0) blocked[i] = 1;
      state = "low";
      observed = "low";
    }
    for (let i = 0; i < n; i++) {
      if (blocked[i]) {
        lostNow[i]! += stepNs;
        blockedSteps[i]! += 1;
      }
      lost[i]! += lostNow[i]!;
      faultsTotal[i]! += faults[i]!;
    }

    minFree = Math.min(minFree, free);
    touchedSum += sum(touched);
    const perGuest: GuestStep[] = guests.map((g, i) => ({
      resident: resident(i),
      ballooned: balloon[i]!,
      shared: shared[i]!,
      compressed: compressed[i]!,
      swapped: swapped[i]!,
      tmem: eph.pages[i]! + pers.pages[i]!,
      faults: faults[i]!,
      lostNs: lostNow[i]!,
      blocked: blocked[i] === 1,
    }));
    perGuest.forEach((x, i) => {
      const m = means[i]!;
      m.resident += x.resident;
      m.ballooned += x.ballooned;
      m.shared += x.shared;
      m.compressed += x.compressed;
      m.swapped += x.swapped;
      m.tmem += x.tmem;
    });
    const totals: Totals = {
      resident: sum(perGuest.map((x) => x.resident)),
      ballooned: sum(balloon),
      shared: sum(shared),
      compressed: sum(compressed),
      compressionPool: sum(guests.map((g, i) => cachePoolPages(compressed[i]!, g.codec))),
      swapped: sum(swapped),
      tmem: poolSize(eph) + poolSize(pers),
      balloonFreed: sum(guests.map((g, i) => touched[i]! - Math.min(touched[i]!, g.sizePages - balloon[i]!))),
      faults: sum(faults),
      lostNs: sum(lostNow),
    };
    saved.sharing += totals.shared;
    saved.balloon += totals.balloonFreed;
    saved.compression += totals.compressed - totals.compressionPool;
    saved.swap += totals.swapped;
    saved.tmemPool += totals.tmem;
    out.push({ step: t, state: observed, freePages: free, overcommitted, totals, ...(opts.perGuestSteps ? { guests: perGuest } : {}) });
  }

  const T = Math.max(1, sc.steps);
  const span = T * stepNs;
  const results: GuestResult[] = guests.map((g, i) => ({
    name: g.name,
    slowdown: lost[i]! / span,
    faults: faultsTotal[i]!,
    lostSeconds: lost[i]! / 1e9,
    blockedSteps: blockedSteps[i]!,
    mean: {
      resident: means[i]!.resident / T,
      ballooned: means[i]!.ballooned / T,
      shared: means[i]!.shared / T,
      compressed: means[i]!.compressed / T,
      swapped: means[i]!.swapped / T,
      tmem: means[i]!.tmem / T,
    },
  }));
  const slow = results.map((r) => r.slowdown);
  return {
    summary: {
      policy: policy.name,
      hostPages: M,
      guests: n,
      steps: sc.steps,
      overcommittedSteps,
      maxSlowdown: n === 0 ? 0 : Math.max(...slow),
      meanSlowdown: n === 0 ? 0 : sum(slow) / n,
      savedPages: {
        sharing: saved.sharing / T,
        balloon: saved.balloon / T,
        compression: saved.compression / T,
        swap: saved.swap / T,
        tmemPool: saved.tmemPool / T,
      },
      touchedPages: touchedSum / T,
      minFreePages: minFree === Infinity ? M : minFree,
    },
    guests: results,
    steps: out,
  };

  // pages each guest gives up to free `need`: by shares with the idle tax, or in proportion to what it can give
  function whoGivesUp(need: number, room: readonly number[]): number[] {
    if (policy.allocation === "shares") {
      const holders = guests.map((g, i) => ({
        shares: g.shares,
        pages: Math.max(cand[i]!, room[i]!),
        active: Math.min(active[i]!, cand[i]!),
        floor: Math.max(cand[i]!, room[i]!) - room[i]!,
      }));
      return revokeByShares(holders, need, tu.idleTax);
    }
    return apportion(need, room, room);
  }
}

/** A scenario fits when the host never ran out and no guest slowed down more than `budget` (a fraction). */
export function fits(s: Summary, budget: number): boolean {
  return s.overcommittedSteps === 0 && s.maxSlowdown <= budget;
}
