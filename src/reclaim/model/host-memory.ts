// Where each guest's pages are on the host, and the phases of one step that
// move them. Per-guest counts live in parallel arrays (index = guest), so
// hundreds of guests over thousands of steps stay cheap. The arrays are this
// object's own: `simulate` makes one per run, so the run stays a pure function
// of its scenario and policy.
//
// A fluid model over page counts: pages taken from a working set fault back
// once per step (the working set is what a guest touches in a step), host
// victims are chosen blind so a guest's active share of them faults back
// (except for a guest whose touch rates were measured: swapped coldest first,
// each swapped working-set page faulting at its rate, touch-faults.ts), and
// reclaim happens in the step that needs it except for balloons, which move at
// most `balloonRatePages` per step.

import { apportion } from "./apportion.js";
import { cachePoolPages, compressVictims, freedPerVictim } from "./compression-cache.js";
import { actionsIn, nextFreeState, type FreeState, type StateActions } from "./free-memory-states.js";
import { squeeze, inflateToward, type GuestSqueeze } from "./guest-reclaim.js";
import { revokeByShares } from "./idle-tax.js";
import { sharePages, type SharingInput } from "./page-sharing.js";
import { withoutSwap, type Policy } from "./policies.js";
import { demandAt, type Costs, type Demand, type Guest, type Scenario, type Tunables } from "./scenario.js";
import { touchedSwapFaults } from "./touch-faults.js";
import { flush, get, newPool, poolSize, put, shrinkTo, type TmemPool } from "./tmem.js";

// per-guest arrays (also the step record's and the summary's)
export const zeros = (n: number): number[] => new Array<number>(n).fill(0);
export const sum = (a: readonly number[]): number => a.reduce((x, y) => x + y, 0);

/** One guest's pages by where they are (the host pages it holds, and those the techniques took). */
export interface GuestPages { resident: number; ballooned: number; shared: number; compressed: number; swapped: number; tmem: number }

/** All guests' pages by where they are, and the host pages the compression caches occupy and the balloons freed. */
export interface HostPages {
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
}

/** How one step ended. */
export interface StepEnd {
  /** the state read before the balloons moved, or "low" when the host blocked guests in it */
  state: FreeState;
  freePages: number;
  overcommitted: boolean;
  blocked: boolean[];
  /** per guest: faults taken and nanoseconds lost this step (a blocked guest loses the whole step) */
  faults: number[];
  lostNs: number[];
}

/** What the step's phases charge each guest, added up as they run. */
interface StepCost { faults: number[]; lostNs: number[] }

/** Without the state machine every technique may act whenever free memory is below the target. */
const EVERY_TECHNIQUE: StateActions = { balloon: true, compress: true, swap: true, block: false };

export class HostMemory {
  private readonly policy: Policy;
  private readonly guests: readonly Guest[];
  private readonly n: number;
  private readonly hostPages: number;
  private readonly costs: Costs;
  private readonly tu: Tunables;
  /** free pages the host reclaims up to (the high threshold) */
  private readonly target: number;
  private readonly stepNs: number;
  private readonly swapNs: number;
  /** a refault of a file page: read again from its file */
  private readonly refaultNs: number;
  private readonly maxBalloon: number[];
  private readonly cacheCap: number[];

  // carried from step to step
  private readonly balloon: number[];
  /** the most pages each guest has touched: what it holds unless a balloon took them back */
  private readonly touched: number[];
  private readonly swapped: number[];
  private readonly compressed: number[];
  private readonly eph: TmemPool;
  private readonly pers: TmemPool;
  private state: FreeState = "high";

  // views of the current step, recomputed by look() whenever the demand or a balloon changes
  private demand: Demand[] = [];
  private readonly sq: GuestSqueeze[];
  /** guest pages backed by host memory (touched, and not under the balloon) */
  private readonly backed: number[];
  private readonly active: number[];
  private shared: number[];
  private breaks: number[];
  /** backed pages not shared: those the host may compress, swap or keep resident */
  private readonly cand: number[];

  constructor(sc: Scenario, policy: Policy) {
    const { guests, costs, tunables: tu } = sc;
    const n = guests.length;
    // a host without swap cannot swap, whatever the policy says (the CLI warns, or refuses a policy that only swaps)
    this.policy = costs.swapDevice === "none" ? withoutSwap(policy) : policy;
    this.guests = guests;
    this.n = n;
    this.hostPages = sc.hostPages;
    this.costs = costs;
    this.tu = tu;
    this.target = Math.floor(tu.thresholds.high * sc.hostPages);
    this.stepNs = sc.stepSeconds * 1e9;
    this.swapNs = swapInNs(costs);
    this.refaultNs = costs.fileRefaultNs ?? costs.diskNs;
    this.maxBalloon = guests.map((g) => (policy.tmem ? g.sizePages : Math.floor(g.sizePages * tu.balloonMaxFraction)));
    this.cacheCap = guests.map((g) => Math.floor(g.sizePages * tu.compressionCacheFraction));
    this.balloon = zeros(n);
    this.touched = zeros(n);
    this.swapped = zeros(n);
    this.compressed = zeros(n);
    this.eph = newPool("ephemeral", n);
    this.pers = newPool("persistent", n);
    this.sq = new Array<GuestSqueeze>(n);
    this.backed = zeros(n);
    this.active = zeros(n);
    this.shared = zeros(n);
    this.breaks = zeros(n);
    this.cand = zeros(n);
  }

  /** Step `t`: the guests' demand meets the policy's techniques, in the order the host meets them. */
  step(t: number): StepEnd {
    const cost: StepCost = { faults: zeros(this.n), lostNs: zeros(this.n) };
    this.meetDemand(t);
    this.faultBackHostVictims(cost);
    const free0 = this.free();
    let acts = this.readFreeState(free0);
    const observed = this.state;
    if (this.policy.balloon) this.moveBalloons(free0, acts);
    // a step is long next to ESX's reaction time: the balloons inflated during it, and the state
    // is re-read before the host resorts to compressing and swapping
    if (this.policy.stateMachine && this.policy.balloon) acts = this.readFreeState(this.free());
    if ((this.policy.compress && acts.compress) || (this.policy.swap && acts.swap)) this.reclaimBlindVictims();
    if (this.policy.tmem) this.fillTmemPools();
    this.refaultAndBreakSharing(cost);
    return this.stallOrBlock(cost, observed);
  }

  pagesOf(i: number): GuestPages {
    return {
      resident: this.resident(i),
      ballooned: this.balloon[i]!,
      shared: this.shared[i]!,
      compressed: this.compressed[i]!,
      swapped: this.swapped[i]!,
      tmem: this.eph.pages[i]! + this.pers.pages[i]!,
    };
  }

  totals(): HostPages {
    return {
      resident: sum(this.guests.map((_, i) => this.resident(i))),
      ballooned: sum(this.balloon),
      shared: sum(this.shared),
      compressed: sum(this.compressed),
      compressionPool: sum(this.guests.map((g, i) => cachePoolPages(this.compressed[i]!, g.codec))),
      swapped: sum(this.swapped),
      tmem: poolSize(this.eph) + poolSize(this.pers),
      balloonFreed: sum(this.guests.map((g, i) => this.touched[i]! - Math.min(this.touched[i]!, g.sizePages - this.balloon[i]!))),
    };
  }

  /** host pages the guests have touched (what "none" would need) */
  touchedPages(): number {
    return sum(this.touched);
  }

  /** The step's demand: what each guest has touched grows, and tmem guests balloon themselves toward their working set. */
  private meetDemand(t: number): void {
    const tu = this.tu;
    this.demand = this.guests.map((g) => demandAt(g, t));
    for (let i = 0; i < this.n; i++) {
      const g = this.guests[i]!;
      const d = this.demand[i]!;
      this.touched[i] = Math.max(this.touched[i]!, Math.min(g.sizePages, d.anon + d.cache));
      if (this.policy.tmem) {
        const keep = d.workingSet + Math.floor(tu.selfBalloonHeadroom * g.sizePages);
        this.balloon[i] = inflateToward(this.balloon[i]!, g.sizePages - keep, tu.balloonRatePages, this.maxBalloon[i]!);
      }
    }
    this.look();
  }

  /** Recomputes the views of the step from the demand and the balloons. */
  private look(): void {
    const shareIn: SharingInput[] = [];
    for (let i = 0; i < this.n; i++) {
      const g = this.guests[i]!;
      const d = this.demand[i]!;
      const s = squeeze(d, g.sizePages, this.balloon[i]!);
      this.sq[i] = s;
      this.backed[i] = Math.min(this.touched[i]!, g.sizePages - this.balloon[i]!);
      this.active[i] = d.workingSet - s.evictedActiveCache - s.evictedActiveAnon;
      const all = d.anon + d.cache;
      const keep = (x: number): number => (all === 0 ? 0 : Math.floor((x * s.content) / all));
      shareIn.push({ contentGroup: g.contentGroup, zero: keep(d.zero), within: keep(d.sharableWithin), across: keep(d.sharableAcross) });
    }
    if (this.policy.sharing) ({ saved: this.shared, breaks: this.breaks } = sharePages(shareIn, this.tu.writeBreakRate, { useZeroPages: this.tu.useZeroPages, maxPageSharing: this.tu.maxPageSharing }));
    for (let i = 0; i < this.n; i++) {
      this.cand[i] = Math.max(0, this.backed[i]! - this.shared[i]!);
      // pages the guest no longer holds cannot stay swapped or compressed
      this.swapped[i] = Math.min(this.swapped[i]!, this.cand[i]!);
      this.compressed[i] = Math.min(this.compressed[i]!, this.cand[i]! - this.swapped[i]!);
    }
  }

  /**
   * Host-swapped and compressed pages the guest touches come back: victims were blind, so its active
   * share of them. A guest whose touch rates are measured is swapped coldest first, as Linux's own
   * reclaim does, and its swapped working-set pages fault at the rate they are touched while the
   * host stays short (each fault sends another page out, so the count swapped holds).
   */
  private faultBackHostVictims(cost: StepCost): void {
    for (let i = 0; i < this.n; i++) {
      const a = this.backed[i]! > 0 ? Math.min(1, this.active[i]! / this.backed[i]!) : 0;
      const bands = this.demand[i]!.touches;
      const rated = bands !== undefined && bands.length > 0;
      const fs = rated
        ? touchedSwapFaults(this.swapped[i]!, this.cand[i]! - this.active[i]!, this.active[i]!, bands, this.stepNs / 1e9)
        : Math.floor(this.swapped[i]! * a);
      const fc = Math.floor(this.compressed[i]! * a);
      if (!rated) this.swapped[i]! -= fs;
      this.compressed[i]! -= fc;
      cost.faults[i]! += fs + fc;
      // a rated guest's fault also sends a page out to make room, in its own thread
      const perSwapIn = this.lostPer(this.swapNs) + (rated ? this.costs.swapOutNs ?? 0 : 0);
      cost.lostNs[i]! += fs * perSwapIn + fc * this.lostPer(this.costs.compressedFaultNs ?? this.guests[i]!.codec.decompressNs);
    }
  }

  /** Enters the free-memory state `free` pages put the host in, and says which techniques it allows. */
  private readFreeState(free: number): StateActions {
    if (this.policy.stateMachine) {
      this.state = nextFreeState(this.state, free / this.hostPages, this.tu.thresholds);
      return actionsIn(this.state);
    }
    this.state = free < this.target ? "hard" : "high";
    return EVERY_TECHNIQUE;
  }

  /** Balloons inflate toward the need (rate-limited), or give back a surplus once the host is high again. */
  private moveBalloons(free0: number, acts: StateActions): void {
    const need0 = this.target - free0;
    if (acts.balloon && need0 > 0) this.inflateBalloons();
    if (need0 < 0 && (!this.policy.stateMachine || this.state === "high")) this.deflateBalloons(-need0);
  }

  /** Squeezing a guest also shrinks what it shares, so the host gains less than the balloon took: a few passes. */
  private inflateBalloons(): void {
    const rate = this.tu.balloonRatePages;
    const limit = this.guests.map((g, i) => Math.min(this.maxBalloon[i]!, Math.max(this.balloon[i]!, g.sizePages - this.touched[i]!) + rate));
    for (let pass = 0; pass < 4; pass++) {
      const need = this.target - this.free();
      if (need <= 0) break;
      // inflating below size − touched frees nothing on the host: start from there
      const start = this.guests.map((g, i) => Math.max(this.balloon[i]!, g.sizePages - this.touched[i]!));
      // the rate limits the host pages a balloon frees; untouched guest pages are handed over at once
      const room = this.guests.map((_, i) => Math.max(0, limit[i]! - start[i]!));
      const take = this.whoGivesUp(need, room);
      if (take.every((x) => x === 0)) break;
      for (let i = 0; i < this.n; i++) if (take[i]! > 0) this.balloon[i] = start[i]! + take[i]!;
      this.look();
    }
  }

  private deflateBalloons(surplus: number): void {
    const give = apportion(surplus, this.balloon, this.balloon.map((b) => Math.min(b, this.tu.balloonRatePages)));
    for (let i = 0; i < this.n; i++) this.balloon[i]! -= give[i]!;
    this.look();
  }

  /** The host's own reclaim: compress and/or swap victims it picks without knowing which pages the guest uses. */
  private reclaimBlindVictims(): void {
    const need = this.target - this.free();
    if (need <= 0) return;
    const res = this.guests.map((_, i) => this.resident(i));
    const take = this.whoGivesUp(need, res);
    for (let i = 0; i < this.n; i++) {
      if (take[i]! === 0) continue;
      const c = this.guests[i]!.codec;
      const frees = 1 - this.swapFootprint(i);
      const per = this.policy.compress ? freedPerVictim(c, this.policy.swap, frees) : frees;
      const victims = per > 0 ? Math.min(res[i]!, Math.ceil(take[i]! / per)) : 0;
      if (this.policy.compress) {
        const o = compressVictims(victims, c, Math.max(0, this.cacheCap[i]! - this.compressed[i]!));
        this.compressed[i]! += o.compressed;
        if (this.policy.swap) this.swapped[i]! += o.rejected;
      } else {
        this.swapped[i]! += victims;
      }
    }
  }

  /** tmem: what guests dropped goes to the pools, within the memory above the target. */
  private fillTmemPools(): void {
    const { eph, pers, sq } = this;
    for (let i = 0; i < this.n; i++) {
      flush(eph, i, eph.pages[i]! - Math.min(eph.pages[i]!, sq[i]!.evictedIdleCache + sq[i]!.evictedActiveCache));
      flush(pers, i, pers.pages[i]! - Math.min(pers.pages[i]!, sq[i]!.evictedIdleAnon + sq[i]!.evictedActiveAnon));
    }
    const capacity = Math.max(0, this.hostPages - (this.used() - poolSize(eph) - poolSize(pers)) - this.target);
    for (let i = 0; i < this.n; i++) put(pers, i, sq[i]!.evictedIdleAnon + sq[i]!.evictedActiveAnon - pers.pages[i]!, capacity);
    shrinkTo(eph, capacity - poolSize(pers));
    for (let i = 0; i < this.n; i++) put(eph, i, sq[i]!.evictedIdleCache + sq[i]!.evictedActiveCache - eph.pages[i]!, capacity - poolSize(pers));
  }

  /** Refaults of working-set pages the guest itself gave up (a tmem hit is a copy), and copy-on-write breaks. */
  private refaultAndBreakSharing(cost: StepCost): void {
    const tmem = this.policy.tmem;
    for (let i = 0; i < this.n; i++) {
      const s = this.sq[i]!;
      const cacheOut = s.evictedIdleCache + s.evictedActiveCache;
      const anonOut = s.evictedIdleAnon + s.evictedActiveAnon;
      const hitC = tmem ? get(this.eph, i, s.evictedActiveCache, cacheOut) : 0;
      const hitA = tmem ? get(this.pers, i, s.evictedActiveAnon, anonOut) : 0;
      cost.faults[i]! += s.evictedActiveCache + s.evictedActiveAnon + this.breaks[i]!;
      cost.lostNs[i]! += (hitC + hitA + this.breaks[i]!) * this.lostPer(this.costs.copyNs)
        + (s.evictedActiveCache - hitC) * this.lostPer(this.refaultNs)
        + (s.evictedActiveAnon - hitA) * this.lostPer(this.swapNs);
    }
  }

  /**
   * The end of the step: a host that could not hold the guests' memory stalls every guest; in the
   * low state the guests that should give up memory are stopped until it is found. A blocked guest
   * loses the whole step.
   */
  private stallOrBlock(cost: StepCost, observed: FreeState): StepEnd {
    const free = this.free();
    const overcommitted = free < 0;
    const low = !overcommitted && this.policy.stateMachine && free < Math.floor(this.tu.thresholds.low * this.hostPages);
    let blocked = this.guests.map(() => overcommitted);
    if (low) {
      const res = this.guests.map((_, i) => this.resident(i));
      blocked = this.whoGivesUp(this.target - free, res).map((x) => x > 0);
      this.state = "low";
    }
    for (let i = 0; i < this.n; i++) if (blocked[i]) cost.lostNs[i]! += this.stepNs;
    return { state: low ? "low" : observed, freePages: free, overcommitted, blocked, ...cost };
  }

  /** Pages each guest gives up to free `need`: by shares with the idle tax, or in proportion to what it can give. */
  private whoGivesUp(need: number, room: readonly number[]): number[] {
    if (this.policy.allocation === "shares") {
      const holders = this.guests.map((g, i) => ({
        shares: g.shares,
        pages: Math.max(this.cand[i]!, room[i]!),
        active: Math.min(this.active[i]!, this.cand[i]!),
        floor: Math.max(this.cand[i]!, room[i]!) - room[i]!,
      }));
      return revokeByShares(holders, need, this.tu.idleTax);
    }
    return apportion(need, room, room);
  }

  private resident(i: number): number {
    return this.cand[i]! - this.swapped[i]! - this.compressed[i]!;
  }

  /** Host pages a swapped page still takes: none on a disk or flash, its compressed size on zram. */
  private swapFootprint(i: number): number {
    return this.costs.swapDevice === "zram" ? 1 / Math.max(1, this.guests[i]!.codec.ratio) : 0;
  }

  private used(): number {
    let u = poolSize(this.eph) + poolSize(this.pers);
    for (let i = 0; i < this.n; i++) {
      u += this.resident(i) + cachePoolPages(this.compressed[i]!, this.guests[i]!.codec) + Math.ceil(this.swapped[i]! * this.swapFootprint(i));
    }
    return u;
  }

  private free(): number {
    return this.hostPages - this.used();
  }

  /** what a page access costs beyond the DRAM access it replaces */
  private lostPer(ns: number): number {
    return Math.max(0, ns - this.costs.dramNs);
  }
}

/**
 * A swap-in's cost: the scenario's or calibrated figure, else the device's
 * access; zram's is a compressed page's fault (the calibrated one, or 10 µs,
 * about what a zram swap-in with lzo-rle costs on the reference VM).
 */
export function swapInNs(c: Costs): number {
  if (c.swapInNs !== undefined) return c.swapInNs;
  if (c.swapDevice === "zram") return c.compressedFaultNs ?? ZRAM_SWAP_IN_NS;
  return c.swapDevice === "flash" ? c.flashNs : c.diskNs;
}

export const ZRAM_SWAP_IN_NS = 10_000;
