// start, stop, restart, kill, wait: the CLI talks to a container through its
// processes (signals to PID 1), its directory (the `stop` marker the monitor
// reads before restarting) and its state (polled; the monitor writes
// monitor.json when the container exits).

import { rmSync, writeFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { TsboxError, UsageError } from "../errors.js";
import { createCgroup, detectHierarchy, devicesEnforced } from "../cgroupfs/index.js";
import { containerCgroup } from "../state/container-cgroup.js";
import { withLock } from "../util/lock.js";
import {
  containerLockFile, containerPaths, findContainer, ownerAlive, readSpec, readState, selfOwner, writeState,
  type ContainerState,
} from "../state/container-store.js";
import { crashPoint } from "../state/crash.js";
import { launchMonitor } from "./monitor.js";
import { releaseContainer } from "./recover.js";
import { selfCommand } from "./run.js";

export const isLive = (s: ContainerState): boolean =>
  (s.status === "running" || s.status === "restarting") && ownerAlive(s.owner);

/** Docker's -s: a name with or without SIG, or a number. */
export function parseSignal(sig: string): NodeJS.Signals | number {
  if (/^\d+$/.test(sig)) {
    const n = Number(sig);
    if (n < 1 || n > 64) throw new UsageError(`Invalid signal: ${sig}`);
    return n;
  }
  const name = (sig.toUpperCase().startsWith("SIG") ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`) as NodeJS.Signals;
  if (!(name in osConstants.signals)) throw new UsageError(`Invalid signal: ${sig}`);
  return name;
}

function signal(s: ContainerState, sig: NodeJS.Signals | number): void {
  if (!s.pid) return;
  try { process.kill(s.pid, sig); } catch { /* exited meanwhile */ }
}

/** Until the container has exited (or its owner died: recovery settles it); false on timeout. */
export async function waitExited(root: string, id: string, timeoutMs = Infinity): Promise<ContainerState | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 100)) {
    const s = readState(root, id);
    if (!s || s.status === "exited") return s;
    if (!ownerAlive(s.owner)) {
      await releaseContainer(root, s);
      return readState(root, id);
    }
    if (Date.now() > deadline) return undefined;
    await sleep(delay);
  }
}

/** Asks the monitor not to restart the container after this exit. */
function requestStop(root: string, id: string): void {
  try { writeFileSync(containerPaths(root, id).stop, ""); } catch { /* removed meanwhile */ }
}

export async function stopContainer(root: string, ref: string, timeoutSec = 10): Promise<void> {
  const s = findContainer(root, ref);
  if (!isLive(s)) return;
  requestStop(root, s.id);
  crashPoint("stop");
  signal(s, "SIGTERM");
  await thawIfPaused(s); // as Docker: a paused container gets the signal once it runs again
  if (timeoutSec > 0 && (await waitExited(root, s.id, timeoutSec * 1000))) return;
  const now = readState(root, s.id);
  if (now && now.status !== "exited") signal(now, "SIGKILL");
  await waitExited(root, s.id);
}

export async function killContainer(root: string, ref: string, sig: string): Promise<void> {
  const signo = parseSignal(sig);
  const s = findContainer(root, ref);
  if (s.status !== "running" || !ownerAlive(s.owner)) {
    throw new TsboxError(`cannot kill container: ${ref}: container ${s.id} is not running`);
  }
  // As Docker: a container killed by the user counts as stopped by hand.
  requestStop(root, s.id);
  signal(s, signo);
  if (signo === "SIGKILL" || signo === 9) await thawIfPaused(s);
}

async function thawIfPaused(s: ContainerState): Promise<void> {
  try {
    const cg = containerCgroup(detectHierarchy(), s);
    if (cg.frozen()) await cg.thaw();
  } catch { /* no freezer, or the cgroup is gone */ }
}

export async function waitContainer(root: string, ref: string): Promise<number> {
  const s = findContainer(root, ref);
  const done = await waitExited(root, s.id);
  return done?.exitCode ?? s.exitCode ?? 0;
}

/** Launches an exited (or never started) container again, through a monitor. */
export async function startContainer(root: string, ref: string): Promise<ContainerState> {
  const found = findContainer(root, ref);
  const paths = containerPaths(root, found.id);
  // Claim the container: only one `start` relaunches it.
  const claimed = withLock(containerLockFile(root, found.id), () => {
    const s = readState(root, found.id);
    if (!s) throw new TsboxError(`No such container: ${ref}`);
    if (s.status !== "exited" && (ownerAlive(s.owner) || s.status !== "created")) return undefined;
    const next: ContainerState = {
      ...s, status: "created", owner: selfOwner(), detached: true, pid: undefined,
      restartPolicy: s.restartPolicy ?? { name: "no", maximumRetryCount: 0 }, restartCount: 0,
    };
    writeState(root, next);
    return next;
  });
  if (!claimed) return found; // running already, or being started by another tsbox
  rmSync(paths.stop, { force: true });
  rmSync(paths.monitor, { force: true });
  const spec = readSpec(root, found.id);
  if (!spec) throw new TsboxError(`container ${found.id}: no config.json`);
  // As run creates it: under its --cgroup-parent, with the device filter where v2 needs one.
  const h = detectHierarchy();
  const shim = await import("../native/shim.js");
  const enforced = devicesEnforced(h, shim.attachDeviceFilter);
  const cgroup = createCgroup(h, found.id, {
    ...(claimed.cgroupParent !== undefined ? { parent: claimed.cgroupParent } : {}),
    ...(enforced ? { deviceFilter: shim.attachDeviceFilter } : {}),
  });
  try {
    cgroup.apply(spec.linux.resources);
    crashPoint("start");
    const m = await launchMonitor({
      paths, cgroupDirs: cgroup.dirs, tty: Boolean(claimed.tty),
      ...(claimed.restartPolicy ? { restartPolicy: claimed.restartPolicy } : {}),
      ...(claimed.logConfig ? { logConfig: claimed.logConfig } : {}),
      ...(claimed.autoRemove ? { exitCommand: selfCommand(root, ["rm", "-f", found.id]) } : {}),
    });
    const running: ContainerState = {
      ...claimed, status: "running", pid: m.pid, owner: m.owner, startedAt: new Date().toISOString(),
      exitCode: undefined, oomKilled: undefined, finishedAt: undefined,
    };
    writeState(root, running);
    return running;
  } catch (e) {
    await cgroup.destroy();
    withLock(containerLockFile(root, found.id), () => {
      const s = readState(root, found.id);
      if (s) writeState(root, { ...s, status: "exited", owner: undefined, exitCode: (e as TsboxError).exitCode ?? 125 });
    });
    throw e;
  }
}

export async function restartContainer(root: string, ref: string, timeoutSec = 10): Promise<void> {
  await stopContainer(root, ref, timeoutSec);
  await startContainer(root, ref);
}

/** pause/unpause: the cgroup freezer (Docker's wording for the refusals). */
export async function pauseContainer(root: string, ref: string, pause: boolean): Promise<void> {
  const s = findContainer(root, ref);
  if (!isLive(s)) throw new TsboxError(`Container ${s.id} is not running`);
  const cg = containerCgroup(detectHierarchy(), s);
  if (pause) {
    if (cg.frozen()) throw new TsboxError(`Container ${s.id} is already paused`);
    await cg.freeze();
  } else {
    if (!cg.frozen()) throw new TsboxError(`Container ${s.id} is not paused`);
    await cg.thaw();
  }
}
