// `mem balance` without a kernel: the decision on recorded samples
// (src/reclaim/balance/decide.ts), the signal read from v1 and v2 cgroup
// files (signal.ts, on fixtures in the kernel's formats), and the controller's
// writes and restore on those fixtures (controller.ts). The real-kernel tests
// are in test/mem.balance.test.ts.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CgroupFs } from "../src/cgroupfs/index.js";
import type { MemoryCgroup } from "../src/reclaim/kernel/cgroup-memory.js";
import { decide, DEFAULT_TUNING, emergency, floorOf, softFloorOf, type ContainerInput, type Sample, type Tuning } from "../src/reclaim/balance/decide.js";
import { parsePressureSomeUs, readCounters, sampleBetween, type Counters } from "../src/reclaim/balance/signal.js";
import { attach, balanceRecordFile, defaultBudget, restoreOne, round } from "../src/reclaim/balance/controller.js";
import { parseInterval, parsePressureTarget } from "../src/cli/mem-balance.js";
import type { ContainerState } from "../src/state/container-store.js";

const MIB = 1024 * 1024;
const T: Tuning = { ...DEFAULT_TUNING, budget: 1024 * MIB };
const calm = (usage: number, file: number, extra: Partial<Sample> = {}): Sample =>
  ({ usage, anon: usage - file, file, pressure: 0, hitLimit: false, underOom: false, ...extra });
const input = (id: string, sample: Sample, limit?: number, extra: Partial<ContainerInput> = {}): ContainerInput =>
  ({ id, sample, ...(limit !== undefined ? { limit } : {}), sinceRaise: Infinity, ...extra });

describe("decide", () => {
  it("an idle container with cache: its limit is probed down round by round, never below what it cannot give back plus headroom", () => {
    // Recorded with `mem balance --interval 300ms` on cgroup v1 (this host): a busybox container that read a 64 MiB
    // file once; usage as the kernel reported it after each cut (the cut reclaims its cold cache).
    const usages = [69_160_960, 29_556_736, 29_306_880, 28_258_304, 27_181_056, 26_103_808, 25_026_560, 23_949_312];
    let limit: number | undefined;
    const seen: number[] = [];
    for (const usage of usages) {
      const s = calm(usage, usage - 1_200_000);
      const [d] = decide([input("a", s, limit)], T);
      expect(d!.to).toBeGreaterThanOrEqual(floorOf(s, T));
      if (limit !== undefined) expect(d!.to).toBeLessThanOrEqual(limit);
      seen.push(d!.to);
      limit = d!.to;
    }
    // the first round takes the unused room of an unlimited container; the next ones probe 2 % a round
    expect(seen[0]).toBeLessThan(usages[0]! + 9 * MIB);
    expect(seen.at(-1)!).toBeLessThan(seen[1]!);
    expect(decide([input("a", calm(20 * MIB, 19 * MIB), 9 * MIB)], T)[0]).toMatchObject({ reason: "floor", to: floorOf(calm(20 * MIB, 19 * MIB), T) });
  });

  it("probes slower as pressure nears the target and raises in proportion above it", () => {
    const at = (pressure: number): number => decide([input("a", calm(100 * MIB, 50 * MIB, { pressure }), 100 * MIB)], T)[0]!.to;
    expect(at(0)).toBeLessThan(at(T.pressureTarget / 2));
    expect(at(T.pressureTarget / 2)).toBeLessThan(100 * MIB);
    expect(at(T.pressureTarget * 2)).toBeGreaterThan(100 * MIB);
    expect(at(T.pressureTarget * 4)).toBeGreaterThan(at(T.pressureTarget * 2));
    expect(at(1)).toBe(100 * MIB * (1 + T.backoff)); // at most the largest backoff
  });

  it("an emergency (waiting in the OOM path, or at the limit with no cache) is raised at once, before anything else, and past its usage", () => {
    const tight = { budget: 200 * MIB };
    const ds = decide([
      input("pressured", calm(80 * MIB, 40 * MIB, { pressure: 0.05 }), 80 * MIB),
      input("oom", calm(60 * MIB, 0, { underOom: true }), 60 * MIB),
    ], { ...T, ...tight });
    expect(ds[1]).toMatchObject({ id: "oom", reason: "emergency" });
    expect(ds[1]!.to).toBeGreaterThanOrEqual(60 * MIB + 16 * MIB);
    expect(ds[0]!.to + ds[1]!.to).toBeLessThanOrEqual(200 * MIB);
    // a working set that was larger lately is given its recent peak back in one round, not by doublings
    const back = decide([input("a", calm(24 * MIB, 0, { underOom: true }), 24 * MIB, { peak: 64 * MIB })], T)[0]!;
    expect(back.to).toBe(64 * MIB + 8 * MIB);
    // at the limit (failcnt grew) with cache to reclaim is no emergency: the kernel takes the cache
    expect(decide([input("a", calm(60 * MIB, 30 * MIB, { hitLimit: true }), 60 * MIB)], T)[0]!.reason).toBe("probe");
    expect(decide([input("a", calm(60 * MIB, 1 * MIB, { hitLimit: true }), 60 * MIB)], T)[0]!.reason).toBe("emergency");
  });

  it("within the budget, containers without pressure give their slack to those under it", () => {
    const ds = decide([
      input("idle", calm(40 * MIB, 30 * MIB), 60 * MIB, { sinceRaise: 0 }), // held after a raise: keeps its limit unless needed
      input("busy", calm(60 * MIB, 0, { underOom: true }), 60 * MIB),
    ], { ...T, budget: 140 * MIB });
    expect(ds[0]).toMatchObject({ id: "idle", reason: "budget" });
    expect(ds[0]!.to).toBeGreaterThanOrEqual(ds[0]!.floor);
    expect(ds[1]!.to).toBeGreaterThan(60 * MIB);
    expect(ds[0]!.to + ds[1]!.to).toBeLessThanOrEqual(140 * MIB);
  });

  it("when the budget cannot cover a raise, the container gets what is free and the shortfall is reported", () => {
    const [d] = decide([input("a", calm(60 * MIB, 0, { underOom: true }), 60 * MIB)], { ...T, budget: 70 * MIB });
    expect(d).toMatchObject({ to: 70 * MIB, reason: "emergency" });
    expect(d!.short).toBeGreaterThan(0);
  });

  it("over the budget, the calm give up slack down to their floors; never below", () => {
    const ds = decide([input("a", calm(50 * MIB, 40 * MIB), 100 * MIB), input("b", calm(50 * MIB, 40 * MIB), 100 * MIB)], { ...T, budget: 20 * MIB });
    for (const d of ds) expect(d.to).toBe(d.floor);
  });

  it("a ceiling (the container's own limit from before) is never passed; a raise is held for a few rounds", () => {
    expect(decide([input("a", calm(60 * MIB, 0, { underOom: true }), 60 * MIB, { ceiling: 64 * MIB })], T)[0]!.to).toBe(64 * MIB);
    const held = decide([input("a", calm(40 * MIB, 30 * MIB), 80 * MIB, { sinceRaise: 1 })], T)[0]!;
    expect(held).toMatchObject({ reason: "hold", to: 80 * MIB });
  });

  it("with swap, anonymous memory counts as reclaimable for the floor", () => {
    const s = calm(100 * MIB, 10 * MIB);
    expect(floorOf(s, { ...T, swap: true })).toBeLessThan(floorOf(s, T));
  });
});

describe("decide on a recorded trace", () => {
  // test/fixtures/balance-trace.json: readCounters() every 250 ms for 12 s of two containers under
  // `mem balance --interval 250ms --budget 96m` on cgroup v1 (this host, no swap): "phases", a pagemix
  // whose 32 MiB working set drops to 25 % and grows back every 2 s, and "reread", a busybox shell
  // re-reading a 24 MiB file every 0.1 s (its cache all active). `limit` is what the balancer had in place.
  type Row = Counters & { name: string };
  const rows = JSON.parse(readFileSync(new URL("./fixtures/balance-trace.json", import.meta.url), "utf8")) as Row[];
  const names = ["phases", "reread"];
  const rounds: Row[][] = [];
  for (let i = 0; i + 1 < rows.length; i += 2) rounds.push(names.map((n) => rows.slice(i, i + 2).find((r) => r.name === n)!));
  const budget = 96 * MIB;
  const replay = rounds.slice(1).map((now, i) => {
    const prev = rounds[i]!;
    const inputs = now.map((c, j) => input(c.name, sampleBetween(prev[j]!, c, 50_000), c.limit));
    return { inputs, ds: decide(inputs, { ...T, budget }) };
  });

  it("never decides a limit below a container's floor, and keeps the sum within the budget", () => {
    for (const { inputs, ds } of replay) {
      ds.forEach((d, j) => expect(d.to).toBeGreaterThanOrEqual(floorOf(inputs[j]!.sample, T)));
      expect(ds.reduce((a, d) => a + d.to, 0)).toBeLessThanOrEqual(budget);
    }
  });

  it("a working set that grows into its limit with no cache is an emergency, raised past its usage; a limit hit before a raise is not", () => {
    const hits = replay.filter(({ inputs }) => emergency(inputs[0]!, T));
    expect(hits.length).toBeGreaterThan(0);
    for (const { inputs, ds } of hits) {
      expect(ds[0]!.reason).toBe("emergency");
      expect(ds[0]!.to).toBeGreaterThan(inputs[0]!.sample.usage);
    }
    // failcnt grew while the limit was lower (seen before this rule: 32 → 63 → 87 MiB for a 32 MiB working set);
    // the limit in place now is far above the usage
    expect(emergency(input("a", calm(32 * MIB, 0, { hitLimit: true }), 63 * MIB), T)).toBe(false);
  });

  it("refaults of the re-read file are pressure: its limit goes back up; its hot cache is not given to another's pressure", () => {
    const pressured = replay.filter(({ inputs }) => inputs[1]!.sample.pressure > T.pressureTarget);
    expect(pressured.length).toBeGreaterThan(0);
    for (const { inputs, ds } of pressured) expect(ds[1]!.to).toBeGreaterThan(inputs[1]!.limit!);
    // the re-read cache is all active: its soft floor is its usage plus headroom
    const s = replay[0]!.inputs[1]!.sample;
    expect(softFloorOf(s, T)).toBeGreaterThan(s.usage);
    expect(floorOf(s, T)).toBeLessThan(s.usage);
  });
});

/** A cgroup directory as files in memory: writes replace the content, as on cgroupfs. */
function fixtureFs(files: Record<string, string>): CgroupFs & { files: Map<string, string> } {
  const m = new Map(Object.entries(files));
  const enoent = (f: string): Error => Object.assign(new Error(`ENOENT: ${f}`), { code: "ENOENT" });
  return {
    files: m,
    readFile: (f) => { const v = m.get(f); if (v === undefined) throw enoent(f); return v; },
    writeFile: (f, v) => { if (!m.has(f)) throw enoent(f); m.set(f, v.endsWith("\n") ? v : v + "\n"); },
    exists: (f) => m.has(f),
    mkdir: () => {}, rmdir: () => {}, listDirs: () => [],
  };
}

const V1_DIR = "/cg/memory/tsbox/abc";
const v1Files = (o: { usage: number; limit?: number; failcnt?: number; refault?: number; underOom?: 0 | 1; oomKill?: number }): Record<string, string> => ({
  [`${V1_DIR}/memory.usage_in_bytes`]: `${o.usage}\n`,
  [`${V1_DIR}/memory.limit_in_bytes`]: `${o.limit ?? 9223372036854771712}\n`,
  [`${V1_DIR}/memory.failcnt`]: `${o.failcnt ?? 0}\n`,
  [`${V1_DIR}/memory.oom_control`]: `oom_kill_disable 0\nunder_oom ${o.underOom ?? 0}\noom_kill ${o.oomKill ?? 0}\n`,
  [`${V1_DIR}/memory.stat`]: `cache 41943040\nrss 20971520\nmapped_file 0\npgmajfault 3\ninactive_file 31457280\nactive_file 10485760\n` +
    `total_cache 41943040\ntotal_rss 20971520\ntotal_pgmajfault 3\ntotal_inactive_file 31457280\ntotal_active_file 10485760\n` +
    `total_workingset_refault_file ${o.refault ?? 0}\n`,
});
const V2_DIR = "/cg/tsbox/abc";
const v2Files = (o: { current: number; high?: string; max?: string; some?: number; highEvents?: number }): Record<string, string> => ({
  [`${V2_DIR}/memory.current`]: `${o.current}\n`,
  [`${V2_DIR}/memory.high`]: `${o.high ?? "max"}\n`,
  [`${V2_DIR}/memory.max`]: `${o.max ?? "max"}\n`,
  [`${V2_DIR}/memory.events`]: `low 0\nhigh ${o.highEvents ?? 0}\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n`,
  [`${V2_DIR}/memory.pressure`]: `some avg10=0.00 avg60=0.00 avg300=0.00 total=${o.some ?? 0}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`,
  [`${V2_DIR}/memory.stat`]: "anon 20971520\nfile 41943040\nkernel 1048576\nactive_anon 20971520\ninactive_anon 0\nactive_file 10485760\n" +
    "inactive_file 31457280\nworkingset_refault_anon 0\nworkingset_refault_file 7\npgmajfault 2\n",
});
const cgOn = (version: "v1" | "v2", fs: CgroupFs): MemoryCgroup => ({ version, dir: version === "v1" ? V1_DIR : V2_DIR, fs, pids: () => [] });

describe("signal", () => {
  it("v1: usage, the limit, cache, failcnt and the OOM state from the v1 files; unlimited as undefined", () => {
    const c = readCounters(cgOn("v1", fixtureFs(v1Files({ usage: 64 * MIB, failcnt: 5, underOom: 1, oomKill: 2 }))));
    expect(c).toMatchObject({ usage: 64 * MIB, anon: 20 * MIB, file: 40 * MIB, limitHits: 5, underOom: true, oomKills: 2, oomKillDisable: false });
    expect(c.limit).toBeUndefined();
    expect(readCounters(cgOn("v1", fixtureFs(v1Files({ usage: 1, limit: 50 * MIB })))).limit).toBe(50 * MIB);
  });

  it("v2: memory.high is the limit, memory.max the ceiling, memory.events high+max the hits, PSI some total the stall", () => {
    const c = readCounters(cgOn("v2", fixtureFs(v2Files({ current: 64 * MIB, high: String(80 * MIB), max: String(128 * MIB), some: 1234, highEvents: 9 }))));
    expect(c).toMatchObject({ usage: 64 * MIB, limit: 80 * MIB, max: 128 * MIB, anon: 20 * MIB, file: 40 * MIB, limitHits: 9, pressureSomeUs: 1234, refaults: 7, underOom: false });
    expect(parsePressureSomeUs("some avg10=1.00 avg60=0.50 avg300=0.10 total=99\nfull avg10=0 avg60=0 avg300=0 total=1\n")).toBe(99);
  });

  it("pressure: v2 stalled µs over the interval; v1 refaults and major faults times their cost", () => {
    const base: Counters = { at: 0, usage: 1, anon: 0, file: 0, inactiveFile: 0, refaults: 0, pgmajfault: 0, limitHits: 0, underOom: false, oomKills: 0 };
    expect(sampleBetween({ ...base, pressureSomeUs: 1000 }, { ...base, at: 1000, pressureSomeUs: 11_000 }, 0).pressure).toBeCloseTo(0.01);
    // 100 refaults + 100 major faults at 50 µs in 1 s: 1 % of the time
    expect(sampleBetween(base, { ...base, at: 1000, refaults: 100, pgmajfault: 100 }, 50_000).pressure).toBeCloseTo(0.01);
    expect(sampleBetween(base, { ...base, at: 1000, limitHits: 1 }, 0).hitLimit).toBe(true);
  });
});

describe("controller on fixtures", () => {
  let root: string;
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const state = (id: string): ContainerState => ({ id, name: "web" }) as ContainerState;
  const setup = (): void => {
    root = mkdtempSync(join(tmpdir(), "tsbox-balance-"));
    mkdirSync(join(root, "containers", "abc"), { recursive: true });
  };

  it("v1: holds the OOM killer off while balanced, writes memory.limit_in_bytes, restores the limit and the OOM killer", () => {
    setup();
    const fs = fixtureFs(v1Files({ usage: 64 * MIB }));
    const m = attach(root, state("abc"), () => cgOn("v1", fs));
    expect(fs.files.get(`${V1_DIR}/memory.oom_control`)).toBe("1\n");
    fs.files.set(`${V1_DIR}/memory.oom_control`, "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n");
    const [r] = round(root, [m], { ...T }, 50_000);
    expect(r).toMatchObject({ write: "ok" });
    expect(Number(fs.files.get(`${V1_DIR}/memory.limit_in_bytes`))).toBe(r!.to);
    expect(r!.to).toBeLessThan(64 * MIB + 9 * MIB);
    expect(restoreOne(root, m)).toEqual({ id: "abc", name: "web" });
    expect(fs.files.get(`${V1_DIR}/memory.limit_in_bytes`)).toBe("-1\n");
    expect(fs.files.get(`${V1_DIR}/memory.oom_control`)).toBe("0\n");
    expect(existsSync(balanceRecordFile(root, "abc"))).toBe(false);
  });

  it("v2: writes memory.high (never memory.max), keeps under memory.max, restores what memory.high was", () => {
    setup();
    const fs = fixtureFs(v2Files({ current: 64 * MIB, high: String(200 * MIB), max: String(70 * MIB) }));
    const m = attach(root, state("abc"), () => cgOn("v2", fs));
    fs.files.set(`${V2_DIR}/memory.events`, "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"); // nothing new
    fs.files.set(`${V2_DIR}/memory.stat`, "anon 67108864\nfile 0\nactive_file 0\ninactive_file 0\n"); // all anon: at its limit with no cache …
    fs.files.set(`${V2_DIR}/memory.events`, "low 0\nhigh 3\nmax 0\noom 0\noom_kill 0\n"); // … and throttled: an emergency
    const [r] = round(root, [m], { ...T }, 50_000);
    expect(r).toMatchObject({ reason: "ceiling", to: 70 * MIB });
    expect(fs.files.get(`${V2_DIR}/memory.high`)).toBe(`${70 * MIB}\n`);
    expect(fs.files.get(`${V2_DIR}/memory.max`)).toBe(`${70 * MIB}\n`);
    expect(restoreOne(root, m)).toEqual({ id: "abc", name: "web", limit: 200 * MIB });
    expect(fs.files.get(`${V2_DIR}/memory.high`)).toBe(`${200 * MIB}\n`);
  });

  it("a record left by a balancer that was killed is the limit restored, not the lowered one in place", () => {
    setup();
    const fs = fixtureFs(v2Files({ current: 10 * MIB, high: String(300 * MIB) }));
    attach(root, state("abc"), () => cgOn("v2", fs));
    fs.files.set(`${V2_DIR}/memory.high`, `${20 * MIB}\n`); // lowered, then the balancer died
    const again = attach(root, state("abc"), () => cgOn("v2", fs));
    restoreOne(root, again);
    expect(fs.files.get(`${V2_DIR}/memory.high`)).toBe(`${300 * MIB}\n`);
  });

  it("a limit set outside the balancer (update --memory) is kept: the ceiling from then on, and what restore gives back", () => {
    setup();
    const fs = fixtureFs(v1Files({ usage: 64 * MIB }));
    const m = attach(root, state("abc"), () => cgOn("v1", fs));
    fs.files.set(`${V1_DIR}/memory.oom_control`, "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n");
    round(root, [m], { ...T }, 50_000);
    const ours = Number(fs.files.get(`${V1_DIR}/memory.limit_in_bytes`));
    // the user lowers it below what the balancer gave
    fs.files.set(`${V1_DIR}/memory.limit_in_bytes`, `${40 * MIB}\n`);
    fs.files.set(`${V1_DIR}/memory.usage_in_bytes`, `${30 * MIB}\n`);
    fs.files.set(`${V1_DIR}/memory.failcnt`, "9\n"); // … and it hits it: a raise would follow
    fs.files.set(`${V1_DIR}/memory.stat`, "cache 0\nrss 31457280\ntotal_cache 0\ntotal_rss 31457280\ntotal_inactive_file 0\ntotal_active_file 0\n");
    for (let i = 0; i < 4; i++) {
      const [r] = round(root, [m], { ...T }, 50_000);
      expect(r!.to).toBeLessThanOrEqual(40 * MIB);
      expect(Number(fs.files.get(`${V1_DIR}/memory.limit_in_bytes`))).toBeLessThanOrEqual(40 * MIB);
    }
    expect(ours).not.toBe(40 * MIB);
    restoreOne(root, m);
    expect(fs.files.get(`${V1_DIR}/memory.limit_in_bytes`)).toBe(`${40 * MIB}\n`);
  });

  it("v2: memory.max changed outside the balancer is the new ceiling", () => {
    setup();
    const fs = fixtureFs(v2Files({ current: 64 * MIB, max: String(200 * MIB) }));
    const m = attach(root, state("abc"), () => cgOn("v2", fs));
    fs.files.set(`${V2_DIR}/memory.max`, `${70 * MIB}\n`);
    fs.files.set(`${V2_DIR}/memory.stat`, "anon 67108864\nfile 0\nactive_file 0\ninactive_file 0\n");
    fs.files.set(`${V2_DIR}/memory.events`, "low 0\nhigh 3\nmax 0\noom 0\noom_kill 0\n"); // an emergency: raised, to the new ceiling only
    const [r] = round(root, [m], { ...T }, 50_000);
    expect(r!.to).toBe(70 * MIB);
  });

  it("a container whose cgroup went is dropped, and its record with it", () => {
    setup();
    const fs = fixtureFs(v2Files({ current: 10 * MIB }));
    const managed = [attach(root, state("abc"), () => cgOn("v2", fs))];
    fs.files.clear();
    expect(round(root, managed, T, 0)).toEqual([]);
    expect(managed).toEqual([]);
  });
});

describe("flags and defaults", () => {
  it("--pressure-target is a percentage; --interval a duration (or ms) of at least 100ms; the default budget keeps a reserve", () => {
    expect(parsePressureTarget("0.1%")).toBeCloseTo(0.001);
    expect(parsePressureTarget("2")).toBeCloseTo(0.02);
    expect(() => parsePressureTarget("0")).toThrow(/--pressure-target/);
    expect(() => parsePressureTarget("lots")).toThrow(/--pressure-target/);
    expect(parseInterval("1s")).toBe(1000);
    expect(parseInterval("250")).toBe(250);
    expect(() => parseInterval("10ms")).toThrow(/--interval/);
    expect(defaultBudget([100 * MIB], 1024 * MIB, 2048 * MIB)).toBe(100 * MIB + 1024 * MIB - 128 * MIB);
  });
});
