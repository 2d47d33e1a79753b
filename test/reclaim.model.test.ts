// The memory model's techniques and policies on small hand-checked scenarios:
// every expected number below is worked out by hand in the comment beside it.
import { describe, expect, it } from "vitest";
import { apportion } from "../src/reclaim/model/apportion.js";
import { cachePoolPages, compressVictims, slotFraction } from "../src/reclaim/model/compression-cache.js";
import { actionsIn, nextFreeState, type FreeState } from "../src/reclaim/model/free-memory-states.js";
import { inflateToward, squeeze } from "../src/reclaim/model/guest-reclaim.js";
import { revokeByShares, sharesPerPage } from "../src/reclaim/model/idle-tax.js";
import { sharePages } from "../src/reclaim/model/page-sharing.js";
import { POLICIES, type Policy } from "../src/reclaim/model/policies.js";
import { DEFAULT_COSTS, DEFAULT_THRESHOLDS, type Demand, type Guest, type Scenario } from "../src/reclaim/model/scenario.js";
import { simulate } from "../src/reclaim/model/simulate.js";
import { largestFit } from "../src/reclaim/model/density.js";
import { touchedSwapFaults } from "../src/reclaim/model/touch-faults.js";
import { ZRAM_SWAP_IN_NS } from "../src/reclaim/model/host-memory.js";
import { get, newPool, poolSize, put, shrinkTo, flush } from "../src/reclaim/model/tmem.js";
import type { CodecProfile } from "../src/reclaim/profile.js";

const CODEC: CodecProfile = { codec: "lz4", ratio: 2.5, le2k: 0.5, le1k: 0.25, incompressible: 0.1, decompressNs: 2000 };
const DISK_LOST = 10_000_000 - 80; // a disk access, less the DRAM access it replaces
const COPY_LOST = 1_000 - 80;

function demand(d: Partial<Demand>): Demand {
  return { anon: 0, cache: 0, workingSet: 0, zero: 0, sharableWithin: 0, sharableAcross: 0, ...d };
}
function guest(name: string, sizePages: number, trace: Partial<Demand>[], extra: Partial<Guest> = {}): Guest {
  return { name, sizePages, shares: 1000, contentGroup: "os", codec: CODEC, trace: trace.map(demand), ...extra };
}
function scenario(hostPages: number, guests: Guest[], o: { steps?: number; stepSeconds?: number; rate?: number; maxFraction?: number; breakRate?: number; headroom?: number; useZeroPages?: boolean; maxPageSharing?: number } = {}): Scenario {
  return {
    hostPages, steps: o.steps ?? 1, stepSeconds: o.stepSeconds ?? 1, guests, costs: { ...DEFAULT_COSTS },
    tunables: {
      writeBreakRate: o.breakRate ?? 0, balloonRatePages: o.rate ?? 1000, balloonMaxFraction: o.maxFraction ?? 0.65,
      compressionCacheFraction: 0.1, idleTax: 0.75, thresholds: { ...DEFAULT_THRESHOLDS }, selfBalloonHeadroom: o.headroom ?? 0,
      useZeroPages: o.useZeroPages ?? false, maxPageSharing: o.maxPageSharing ?? 256,
    },
  };
}

describe("apportion", () => {
  it("splits by weight in whole pages, within caps, remainders to the largest fractions", () => {
    expect(apportion(10, [1, 1, 1], [10, 10, 10])).toEqual([4, 3, 3]);
    expect(apportion(10, [3, 1], [5, 100])).toEqual([5, 5]);
    expect(apportion(10, [1, 1], [2, 3])).toEqual([2, 3]);
    expect(apportion(0, [1], [5])).toEqual([0]);
  });
});

describe("no reclamation", () => {
  it("fits exactly when the touched pages equal host memory, and stalls every guest one page beyond", () => {
    const gs = [guest("a", 600, [{ anon: 300, cache: 200, workingSet: 100 }]), guest("b", 600, [{ anon: 300, cache: 200, workingSet: 100 }])];
    const fit = simulate(scenario(1000, gs), POLICIES.none);
    expect(fit.steps[0]!.freePages).toBe(0);
    expect(fit.summary.overcommittedSteps).toBe(0);
    expect(fit.summary.maxSlowdown).toBe(0);
    const over = simulate(scenario(999, gs), POLICIES.none);
    expect(over.steps[0]!.freePages).toBe(-1);
    expect(over.summary.overcommittedSteps).toBe(1);
    expect(over.guests.map((g) => g.slowdown)).toEqual([1, 1]);
  });
});

describe("transparent page sharing", () => {
  const d = { anon: 400, cache: 400, workingSet: 100, zero: 50, sharableWithin: 30, sharableAcross: 200 };
  it("keeps duplicates once; one guest of a group keeps the common pages; zero pages one content host-wide, kept in one KSM page", () => {
    // within 30 each; across: the second guest's 200 map onto the first's; zero: 100 pages host-wide, one KSM page
    // keeps them (use_zero_pages 0), held by the guest with the most zero pages (the first on a tie)
    const os = { contentGroup: "os", zero: 50, within: 30, across: 200 };
    const r = sharePages([os, os], 0);
    expect(r.saved).toEqual([79, 280]);
    expect(r.breaks).toEqual([0, 0]);
    // zero pages are one content whatever the content group
    expect(sharePages([os, { ...os, contentGroup: "b" }], 0).saved).toEqual([79, 80]);
    expect(sharePages([{ ...os, zero: 10 }, os], 0).saved).toEqual([40, 279]);
  });
  it("use_zero_pages: every zero page maps the kernel's zero page, so all of them are saved", () => {
    const os = { contentGroup: "os", zero: 50, within: 30, across: 200 };
    expect(sharePages([os, os], 0, { useZeroPages: true, maxPageSharing: 256 }).saved).toEqual([80, 280]);
    const r = simulate(scenario(2000, [guest("a", 1000, [d])], { useZeroPages: true }), POLICIES.sharing, { perGuestSteps: true });
    expect(r.steps[0]!.guests!.map((g) => g.shared)).toEqual([80]);
    const off = simulate(scenario(2000, [guest("a", 1000, [d])]), POLICIES.sharing, { perGuestSteps: true });
    expect(off.steps[0]!.guests!.map((g) => g.shared)).toEqual([79]);
  });
  it("max_page_sharing: n copies of a content need ceil(n / max) KSM pages", () => {
    // zero: 100 pages host-wide, at most 16 mappings per KSM page → 7 KSM pages, held by the guests with
    // the most zero pages first
    const os = { contentGroup: "os", zero: 50, within: 30, across: 200 };
    expect(sharePages([os, os], 0, { useZeroPages: false, maxPageSharing: 16 }).saved).toEqual([80 - 7, 280]);
    expect(sharePages([{ ...os, zero: 3 }, os], 0, { useZeroPages: false, maxPageSharing: 16 }).saved).toEqual([33, 280 - 4]);
    // use_zero_pages: the zero page is no KSM page, no chain
    expect(sharePages([os, os], 0, { useZeroPages: true, maxPageSharing: 16 }).saved).toEqual([80, 280]);
    // five guests with the same 200 common pages, 2 mappings per KSM page: each content needs 3 KSM pages,
    // the owner's copy and two more kept by the guests after it
    const five = sharePages(Array.from({ length: 5 }, () => ({ contentGroup: "os", zero: 0, within: 0, across: 200 })), 0, { useZeroPages: false, maxPageSharing: 2 });
    expect(five.saved).toEqual([0, 0, 0, 200, 200]);
    // through the simulation: the tunable reaches the sharing
    const r = simulate(scenario(2000, [guest("a", 1000, [d])], { maxPageSharing: 16 }), POLICIES.sharing, { perGuestSteps: true });
    expect(r.steps[0]!.guests!.map((g) => g.shared)).toEqual([50 - 4 + 30]);
  });
  it("writes break a share of it each step, each a copy-on-write fault", () => {
    // 10 %: zero floor(45), within floor(27), across floor(180); 5 + 3 + 20 = 28 breaks per guest;
    // the first guest holds the zero content's KSM page
    const r = simulate(scenario(2000, [guest("a", 1000, [d]), guest("b", 1000, [d])], { breakRate: 0.1 }), POLICIES.sharing, { perGuestSteps: true });
    const s = r.steps[0]!;
    expect(s.guests!.map((g) => g.shared)).toEqual([71, 252]);
    expect(s.guests!.map((g) => g.faults)).toEqual([28, 28]);
    expect(s.guests!.map((g) => g.lostNs)).toEqual([28 * COPY_LOST, 28 * COPY_LOST]);
    expect(s.freePages).toBe(2000 - (800 - 71) - (800 - 252));
  });
});

describe("ballooning", () => {
  it("takes free pages, then idle cache, then idle anon, then the working set (cache before anon)", () => {
    const d = demand({ anon: 300, cache: 500, workingSet: 200 }); // active: cache floor(200·500/800) = 125, anon 75
    expect(squeeze(d, 1000, 200)).toMatchObject({ evictedIdleCache: 0, evictedIdleAnon: 0, content: 800 });
    expect(squeeze(d, 1000, 600)).toMatchObject({ evictedIdleCache: 375, evictedIdleAnon: 25, evictedActiveCache: 0 });
    expect(squeeze(d, 1000, 900)).toMatchObject({ evictedIdleCache: 375, evictedIdleAnon: 225, evictedActiveCache: 100, evictedActiveAnon: 0, content: 100 });
    expect(squeeze(d, 1000, 1000)).toMatchObject({ evictedActiveCache: 125, evictedActiveAnon: 75, content: 0 });
  });
  it("inflation is rate-limited and capped", () => {
    expect(inflateToward(0, 500, 100, 650)).toBe(100);
    expect(inflateToward(450, 500, 100, 650)).toBe(500);
    expect(inflateToward(600, 900, 100, 650)).toBe(650);
    expect(inflateToward(600, 0, 100, 650)).toBe(500);
  });
  it("costs nothing when the guest holds idle cache", () => {
    // touched 800 on a 700-page host; target free floor(6 %·700) = 42: need 142. The balloon starts
    // above the 200 untouched pages and takes 142 pages of idle cache (525 idle): no refault.
    const r = simulate(scenario(700, [guest("a", 1000, [{ anon: 200, cache: 600, workingSet: 100 }])]), POLICIES.balloon, { perGuestSteps: true });
    const g = r.steps[0]!.guests![0]!;
    expect(g.ballooned).toBe(342);
    expect(r.steps[0]!.freePages).toBe(42);
    expect(g.faults).toBe(0);
    expect(r.summary.maxSlowdown).toBe(0);
  });
  it("costs refaults when the guest's memory is its working set", () => {
    // anon 750 + cache 50, all in use (active cache floor(750·50/800) = 46, anon 704; idle 4 + 46).
    // The balloon takes 142 host pages: 4 idle cache, 46 idle anon, 46 active cache, 46 active anon:
    // 92 working-set pages refault from disk every step.
    const r = simulate(scenario(700, [guest("a", 1000, [{ anon: 750, cache: 50, workingSet: 750 }])], { stepSeconds: 60 }), POLICIES.balloon, { perGuestSteps: true });
    const g = r.steps[0]!.guests![0]!;
    expect(g.ballooned).toBe(342);
    expect(g.faults).toBe(92);
    expect(g.lostNs).toBe(92 * DISK_LOST);
    expect(r.summary.maxSlowdown).toBeCloseTo((92 * DISK_LOST) / 60e9, 12);
  });
  it("cannot take more than its share of the guest: the host runs out", () => {
    // max balloon 65 % = 650 pages, 450 above the untouched 200: at most 450 freed, 800 − 450 = 350 > 300
    const r = simulate(scenario(300, [guest("a", 1000, [{ anon: 200, cache: 600, workingSet: 100 }])]), POLICIES.balloon);
    expect(r.summary.overcommittedSteps).toBe(1);
  });
});

describe("compression cache", () => {
  it("keeps victims that fit in 2 KiB, in half- and quarter-page slots, up to its cap", () => {
    // le2k 0.5 of which le1k 0.25 → half in quarter slots: 0.5·0.25 + 0.5·0.5 = 0.375 page per page
    expect(slotFraction(CODEC)).toBe(0.375);
    expect(cachePoolPages(96, CODEC)).toBe(36);
    expect(compressVictims(192, CODEC, 100)).toEqual({ compressed: 96, rejected: 96 });
    expect(compressVictims(192, CODEC, 40)).toEqual({ compressed: 40, rejected: 152 });
  });
  it("alone: frees the need by compressing; pages that do not fit stay", () => {
    // host 900, touched 900: need floor(6 %·900) = 54. 0.5·(1 − 0.375) = 0.3125 freed per victim:
    // 173 victims, 86 fit, pool ceil(86·0.375) = 33: freed 53 → free 53
    const r = simulate(scenario(900, [guest("a", 1000, [{ anon: 900 }])]), POLICIES.compress, { perGuestSteps: true });
    const g = r.steps[0]!.guests![0]!;
    expect(g.compressed).toBe(86);
    expect(g.swapped).toBe(0);
    expect(r.steps[0]!.totals.compressionPool).toBe(33);
    expect(r.steps[0]!.freePages).toBe(53);
  });
  it("with swap: the pages that do not fit are swapped", () => {
    // 0.3125 + 0.5 = 0.8125 per victim: 67 victims, 33 compressed (pool 13), 34 swapped: freed 54
    const policy: Policy = { ...POLICIES.compress, swap: true };
    const r = simulate(scenario(900, [guest("a", 1000, [{ anon: 900 }])]), policy, { perGuestSteps: true });
    const g = r.steps[0]!.guests![0]!;
    expect([g.compressed, g.swapped]).toEqual([33, 34]);
    expect(r.steps[0]!.freePages).toBe(54);
  });
  it("a compressed page the guest touches costs its decompression", () => {
    // second step: half the guest is active, so half of the 86 compressed pages (43) fault back
    const r = simulate(scenario(900, [guest("a", 1000, [{ anon: 900, workingSet: 0 }, { anon: 900, workingSet: 450 }])], { steps: 2 }), POLICIES.compress, { perGuestSteps: true });
    expect(r.steps[1]!.guests![0]!.faults).toBe(43);
    expect(r.steps[1]!.guests![0]!.lostNs).toBe(43 * (2000 - 80));
  });
});

describe("swapped pages charged at their touch rate", () => {
  it("idle pages first at no cost, then bands from the coldest, scaled to the working set", () => {
    const bands = [{ pages: 100, perSecond: 20 }, { pages: 300, perSecond: 1 }];
    expect(touchedSwapFaults(50, 100, 400, bands, 1)).toBe(0);
    // 100 idle, then 250 of the cold band (300 pages): 250 faults a second, 60 s
    expect(touchedSwapFaults(350, 100, 400, bands, 60)).toBe(15_000);
    // the whole cold band (300) and 50 hot: 300 + 1000
    expect(touchedSwapFaults(450, 100, 400, bands, 1)).toBe(1_300);
    // the bands measured 400 pages; a working set of 800 holds twice each band
    expect(touchedSwapFaults(700, 100, 800, bands, 1)).toBe(600);
    expect(touchedSwapFaults(10, 0, 400, [], 1)).toBe(0);
  });
});

describe("host swapping", () => {
  it("swaps blind victims; the guest's active share of them faults back from disk each step", () => {
    // step 0: need 54 → 54 swapped. Step 1: active 450/900 → 27 fault back, 27 swapped again.
    const r = simulate(scenario(900, [guest("a", 1000, [{ anon: 900, workingSet: 450 }])], { steps: 2 }), POLICIES.swap, { perGuestSteps: true });
    expect(r.steps.map((s) => s.guests![0]!.swapped)).toEqual([54, 54]);
    expect(r.steps.map((s) => s.guests![0]!.faults)).toEqual([0, 27]);
    expect(r.guests[0]!.slowdown).toBeCloseTo((27 * DISK_LOST) / 2e9, 12);
  });

  it("to zram: a swapped page still takes 1 / ratio of a page, so more go to free the same; a swap-in costs a compressed fault", () => {
    // ratio 2.5: a swapped page frees 0.6 of a page; need 54 → 90 swapped (36 pages held by zram). Step 1: 45 fault back.
    const sc = scenario(900, [guest("a", 1000, [{ anon: 900, workingSet: 450 }])], { steps: 2 });
    const zram = { ...sc, costs: { ...sc.costs, swapDevice: "zram" as const } };
    const r = simulate(zram, POLICIES.swap, { perGuestSteps: true });
    expect(r.steps.map((s) => s.guests![0]!.swapped)).toEqual([90, 90]);
    expect(r.steps.map((s) => s.guests![0]!.faults)).toEqual([0, 45]);
    expect(r.guests[0]!.slowdown).toBeCloseTo((45 * (ZRAM_SWAP_IN_NS - 80)) / 2e9, 12);
    // the calibrated figure where there is one
    const cal = simulate({ ...zram, costs: { ...zram.costs, compressedFaultNs: 8_000 } }, POLICIES.swap);
    expect(cal.guests[0]!.slowdown).toBeCloseTo((45 * (8_000 - 80)) / 2e9, 12);
  });

  it("touch rates measured: coldest first, idle pages at no cost, then the working set's coldest band, each swapped page faulting at its rate", () => {
    // working set 450 of 900 anon, touched in two measured bands (×1.5 to the working set: 150 hot at 10/s, 300 cold at 0.5/s).
    // Host 900: need 54 → 54 swapped, all from the 450 idle pages: no fault, and they stay swapped.
    const cold = guest("a", 1000, [{ anon: 900, workingSet: 450, touches: [{ pages: 100, perSecond: 10 }, { pages: 200, perSecond: 0.5 }] }]);
    const idle = simulate(scenario(900, [cold], { steps: 2 }), POLICIES.swap, { perGuestSteps: true });
    expect(idle.steps.map((s) => s.guests![0]!.swapped)).toEqual([54, 54]);
    expect(idle.guests[0]!.faults).toBe(0);
    // Host 300: need 18 + 600 = 618 swapped: the 450 idle, then 168 of the cold band (300 pages): one fault each per 2 s, 84 a second.
    // Host 100: need 6 + 800 = 806: the 450 idle, the cold band's 300 (150 a second) and 56 of the 150 hot pages (560): 710.
    const faultsAt = (host: number, steps = 3): number[] => simulate(scenario(host, [cold], { steps }), POLICIES.swap, { perGuestSteps: true }).steps.map((s) => s.guests![0]!.faults);
    expect(faultsAt(300)).toEqual([0, 84, 84]);
    expect(faultsAt(100)).toEqual([0, 710, 710]);
    // into the hot band: anon 900, all of it working set, host 300 → 618 swapped: the cold band's 600 (300 faults), 18 hot (180)
    const busy = guest("b", 1000, [{ anon: 900, workingSet: 900, touches: [{ pages: 150, perSecond: 10 }, { pages: 300, perSecond: 0.5 }] }]);
    const hot = simulate(scenario(300, [busy], { steps: 2 }), POLICIES.swap, { perGuestSteps: true });
    expect(hot.steps.map((s) => s.guests![0]!.faults)).toEqual([0, 480]);
    expect(hot.guests[0]!.slowdown).toBeCloseTo((480 * DISK_LOST) / 2e9, 12);
    // each fault sends another page out, in the guest's own thread: the swap-out is charged where it is known
    const sc = scenario(300, [busy], { steps: 2 });
    const withOut = simulate({ ...sc, costs: { ...sc.costs, swapOutNs: 5_000 } }, POLICIES.swap);
    expect(withOut.guests[0]!.slowdown).toBeCloseTo((480 * (DISK_LOST + 5_000)) / 2e9, 12);
    // the same guest without rates: blind victims, its active share (all) back once a step
    const blind = simulate(scenario(300, [{ ...busy, trace: [{ ...busy.trace[0]!, touches: undefined }] }], { steps: 2 }), POLICIES.swap, { perGuestSteps: true });
    expect(blind.steps.map((s) => s.guests![0]!.faults)).toEqual([0, 618]);
  });

  it("density with touch rates ends where the hot band would have to go out, not where the host runs out", () => {
    // 60 s steps on zram at ratio 2.5 (a swapped page takes 0.4, frees 0.6); a fault costs 4 µs (swap-in less DRAM) + 11 µs (swap-out).
    // Each guest: 1000 anon, 800 of them working set: 200 touched 50 times a second, 600 once every 2 s. 5 % lost throughput is
    // 52.6 ms a second: 3509 faults; the cold band out takes 300, leaving 64 hot pages. The first step charges nothing (pages go
    // out at its end), so over 20 steps a guest may lose 5.26 % × 20/19 a second while swapped.
    // 19 guests on 10,000 pages: need 600 + 19,000 − 10,000 = 9,600, 505 a guest: 842 out, 42 hot: 2,400 faults/s, 36 ms/s: fits.
    // 20: 10,600, 530 a guest: 884 out, 84 hot: 4,500 faults/s, 67.5 ms/s × 19/20 = 64 ms/s: over.
    // Blind, every page may go at one fault a step: 400 host pages a guest, so 25 fill the 10,000 and the 26th runs the host out.
    const g = guest("w", 1000, [{ anon: 1000, workingSet: 800, touches: [{ pages: 200, perSecond: 50 }, { pages: 600, perSecond: 0.5 }] }]);
    const host = (n: number, gs: Guest[]): Scenario => {
      const sc = scenario(n, gs, { steps: 20, stepSeconds: 60 });
      return { ...sc, costs: { ...sc.costs, swapDevice: "zram", swapInNs: 4_080, swapOutNs: 11_000 } };
    };
    const rated = largestFit(host(10_000, [g]), POLICIES.swap, 0.05);
    const blind = largestFit(host(10_000, [{ ...g, trace: [{ ...g.trace[0]!, touches: undefined }] }]), POLICIES.swap, 0.05);
    expect(rated).toBe(19);
    expect(blind).toBe(25);
  });
});

describe("transcendent memory", () => {
  it("pools: an ephemeral put may be dropped, a persistent one refused; gets hit the share still held", () => {
    const eph = newPool("ephemeral", 2);
    expect(put(eph, 0, 300, 500)).toBe(300);
    expect(put(eph, 1, 300, 500)).toBe(200); // 100 dropped
    expect(get(eph, 1, 60, 300)).toBe(40); // 200 of the 300 it put are there
    shrinkTo(eph, 400); // the host takes memory back: the biggest holder loses first
    expect(eph.pages).toEqual([200, 200]);
    flush(eph, 0, 50);
    expect(poolSize(eph)).toBe(350);
    const pers = newPool("persistent", 1);
    expect(put(pers, 0, 100, 60)).toBe(60);
    shrinkTo(pers, 0); // persistent pages are never dropped
    expect(pers.pages).toEqual([60]);
  });
  it("self-ballooning to the working set puts idle cache and idle anon in the pools", () => {
    // target balloon 1000 − 100 = 900: evicts 525 idle cache + 175 idle anon; backed 100.
    // Host 1000: room 1000 − 100 − 60 = 840 → persistent 175, ephemeral 525.
    // Host 400: room 400 − 100 − floor(6 %·400) = 276 → 175 + 101; 24 pages stay free.
    const g = guest("a", 1000, [{ anon: 200, cache: 600, workingSet: 100 }]);
    const big = simulate(scenario(1000, [g]), POLICIES.tmem, { perGuestSteps: true });
    expect(big.steps[0]!.guests![0]).toMatchObject({ ballooned: 900, resident: 100, tmem: 700 });
    expect(big.steps[0]!.freePages).toBe(200);
    const small = simulate(scenario(400, [g]), POLICIES.tmem, { perGuestSteps: true });
    expect(small.steps[0]!.guests![0]!.tmem).toBe(276);
    expect(small.steps[0]!.freePages).toBe(24);
  });
  it("a working set that grows faster than the balloon deflates is served from the pool, or from disk when it was dropped", () => {
    // The balloon moves 200 pages a step: it reaches 900 at step 4. At step 5 the working set is 500
    // (active cache 375, anon 125); the balloon goes 900 → 700 and still evicts 225 idle cache, 75 idle
    // anon and 200 active cache. Host 1000: the pool still holds them: 200 copies. Host 400: the pool
    // held 101 cache pages, dropped when the guest grew (room 400 − 300 − 24, less the 75 persistent
    // pages = 1): 200 disk reads.
    const quiet = { anon: 200, cache: 600, workingSet: 100 };
    const warm = guest("a", 1000, [quiet, quiet, quiet, quiet, quiet, { ...quiet, workingSet: 500 }]);
    const hit = simulate(scenario(1000, [warm], { steps: 6, rate: 200 }), POLICIES.tmem, { perGuestSteps: true });
    expect(hit.steps[4]!.guests![0]!.ballooned).toBe(900);
    expect(hit.steps[5]!.guests![0]!.ballooned).toBe(700);
    expect(hit.steps[5]!.guests![0]!.faults).toBe(200);
    expect(hit.steps[5]!.guests![0]!.lostNs).toBe(200 * COPY_LOST);
    const miss = simulate(scenario(400, [warm], { steps: 6, rate: 200 }), POLICIES.tmem, { perGuestSteps: true });
    expect(miss.steps[5]!.guests![0]!.faults).toBe(200);
    expect(miss.steps[5]!.guests![0]!.lostNs).toBe(200 * DISK_LOST);
  });
});

describe("ESX free-memory states", () => {
  const th = DEFAULT_THRESHOLDS;
  const cases: [FreeState, number, FreeState][] = [
    ["high", 0.07, "high"], ["high", 0.05, "high"], ["high", 0.04, "high"], ["high", 0.0399, "soft"],
    ["high", 0.0199, "hard"], ["high", 0.0099, "low"],
    ["soft", 0.05, "soft"], ["soft", 0.0599, "soft"], ["soft", 0.06, "high"], ["soft", 0.019, "hard"],
    ["hard", 0.039, "hard"], ["hard", 0.04, "soft"], ["hard", 0.06, "high"], ["hard", 0.0099, "low"],
    ["low", 0.015, "low"], ["low", 0.0199, "low"], ["low", 0.02, "hard"], ["low", 0.045, "soft"], ["low", 0.07, "high"],
  ];
  it.each(cases)("%s with %f free → %s", (prev, free, next) => {
    expect(nextFreeState(prev, free, th)).toBe(next);
  });
  it("hysteresis: falling to 3.9 % and recovering to 5 % stays soft; only 6 % returns to high", () => {
    const seq = [0.07, 0.039, 0.045, 0.05, 0.059, 0.06, 0.05];
    let s: FreeState = "high";
    const seen = seq.map((f) => (s = nextFreeState(s, f, th)));
    expect(seen).toEqual(["high", "soft", "soft", "soft", "soft", "high", "high"]);
  });
  it("balloon at soft, compress and swap at hard, block at low", () => {
    expect(actionsIn("high")).toEqual({ balloon: false, compress: false, swap: false, block: false });
    expect(actionsIn("soft")).toEqual({ balloon: true, compress: false, swap: false, block: false });
    expect(actionsIn("hard")).toEqual({ balloon: true, compress: true, swap: true, block: false });
    expect(actionsIn("low")).toEqual({ balloon: true, compress: true, swap: true, block: true });
  });
  it("the esx policy does nothing above 4 % free and balloons below it", () => {
    // host 1000, guest touches 955 then 965: free 4.5 % (high: nothing), then 3.5 % → soft: balloon back to 6 %
    const g = guest("a", 1000, [{ anon: 200, cache: 755, workingSet: 100 }, { anon: 200, cache: 765, workingSet: 100 }]);
    const r = simulate(scenario(1000, [g], { steps: 2 }), POLICIES.esx, { perGuestSteps: true });
    expect(r.steps.map((s) => s.state)).toEqual(["high", "soft"]);
    expect(r.steps.map((s) => s.guests![0]!.ballooned)).toEqual([0, 60]);
    expect(r.steps.map((s) => s.freePages)).toEqual([45, 60]);
  });
  it("the esx policy swaps only when ballooning cannot keep up, and blocks below 1 %", () => {
    // balloon rate 10 pages: touched 1000 on 1000 → free 0 (low): the balloon frees 10, still low.
    // Compress + swap the other 50: 0.8125 freed per victim → 62 victims, 31 compressed (pool 12), 31 swapped.
    const g = guest("a", 1000, [{ anon: 500, cache: 500, workingSet: 100 }]);
    const r = simulate(scenario(1000, [g], { rate: 10 }), POLICIES.esx, { perGuestSteps: true });
    expect(r.steps[0]!.state).toBe("low");
    expect(r.steps[0]!.guests![0]).toMatchObject({ ballooned: 10, compressed: 31, swapped: 31, blocked: false });
    expect(r.steps[0]!.freePages).toBe(60);
    // with no swap to fall back on, the host stays below 1 % and blocks the guest
    const noSwap: Policy = { ...POLICIES.esx, swap: false, compress: false };
    const b = simulate(scenario(1000, [g], { rate: 5 }), noSwap, { perGuestSteps: true });
    expect(b.steps[0]!.freePages).toBe(5);
    expect(b.steps[0]!.guests![0]!.blocked).toBe(true);
    expect(b.guests[0]!.slowdown).toBe(1);
  });
});

describe("share-based allocation with the idle-memory tax", () => {
  it("ρ = S / (P·(f + k(1−f))), k = 1/(1−τ)", () => {
    expect(sharesPerPage(1000, 1000, 0.1, 0.75)).toBeCloseTo(1000 / 3700, 12);
    expect(sharesPerPage(1000, 1000, 1, 0.75)).toBeCloseTo(1, 12);
  });
  it("revokes from the idle guest first, down to where both pay the same per page", () => {
    const idle = { shares: 1000, pages: 1000, active: 100, floor: 0 };
    const busy = { shares: 1000, pages: 1000, active: 900, floor: 0 };
    // idle: 100 + 4(P − 100) = 3700 at P = 1000; busy: 900 + 4·100 = 1300. Equal at P_idle = 400.
    expect(revokeByShares([idle, busy], 500, 0.75)).toEqual([500, 0]);
    // beyond: 4·P_idle − 300 = P_busy (busy below its active pages), P_idle + P_busy = 1000 → 260, 740
    expect(revokeByShares([idle, busy], 1000, 0.75)).toEqual([740, 260]);
    // no tax: equal shares give up equally
    expect(revokeByShares([idle, busy], 1000, 0)).toEqual([500, 500]);
    // more shares, less revoked: 2:1 shares at τ = 0 → allocations 2:1 of 1000 left
    expect(revokeByShares([{ ...busy, shares: 2000 }, busy], 1000, 0)).toEqual([333, 667]);
  });
});

describe("determinism", () => {
  it("the same scenario gives the same numbers", () => {
    const g = guest("a", 1000, [{ anon: 600, cache: 300, workingSet: 400, zero: 20, sharableAcross: 100 }]);
    const sc = scenario(1500, [g, { ...g, name: "b" }], { steps: 5 });
    expect(JSON.stringify(simulate(sc, POLICIES.esx))).toBe(JSON.stringify(simulate(sc, POLICIES.esx)));
  });
});
