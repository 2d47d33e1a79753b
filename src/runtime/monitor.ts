// The CLI's side of build/tsbox-monitor (native-shims/monitor/monitor.c): hands
// it the container directory (with the launch plan in it), the cgroup dirs to
// place the child in, the log rotation limits and, for a restart policy, the
// command that decides each restart (cli/restart-decider.ts); reads back the
// container's pid, or the launch failure, from a pipe on the monitor's fd 3
// (native/monitor-protocol.ts). From then on the monitor owns the container;
// the CLI may exit.

import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { join } from "node:path";
import { LaunchError } from "../errors.js";
import { encodePlan, type Plan } from "../native/launch-plan.js";
import { monitorPath } from "../native/library.js";
import { parseLaunchReport } from "../native/monitor-protocol.js";
import { packageRoot } from "../util/package.js";
import { processStartTime, type ContainerPaths, type LogConfig, type Owner, type RestartPolicy } from "../state/container-store.js";

export function writePlan(paths: ContainerPaths, plan: Plan): void {
  writeFileSync(paths.plan, encodePlan(plan).join("\0") + "\0", { mode: 0o600 });
}

export interface MonitorRequest {
  paths: ContainerPaths;
  cgroupDirs: string[];
  tty: boolean;
  restartPolicy?: RestartPolicy;
  /**
   * The container's state root and id: the decider then runs at every exit (it
   * records the `die` event and reads the policy `update --restart` may have
   * changed). Without it, only a container with a policy other than "no" has one.
   */
  container?: { root: string; id: string };
  logConfig?: LogConfig;
  /** run when the container is gone for good (conmon's --exit-command), e.g. `tsbox rm -f` for --rm */
  exitCommand?: string[];
  /** --ipc shareable: the host tmpfs of its /dev/shm and its mount options; the monitor mounts a new one at each restart and unmounts it at the container's end */
  shm?: { dir: string; options: string };
  /** run -it: the terminal's output before the CLI attaches is kept for it */
  attachFirst?: boolean;
  /** a health check: one probe's argv, started every intervalMs (runtime/health.ts) */
  health?: { intervalMs: number; argv: string[] };
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
  if (req.shm !== undefined) args.push("--shm", req.shm.dir, "--shm-data", req.shm.options);
  if (req.tty) args.push("--tty");
  if (req.attachFirst) args.push("--attach-first");
  if (req.health) args.push("--health", String(req.health.intervalMs), String(req.health.argv.length), ...req.health.argv);
  if (req.container || (req.restartPolicy && req.restartPolicy.name !== "no")) {
    const decide = restartDeciderCommand(req.restartPolicy ?? { name: "no", maximumRetryCount: 0 }, req.container);
    args.push("--decide", String(decide.length), ...decide);
  }
  if (req.logConfig?.driver === "none") args.push("--no-log");
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
  const r = parseLaunchReport(text);
  if (r.kind === "failed") throw new LaunchError(r.message, r.code);
  return { pid: r.pid, owner: { pid: r.monitorPid, startTime: processStartTime(r.monitorPid) ?? "" } };
}

/**
 * argv the monitor runs at each exit to decide a restart (cli/restart-decider.ts,
 * bundled on its own). `--` ends Node's options: nothing after it reaches Node's parser.
 */
export function restartDeciderCommand(policy: RestartPolicy, container?: { root: string; id: string }): string[] {
  return [process.execPath, "--", join(packageRoot(), "dist", "restart-decider.cjs"), JSON.stringify(policy),
    ...(container ? [container.root, container.id] : [])];
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
