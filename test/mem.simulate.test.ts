// `tsbox mem simulate` as a user runs it (the built CLI): tables, JSON that is
// byte-identical run to run, the SVG chart, and exit 125 with a one-line
// message naming what was wrong for every bad input.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO, tsbox } from "./helpers.js";

const dir = (() => {
  mkdirSync(join(REPO, ".tmp"), { recursive: true });
  return mkdtempSync(join(REPO, ".tmp", "mem-simulate-"));
})();
const root = join(dir, "root"); // mem simulate touches no state; the flag is there for tsbox()
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EXAMPLE = join(REPO, "examples", "memory-scenario.json");
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
// /proc/swaps as the CLI reads it (TSBOX_HOST_SWAPS): a host without swap, and one with a swap file
const SWAPS_HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
const noSwap = { env: { ...process.env, TSBOX_HOST_SWAPS: file("swaps-none", SWAPS_HEADER) } };
const withSwap = { env: { ...process.env, TSBOX_HOST_SWAPS: file("swaps-one", `${SWAPS_HEADER}/swapfile                               file\t\t1048572\t\t0\t\t-2\n`) } };
const small = JSON.stringify({
  hostMemory: "3GiB", steps: 10,
  guests: [{ name: "web", count: 3, size: "1GiB", workload: { generator: "idle-cache", rampSteps: 3 } }],
});

describe("tsbox mem simulate", () => {
  it("prints a table with every guest, the savings and the density per policy", () => {
    const r = tsbox(root, ["mem", "simulate", "--scenario", EXAMPLE]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^host 12GiB, 9 guests, 60 steps of 60s, policy esx/);
    expect(r.stdout).toMatch(/^GUEST\s+SIZE\s+RESIDENT\s+BALLOONED\s+SHARED\s+COMPRESSED\s+SWAPPED\s+TMEM\s+FAULTS\s+SLOWDOWN\s+LOST THROUGHPUT$/m);
    expect(r.stdout).toMatch(/^lost throughput: worst guest \S+%, mean \S+% \(budget 5.00%\); slowdown: worst \S+%, mean \S+%$/m);
    expect(r.stdout).toMatch(/^db\s+4GiB\s/m);
    expect(r.stdout).toMatch(/^saved per step:\s+sharing \S+/m);
    for (const p of ["none", "sharing", "balloon", "compress", "swap", "tmem", "shares", "esx"]) expect(r.stdout).toMatch(new RegExp(`^${p}\\s+\\d+\\s`, "m"));
  });

  it("JSON output is byte-identical for the same input, and holds the timeline", () => {
    const s = file("small.json", small);
    const a = tsbox(root, ["mem", "simulate", "--scenario", s, "--format", "json", "--policy", "balloon"]);
    const b = tsbox(root, ["mem", "simulate", "--scenario", s, "--format", "json", "--policy", "balloon"]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const j = JSON.parse(a.stdout) as { policy: string; hostPages: number; timeline: unknown[]; guests: { name: string }[]; density: { guestsThatFit: Record<string, number> } };
    expect(j.policy).toBe("balloon");
    expect(j.hostPages).toBe(3 * 262_144);
    expect(j.timeline).toHaveLength(10);
    expect(j.guests.map((g) => g.name)).toEqual(["web-1", "web-2", "web-3"]);
    expect(j.density.guestsThatFit.none).toBe(3); // 3 × 0.85 GiB touched on 3 GiB
  });

  it("--host-memory overrides the file; --profiles reads a ScanReport", () => {
    const j = JSON.parse(tsbox(root, ["mem", "simulate", "--scenario", file("s2.json", small), "--host-memory", "2GiB", "--format", "json", "--no-density"]).stdout) as { hostPages: number };
    expect(j.hostPages).toBe(2 * 262_144);
    const prof = { id: "c1", name: "c1", mode: "full", present: 20_000, sampled: 20_000, zero: 2_000, sameFilled: 100, duplicateWithin: 500, duplicateAcross: 0, unique: 17_400, anonFraction: 0.7, compression: [{ codec: "lz4", ratio: 2.5, le2k: 0.7, le1k: 0.4, incompressible: 0.1, decompressNs: 1800 }] };
    const report = { scannedAt: "2026-11-22T00:00:00Z", containers: [prof, { ...prof, id: "c2", name: "c2", duplicateAcross: 5_000, unique: 12_400 }], sharablePages: 7_500, elapsedMs: 10, bytesAnalysed: 163_840_000 };
    const r = tsbox(root, ["mem", "simulate", "--profiles", file("scan.json", JSON.stringify(report)), "--host-memory", "256MiB", "--no-density"], withSwap);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^c1\s/m);
    expect(r.stdout).toMatch(/^c2\s/m);
  });

  describe("a host without swap", () => {
    // anon-heavy guests, no ballooning: under esx the host compresses and swaps at the hard state
    const tight = JSON.stringify({ hostMemory: "2GiB", steps: 10, tunables: { balloonMaxFraction: 0 },
      guests: [{ name: "db", count: 3, size: "1GiB", workload: { generator: "anon-heavy", rampSteps: 3 } }] });
    interface Out { summary: { savedPages: { swap: number; compression: number } }; density: { guestsThatFit: Record<string, number> }; noSwap?: boolean }
    const run = (args: string[], opts: object) => tsbox(root, ["mem", "simulate", "--scenario", file("tight.json", tight), ...args], opts);

    it("esx (the default) warns on stderr and is modelled without its swap tier; policy swap is left out of the density table", () => {
      const swapping = run(["--format", "json"], withSwap);
      expect(swapping.stderr).toBe("");
      const a = JSON.parse(swapping.stdout) as Out;
      expect(a.summary.savedPages.swap).toBeGreaterThan(0);
      expect(a.density.guestsThatFit).toHaveProperty("swap");
      expect(a.noSwap).toBeUndefined();

      const r = run(["--format", "json"], noSwap);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("tsbox: warning: the host has no swap (swapon --show lists no device): policy esx is modelled without its swap tier\n");
      const b = JSON.parse(r.stdout) as Out;
      expect(b.summary.savedPages.swap).toBe(0);
      expect(b.summary.savedPages.compression).toBeGreaterThan(0); // the other tiers still act
      expect(b.noSwap).toBe(true);
      expect(Object.keys(b.density.guestsThatFit)).toEqual(["none", "sharing", "balloon", "compress", "tmem", "shares", "esx"]);
      expect(run([], noSwap).stdout).toMatch(/^no swap on the host: every policy is modelled without its swap tier/m);
      // shares (balloon, then swap) too; a policy without a swap tier says nothing
      expect(run(["--policy", "shares", "--no-density"], noSwap).stderr).toMatch(/policy shares is modelled without its swap tier/);
      expect(run(["--policy", "balloon", "--no-density"], noSwap).stderr).toBe("");
    });

    it("a policy that only swaps is refused: exit 125, one line", () => {
      const r = run(["--policy", "swap"], noSwap);
      expect(r.code).toBe(125);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe("tsbox: policy \"swap\" only swaps, and the host has no swap (swapon --show lists no device)\n");
    });

    it("a scenario that names its swap device models that host, not this one", () => {
      const own = JSON.stringify({ ...JSON.parse(tight), costs: { swapDevice: "disk" } });
      const r = tsbox(root, ["mem", "simulate", "--scenario", file("own.json", own), "--format", "json", "--no-density"], noSwap);
      expect(r.stderr).toBe("");
      expect((JSON.parse(r.stdout) as Out).summary.savedPages.swap).toBeGreaterThan(0);
      const none = JSON.stringify({ ...JSON.parse(tight), costs: { swapDevice: "none" } });
      expect(tsbox(root, ["mem", "simulate", "--scenario", file("none.json", none), "--policy", "swap"], withSwap).stderr)
        .toBe("tsbox: policy \"swap\" only swaps, and the scenario's swapDevice is \"none\"\n");
    });
  });

  it("--chart writes an SVG with both panels, axes and legends", () => {
    const out = join(dir, "chart.svg");
    const r = tsbox(root, ["mem", "simulate", "--scenario", file("s3.json", small), "--chart", out]);
    expect(r.code).toBe(0);
    const svg = readFileSync(out, "utf8");
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    for (const label of ["Where the guests' memory is", "time (minutes)", "GiB", "saved by sharing", "freed by balloons", "host memory",
      "Lost throughput against density", "number of guests", "lost-throughput budget", "esx ("]) expect(svg).toContain(label);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  });

  describe("fault costs from the host profile (mem calibrate)", () => {
    const fig = (median: number, clock = "wall") => ({ median, p90: median, samples: [median], clock, load1: 1 });
    const hp = {
      version: 1, measuredAt: "2026-12-03T13:00:00.000Z", kernel: "6.18.44", cgroup: "v1", cpus: 2, quick: true, loadBefore: [1, 1, 1], loadAfter: [1, 1, 1],
      fileRefault: { method: "memory.force_empty", pages: 2048, sequential: fig(5_000), random: fig(40_000) },
      swap: { status: "measured", note: "zram", device: "/tmp/zram1", hostSwap: false, compressor: "lzo-rle", pages: 2048,
        swapIn: fig(7_000, "cpu"), swapInSameFilled: fig(2_000, "cpu"), decompress: fig(5_000, "cpu") },
      ksm: { status: "absent", note: "no KSM" },
    };
    const profRoot = join(dir, "profiled-root");
    const profFile = join(profRoot, "mem", "host-profile.json");
    mkdirSync(join(profRoot, "mem"), { recursive: true });
    writeFileSync(profFile, JSON.stringify(hp));
    type Stated = { ns?: number; source: string };
    const costsOf = (out: string) => (JSON.parse(out) as { costs: { fileRefault: Stated; swapIn: Stated; compressedFault: Stated; hostProfile?: string } }).costs;

    it("charges the calibrated costs where the root has a profile, and says so", () => {
      const s = file("nocosts.json", small);
      const j = tsbox(profRoot, ["mem", "simulate", "--scenario", s, "--format", "json", "--no-density"], noSwap);
      expect(j.code).toBe(0);
      expect(costsOf(j.stdout)).toEqual({
        fileRefault: { ns: 5000, source: "calibrated" }, swapIn: { ns: 10_000_000, source: "default" },
        compressedFault: { ns: 7000, source: "calibrated" }, hostProfile: profFile,
      });
      const t = tsbox(profRoot, ["mem", "simulate", "--scenario", s, "--no-density"], noSwap);
      expect(t.stdout).toContain(`fault costs per page: file refault 5.00µs (calibrated), swap-in 10.00ms (default), compressed page 7.00µs (calibrated) [calibrated: host profile ${profFile}]\n`);
      const none = tsbox(profRoot, ["mem", "simulate", "--scenario", s, "--no-density", "--no-host-profile"], noSwap);
      expect(none.stdout).toContain("fault costs per page: file refault 10.00ms (default), swap-in 10.00ms (default), compressed page each codec's decompression (default) [no host profile used: `tsbox mem calibrate` measures this host's]\n");
      const other = tsbox(root, ["mem", "simulate", "--scenario", s, "--format", "json", "--no-density", "--host-profile", profFile], noSwap);
      expect(costsOf(other.stdout).fileRefault).toEqual({ ns: 5000, source: "calibrated" });
    });
    it("a corrupt profile, or a missing one named by --host-profile, is one line and exit 125", () => {
      const broken = join(dir, "broken-root");
      mkdirSync(join(broken, "mem"), { recursive: true });
      writeFileSync(join(broken, "mem", "host-profile.json"), JSON.stringify({ ...hp, fileRefault: { ...hp.fileRefault, random: "slow" } }));
      const r = tsbox(broken, ["mem", "simulate", "--scenario", EXAMPLE, "--no-density"]);
      expect(r.code).toBe(125);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(`tsbox: host profile ${join(broken, "mem", "host-profile.json")} is invalid: $.fileRefault.random: expected an object (run \`tsbox mem calibrate\` again)\n`);
      const m = tsbox(root, ["mem", "simulate", "--scenario", EXAMPLE, "--host-profile", "/nonexistent/hp.json"]);
      expect(m.code).toBe(125);
      expect(m.stderr).toBe("tsbox: --host-profile /nonexistent/hp.json: no such file (make one with `tsbox mem calibrate --profile /nonexistent/hp.json`)\n");
    });
  });

  const bad: [string, string[], RegExp][] = [
    ["malformed scenario", ["--scenario", "BAD:{"], /^tsbox: .*bad\.json: \$: not valid JSON/],
    ["a guest larger than the host", ["--scenario", `BAD:${small}`, "--host-memory", "512MiB"], /guest web-1 \(1048576KiB\) is larger than the host \(524288KiB\)/],
    ["demand beyond the guest", ["--scenario", `BAD:${JSON.stringify({ hostMemory: "1GiB", guests: [{ size: "512MiB", demand: { anon: "400MiB", cache: "200MiB", workingSet: 0 } }] })}`], /\$\.guests\[0\]\.demand: anon \+ cache \(153600 pages\) exceed the guest's size \(131072 pages\)/],
    ["unknown policy", ["--scenario", EXAMPLE, "--policy", "magic"], /^tsbox: unknown policy "magic" \(expected one of: none, sharing, balloon, compress, swap, tmem, shares, esx\)$/],
    ["bad host memory", ["--scenario", EXAMPLE, "--host-memory", "-1G"], /^tsbox: invalid argument "-1G" for "--host-memory" flag/],
    ["bad budget", ["--scenario", EXAMPLE, "--budget", "lots"], /^tsbox: invalid argument "lots" for "--budget" flag/],
    ["no input", [], /^tsbox: give exactly one of --scenario FILE, --profiles FILE or --containers ID$/],
    ["two inputs", ["--scenario", EXAMPLE, "--profiles", EXAMPLE], /^tsbox: give exactly one of/],
    ["missing file", ["--scenario", "/nonexistent/s.json"], /^tsbox: open \/nonexistent\/s\.json: no such file or directory$/],
    ["profiles without host memory", ["--profiles", EXAMPLE], /^tsbox: --host-memory is required with --profiles$/],
    ["bad format", ["--scenario", EXAMPLE, "--format", "xml"], /^tsbox: option '--format <format>' argument 'xml' is invalid/],
  ];
  it.each(bad)("%s: exit 125 and one clear line", (_name, args, re) => {
    const real = args.map((a) => (a.startsWith("BAD:") ? file("bad.json", a.slice(4)) : a));
    const r = tsbox(root, ["mem", "simulate", ...real]);
    expect(r.code).toBe(125);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(re);
  });
});
