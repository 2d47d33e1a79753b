// The pure parts of health checks (moby's probe-result rules, the merge of the
// image's HEALTHCHECK with --health-*, Go durations) and of the detach keys.
import { describe, expect, it } from "vitest";
import { containerHealthcheck, goDurationString, healthArgv } from "../src/oci/healthcheck.js";
import { goDurationNs } from "../src/oci/units.js";
import { nextHealth } from "../src/runtime/health.js";
import { DetachScanner, parseDetachKeys } from "../src/runtime/detach-keys.js";

const flags = { interval: 0, timeout: 0, startPeriod: 0, retries: 0, none: false };
const probe = (ExitCode: number) => ({ Start: "s", End: "e", ExitCode, Output: "" });

describe("health check rules", () => {
  it("healthy on success; unhealthy after `retries` failures in a row; a success resets the streak", () => {
    let h = nextHealth(undefined, "t0", probe(1), 2, false);
    expect([h.Status, h.FailingStreak]).toEqual(["starting", 1]);
    h = nextHealth(h, "t0", probe(1), 2, false);
    expect([h.Status, h.FailingStreak]).toEqual(["unhealthy", 2]);
    h = nextHealth(h, "t0", probe(0), 2, false);
    expect([h.Status, h.FailingStreak]).toEqual(["healthy", 0]);
  });

  it("failures in the start period do not count until the check first passes; a new run starts over; 5 probes kept", () => {
    let h = nextHealth(undefined, "t0", probe(1), 1, true);
    expect([h.Status, h.FailingStreak]).toEqual(["starting", 0]);
    h = nextHealth(h, "t0", probe(0), 1, true);
    h = nextHealth(h, "t0", probe(1), 1, true);
    expect([h.Status, h.FailingStreak]).toEqual(["unhealthy", 1]);
    for (let i = 0; i < 7; i++) h = nextHealth(h, "t0", probe(i), 3, false);
    expect(h.Log.map((p) => p.ExitCode)).toEqual([2, 3, 4, 5, 6]);
    expect(nextHealth(h, "t1", probe(0), 3, false).Log.length).toBe(1);
  });

  it("merges as moby: the flags' non-zero values over the image's; NONE and --no-healthcheck give none", () => {
    const image = { Test: ["CMD", "check"], Interval: 5e9, Retries: 2 };
    expect(containerHealthcheck(image, flags)).toEqual(image);
    expect(containerHealthcheck(image, { ...flags, cmd: "x", timeout: 1e9 })).toEqual({ Test: ["CMD-SHELL", "x"], Interval: 5e9, Timeout: 1e9, Retries: 2 });
    expect(containerHealthcheck({ Test: ["NONE"] }, flags)).toBeUndefined();
    expect(containerHealthcheck(image, { ...flags, none: true })).toBeUndefined();
    expect(() => containerHealthcheck(image, { ...flags, none: true, retries: 1 })).toThrow("--no-healthcheck conflicts with --health-* options");
    expect(containerHealthcheck(undefined, flags)).toBeUndefined();
  });

  it("argv and Go durations", () => {
    expect(healthArgv(["CMD-SHELL", "a && b"])).toEqual(["/bin/sh", "-c", "a && b"]);
    expect(healthArgv(["CMD", "a", "b c"])).toEqual(["a", "b c"]);
    expect(goDurationNs("1m30s")).toBe(90e9);
    expect(goDurationNs("250ms")).toBe(250e6);
    expect(goDurationNs("-2s")).toBe(-2e9);
    expect(goDurationNs("0")).toBe(0);
    expect(goDurationNs("5")).toBeUndefined();
    expect(["300ms", "30s", "1m30s", "1h0m0s"]).toEqual([300e6, 30e9, 90e9, 3600e9].map(goDurationString));
  });
});

describe("detach keys", () => {
  it("parses Docker's grammar", () => {
    expect([...parseDetachKeys("ctrl-p,ctrl-q")]).toEqual([16, 17]);
    expect([...parseDetachKeys("ctrl-a,x")]).toEqual([1, 120]);
    expect([...parseDetachKeys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_")]).toEqual([0, 27, 28, 29, 30, 31]);
    for (const bad of ["ctrl-", "ctrl-1", "foo", ""]) expect(() => parseDetachKeys(bad)).toThrow(`Invalid detach keys (${bad}) provided`);
  });

  it("holds the keys back while they match, passes them on when the sequence breaks, across chunks", () => {
    const s = new DetachScanner(parseDetachKeys("ctrl-p,ctrl-q"));
    expect(s.scan(Buffer.from("ab\x10"))).toEqual({ pass: Buffer.from("ab"), detach: false });
    expect(s.scan(Buffer.from("c"))).toEqual({ pass: Buffer.from("\x10c"), detach: false });
    expect(s.scan(Buffer.from("\x10\x10"))).toEqual({ pass: Buffer.from("\x10"), detach: false });
    expect(s.scan(Buffer.from("\x11rest"))).toEqual({ pass: Buffer.from(""), detach: true });
  });
});
