// What launching a container shares between `run`, `start` and tsbox-runc's
// `create`: its cgroup (with the device filter where v2 needs one) and the
// layout of its /sys/fs/cgroup. And the one launch path of a container a
// monitor keeps (`run -d`, `start`): its launch plan is on disk and its cgroup
// is ready; build/tsbox-monitor is started on them, reports the container's
// pid (or why it failed), and the container is recorded running with the
// monitor as its owner. The callers undo what they made when this throws.

import { resolve } from "node:path";
import type { Cgroup, Hierarchy } from "../cgroupfs/index.js";
import { createCgroup, devicesEnforced } from "../cgroupfs/index.js";
import type { NativeLauncher } from "../native/launcher.js";
import type { CgroupMountInfo } from "../oci/build-plan.js";
import { containerPaths, writeState, type ContainerState } from "../state/container-store.js";
import { crashPoint } from "../util/crash.js";
import { containerAttributes, recordEvent } from "../state/events.js";
import type { Host } from "./host.js";
import type { MonitorLauncher } from "./monitor.js";
import { healthCheckCommand, healthIntervalMs } from "./health.js";
import { ownsShm, shmOptions } from "./shm.js";
import { recordNetworkEvents } from "./network-events.js";

/** Does tsbox enforce device rules here (v2: the kernel takes the BPF device filter)? */
export function deviceRulesEnforced(h: Hierarchy, native: NativeLauncher): boolean {
  return devicesEnforced(h, (dir, program) => native.attachDeviceFilter(dir, program));
}

/** The container's cgroup, under its --cgroup-parent, with the device filter where v2 needs one. */
export function createContainerCgroup(host: Pick<Host, "native" | "cgroups">, h: Hierarchy, id: string,
  parent: string | undefined, enforced: boolean): Cgroup {
  const { native, cgroups } = host;
  return createCgroup(h, id, {
    ...(parent !== undefined ? { parent } : {}),
    ...(enforced ? { deviceFilter: (dir: string, program: Buffer) => native.attachDeviceFilter(dir, program) } : {}),
    ...(cgroups.fs ? { fs: cgroups.fs } : {}),
  });
}

/**
 * Starts the monitor on the container's plan and cgroup, and records the
 * container running (pid, the monitor as owner, no exit of a previous run).
 * The restart policy, log options and --rm come from the state.
 */
export async function launchMonitored(root: string, state: ContainerState, cgroup: Cgroup,
  monitor: MonitorLauncher, opts: { attachFirst?: boolean } = {}): Promise<ContainerState> {
  crashPoint("monitor");
  const interval = healthIntervalMs(state);
  const m = await monitor.launch({
    paths: containerPaths(root, state.id), cgroupDirs: cgroup.dirs, tty: Boolean(state.tty), container: { root: resolve(root), id: state.id },
    ...(state.restartPolicy ? { restartPolicy: state.restartPolicy } : {}),
    ...(state.logConfig ? { logConfig: state.logConfig } : {}),
    ...(ownsShm(state) ? { shm: { dir: containerPaths(root, state.id).shm, options: shmOptions(state) } } : {}),
    ...(state.autoRemove ? { exitCommand: selfCommand(root, ["rm", "-f", "-v", state.id]) } : {}),
    ...(opts.attachFirst ? { attachFirst: true } : {}),
    ...(interval !== undefined ? { health: { intervalMs: interval, argv: healthCheckCommand(root, state.id) } } : {}),
  });
  crashPoint("started");
  const running: ContainerState = {
    ...state, status: "running", pid: m.pid, owner: m.owner, startedAt: new Date().toISOString(),
    exitCode: undefined, oomKilled: undefined, finishedAt: undefined,
  };
  writeState(root, running);
  recordNetworkEvents(root, state.id, "connect");
  recordEvent(root, "container", "start", state.id, containerAttributes(running));
  return running;
}

/**
 * argv that runs this tsbox again (for the monitor's exit command). `--` ends
 * Node's options, so no argument after it reaches Node's parser (see bin/tsbox.js).
 */
export function selfCommand(root: string, args: string[]): string[] {
  // This process's own Node flags (bin/tsbox.js's first line), then `--`.
  return [process.execPath, ...process.execArgv, "--", process.argv[1] ?? "tsbox", "--root", root, ...args];
}

/** How the container's /sys/fs/cgroup mirrors the host's hierarchies. */
export function cgroupMountInfo(h: Hierarchy): CgroupMountInfo {
  if (h.version === "v2") return { version: "v2" };
  const byDir = new Map<string, string[]>();
  for (const [controller, dir] of h.mounts) byDir.set(dir, [...(byDir.get(dir) ?? []), controller]);
  const v1: { dir: string; data: string }[] = [];
  const v1Links: { name: string; target: string }[] = [];
  for (const [dir, controllers] of byDir) {
    const base = dir.slice(dir.lastIndexOf("/") + 1);
    v1.push({ dir: base, data: controllers.join(",") });
    for (const c of controllers) {
      if (c !== base && !c.startsWith("name=")) v1Links.push({ name: c, target: base });
    }
  }
  return { version: "v1", v1, v1Links };
}
