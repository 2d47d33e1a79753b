// The messages between tsbox and build/tsbox-monitor (native-shims/monitor/
// monitor.c), one JSON object a line, each carrying the protocol version `v`.
// The monitor is mechanism only (launch, stdio, log writing, wait, report);
// what to do about an exit is decided in TypeScript (runtime/restart-policy.ts)
// by a decider process the monitor runs at each exit. Wire format and the
// argv of the monitor: native-shims/monitor/PROTOCOL.md.
//
//   monitor → CLI, on its fd 3, once:    LaunchReport
//   monitor → disk, monitor.json:        MonitorStatus (replaced atomically)
//   monitor → decider, stdin, each exit: ExitReport
//   decider → monitor, stdout:           RestartDecision

import { ShapeError, boolean, integer, object, oneOf, optional, parseChecked, string, type Check } from "../util/shape.js";

export const MONITOR_PROTOCOL = 1;

/** The first launch: the container's pid and the monitor's, or why it failed (exit code and one line). */
export type LaunchReport =
  | { v: number; kind: "started"; pid: number; monitorPid: number }
  | { v: number; kind: "failed"; code: number; message: string };

/** What a monitor reports of its container (monitor.json). */
export interface MonitorStatus {
  v?: number;
  status: "running" | "restarting" | "exited";
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  startedAt: string;
  finishedAt: string;
  restartCount: number;
  monitorPid: number;
}

/** The facts of one exit, for the decider. */
export interface ExitReport {
  v: number;
  exitCode: number;
  oomKilled: boolean;
  /** how long this run of the container lasted */
  ranMs: number;
  /** restarts done so far */
  restartCount: number;
  /** the back-off slept before this run (0 for the first) */
  lastDelayMs: number;
  /** `stop`/`kill`/`rm` asked for this exit (the container directory's `stop` marker) */
  stopRequested: boolean;
}

export type RestartDecision = { v: number; restart: false } | { v: number; restart: true; delayMs: number };

/** The version field: this protocol's own number only (a monitor.json older than it has none). */
const version: Check<number> = (v, at) => {
  if (v !== MONITOR_PROTOCOL) throw new ShapeError(at, `monitor protocol ${MONITOR_PROTOCOL}`);
  return v;
};

const checkStarted = object({ v: version, kind: oneOf("started"), pid: integer, monitorPid: integer });
const checkFailed = object({ v: version, kind: oneOf("failed"), code: integer, message: string });

export const checkMonitorStatus: Check<MonitorStatus> = object({
  // monitors of tsbox 0.1 wrote the same fields without a version
  v: optional((v, at) => version(v, at)),
  status: oneOf("running", "restarting", "exited"),
  pid: integer,
  exitCode: integer,
  oomKilled: boolean,
  startedAt: string,
  finishedAt: string,
  restartCount: integer,
  monitorPid: integer,
});

export const checkExitReport: Check<ExitReport> = object({
  v: version,
  exitCode: integer,
  oomKilled: boolean,
  ranMs: integer,
  restartCount: integer,
  lastDelayMs: integer,
  stopRequested: boolean,
});

/** The monitor's fd-3 line; a monitor that died before writing one reads as a failure. */
export function parseLaunchReport(text: string): LaunchReport {
  const line = text.trim();
  if (line === "") return { v: MONITOR_PROTOCOL, kind: "failed", code: 125, message: "monitor exited without a report" };
  try {
    return line.includes('"kind":"started"') ? parseChecked(line, checkStarted) : parseChecked(line, checkFailed);
  } catch (e) {
    return { v: MONITOR_PROTOCOL, kind: "failed", code: 125, message: `monitor: unreadable report (${(e as Error).message})` };
  }
}

/** The decider's answer, as the monitor parses it (a fixed shape, so C reads it without a JSON parser). */
export function encodeDecision(d: RestartDecision): string {
  return d.restart ? `{"v":${d.v},"restart":true,"delayMs":${Math.round(d.delayMs)}}\n` : `{"v":${d.v},"restart":false}\n`;
}
