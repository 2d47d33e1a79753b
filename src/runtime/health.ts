// A container's health check (the image's HEALTHCHECK, run's --health-*): one
// probe is an exec of the check's command in the container with its output
// captured, bounded by the check's timeout, and its result folded into
// health.json as Docker's daemon does (moby daemon/health.go). The probes are
// started every interval by the container's monitor (-d, start), or by the CLI
// for a foreground run, each as a process of its own (cli/health-check.ts):
// nothing of a check lives in the monitor, and a probe that hangs is killed
// with the container.

import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readlinkSync, readSync, rmSync } from "node:fs";
import { join } from "node:path";
import { HEALTH_DEFAULTS, goDurationString, healthArgv } from "../oci/healthcheck.js";
import {
  checkHealthRecord, containerPaths, readState, type ContainerState, type HealthProbe, type HealthRecord,
} from "../state/container-store.js";
import { ShapeError, readChecked } from "../util/shape.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { packageRoot } from "../util/package.js";
import { execInContainer } from "./exec.js";

/** Docker keeps the last 5 probes, each with at most 4096 bytes of output. */
const MAX_LOG = 5;
const MAX_OUTPUT = 4096;

/** The interval between probes, in ms (Docker's default 30 s). */
export function healthIntervalMs(state: ContainerState): number | undefined {
  const hc = state.healthcheck;
  return hc ? Math.max(1, Math.round((hc.Interval || HEALTH_DEFAULTS.interval) / 1e6)) : undefined;
}

/** argv of one probe of a container (bundled on its own: dist/health-check.cjs); `--` ends Node's options. */
export function healthCheckCommand(root: string, id: string): string[] {
  return [process.execPath, "--", join(packageRoot(), "dist", "health-check.cjs"), root, id];
}

function readRecord(path: string): HealthRecord | undefined {
  try {
    return readChecked(path, checkHealthRecord);
  } catch (e) {
    if (e instanceof ShapeError) return undefined; // torn or edited: the next probe starts it again
    throw e;
  }
}

/** Docker's handleProbeResult: the streak, the status and the last 5 probes after this one. */
export function nextHealth(prev: HealthRecord | undefined, startedAt: string, probe: HealthProbe, retries: number,
  inStartPeriod: boolean): HealthRecord {
  const h: HealthRecord = prev && prev.startedAt === startedAt
    ? { ...prev, Log: [...prev.Log] }
    : { startedAt, Status: "starting", FailingStreak: 0, Log: [] };
  if (probe.ExitCode === 0) {
    h.FailingStreak = 0;
    h.Status = "healthy";
  } else if (!(h.Status === "starting" && inStartPeriod)) {
    // A failure in the start period does not count, unless the check already passed once.
    h.FailingStreak++;
    if (h.FailingStreak >= retries) h.Status = "unhealthy";
  }
  h.Log.push(probe);
  if (h.Log.length > MAX_LOG) h.Log.splice(0, h.Log.length - MAX_LOG);
  return h;
}

/**
 * Whether the container's process can still be joined: its namespaces are
 * there. An exiting process drops them before it is a zombie, and a zombie
 * has none, while /proc still lists it.
 */
function joinable(pid: number): boolean {
  try {
    readlinkSync(`/proc/${pid}/ns/ipc`);
    return true;
  } catch {
    return false;
  }
}

/** One probe of a running container's check, recorded in health.json; nothing for a container without a check or not running. */
export async function probeHealth(root: string, id: string): Promise<void> {
  const state = readState(root, id);
  const hc = state?.healthcheck;
  if (!state || !hc || state.status !== "running" || state.startedAt === undefined) return;
  const paths = containerPaths(root, id);
  const outPath = join(paths.dir, "health.out");
  const fd = openSync(outPath, "w+", 0o600);
  const timeoutNs = hc.Timeout || HEALTH_DEFAULTS.timeout;
  const start = new Date().toISOString();
  let exitCode: number;
  let output: string;
  let timer: NodeJS.Timeout | undefined;
  const abort = new AbortController();
  try {
    const exec = execInContainer({
      root, container: id, cmd: healthArgv(hc.Test), interactive: false, tty: false, detach: false, env: [],
      output: { stdout: fd, stderr: fd }, signal: abort.signal,
    });
    const timedOut = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), timeoutNs / 1e6); });
    const code = await Promise.race([exec, timedOut]);
    if (code === undefined) {
      // As moby: the probe's process is killed, and waited for (2 s at most) so that dying probes do not pile up.
      abort.abort();
      await Promise.race([exec.catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
      exitCode = -1;
      output = `Health check exceeded timeout (${goDurationString(timeoutNs)})`;
    } else {
      exitCode = code;
      const buf = Buffer.alloc(MAX_OUTPUT);
      output = buf.subarray(0, readSync(fd, buf, 0, MAX_OUTPUT, 0)).toString("utf8");
    }
  } catch (e) {
    // The command did not start (not found, not executable): Docker's -1 with the runtime's message.
    exitCode = -1;
    output = (e as Error).message;
  } finally {
    clearTimeout(timer);
    closeSync(fd);
    rmSync(outPath, { force: true });
  }
  // A probe that failed because the container ended under it (its exec found no process to join,
  // or was killed with it) is no verdict on its health: as moby's monitor, which stops with the
  // container, it is not recorded.
  if (exitCode !== 0 && state.pid !== undefined && !joinable(state.pid)) return;
  const probe: HealthProbe = { Start: start, End: new Date().toISOString(), ExitCode: exitCode, Output: output };
  const startPeriodMs = (hc.StartPeriod || HEALTH_DEFAULTS.startPeriod) / 1e6;
  const inStartPeriod = Date.parse(start) - Date.parse(state.startedAt) < startPeriodMs;
  const next = nextHealth(readRecord(paths.health), state.startedAt, probe, hc.Retries || HEALTH_DEFAULTS.retries, inStartPeriod);
  writeJsonAtomic(paths.health, next, false);
}

/** inspect's State.Health: absent without a check; "starting" until this run's first probe; "unhealthy" once stopped (as Docker). */
export function containerHealth(root: string, state: ContainerState): Omit<HealthRecord, "startedAt"> | undefined {
  if (!state.healthcheck) return undefined;
  const rec = readRecord(containerPaths(root, state.id).health);
  const current = rec && rec.startedAt === state.startedAt ? rec : undefined;
  if (state.status !== "running" && state.status !== "restarting") {
    return { Status: "unhealthy", FailingStreak: current?.FailingStreak ?? 0, Log: rec?.Log ?? [] };
  }
  return current ? { Status: current.Status, FailingStreak: current.FailingStreak, Log: current.Log }
    : { Status: "starting", FailingStreak: 0, Log: [] };
}

/**
 * A foreground run's probes (no monitor keeps it): one every interval after
 * the previous ended, the first an interval after the start. The returned
 * function stops them, killing a probe still running.
 */
export function startHealthChecks(root: string, state: ContainerState): () => Promise<void> {
  const interval = healthIntervalMs(state);
  if (interval === undefined) return () => Promise.resolve();
  let stopped = false;
  let running: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    timer = setTimeout(() => {
      const [file, ...args] = healthCheckCommand(root, state.id);
      running = spawn(file!, args, { stdio: "ignore" });
      running.on("error", () => {});
      running.on("exit", () => {
        running = undefined;
        if (!stopped) schedule();
      });
    }, interval);
    timer.unref();
  };
  schedule();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    const p = running;
    if (p && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((resolve) => p.once("exit", resolve));
      p.kill("SIGKILL");
      await gone;
    }
  };
}
