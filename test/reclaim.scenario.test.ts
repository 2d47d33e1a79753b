// Scenario files and measured profiles as model input: the schema's checks
// (every error names its JSON path) and guestFromProfile's arithmetic.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { guestFromProfile, guestsFromScanReport } from "../src/reclaim/model/from-profile.js";
import { parseScenario, parseSize, scenarioFromScanReport } from "../src/reclaim/model/scenario-file.js";
import { workloadTrace } from "../src/reclaim/model/workloads.js";
import type { MemoryProfile, ScanReport } from "../src/reclaim/profile.js";
import { REPO } from "./helpers.js";

const ok = (guests: unknown[], extra: object = {}): string => JSON.stringify({ hostMemory: "4GiB", steps: 3, guests, ...extra });
const web = { name: "web", size: "1GiB", demand: { anon: 0.2, cache: 0.5, workingSet: 0.1 } };
const err = (text: string, hostBytes?: number): string => {
  try {
    parseScenario(text, { source: "s.json", ...(hostBytes !== undefined ? { hostBytes } : {}) });
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("no error");
};

describe("scenario file", () => {
  it("reads the example scenario", () => {
    const sc = parseScenario(readFileSync(join(REPO, "examples", "memory-scenario.json"), "utf8"));
    expect(sc.hostPages).toBe(12 * 262_144);
    expect(sc.guests.map((g) => g.name)).toEqual(["web-1", "web-2", "web-3", "web-4", "cache-1", "cache-2", "db", "batch", "cron"]);
    expect(sc.guests[8]!.trace[1]).toEqual({ anon: 51_200, cache: 76_800, workingSet: 89_600, zero: 5242, sharableWithin: 2621, sharableAcross: 0 });
    expect(sc.guests[6]!.codec.codec).toBe("zstd");
  });
  it("sizes: binary units or bytes", () => {
    expect(parseSize("16GiB")).toBe(16 * 1024 ** 3);
    expect(parseSize("512m")).toBe(512 * 1024 ** 2);
    expect(parseSize("4096")).toBe(4096);
    expect(parseSize("12 parsecs")).toBeUndefined();
  });
  it("--host-memory wins over the file", () => {
    expect(parseScenario(ok([web]), { hostBytes: 8 * 1024 ** 3 }).hostPages).toBe(2 * 1024 ** 2);
  });
  it.each([
    ["{", /^s\.json: \$: not valid JSON/],
    [JSON.stringify([]), /^s\.json: \$: expected an object, got \[\]/],
    [ok([web], { stepz: 3 }), /^s\.json: \$\.stepz: unknown field/],
    [JSON.stringify({ guests: [web] }), /^s\.json: \$\.hostMemory: missing: give it here or with --host-memory/],
    [ok([web], { hostMemory: "lots" }), /\$\.hostMemory: expected a size such as "2GiB" or a whole number of bytes, got "lots"/],
    [ok([web], { steps: 0 }), /\$\.steps: must be between 1 and 1000000, got 0/],
    [ok([]), /\$\.guests: no guests/],
    [ok([{ ...web, size: -5 }]), /\$\.guests\[0\]\.size: must be at least one page/],
    [ok([{ name: "x", size: "1GiB" }]), /\$\.guests\[0\]: give exactly one of workload, demand, trace or profile \(got none\)/],
    [ok([{ ...web, workload: "idle-cache" }]), /\$\.guests\[0\]: give exactly one of .* \(got workload, demand\)/],
    [ok([{ ...web, demand: undefined, workload: "web-scale" }]), /\$\.guests\[0\]\.workload: unknown workload "web-scale" \(expected one of: idle-cache, /],
    [ok([{ ...web, demand: { anon: 0.6, cache: 0.6, workingSet: 0.1 } }]), /\$\.guests\[0\]\.demand: anon \+ cache \(314572 pages\) exceed the guest's size \(262144 pages\)/],
    [ok([{ ...web, demand: { anon: 0.2, cache: 0.2, workingSet: 0.5 } }]), /\$\.guests\[0\]\.demand\.workingSet: 131072 pages exceed anon \+ cache/],
    [ok([{ ...web, demand: { anon: 1.5, cache: 0, workingSet: 0 } }]), /\$\.guests\[0\]\.demand\.anon: must be between 0 and 1, got 1.5/],
    [ok([{ ...web, demand: undefined, trace: [web.demand, { anon: 0.1 }] }]), /\$\.guests\[0\]\.trace\[1\]\.cache: missing/],
    [ok([{ ...web, size: "8GiB" }]), /\$\.guests: guest web \(8388608KiB\) is larger than the host \(4194304KiB\)/],
    [ok([{ ...web, codec: "brotli" }]), /\$\.guests\[0\]\.codec: unknown codec "brotli"/],
    [ok([{ ...web, codec: { le2k: 0.3, le1k: 0.5 } }]), /\$\.guests\[0\]\.codec\.le1k: the share ≤ 1 KiB \(0.5\) cannot exceed the share ≤ 2 KiB \(0.3\)/],
    [ok([web], { tunables: { thresholds: { soft: 0.07 } } }), /\$\.tunables\.thresholds: must satisfy high > soft > hard > low > 0/],
    [ok([web], { costs: { swapDevice: "tape" } }), /\$\.costs\.swapDevice: expected "disk", "flash", "zram" or "none", got "tape"/],
  ])("rejects %s", (text, re) => {
    expect(err(text)).toMatch(re);
  });
  it("workload generators are deterministic and keep within the guest", () => {
    const a = workloadTrace("bursty", 1000, 40, { jitter: 0.05, seed: 3 });
    expect(workloadTrace("bursty", 1000, 40, { jitter: 0.05, seed: 3 })).toEqual(a);
    expect(workloadTrace("bursty", 1000, 40, { jitter: 0.05, seed: 4 })).not.toEqual(a);
    for (const d of a) expect(d.workingSet).toBeLessThanOrEqual(d.anon + d.cache);
    expect(a[15]!.workingSet).toBeGreaterThan(a[5]!.workingSet); // second phase: 40 % instead of 10 %
  });
});

const profile = (over: Partial<MemoryProfile> = {}): MemoryProfile => ({
  id: "0123456789abcdef", name: "web", mode: "sample", present: 10_000, sampled: 1_000,
  zero: 100, sameFilled: 20, duplicateWithin: 50, duplicateAcross: 200, unique: 630, anonFraction: 0.6,
  compression: [
    { codec: "zstd", ratio: 3.4, le2k: 0.8, le1k: 0.5, incompressible: 0.05, decompressNs: 6000 },
    { codec: "lz4", ratio: 2.6, le2k: 0.7, le1k: 0.4, incompressible: 0.1, decompressNs: 1700 },
  ],
  ...over,
});

describe("guestFromProfile", () => {
  it("scales sampled counts to the present pages; without cgroup numbers anon is active and file idle", () => {
    const g = guestFromProfile(profile());
    // ×10: zero 1000, within 500, across 2000; anon 6000, cache 4000; size 1.25 × content
    expect(g.trace).toEqual([{ anon: 6000, cache: 4000, workingSet: 6000, zero: 1000, sharableWithin: 500, sharableAcross: 2000 }]);
    expect(g.sizePages).toBe(12_500);
    expect(g.codec.codec).toBe("lz4");
    expect(g.codec.decompressNs).toBe(1700);
    expect(g.name).toBe("web");
  });
  it("with mem stat numbers: anon, file and working set = usage − inactive file; the limit is the size", () => {
    const MiB = 1024 * 1024;
    const g = guestFromProfile(profile(), { usage: 60 * MiB, anon: 30 * MiB, file: 28 * MiB, inactiveFile: 20 * MiB, limit: 128 * MiB });
    expect(g.trace[0]).toMatchObject({ anon: 7680, cache: 7168, workingSet: 10_240 });
    expect(g.sizePages).toBe(32_768);
  });
  it("a scan report: the first container holds the originals of the others' duplicates", () => {
    const report: ScanReport = {
      scannedAt: "2026-11-22T00:00:00Z", sharablePages: 0, elapsedMs: 1, bytesAnalysed: 1,
      containers: [profile({ name: "a", duplicateAcross: 0 }), profile({ name: "b", duplicateAcross: 200 }), profile({ name: "c", duplicateAcross: 300, unique: 530 })],
    };
    const gs = guestsFromScanReport(report);
    expect(gs.map((g) => g.trace[0]!.sharableAcross)).toEqual([3000, 2000, 3000]);
    const sc = scenarioFromScanReport(JSON.stringify(report), { hostBytes: 1024 ** 3 });
    expect(sc.guests).toHaveLength(3);
    expect(() => scenarioFromScanReport(JSON.stringify({ containers: [{ ...profile(), sampled: 20_000 }] }), { hostBytes: 1024 ** 3, source: "p.json" }))
      .toThrow(/^p\.json: \$\.containers\[0\]\.sampled: 20000 sampled pages exceed the 10000 present/);
  });
  it("a scan report of `mem scan --stable-for` (mergeable.changed, stableForSeconds) is read back as `mem simulate --profiles`", () => {
    const mergeable = { zero: 10, within: 5, across: 20, sameFilled: 0, changed: 300 };
    const doc = { scannedAt: "2026-12-03T00:00:00Z", stableForSeconds: 22, sharablePages: 34, elapsedMs: 1, bytesAnalysed: 1, containers: [profile({ name: "a", mergeable })] };
    const sc = scenarioFromScanReport(JSON.stringify(doc), { hostBytes: 1024 ** 3 });
    expect(sc.guests).toHaveLength(1);
    expect(() => scenarioFromScanReport(JSON.stringify({ ...doc, containers: [profile({ mergeable: { ...mergeable, changed: -1 } })] }), { hostBytes: 1024 ** 3, source: "p.json" }))
      .toThrow(/^p\.json: \$\.containers\[0\]\.mergeable\.changed/);
  });
});
