// The host profile `tsbox mem calibrate` stores, checked when read back, and
// the model charging its costs: pure tests, every number worked out by hand.
import { describe, expect, it } from "vitest";
import { figureOf, parseHostProfile, HostProfileError, type HostProfile } from "../src/reclaim/host-profile.js";
import { largestFit } from "../src/reclaim/model/density.js";
import { statedCosts, withHostProfile } from "../src/reclaim/model/host-costs.js";
import { POLICIES } from "../src/reclaim/model/policies.js";
import { parseScenario } from "../src/reclaim/model/scenario-file.js";
import { DEFAULT_COSTS, DEFAULT_THRESHOLDS, type Costs, type Guest, type Scenario } from "../src/reclaim/model/scenario.js";
import { simulate } from "../src/reclaim/model/simulate.js";

const fig = (median: number, clock: "cpu" | "wall" = "wall") => ({ median, p90: median, samples: [median], clock, load1: 1 });

/** A profile as `mem calibrate` writes it: refault 5 µs in order, zram swap-in 7 µs, decompression 5 µs. */
function profile(swap: Partial<HostProfile["swap"]> = {}): HostProfile {
  return {
    version: 1, measuredAt: "2026-12-03T13:00:00.000Z", kernel: "6.18.44", cgroup: "v1", cpus: 2, quick: true,
    loadBefore: [1, 1, 1], loadAfter: [1, 1, 1],
    fileRefault: { method: "memory.force_empty", pages: 2048, sequential: fig(5_000), random: fig(40_000) },
    swap: {
      status: "measured", note: "zram made for the calibration", device: "/tmp/zram1", hostSwap: false, compressor: "lzo-rle", pages: 2048,
      swapIn: fig(7_000, "cpu"), swapInSameFilled: fig(2_000, "cpu"), decompress: fig(5_000, "cpu"), ...swap,
    },
    ksm: { status: "measured", note: "ksmd", pagesToScan: 1000, sleepMillisecs: 10, cpuSource: "schedstat", pages: 2048, otherUsers: false,
      perPageScanned: fig(2_000, "cpu"), perPageMerged: fig(4_000, "cpu") },
  };
}

const CODEC = { codec: "lz4" as const, ratio: 2.5, le2k: 0.5, le1k: 0.25, incompressible: 0.1, decompressNs: 2000 };

/** One guest whose memory is its working set (anon 750 + cache 50), ballooned on a 700-page host (reclaim.model.test.ts). */
function workingSetScenario(costs: Costs): Scenario {
  const g: Guest = { name: "a", sizePages: 1000, shares: 1000, contentGroup: "os", codec: CODEC,
    trace: [{ anon: 750, cache: 50, workingSet: 750, zero: 0, sharableWithin: 0, sharableAcross: 0 }] };
  return {
    hostPages: 700, steps: 1, stepSeconds: 60, guests: [g], costs,
    tunables: { writeBreakRate: 0, balloonRatePages: 1000, balloonMaxFraction: 0.65, compressionCacheFraction: 0.1, idleTax: 0.75,
      thresholds: { ...DEFAULT_THRESHOLDS }, selfBalloonHeadroom: 0, useZeroPages: false, maxPageSharing: 256 },
  };
}

describe("host profile", () => {
  it("reads back what calibrate writes", () => {
    const p = profile();
    expect(parseHostProfile(JSON.stringify(p), "hp.json")).toEqual(p);
  });
  it("a corrupt or inconsistent profile is a one-line error naming the file and the field", () => {
    const bad = (text: string): string => {
      try {
        parseHostProfile(text, "/r/mem/host-profile.json");
      } catch (e) {
        expect(e).toBeInstanceOf(HostProfileError);
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    expect(bad("{\"version\": 1, ")).toMatch(/^host profile \/r\/mem\/host-profile.json is invalid: \$: expected JSON \(.*\) \(run `tsbox mem calibrate` again\)$/);
    expect(bad("")).toBe("host profile /r/mem/host-profile.json is invalid: $: expected JSON (the file is empty) (run `tsbox mem calibrate` again)");
    const p = profile() as unknown as { fileRefault: { sequential: { median: unknown } } };
    p.fileRefault.sequential.median = "fast";
    expect(bad(JSON.stringify(p))).toBe("host profile /r/mem/host-profile.json is invalid: $.fileRefault.sequential.median: expected a number (run `tsbox mem calibrate` again)");
    expect(bad(JSON.stringify({ ...profile(), version: 2 }))).toContain("$.version: expected version 1");
    expect(bad(JSON.stringify(profile({ swapIn: { ...fig(7_000), p90: 10 } })))).toContain("$.swap.swapIn.p90: expected a p90 no smaller than the median");
    expect(bad(JSON.stringify(profile({ swapIn: undefined })))).toContain("$.swap: expected swapIn when status is measured");
    for (const m of [bad("{"), bad("[]"), bad("null")]) expect(m).not.toContain("\n");
  });
  it("a figure is the median and the nearest-rank p90 of its repetitions", () => {
    expect(figureOf([5, 1, 4, 2, 3], "cpu", 0.5)).toEqual({ median: 3, p90: 5, samples: [5, 1, 4, 2, 3], clock: "cpu", load1: 0.5 });
    expect(figureOf([10, 20, 30, 40], "wall", 1)).toMatchObject({ median: 25, p90: 40 });
    expect(figureOf([7], "wall", 1)).toMatchObject({ median: 7, p90: 7 });
  });
});

describe("the model's fault costs", () => {
  it("without a profile: the defaults, said to be the defaults", () => {
    const c = withHostProfile(DEFAULT_COSTS, undefined);
    expect(c.sources).toEqual({ fileRefault: "default", swapIn: "default", compressedFault: "default" });
    expect(statedCosts(c)).toEqual({ fileRefault: { ns: 10_000_000, source: "default" }, swapIn: { ns: 10_000_000, source: "default" }, compressedFault: { source: "default" } });
  });
  it("with a profile: the refault and the compressed-page fault are calibrated; a zram made for the calibration is not the host's swap", () => {
    const c = withHostProfile(DEFAULT_COSTS, profile());
    expect(statedCosts(c)).toEqual({
      fileRefault: { ns: 5_000, source: "calibrated" }, swapIn: { ns: 10_000_000, source: "default" }, compressedFault: { ns: 7_000, source: "calibrated" },
    });
    const own = withHostProfile(DEFAULT_COSTS, profile({ hostSwap: true, device: "/dev/zram0" }));
    expect(statedCosts(own).swapIn).toEqual({ ns: 7_000, source: "calibrated" });
  });
  it("a host that swaps to zram: the zram calibrated for compressed pages prices its swap-ins too; without a profile a zram swap-in is 10 µs, not a disk access", () => {
    const zram = { ...DEFAULT_COSTS, swapDevice: "zram" as const };
    expect(statedCosts(withHostProfile(zram, profile())).swapIn).toEqual({ ns: 7_000, source: "calibrated" });
    expect(statedCosts(withHostProfile(zram, undefined)).swapIn).toEqual({ ns: 10_000, source: "default" });
    // a scenario that names zram leaves its swap-in to the calibration; on a host swapping to zram, one that names none is zram
    const named = parseScenario(JSON.stringify({ hostMemory: "1GiB", costs: { swapDevice: "zram" },
      guests: [{ name: "g", size: "256MiB", workload: { generator: "idle" } }] }), { hostHasSwap: true });
    expect(statedCosts(withHostProfile(named.costs, profile())).swapIn).toEqual({ ns: 7_000, source: "calibrated" });
    const unnamed = parseScenario(JSON.stringify({ hostMemory: "1GiB", guests: [{ name: "g", size: "256MiB", workload: { generator: "idle" } }] }),
      { hostHasSwap: true, hostSwapIsZram: true });
    expect(unnamed.costs.swapDevice).toBe("zram");
  });
  it("the calibrated zram swap-out is charged where the host swaps to zram, and only there", () => {
    const zram = { ...DEFAULT_COSTS, swapDevice: "zram" as const };
    const p = profile({ swapOut: fig(11_000, "cpu") });
    expect(withHostProfile(zram, p).swapOutNs).toBe(11_000);
    expect(statedCosts(withHostProfile(zram, p)).swapOut).toEqual({ ns: 11_000, source: "calibrated" });
    // a zram made for the calibration says nothing of a disk's swap-out; an older profile has none
    expect(withHostProfile(DEFAULT_COSTS, p).swapOutNs).toBeUndefined();
    expect(statedCosts(withHostProfile(DEFAULT_COSTS, p)).swapOut).toBeUndefined();
    expect(withHostProfile(zram, profile()).swapOutNs).toBeUndefined();
    expect(parseHostProfile(JSON.stringify(p), "/r/mem/host-profile.json").swap.swapOut).toEqual(fig(11_000, "cpu"));
    // a scenario's swap-out stays the scenario's
    const sc = parseScenario(JSON.stringify({ hostMemory: "1GiB", costs: { swapDevice: "zram", swapOutNs: 9_000 },
      guests: [{ name: "g", size: "256MiB", workload: { generator: "idle" } }] }), { hostHasSwap: true });
    expect(statedCosts(withHostProfile(sc.costs, p)).swapOut).toEqual({ ns: 9_000, source: "scenario" });
  });
  it("a cost the scenario gives stays the scenario's", () => {
    const sc = parseScenario(JSON.stringify({ hostMemory: "1GiB", costs: { diskNs: 5_000_000, compressedFaultNs: 3_000 },
      guests: [{ name: "g", size: "256MiB", workload: { generator: "idle" } }] }), { hostHasSwap: true });
    const c = withHostProfile(sc.costs, profile({ hostSwap: true }));
    expect(statedCosts(c)).toEqual({
      fileRefault: { ns: 5_000_000, source: "scenario" }, swapIn: { ns: 5_000_000, source: "scenario" }, compressedFault: { ns: 3_000, source: "scenario" },
    });
  });
  it("charges the calibrated refault, and states the loss as lost throughput", () => {
    // the balloon takes 46 active cache and 46 active anon pages: 92 faults every step (reclaim.model.test.ts)
    const base = simulate(workingSetScenario(withHostProfile(DEFAULT_COSTS, undefined)), POLICIES.balloon).guests[0]!;
    const cal = simulate(workingSetScenario(withHostProfile(DEFAULT_COSTS, profile({ hostSwap: true }))), POLICIES.balloon).guests[0]!;
    const zramOnly = simulate(workingSetScenario(withHostProfile(DEFAULT_COSTS, profile())), POLICIES.balloon).guests[0]!;
    const lost = { base: 92 * (10_000_000 - 80), cal: 46 * (5_000 - 80) + 46 * (7_000 - 80), zram: 46 * (5_000 - 80) + 46 * (10_000_000 - 80) };
    expect(base.faults).toBe(92);
    expect(base.lostSeconds * 1e9).toBeCloseTo(lost.base, 3);
    expect(cal.lostSeconds * 1e9).toBeCloseTo(lost.cal, 3);
    expect(zramOnly.lostSeconds * 1e9).toBeCloseTo(lost.zram, 3);
    // a fraction of the time spent waiting: lost / (run + lost), never above 1 where the slowdown is
    expect(cal.lostThroughput).toBeCloseTo(lost.cal / (60e9 + lost.cal), 12);
    expect(base.lostThroughput).toBeCloseTo(lost.base / (60e9 + lost.base), 12);
    expect(base.slowdown).toBeCloseTo(lost.base / 60e9, 12);
  });
  it("guests that re-read their files fit by the calibrated cost where 10 ms per refault said they did not", () => {
    // 32 MiB guests touching 60 % of their memory each step, half of it file cache: past the host's size the
    // balloons take working-set pages, which at 10 ms a refault cost more than the 5 % budget and at 5 µs little
    const sc = parseScenario(JSON.stringify({ hostMemory: "100MiB", steps: 10, stepSeconds: 1,
      guests: [{ name: "r", size: "32MiB", count: 1, demand: { anon: 0.25, cache: 0.5, workingSet: 0.6, zero: 0, sharableWithin: 0, sharableAcross: 0 } }] }),
    { hostHasSwap: false });
    const def = largestFit(sc, POLICIES.balloon, 0.05, 64);
    const cal = largestFit({ ...sc, costs: withHostProfile(sc.costs, profile()) }, POLICIES.balloon, 0.05, 64);
    console.log(`balloon, 32 MiB re-readers on 100 MiB: ${def} fit at 10 ms a refault, ${cal} at the calibrated 5 µs`);
    expect(cal).toBeGreaterThan(def);
  });
});
