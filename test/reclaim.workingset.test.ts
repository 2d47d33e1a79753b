// The working set over a window (`mem workingset`, kernel/workingset.ts)
// against a container whose working set is known: one pagemix process reading
// every one of its 8192 pages five times a second (32 MiB in use) beside one
// that filled 16384 pages and never touches them again (64 MiB idle). The
// one-snapshot figure, usage − inactive file, counts both.
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { referencedBytes, touchBands } from "../src/reclaim/kernel/workingset.js";
import { guestFromProfile } from "../src/reclaim/model/from-profile.js";
import type { MemoryProfile } from "../src/reclaim/profile.js";
import { buildPagemix, startContainer, type Running } from "../bench/reclaim-harness.js";
import { removeRoot, rootWithBusybox, tsbox } from "./helpers.js";

const MiB = 1024 * 1024;

describe("smaps Referenced", () => {
  it("adds anonymous and file-backed mappings apart (a mapping with an inode is a file's)", () => {
    const smaps = [
      "00400000-00452000 r-xp 00000000 08:01 1234   /bin/busybox",
      "Referenced:          200 kB",
      "01000000-02000000 rw-p 00000000 00:00 0      [heap]",
      "Referenced:         1024 kB",
      "7f0000000000-7f0000100000 rw-p 00000000 00:00 0 ",
      "Referenced:            8 kB",
      "",
    ].join("\n");
    expect(referencedBytes(smaps)).toEqual({ anon: 1032 * 1024, file: 200 * 1024 });
  });
});

describe("how often pages are touched, from the ladder of readings", () => {
  const P = 4096;
  it("places a page by the first reading that finds it touched: rate 1/w1 for the first, 1/√(w_{j−1}·w_j) after", () => {
    const ladder = [
      { seconds: 0.05, referencedAnon: 100 * P },
      { seconds: 0.2, referencedAnon: 300 * P },
      { seconds: 1, referencedAnon: 300 * P }, // nothing new: no band
      { seconds: 10, referencedAnon: 1300 * P },
    ];
    const b = touchBands(ladder);
    expect(b.map((x) => x.pages)).toEqual([100, 200, 1000]);
    expect(b[0]!.perSecond).toBeCloseTo(20, 12);
    expect(b[1]!.perSecond).toBeCloseTo(10, 12); // 1/√(0.05 · 0.2)
    expect(b[2]!.perSecond).toBeCloseTo(1 / Math.sqrt(10), 12); // after the 1 s reading
  });
  it("a reading below the one before (memory freed meanwhile) adds nothing, and what comes back is not counted twice", () => {
    const b = touchBands([{ seconds: 0.05, referencedAnon: 100 * P }, { seconds: 0.2, referencedAnon: 50 * P }, { seconds: 1, referencedAnon: 150 * P }]);
    expect(b.map((x) => x.pages)).toEqual([100, 50]);
    expect(touchBands([])).toEqual([]);
  });
});

describe("the model's working set", () => {
  it("is the measured one when given, else usage − inactive file", () => {
    const prof: MemoryProfile = {
      id: "c1", name: "c1", mode: "full", present: 30_000, sampled: 30_000, zero: 0, sameFilled: 0, duplicateWithin: 0, duplicateAcross: 0,
      unique: 30_000, anonFraction: 1, compression: [],
    };
    const stat = { usage: 96 * MiB, anon: 96 * MiB, file: 0, inactiveFile: 0 };
    expect(guestFromProfile(prof, stat).trace[0]!.workingSet).toBe(24_576);
    expect(guestFromProfile(prof, { ...stat, workingSet: 32 * MiB }).trace[0]!.workingSet).toBe(8192);
    // with the touch bands measured alongside, which the swap path charges; bands without pages or rate are left out
    const touches = [{ pages: 1000, perSecond: 20 }, { pages: 0, perSecond: 1 }, { pages: 7192, perSecond: 0.3 }];
    expect(guestFromProfile(prof, { ...stat, workingSet: 32 * MiB, touches }).trace[0]!.touches).toEqual([touches[0], touches[2]]);
    expect(guestFromProfile(prof, stat).trace[0]!.touches).toBeUndefined();
    // file pages touched count only as far as the cgroup holds file pages: 2048 touched (40 MiB − the 8192 anonymous), 1536 held
    const some = { usage: 96 * MiB, anon: 90 * MiB, file: 6 * MiB, inactiveFile: 0, workingSet: 40 * MiB };
    expect(guestFromProfile(prof, { ...some, touches }).trace[0]!.workingSet).toBe(8192 + 1536);
    expect(guestFromProfile(prof, some).trace[0]!.workingSet).toBe(10_240);
  });
});

describe.skipIf(process.getuid?.() !== 0)("mem workingset", () => {
  let root: string;
  let c: Running | undefined;
  beforeAll(async () => {
    root = rootWithBusybox();
    const pm = buildPagemix();
    c = await startContainer(root, `ws-${process.pid}`, ["-v", `${dirname(pm)}:/pm:ro`, "busybox", "sh", "-c",
      "/pm/pagemix 1 16384 0 0 0 0 0 & exec /pm/pagemix 2 8192 0 0 0 0 0 5"], "ops");
  }, 120_000);
  afterAll(async () => {
    await c?.stop();
    removeRoot(root);
  });

  it("finds the 32 MiB in use within 10 %, where usage − inactive file counts the idle 64 MiB too", () => {
    const r = tsbox(root, ["mem", "workingset", c!.name, "--for", "2s", "--format", "json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const w = JSON.parse(r.stdout) as {
      workingSet: number; snapshot: number; short: boolean; referencedAnon: number;
      ladder: { seconds: number; referencedAnon: number }[]; touches: { pages: number; perSecond: number }[];
    };
    process.stdout.write(`working set: ${JSON.stringify(w)}\n`);
    expect(Math.abs(w.workingSet - 32 * MiB)).toBeLessThanOrEqual(0.1 * 32 * MiB);
    // the ladder: readings at 50 ms, 200 ms and 1 s inside the 2 s, then the end; the bands hold the pages touched
    // (the 8192 read, none of the 16,384 idle ones), however the load spread their first touches over the readings
    expect(w.ladder).toHaveLength(4);
    expect(w.ladder.at(-1)!.referencedAnon).toBe(w.referencedAnon);
    const banded = w.touches.reduce((s, b) => s + b.pages, 0);
    expect(Math.abs(banded - 8192)).toBeLessThanOrEqual(0.1 * 8192);
    expect(w.snapshot).toBeGreaterThan(90 * MiB);
    expect(w.short).toBe(false);
    const t = tsbox(root, ["mem", "workingset", c!.name, "--for", "0.5"]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/WORKING SET\s+ANON TOUCHED/);
  });

  it("mem simulate --containers --workingset-for models the measured working set", () => {
    const r = tsbox(root, ["mem", "simulate", "--containers", c!.name, "--host-memory", "1GiB", "--workingset-for", "1s", "--policy", "none", "--no-density", "--format", "json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("bad input: a window that is not a duration, --workingset-for without --containers, a container that is not there (exit 125 or 1, one line)", () => {
    const bad = tsbox(root, ["mem", "workingset", c!.name, "--for", "soon"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe(`tsbox: invalid argument "soon" for "--for" flag: expected a duration such as 10s (at most 1h)\n`);
    const alone = tsbox(root, ["mem", "simulate", "--scenario", "/nonexistent", "--workingset-for", "1s"]);
    expect(alone.code).toBe(125);
    expect(alone.stderr).toBe("tsbox: --workingset-for needs --containers\n");
    const missing = tsbox(root, ["mem", "workingset", "no-such-container", "--for", "1s"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
  });
});
