// `tsbox mem balance` against the real kernel: it lowers an idle container's
// limit toward its working set, raises it under pressure (refaults of a file
// the container keeps re-reading), raises it at once when the working set grows
// (a pagemix whose working set grows and shrinks in phases) without an OOM
// kill, restores every limit when stopped by SIGINT/SIGTERM, and leaves no
// record, lock, cgroup or process behind. The decision itself is unit-tested
// in test/reclaim.balance.test.ts.
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPagemix, startContainer, type Running } from "../bench/reclaim-harness.js";
import { memoryCgroupOf, type MemoryCgroup } from "../src/reclaim/kernel/cgroup-memory.js";
import { balanceRecordFile } from "../src/reclaim/balance/controller.js";
import { readCounters } from "../src/reclaim/balance/signal.js";
import { readState } from "../src/state/container-store.js";
import { alive, cgroupDirsOf, removeRoot, rootWithBusybox, tsbox, tsboxAsync, until } from "./helpers.js";

const MIB = 1024 * 1024;

interface Balancer { p: ChildProcess; out(): string; err(): string; exited: Promise<number> }
function balancer(root: string, args: string[]): Balancer {
  const p = tsboxAsync(root, ["--log-level", "info", "mem", "balance", ...args]);
  let out = "", err = "";
  p.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
  p.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number>((r) => p.once("close", (code) => r(code ?? 137)));
  return { p, out: () => out, err: () => err, exited };
}

describe("mem balance (real kernel)", () => {
  let root: string;
  let pagemix: string;
  const started: Running[] = [];
  beforeAll(() => {
    root = rootWithBusybox();
    pagemix = buildPagemix();
  });
  afterAll(async () => {
    await Promise.all(started.map((c) => c.stop()));
    removeRoot(root);
  });
  const cgOf = (c: Running): MemoryCgroup => memoryCgroupOf(readState(root, c.id) ?? { id: c.id });

  it("lowers an idle container's limit toward its working set, and restores it (unlimited) on SIGINT", async () => {
    // 48 MiB of clean cache read once and never again: all of it can go
    const c = await startContainer(root, "bal-idle", ["busybox", "sh", "-c",
      "dd if=/dev/urandom of=/tmp/f bs=1M count=48 2>/dev/null; cat /tmp/f >/dev/null; echo ready; exec sleep 1000"], "ready");
    started.push(c);
    const cg = cgOf(c);
    const before = readCounters(cg);
    expect(before.limit).toBeUndefined();
    expect(before.usage).toBeGreaterThan(40 * MIB);
    const b = balancer(root, ["bal-idle", "--interval", "200ms"]);
    // down below half of what it held: the cache went, what it uses stayed
    const low = await until(() => { const l = readCounters(cg).limit; return l !== undefined && l < before.usage / 2 ? l : undefined; }, "a lowered limit", 60_000);
    expect(low).toBeGreaterThanOrEqual(readCounters(cg).usage - readCounters(cg).file);
    expect(existsSync(balanceRecordFile(root, c.id))).toBe(true);
    if (cg.version === "v1") expect(readFileSync(join(cg.dir, "memory.oom_control"), "utf8")).toMatch(/oom_kill_disable 1/);
    b.p.kill("SIGINT");
    expect(await b.exited).toBe(0);
    expect(b.out()).toMatch(/bal-idle: limit restored to unlimited\n/);
    expect(b.out()).toMatch(/stopped after \d+ rounds/);
    const after = readCounters(cg);
    expect(after.limit).toBeUndefined();
    expect(after.oomKills).toBe(before.oomKills);
    if (cg.version === "v1") expect(readFileSync(join(cg.dir, "memory.oom_control"), "utf8")).toMatch(/oom_kill_disable 0/);
    expect(existsSync(balanceRecordFile(root, c.id))).toBe(false);
    expect(existsSync(join(root, "mem", "balance.lock"))).toBe(false);
    expect(c.pids().every(alive)).toBe(true);
  });

  it("raises a growing working set's limit at once and never OOM-kills it; SIGTERM restores a limit set with --memory", async () => {
    // 32 MiB read 20 times a second; every 2 s the working set drops to 25 % (given back) or grows back to all of it
    const c = await startContainer(root, "bal-phases", ["--memory", "256m", "-v", `${dirname(pagemix)}:/pm:ro`, "busybox",
      "/pm/pagemix", "7", "8192", "10", "10", "30", "10", "20", "20", "-", "2:25:0"], "ready");
    started.push(c);
    const cg = cgOf(c);
    const before = readCounters(cg);
    const b = balancer(root, ["bal-phases", "--interval", "200ms", "--format", "json"]);
    const rows = (): { from?: number; to: number; reason: string }[] =>
      b.out().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { from?: number; to: number; reason: string });
    // lowered in a low phase, then raised at once when the working set grew back
    await until(() => rows().some((r) => r.to < 30 * MIB) && rows().some((r, i) => i > 0 && r.from !== undefined && r.to > r.from && r.from < 30 * MIB), "a lowered limit raised again", 60_000);
    const ops = (): number => [...c.output().matchAll(/^ops \d+ due \d+$/gm)].length;
    const n = ops();
    await until(() => ops() >= n + 8 || undefined, "two more phase cycles under the balancer", 60_000);
    const during = readCounters(cg);
    expect(during.oomKills).toBe(before.oomKills);
    expect(rows().every((r) => r.to <= 256 * MIB)).toBe(true); // its own --memory is the ceiling
    b.p.kill("SIGTERM");
    expect(await b.exited).toBe(0);
    expect(b.out()).toContain(`"restored":"${c.id}"`);
    const restored = readCounters(cg);
    if (cg.version === "v1") expect(restored.limit).toBe(256 * MIB);
    else {
      // v2: memory.high back to max (no limit read), memory.max, the --memory, never written
      expect(restored.max).toBe(256 * MIB);
      expect(restored.limit).toBeUndefined();
    }
    expect(restored.oomKills).toBe(before.oomKills);
    expect(c.cli.exitCode).toBeNull(); // still running
  });

  it("raises a limit under pressure: a container re-reading its 24 MiB file is probed down until it refaults, then given memory back", async () => {
    const c = await startContainer(root, "bal-reread", ["busybox", "sh", "-c",
      "dd if=/dev/urandom of=/tmp/f bs=1M count=24 2>/dev/null; echo ready; while true; do cat /tmp/f >/dev/null; sleep 0.1; done"], "ready");
    started.push(c);
    const cg = cgOf(c);
    const before = readCounters(cg);
    const b = balancer(root, ["bal-reread", "--interval", "200ms", "--format", "json"]);
    const rows = (): { from?: number; to: number; reason: string; pressure: number }[] =>
      b.out().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { from?: number; to: number; reason: string; pressure: number });
    const raised = await until(() => rows().find((r) => r.reason === "pressure" && r.from !== undefined && r.to > r.from), "a raise for pressure", 90_000);
    expect(raised.pressure).toBeGreaterThan(0.001);
    expect(readCounters(cg).refaults).toBeGreaterThan(before.refaults);
    b.p.kill("SIGINT");
    expect(await b.exited).toBe(0);
    expect(readCounters(cg).limit).toBeUndefined();
    expect(readCounters(cg).oomKills).toBe(before.oomKills);
  });

  it("--once leaves the lowered limit in place until --restore; a second balancer on the root is refused", async () => {
    const c = started[0]!;
    const cg = cgOf(c);
    const r = tsbox(root, ["mem", "balance", "--once", "--interval", "200ms", "bal-idle"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^CONTAINER ID +NAME +USAGE +PRESSURE +FLOOR +LIMIT BEFORE +LIMIT AFTER +REASON\n[0-9a-f]{12} +bal-idle /);
    expect(readCounters(cg).limit).toBeDefined();
    if (cg.version === "v1") expect(readFileSync(join(cg.dir, "memory.oom_control"), "utf8")).toMatch(/oom_kill_disable 0/);
    const b = balancer(root, ["bal-idle", "--interval", "200ms"]);
    await until(() => existsSync(join(root, "mem", "balance.lock")) || undefined, "the first balancer's lock");
    const second = tsbox(root, ["mem", "balance", "--once", "bal-idle"]);
    expect(second.code).toBe(125);
    expect(second.stderr).toMatch(/^tsbox: mem balance: another balancer runs on this root \(process \d+\)\n$/);
    b.p.kill("SIGINT");
    expect(await b.exited).toBe(0);
    // the running balancer restored what the --once record held: unlimited
    expect(readCounters(cg).limit).toBeUndefined();
    expect(tsbox(root, ["mem", "balance", "--restore"])).toMatchObject({ code: 0, stdout: "" });
  });

  it("bad input is a one-line error, exit 125, and leaves nothing behind", () => {
    expect(tsbox(root, ["mem", "balance", "nope", "--once"])).toMatchObject({ code: 125, stderr: "tsbox: No such container: nope\n" });
    expect(tsbox(root, ["mem", "balance", "--interval", "1ms"]).stderr).toMatch(/^tsbox: invalid argument "1ms" for "--interval" flag: .*\n$/);
    expect(tsbox(root, ["mem", "balance", "--pressure-target", "0"]).stderr).toMatch(/^tsbox: invalid argument "0" for "--pressure-target" flag/);
    expect(tsbox(root, ["mem", "balance", "--budget", "lots"]).stderr).toContain("--budget");
    expect(tsbox(root, ["mem", "balance", "--restore", "--once"])).toMatchObject({ code: 125, stderr: "tsbox: mem balance: --restore excludes --once and --budget\n" });
    expect(existsSync(join(root, "mem", "balance.lock"))).toBe(false);
  });

  it("once the containers are gone, nothing of theirs is left", async () => {
    const ids = started.map((c) => c.id);
    await Promise.all(started.splice(0).map((c) => c.stop()));
    await until(() => ids.every((id) => !existsSync(join(root, "containers", id))) || undefined, "the --rm containers removed");
    for (const id of ids) expect(cgroupDirsOf(id)).toEqual([]);
  });
});
