// `tsbox mem calibrate` on the real kernel, quick mode: the figures are there,
// positive and of a plausible order, the host is as it was afterwards (KSM's
// settings, swap, no zram device, no cgroup, no temp file, no worker), and it
// behaves while another process uses KSM: a KSM user of the test's own,
// started with KSM already running at the test's settings, keeps them and its
// merged pages. `--show` and a corrupt profile are checked too.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { holdKsmExclusive, holdZramExclusive } from "../bench/reclaim-harness.js";
import type { HostProfile } from "../src/reclaim/host-profile.js";
import { KSM_DIR, ksmAvailable, processKsm } from "../src/reclaim/kernel/ksm.js";
import { hostSwapDevices } from "../src/reclaim/kernel/swap.js";
import { zramUnavailable } from "../src/reclaim/kernel/zram.js";
import { REPO, tsbox, tsboxAsync, until } from "./helpers.js";

const WORKER = join(REPO, "dist", "reclaim", "kernel", "calibrate-worker.js");
const root = mkdtempSync("/var/tmp/tsbox-calibrate-test-");
afterAll(() => rmSync(root, { recursive: true, force: true }));

const KSM_KEYS = ["run", "pages_to_scan", "sleep_millisecs"] as const;
const readKsmSettings = (): string[] => KSM_KEYS.map((k) => readFileSync(join(KSM_DIR, k), "utf8").trim());
const writeKsmSettings = (v: string[]): void => {
  // run last: the rate first, so that ksmd never runs at a rate nobody chose
  writeFileSync(join(KSM_DIR, "pages_to_scan"), v[1]!);
  writeFileSync(join(KSM_DIR, "sleep_millisecs"), v[2]!);
  writeFileSync(join(KSM_DIR, "run"), v[0]!);
};
const zramDevices = (): string[] => readdirSync("/sys/block").filter((d) => d.startsWith("zram")).sort();
const swaps = (): string => readFileSync("/proc/swaps", "utf8");
/** cgroup dirs named calibrate-* under any hierarchy's tsbox parent */
const calibrateCgroups = (): string[] => {
  const out: string[] = [];
  const top = "/sys/fs/cgroup";
  const parents = [join(top, "tsbox"), ...readdirSync(top).map((h) => join(top, h, "tsbox"))];
  for (const p of parents) {
    if (!existsSync(p)) continue;
    for (const d of readdirSync(p)) if (d.startsWith("calibrate-")) out.push(join(p, d));
  }
  return out;
};
/** processes running this worktree's calibration worker */
const workers = (): number[] => readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((pid) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(WORKER);
  } catch {
    return false;
  }
}).map(Number);

/** Another KSM user: a worker process that opted in and holds pairs of identical pages; undefined before Linux 6.4 (no PR_SET_MEMORY_MERGE). */
async function otherKsmUser(): Promise<{ child: ChildProcess; pid: number } | undefined> {
  const child = spawn(process.execPath, ["--", WORKER], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => String((await lines.next()).value);
  await next();
  for (const cmd of [{ op: "merge" }, { op: "alloc", pages: 1024, fill: "pairs" }]) {
    child.stdin!.write(`${JSON.stringify(cmd)}\n`);
    const reply = await next();
    if (!reply.includes("\"ok\":true")) {
      console.log(`no other KSM user: ${reply}`);
      child.kill("SIGKILL");
      return undefined;
    }
  }
  return { child, pid: child.pid! };
}

describe("tsbox mem calibrate (real kernel, quick)", () => {
  let profile: HostProfile;
  let out: { code: number; stdout: string; stderr: string };
  const before = { zram: [] as string[], swaps: "", ksm: [] as string[] };
  let other: { child: ChildProcess; pid: number } | undefined;
  let unlock: (() => void) | undefined;
  let unlockZram: (() => void) | undefined;
  let original: string[] | undefined;

  beforeAll(async () => {
    // zram devices and swap are the host's: another test file adding one meanwhile would read as ours
    unlockZram = await holdZramExclusive();
    if (ksmAvailable()) {
      unlock = await holdKsmExclusive();
      original = readKsmSettings();
      // KSM already in use, at settings of "someone else's": the calibration must put these back, not its defaults
      writeKsmSettings(["1", "777", "33"]);
      other = await otherKsmUser();
    }
    before.zram = zramDevices();
    before.swaps = swaps();
    before.ksm = ksmAvailable() ? readKsmSettings() : [];
    out = tsbox(root, ["mem", "calibrate", "--quick", "--format", "json"]);
    if (out.code === 0) profile = JSON.parse(out.stdout) as HostProfile;
  }, 600_000);

  afterAll(() => {
    other?.child.kill("SIGKILL");
    if (original !== undefined) writeKsmSettings(original);
    unlock?.();
    unlockZram?.();
  });

  it("measures every cost it can, each positive and of a plausible order, with its spread and the load", () => {
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    console.log(`calibrated: ${JSON.stringify({ refault: profile.fileRefault, swap: profile.swap, ksm: profile.ksm })}`);
    const plausible = (f: { median: number; p90: number; samples: number[]; load1: number } | undefined, lo: number, hi: number): void => {
      expect(f).toBeDefined();
      expect(f!.median).toBeGreaterThan(lo);
      expect(f!.median).toBeLessThan(hi);
      expect(f!.p90).toBeGreaterThanOrEqual(f!.median);
      expect(f!.samples.length).toBeGreaterThanOrEqual(2);
      expect(f!.load1).toBeGreaterThanOrEqual(0);
    };
    // a re-read page: more than a cached read (the figure is over one), less than a slow disk seek
    plausible(profile.fileRefault.sequential, 0, 10_000_000);
    plausible(profile.fileRefault.random, 0, 50_000_000);
    expect(profile.fileRefault.method).toBe(profile.cgroup === "v2" ? "memory.reclaim" : "memory.force_empty");
    // the kernel counted the re-reads as refaults (reclaimed pages, read again): 3 repetitions × 2 orders × every page
    if (profile.fileRefault.refaults !== undefined) expect(profile.fileRefault.refaults).toBeGreaterThanOrEqual(0.9 * 6 * profile.fileRefault.pages);
    if (profile.swap.status === "measured") {
      plausible(profile.swap.swapIn, 100, 10_000_000);
      if (profile.swap.compressor !== undefined) {
        expect(profile.swap.swapIn!.clock).toBe("cpu");
        plausible(profile.swap.decompress, 0, profile.swap.swapIn!.p90 + 1);
        // zram compresses in the thread that reclaims: its CPU per page out
        plausible(profile.swap.swapOut, 100, 10_000_000);
        expect(profile.swap.swapOut!.clock).toBe("cpu");
      }
    } else {
      expect(profile.swap.note).toMatch(/no swap .* no zram/);
    }
    if (profile.ksm.status === "measured") {
      expect(profile.ksm.otherUsers).toBe(true);
      plausible(profile.ksm.perPageScanned, 10, 1_000_000);
      plausible(profile.ksm.perPageMerged, -1, 1_000_000);
    }
    expect(profile.loadBefore).toHaveLength(3);
    expect(profile.cpus).toBeGreaterThan(0);
  });

  it("leaves the host as it was: KSM's settings and other users' merged pages, swap, zram, cgroups, temp files, workers", () => {
    if (ksmAvailable()) {
      expect(readKsmSettings()).toEqual(before.ksm);
      // never run=2, which unmerges everyone (ksmd ran long enough to merge the other user only where it was measured)
      if (other !== undefined && profile.ksm.status === "measured") expect(processKsm(other.pid)?.ksm_merging_pages ?? 0).toBeGreaterThan(0);
    }
    expect(zramDevices()).toEqual(before.zram);
    expect(swaps()).toBe(before.swaps);
    expect(calibrateCgroups()).toEqual([]);
    expect(readdirSync(join(root, "mem"))).toEqual(["host-profile.json"]);
    const left = workers().filter((pid) => pid !== other?.pid);
    expect(left).toEqual([]);
  });

  it("--show prints the stored profile; a corrupt one is a one-line error", () => {
    const show = tsbox(root, ["mem", "calibrate", "--show"]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^host profile ${join(root, "mem", "host-profile.json")}: measured \\S+ \\(quick\\), kernel \\S+, cgroup v[12], \\d+ CPUs, load average`));
    expect(show.stdout).toMatch(/^COST PER PAGE\s+MEDIAN\s+P90\s+CLOCK\s+REPS\s+LOAD$/m);
    expect(show.stdout).toMatch(/^file refault, in order \(memory\.(reclaim|force_empty)\)\s+\S+s\s+\S+s\s+wall\s+3\s+[\d.]+$/m);
    expect(JSON.parse(tsbox(root, ["mem", "calibrate", "--show", "--format", "json"]).stdout)).toEqual(profile);
    const bad = join(root, "corrupt.json");
    writeFileSync(bad, "{\"version\": 1, \"kernel\": ");
    const r = tsbox(root, ["mem", "calibrate", "--show", "--profile", bad]);
    expect(r.code).toBe(125);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(new RegExp(`^tsbox: host profile ${bad} is invalid: \\$: expected JSON \\(.*\\) \\(run \`tsbox mem calibrate\` again\\)\\n$`));
    const none = tsbox(root, ["mem", "calibrate", "--show", "--profile", join(root, "none.json")]);
    expect(none.code).toBe(125);
    expect(none.stderr).toBe(`tsbox: no host profile at ${join(root, "none.json")}: run \`tsbox mem calibrate\` first\n`);
    const flag = tsbox(root, ["mem", "calibrate", "--pages-to-scan", "0"]);
    expect(flag.code).toBe(125);
    expect(flag.stderr).toBe("tsbox: invalid argument \"0\" for \"--pages-to-scan\" flag: a whole number of at least 1 is required\n");
  });

  it("mem simulate then charges the calibrated costs", () => {
    const scenario = join(root, "s.json");
    writeFileSync(scenario, JSON.stringify({ hostMemory: "1GiB", steps: 3, guests: [{ name: "g", size: "256MiB", workload: { generator: "idle-cache" } }] }));
    const r = tsbox(root, ["mem", "simulate", "--scenario", scenario, "--no-density", "--format", "json"]);
    expect(r.code).toBe(0);
    const c = (JSON.parse(r.stdout) as { costs: { fileRefault: { ns: number; source: string } } }).costs;
    expect(c.fileRefault).toEqual({ ns: profile.fileRefault.sequential.median, source: "calibrated" });
  });
});

describe("tsbox mem calibrate --no-ksm", () => {
  it("measures refaults and swap, leaves ksmd and its settings alone, and says so", async () => {
    const r3 = mkdtempSync("/var/tmp/tsbox-calibrate-noksm-");
    // no KSM user of the benches or tests changes the settings meanwhile, so any change would be the calibration's
    const unlock = ksmAvailable() ? await holdKsmExclusive() : undefined;
    const unlockZram = await holdZramExclusive();
    try {
      const before = { ksm: ksmAvailable() ? readKsmSettings() : [], zram: zramDevices(), swaps: swaps() };
      const out = tsbox(r3, ["mem", "calibrate", "--quick", "--no-ksm", "--format", "json"]);
      expect(out.stderr).toBe("");
      expect(out.code).toBe(0);
      const p = JSON.parse(out.stdout) as HostProfile;
      expect(p.ksm).toEqual({ status: "absent", note: "not measured (--no-ksm): ksmd's settings were left alone" });
      expect(p.fileRefault.sequential.median).toBeGreaterThan(0);
      expect(ksmAvailable() ? readKsmSettings() : []).toEqual(before.ksm);
      expect(zramDevices()).toEqual(before.zram);
      expect(swaps()).toBe(before.swaps);
      expect(calibrateCgroups()).toEqual([]);
    } finally {
      unlockZram();
      unlock?.();
      rmSync(r3, { recursive: true, force: true });
    }
  }, 300_000);
});

describe("tsbox mem calibrate interrupted", () => {
  it("SIGINT while its zram swap is on: exit 130, and the swap, zram device, cgroup, temp file and workers are gone", async () => {
    const r2 = mkdtempSync("/var/tmp/tsbox-calibrate-int-");
    const unlockZram = await holdZramExclusive();
    try {
      const before = { zram: zramDevices(), swaps: swaps() };
      const p = tsboxAsync(r2, ["mem", "calibrate", "--quick"]);
      let stderr = "";
      p.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
      const exited = new Promise<number | null>((done) => p.on("exit", (code) => done(code)));
      // the swap part has begun and, on a host without swap, its zram device is swap: interrupt it there
      const makesZram = hostSwapDevices().length === 0 && zramUnavailable() === undefined;
      await until(() => (stderr.includes("calibrating: swap-in") && (!makesZram || swaps() !== before.swaps) ? true : undefined), "the swap part", 60_000);
      p.kill("SIGINT");
      expect(await exited).toBe(130);
      expect(zramDevices()).toEqual(before.zram);
      expect(swaps()).toBe(before.swaps);
      expect(calibrateCgroups()).toEqual([]);
      expect(existsSync(join(r2, "mem")) ? readdirSync(join(r2, "mem")) : []).toEqual([]);
      expect(workers()).toEqual([]);
    } finally {
      unlockZram();
      rmSync(r2, { recursive: true, force: true });
    }
  }, 300_000);
});
