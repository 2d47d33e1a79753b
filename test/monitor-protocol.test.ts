// The monitor's messages (native/monitor-protocol.ts) and the restart policy the
// decider applies (runtime/restart-policy.ts): pure, no root. The decider bundle
// itself is run as the monitor runs it. The monitor's side of the same messages
// is exercised by the restart tests of lifecycle.matrix.test.ts.

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkMonitorStatus, encodeDecision, parseLaunchReport, type ExitReport } from "../src/native/monitor-protocol.js";
import { decideRestart, nextDelay } from "../src/runtime/restart-policy.js";
import type { RestartPolicy } from "../src/state/container-store.js";
import { parseChecked, ShapeError } from "../src/util/shape.js";

const exit = (o: Partial<ExitReport> = {}): ExitReport =>
  ({ v: 1, exitCode: 1, oomKilled: false, ranMs: 50, restartCount: 0, lastDelayMs: 0, stopRequested: false, ...o });
const policy = (name: RestartPolicy["name"], maximumRetryCount = 0): RestartPolicy => ({ name, maximumRetryCount });

describe("restart policy (Docker's rules)", () => {
  it.each([
    ["no", 0, exit(), false],
    ["on-failure", 0, exit({ exitCode: 0 }), false],
    ["on-failure", 0, exit({ exitCode: 2, restartCount: 50 }), true],
    ["on-failure", 3, exit({ restartCount: 2 }), true],
    ["on-failure", 3, exit({ restartCount: 3 }), false],
    ["always", 0, exit({ exitCode: 0 }), true],
    ["unless-stopped", 0, exit({ exitCode: 137 }), true],
    ["always", 0, exit({ stopRequested: true }), false],
    ["on-failure", 0, exit({ stopRequested: true }), false],
  ] as const)("%s:%i after %o → %s", (name, max, e, restart) => {
    expect(decideRestart(policy(name, max), e).restart).toBe(restart);
  });

  it("backs off from 100 ms, doubling to a minute, and again from 100 ms after 10 s of running", () => {
    expect(nextDelay(exit())).toBe(100);
    expect(nextDelay(exit({ lastDelayMs: 100 }))).toBe(200);
    expect(nextDelay(exit({ lastDelayMs: 51_200 }))).toBe(60_000);
    expect(nextDelay(exit({ lastDelayMs: 60_000 }))).toBe(60_000);
    expect(nextDelay(exit({ lastDelayMs: 6400, ranMs: 10_000 }))).toBe(100);
    expect(decideRestart(policy("always"), exit({ lastDelayMs: 400 }))).toEqual({ v: 1, restart: true, delayMs: 800 });
  });
});

describe("monitor messages", () => {
  it("reads the launch report, and a missing or foreign one as a failure", () => {
    expect(parseLaunchReport('{"v":1,"kind":"started","pid":12,"monitorPid":10}\n'))
      .toEqual({ v: 1, kind: "started", pid: 12, monitorPid: 10 });
    expect(parseLaunchReport('{"v":1,"kind":"failed","code":127,"message":"exec: \\"nope\\": not found"}\n'))
      .toEqual({ v: 1, kind: "failed", code: 127, message: 'exec: "nope": not found' });
    expect(parseLaunchReport("")).toMatchObject({ kind: "failed", code: 125, message: "monitor exited without a report" });
    expect(parseLaunchReport('{"v":2,"kind":"started","pid":12,"monitorPid":10}'))
      .toMatchObject({ kind: "failed", code: 125, message: expect.stringMatching(/unreadable report.*\$\.v: expected monitor protocol 1/) });
    expect(parseLaunchReport("P12 10")).toMatchObject({ kind: "failed", code: 125 });
  });

  it("reads monitor.json of this version and of monitors that wrote none, and refuses another", () => {
    const body = { status: "exited", pid: 3, exitCode: 2, oomKilled: false, startedAt: "a", finishedAt: "b", restartCount: 1, monitorPid: 2 };
    expect(parseChecked(JSON.stringify({ v: 1, ...body }), checkMonitorStatus)).toEqual({ v: 1, ...body });
    expect(parseChecked(JSON.stringify(body), checkMonitorStatus)).toEqual(body);
    expect(() => parseChecked(JSON.stringify({ v: 2, ...body }), checkMonitorStatus)).toThrow(ShapeError);
    expect(() => parseChecked(JSON.stringify({ ...body, status: "paused" }), checkMonitorStatus)).toThrow(/\$\.status/);
  });

  it("encodes a decision in the one shape the monitor's C reads", () => {
    expect(encodeDecision({ v: 1, restart: true, delayMs: 200 })).toBe('{"v":1,"restart":true,"delayMs":200}\n');
    expect(encodeDecision({ v: 1, restart: false })).toBe('{"v":1,"restart":false}\n');
  });
});

describe("the decider bundle, run as the monitor runs it", () => {
  const decider = join(import.meta.dirname, "..", "dist", "restart-decider.cjs");
  const ask = (policyJson: string, input: string) =>
    spawnSync(process.execPath, ["--", decider, policyJson], { input, encoding: "utf8" });

  it("answers a restart with its back-off, and no restart when a stop was asked", () => {
    const r = ask('{"name":"on-failure","maximumRetryCount":2}', JSON.stringify(exit({ lastDelayMs: 100 })));
    expect([r.status, r.stdout, r.stderr]).toEqual([0, '{"v":1,"restart":true,"delayMs":200}\n', ""]);
    const s = ask('{"name":"always","maximumRetryCount":0}', JSON.stringify(exit({ stopRequested: true })));
    expect([s.status, s.stdout]).toEqual([0, '{"v":1,"restart":false}\n']);
  });

  it("fails with one line on a report or policy it cannot read (the monitor then does not restart)", () => {
    const r = ask('{"name":"sometimes","maximumRetryCount":0}', JSON.stringify(exit()));
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^restart-decider: \$\.name: expected one of .*\n$/);
    const v = ask('{"name":"always","maximumRetryCount":0}', JSON.stringify({ ...exit(), v: 9 }));
    expect([v.status, v.stderr]).toEqual([1, "restart-decider: $.v: expected monitor protocol 1\n"]);
  });
});
