// The CLI's side of build/tsbox-monitor (native-shims/monitor/monitor.c): hands
// it the container directory (with the launch plan in it), the cgroup dirs to
// place the child in, the restart policy and log options; reads back the
// container's pid, or the launch failure, from a pipe on the monitor's fd 3.
// From then on the monitor owns the container; the CLI may exit.

import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { join } from "node:path";
import { LaunchError } from "../errors.js";
import { encodePlan, type Plan } from "../native/launch-plan.js";
import { monitorPath } from "../native/library.js";
import { processStartTime, type ContainerPaths, type LogConfig, type Owner, type RestartPolicy } from "../state/container-store.js";

export function writePlan(paths: ContainerPaths, plan: Plan): void {
  writeFileSync(paths.plan, encodePlan(plan).join("\0") + "\0", { mode: 0o600 });
}

export interface MonitorRequest {
  paths: ContainerPaths;
  cgroupDirs: string[];
  tty: boolean;
  restartPolicy?: RestartPolicy;
  logConfig?: LogConfig;
  /** run when the container is gone for good (conmon's --exit-command), e.g. `tsbox rm -f` for --rm */
  exitCommand?: string[];
}

export interface Monitored { pid: number; owner: Owner }

/** Starts a monitor on a container: build/tsbox-monitor by default, a recording fake in the unit tests. */
export interface MonitorLauncher {
  launch(req: MonitorRequest): Promise<Monitored>;
}

export const monitorProgram: MonitorLauncher = { launch: (req) => launchMonitor(req) };

export async function launchMonitor(req: MonitorRequest): Promise<Monitored> {
  const exe = monitorPath();
  if (!existsSync(exe)) throw new LaunchError(`monitor not built: ${exe} is missing (run \`node scripts/build-shim.mjs\`)`);
  const args = [req.paths.dir];
  for (const d of req.cgroupDirs) args.push("--cgroup", d);
  const oom = oomFile(req.cgroupDirs);
  if (oom) args.push("--oom-file", oom);
  if (req.tty) args.push("--tty");
  if (req.restartPolicy && req.restartPolicy.name !== "no") {
    args.push("--restart", req.restartPolicy.name, "--max-retries", String(req.restartPolicy.maximumRetryCount));
  }
  if (req.logConfig?.maxSize) args.push("--log-max-size", String(req.logConfig.maxSize));
  if (req.logConfig?.maxFile) args.push("--log-max-file", String(req.logConfig.maxFile));
  if (req.exitCommand) args.push("--exit-command", ...req.exitCommand);

  const child = spawn(exe, args, { stdio: ["ignore", "ignore", "ignore", "pipe"], detached: true });
  const report = child.stdio[3] as Readable;
  let text = "";
  report.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    child.on("error", reject);
    report.on("data", (s: string) => { text += s; });
    report.on("close", () => resolve());
  });
  child.unref();
  if (text.startsWith("P")) {
    const [pid, monitorPid] = text.slice(1).trim().split(" ").map(Number) as [number, number];
    return { pid, owner: { pid: monitorPid, startTime: processStartTime(monitorPid) ?? "" } };
  }
  const body = text.startsWith("E") ? text.slice(1).trim() : `125\tmonitor exited without a report`;
  const tab = body.indexOf("\t");
  const code = Number.parseInt(body.slice(0, tab), 10);
  throw new LaunchError(body.slice(tab + 1), Number.isFinite(code) ? code : 125);
}

/** The counter the kernel bumps on an OOM kill in the container's memory cgroup. */
function oomFile(dirs: string[]): string | undefined {
  for (const d of dirs) {
    for (const f of ["memory.events", "memory.oom_control"]) {
      if (existsSync(join(d, f))) return join(d, f);
    }
  }
  return undefined;
}
