// Acceptance (issue 6, measurement): `tsbox mem scan` on two real containers
// holding a known page mix recovers it; `tsbox mem stat` reads their
// accounting; bad input and vanishing processes.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScanReport } from "../src/reclaim/profile.js";
import { presentPages } from "../src/reclaim/measure/procfs.js";
import { scanPages, SizeWant } from "../src/native/scan.js";
import { cgroupDirsOf, containerIds, REPO, removeRoot, rootWithBusybox, stateOf, tsbox, tsboxAsync, until } from "./helpers.js";

let root: string;
let bin: string;
const clis: ChildProcess[] = [];

// The mix, as percentages of memmix's pages (the rest is unique random data).
const MIB = 48, DUP = 20, ZERO = 10, SAME = 5, TEXT = 20;
const PAGES = (MIB * 1024 * 1024) / 4096;

async function startMemmix(name: string, privateSeed: number): Promise<void> {
  const cli = tsboxAsync(root, ["run", "--rm", "--name", name, "-v", `${bin}:/mm:ro`, "busybox", "/mm/memmix",
    String(MIB), String(DUP), String(ZERO), String(SAME), String(TEXT), "7", String(privateSeed)]);
  clis.push(cli);
  let out = "";
  cli.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
  cli.stderr!.on("data", (d: Buffer) => { out += d.toString(); });
  await until(() => out.includes("ready"), `${name} ready (${out})`, 60_000);
}

beforeAll(async () => {
  root = rootWithBusybox();
  bin = mkdtempSync(join(REPO, ".tmp", "memmix-"));
  const cc = spawnSync("cc", ["-static", "-O2", "-o", join(bin, "memmix"), join(REPO, "test", "fixtures", "memmix.c")], { encoding: "utf8" });
  if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`);
  await startMemmix("mixa", 1);
  await startMemmix("mixb", 2);
}, 120_000);

afterAll(async () => {
  const ids = containerIds(root);
  for (const cli of clis) {
    const exited = new Promise((r) => { if (cli.exitCode !== null) r(null); else cli.on("exit", r); });
    cli.kill("SIGTERM");
    await exited;
  }
  for (const id of ids) expect(cgroupDirsOf(id)).toEqual([]);
  removeRoot(root);
  rmSync(bin, { recursive: true, force: true });
}, 60_000);

const scan = (args: string[]): ScanReport => {
  const r = tsbox(root, ["mem", "scan", "--format", "json", ...args], { timeout: 120_000 });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as ScanReport;
};

// What memmix wrote, as fractions of the container's present pages (its own
// binary, stack and libc data add a few dozen pages: the 2-point band covers them).
const dupPages = Math.floor((PAGES * DUP) / 100 / 4) * 4;
const textPages = Math.floor((PAGES * TEXT) / 100 / 2) * 2;
const zeroPages = Math.floor((PAGES * ZERO) / 100), samePages = Math.floor((PAGES * SAME) / 100);
const dataPages = PAGES - zeroPages - samePages;
const expected = {
  zero: zeroPages / PAGES,
  sameFilled: samePages / PAGES,
  // mixa: each pool page written 4 times, the first copy kept; mixb: every copy was first seen in mixa
  withinA: (dupPages * 3) / 4 / PAGES,
  acrossB: dupPages / PAGES,
  unique: (PAGES - dupPages - zeroPages - samePages) / PAGES,
  // LZ4: half the text pages ≤ 1 KiB, the other half > 2 KiB, random pages do not compress
  le2k: textPages / 2 / dataPages,
  incompressible: (dataPages - textPages) / dataPages,
};

/** countBand: allowed error of the page-count fractions; sizeBand: of the compressed-size fractions. */
function expectMix(report: ScanReport, countBand: number, sizeBand: number): void {
  const [a, b] = report.containers;
  expect(a!.name).toBe("mixa");
  expect(b!.name).toBe("mixb");
  for (const p of [a!, b!]) {
    const f = (x: number): number => x / p.sampled;
    expect(p.present).toBeGreaterThanOrEqual(PAGES);
    expect(Math.abs(f(p.zero) - expected.zero)).toBeLessThanOrEqual(countBand);
    expect(Math.abs(f(p.sameFilled) - expected.sameFilled)).toBeLessThanOrEqual(countBand);
    expect(Math.abs(f(p.unique) - expected.unique)).toBeLessThanOrEqual(countBand);
    const lz4 = p.compression.find((c) => c.codec === "lz4")!;
    expect(Math.abs(lz4.le2k - expected.le2k)).toBeLessThanOrEqual(sizeBand);
    expect(Math.abs(lz4.le1k - expected.le2k)).toBeLessThanOrEqual(sizeBand);
    expect(Math.abs(lz4.incompressible - expected.incompressible)).toBeLessThanOrEqual(sizeBand);
    expect(lz4.decompressNs).toBeGreaterThan(0);
    expect(p.compression.find((c) => c.codec === "zstd")!.decompressNs).toBeGreaterThan(0);
    expect(p.anonFraction).toBeGreaterThan(0.95);
  }
  expect(Math.abs(a!.duplicateWithin / a!.sampled - expected.withinA)).toBeLessThanOrEqual(countBand);
  expect(Math.abs(b!.duplicateWithin / b!.sampled)).toBeLessThanOrEqual(countBand);
  expect(Math.abs(a!.duplicateAcross / a!.sampled)).toBeLessThanOrEqual(countBand);
  expect(Math.abs(b!.duplicateAcross / b!.sampled - expected.acrossB)).toBeLessThanOrEqual(countBand);
}

describe("mem scan", () => {
  it("full mode recovers the mix within 2 percentage points", () => {
    const r = scan(["--full", "mixa", "mixb"]);
    // the full scan's compressed sizes come from a 1-in-8 content sample, with the CI it reports
    const sizeCi = Math.max(...r.containers.map((p) => p.ci95!));
    expect(sizeCi).toBeGreaterThan(0);
    expectMix(r, 0.02, Math.max(0.02, sizeCi));
    expect(r.containers[0]!.mode).toBe("full");
    expect(r.containers[0]!.sampled).toBe(r.containers[0]!.present);
    expect(r.bytesAnalysed).toBe((r.containers[0]!.present + r.containers[1]!.present) * 4096);
    // what KSM would free: the duplicates (memmix's pages are all anonymous), plus the zero and same-filled pages
    const dups = r.containers[0]!.duplicateWithin + r.containers[0]!.duplicateAcross + r.containers[1]!.duplicateWithin + r.containers[1]!.duplicateAcross;
    expect(Math.abs(r.sharable!.duplicate - dups)).toBeLessThanOrEqual(16);
    expect(r.sharablePages).toBe(r.sharable!.duplicate + r.sharable!.sameFilled + r.sharable!.zero);
  });

  it("--compress-all measures every page: the size fractions within 2 points too", () => {
    const r = scan(["--full", "--compress-all", "mixa", "mixb"]);
    expectMix(r, 0.02, 0.02);
    expect(r.containers[0]!.ci95).toBeUndefined();
  });

  it("--anonymous keeps only exclusively anonymous pages (what KSM and zram act on): the mix still recovered", () => {
    const all = scan(["--full", "mixa", "mixb"]);
    const anon = scan(["--full", "--anonymous", "mixa", "mixb"]);
    expectMix(anon, 0.02, Math.max(0.02, ...anon.containers.map((p) => p.ci95 ?? 0)));
    anon.containers.forEach((p, i) => {
      expect(p.anonFraction).toBe(1);
      // exactly the full scan's anonymous pages (give or take a few the process touched in between)
      const anonPages = all.containers[i]!.present * all.containers[i]!.anonFraction;
      expect(Math.abs(p.present - anonPages)).toBeLessThanOrEqual(64);
    });
  });

  it("--stable-for: idle containers' pages all held, so the sharing is the one-instant figure; the window is reported", () => {
    const now = scan(["--anonymous", "mixa", "mixb"]);
    const held = scan(["--anonymous", "--stable-for", "1s", "mixa", "mixb"]);
    expect(now.stableForSeconds).toBeUndefined();
    expect(now.containers[0]!.mergeable!.changed).toBeUndefined();
    expect(held.stableForSeconds).toBeGreaterThanOrEqual(1);
    // memmix only sleeps once ready: a few stack and libc pages may move, its mix does not
    const changed = held.containers.reduce((n, p) => n + p.mergeable!.changed!, 0);
    expect(changed).toBeLessThanOrEqual(64);
    expect(Math.abs(held.sharablePages - now.sharablePages)).toBeLessThanOrEqual(64);
    // three looks at the sharing; the figure is what is left of the held sharing, no more
    const looks = held.stableLooks!;
    expect(looks.instant).toHaveLength(3);
    expect(looks.seconds[2]).toBeGreaterThanOrEqual(1);
    expect(looks.settledPages).toBe(held.sharablePages);
    expect(looks.held).toHaveLength(3);
    expect(looks.settledPages).toBeLessThanOrEqual(looks.held[2]!);
    const t = tsbox(root, ["mem", "scan", "--anonymous", "--stable-for", "0.5s", "mixa"], { timeout: 120_000 });
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/only pages unchanged over \d+(\.\d)? s \(\d+ changed, left out, \d+ held; (settling at|not settling, a window on) \d+ \(at [\d.]+ \/ [\d.]+ \/ [\d.]+ s: held \d+ \/ \d+ \/ \d+, all \d+ \/ \d+ \/ \d+\)\)/);
  });

  it("sampling mode stays within its confidence interval, and a seed repeats it", () => {
    const r = scan(["--sample", "3000", "--seed", "42", "mixa", "mixb"]);
    for (const p of r.containers) {
      expect(p.mode).toBe("sample");
      expect(p.sampled).toBe(3000);
      expect(p.ci95).toBeGreaterThan(0);
      expect(p.ci95).toBeLessThan(0.05);
    }
    // 95 % intervals on ~20 comparisons: a miss is possible, so allow 1.5× the widest (≈ 4σ overall)
    const ci = Math.max(...r.containers.map((p) => p.ci95!));
    expectMix(r, 1.5 * ci + 0.01, 1.5 * ci + 0.01);
    const again = scan(["--sample", "3000", "--seed", "42", "mixa", "mixb"]);
    expect(again.containers.map((p) => [p.zero, p.sameFilled, p.unique])).toEqual(r.containers.map((p) => [p.zero, p.sameFilled, p.unique]));
  });

  it("defaults to every running container, table output", () => {
    const r = tsbox(root, ["mem", "scan", "--sample", "500"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^CONTAINER ID\s+NAME\s+MODE\s+PRESENT/);
    expect(lines.filter((l) => /\bmixa\b|\bmixb\b/.test(l))).toHaveLength(2);
    expect(r.stdout).toMatch(/sharable: .* analysed .* GiB\/s/);
  });
});

describe("mem stat", () => {
  it("reports each container's usage, anon and working set", () => {
    const r = tsbox(root, ["mem", "stat", "--format", "json", "mixa"]);
    expect(r.code).toBe(0);
    const [s] = JSON.parse(r.stdout) as { name: string; memory: { usage: number; anon?: number; workingSet: number } }[];
    expect(s!.name).toBe("mixa");
    expect(s!.memory.usage).toBeGreaterThanOrEqual(MIB * 1024 * 1024);
    expect(s!.memory.workingSet).toBeGreaterThanOrEqual(MIB * 1024 * 1024);
    if (s!.memory.anon !== undefined) expect(s!.memory.anon).toBeGreaterThanOrEqual(MIB * 1024 * 1024 * 0.95);
    const t = tsbox(root, ["mem", "stat"]);
    expect(t.stdout).toMatch(/^CONTAINER ID\s+NAME\s+USAGE \/ LIMIT\s+WORKING SET/);
    expect(t.stdout).toMatch(/mixa/);
    expect(t.stdout).toMatch(/mixb/);
  });
});

describe("mem simulate --containers", () => {
  it("models the running containers from a fresh scan: two guests, their sharing counted", () => {
    const r = tsbox(root, ["mem", "simulate", "--containers", "mixa", "--containers", "mixb", "--host-memory", "1GiB",
      "--policy", "sharing", "--steps", "5", "--no-density", "--format", "json"], { timeout: 180_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as { guests: { name: string; sizePages: number; mean: { shared: number } }[] };
    expect(rep.guests.map((g) => g.name)).toEqual(["mixa", "mixb"]);
    for (const g of rep.guests) expect(g.sizePages).toBeGreaterThanOrEqual(PAGES);
    // memmix holds DUP % duplicate pages (within and across) and ZERO % zero pages: sharing must find some
    const shared = rep.guests.reduce((n, g) => n + g.mean.shared, 0);
    expect(shared).toBeGreaterThan(PAGES * (DUP / 100) * 0.5);
  });

  it("--stable-for: the sharing over the pages that held; idle containers share as much as at one instant", () => {
    const run = (extra: string[]) => {
      const r = tsbox(root, ["mem", "simulate", "--containers", "mixa", "--containers", "mixb", "--host-memory", "1GiB",
        "--policy", "sharing", "--steps", "5", "--no-density", "--format", "json", ...extra], { timeout: 180_000 });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      return (JSON.parse(r.stdout) as { guests: { mean: { shared: number } }[] }).guests.reduce((n, g) => n + g.mean.shared, 0);
    };
    const instant = run([]), held = run(["--stable-for", "1s"]);
    expect(held).toBeGreaterThan(PAGES * (DUP / 100) * 0.5);
    expect(Math.abs(held - instant)).toBeLessThanOrEqual(64);
  });
});

describe("bad input and vanishing processes", () => {
  for (const cmd of ["scan", "stat"]) {
    it(`mem ${cmd}: unknown container → one line, exit 125`, () => {
      const r = tsbox(root, ["mem", cmd, "mixa", "nosuch"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toBe("tsbox: No such container: nosuch\n");
      expect(r.stdout).toBe("");
    });
  }

  it("a stopped container → one line, exit 125", () => {
    expect(tsbox(root, ["run", "--name", "stopped", "busybox", "true"]).code).toBe(0);
    for (const cmd of ["scan", "stat"]) {
      const r = tsbox(root, ["mem", cmd, "stopped"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/^tsbox: Container [0-9a-f]{64} is not running\n$/);
    }
    expect(tsbox(root, ["rm", "stopped"]).code).toBe(0);
  });

  it("--zram-compressor sizes the zram figures with that compressor, in zsmalloc's classes (never above the compressor alone)", () => {
    for (const alg of ["lz4", "lzo-rle"]) {
      const r = scan(["--full", "--compress-all", "--anonymous", "--zram-compressor", alg, "mixa"]);
      const z = r.containers[0]!.zram!;
      expect(z.compressor).toBe(alg);
      expect(z.ratio).toBeGreaterThan(1);
      expect(z.ratio).toBeLessThanOrEqual(z.comprRatio);
    }
  });

  it("bad flags → exit 125", () => {
    for (const args of [["--sample", "0"], ["--sample", "x"], ["--sample", "10", "--full"], ["--format", "yaml"], ["--seed", "1.5"], ["--zram-compressor", "zstd"], ["--stable-for", "0"], ["--stable-for", "soon"]]) {
      const r = tsbox(root, ["mem", "scan", ...args, "mixa"]);
      expect(r.code).toBe(125);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  it("mem simulate --stable-for without --containers → one line, exit 125", () => {
    const r = tsbox(root, ["mem", "simulate", "--scenario", "/nonexistent.json", "--stable-for", "ksm"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe("tsbox: --stable-for needs --containers\n");
  });

  it("a process that exited is skipped: no pages, no error", async () => {
    const child = spawn("sleep", ["30"]);
    const pid = child.pid!;
    await until(() => presentPages(pid)?.addrs.length, "sleep's pages");
    const pages = presentPages(pid)!;
    const fd = openSync(`/proc/${pid}/mem`, "r");
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGKILL");
    await exited;
    expect(presentPages(pid)).toBeUndefined();
    // pages read after the process is gone come back Gone, never an exception
    const n = pages.addrs.length;
    for (const source of [{ pid }, { fd }]) {
      const out = { kind: new Uint8Array(n), key: new Float64Array(n), lz4: new Uint16Array(n), strong: new Uint16Array(n), dev: new Uint16Array(n) };
      scanPages(source, Float64Array.from(pages.addrs), 0, n, SizeWant.Yes, out);
      expect([...new Set(out.kind)]).toEqual([3]);
    }
    closeSync(fd);
  });

  it("the containers in state are untouched by scans", () => {
    for (const id of containerIds(root)) expect(stateOf(root, id).status).toBe("running");
  });
});
