// Containers on disk: one directory per container under <root>/containers,
// state.json written atomically, names reserved by an exclusive create in
// <root>/names so two concurrent runs can never take the same name.

import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { CorruptContainerError, NotFoundError, UsageError, errnoCode } from "../errors.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { withLock } from "../util/lock.js";
import { randomBytesHex } from "../util/random.js";
import { checkContainerState, checkMonitorStatus, checkSpec, readRecord } from "./container-records.js";
export { checkHealthRecord } from "./container-records.js";
import { generateName, validateName } from "./names.js";
import { containerAttributes, recordEvent } from "./events.js";
import type { Spec } from "../oci/spec.js";
import type { ContainerState, MonitorStatus, Owner } from "./container-records.js";
export type {
  ContainerState, ContainerStatus, HealthProbe, HealthRecord, HealthStatus, LogConfig, MonitorStatus, Owner, RestartPolicy, RestartPolicyName,
} from "./container-records.js";

export interface ContainerPaths {
  dir: string;
  upper: string;
  work: string;
  rootfs: string;
  state: string;
  config: string;
  hostname: string;
  hosts: string;
  resolvConf: string;
  /** the launch plan, NUL-separated, as the monitor reads it */
  plan: string;
  /** written by the monitor only (see native-shims/monitor/monitor.c), folded into the state on read */
  monitor: string;
  /** the CLI's request to the monitor: no restart after this exit */
  stop: string;
  log: string;
  /** the health checker's record of its probes (runtime/health.ts) */
  health: string;
  /** --ipc shareable: where the host tmpfs of its /dev/shm is mounted while it runs (runtime/shm.ts) */
  shm: string;
}

export function containerPaths(root: string, id: string): ContainerPaths {
  const dir = join(root, "containers", id);
  return {
    dir, upper: join(dir, "upper"), work: join(dir, "work"), rootfs: join(dir, "rootfs"),
    state: join(dir, "state.json"), config: join(dir, "config.json"),
    hostname: join(dir, "hostname"), hosts: join(dir, "hosts"), resolvConf: join(dir, "resolv.conf"),
    plan: join(dir, "plan"), monitor: join(dir, "monitor.json"), stop: join(dir, "stop"), log: join(dir, "container.log"),
    health: join(dir, "health.json"), shm: join(dir, "shm"),
  };
}

export const newContainerId = (): string => randomBytesHex(32);

/** Reserves the name (or a generated one) for id; throws Docker's conflict error if taken. */
export function reserveName(root: string, id: string, wanted?: string): string {
  const dir = join(root, "names");
  mkdirSync(dir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const name = wanted !== undefined ? validateName(wanted) : generateName() + (attempt > 5 ? `_${attempt}` : "");
    try {
      const fd = openSync(join(dir, name), "wx", 0o644);
      writeSync(fd, id);
      closeSync(fd);
      return name;
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") throw e;
      if (wanted !== undefined) {
        const other = readFileSync(join(dir, name), "utf8").trim();
        throw new UsageError(`Conflict. The container name "/${name}" is already in use by container "${other}". You have to remove (or rename) that container to be able to reuse that name.`);
      }
    }
  }
}

export function releaseName(root: string, name: string, id: string): void {
  const p = join(root, "names", name);
  try {
    if (readFileSync(p, "utf8").trim() === id) rmSync(p, { force: true });
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
  }
}

export function createContainerDirs(paths: ContainerPaths): void {
  mkdirSync(paths.dir, { recursive: true, mode: 0o710 });
  for (const d of [paths.upper, paths.work, paths.rootfs]) mkdirSync(d, { mode: 0o755 });
}

export function writeState(root: string, state: ContainerState): void {
  // A container's state matters while this boot lasts: atomic, but no fsync.
  writeJsonAtomic(containerPaths(root, state.id).state, state, false);
}

/**
 * The stored state, with a detached container's monitor.json folded in: the
 * true state. Undefined when the container is gone; CorruptContainerError when
 * its state.json cannot be read back.
 */
export function readState(root: string, id: string): ContainerState | undefined {
  const file = containerPaths(root, id).state;
  const state = readRecord(id, file, checkContainerState);
  if (state && state.id !== id) throw new CorruptContainerError(id, file, `$.id: ${state.id} is another container's id`);
  if (!state) return undefined;
  return state.detached && state.status !== "exited" ? foldMonitor(state, readMonitorStatus(root, id)) : state;
}

/**
 * The state of every container that can be read; each one that cannot goes to
 * onCorrupt instead, so one broken container does not hide the others.
 */
export function readAllStates(root: string, onCorrupt: (e: CorruptContainerError) => void = () => {}): ContainerState[] {
  const states: ContainerState[] = [];
  for (const id of listContainerIds(root)) {
    try {
      const s = readState(root, id);
      if (s) states.push(s);
    } catch (e) {
      if (!(e instanceof CorruptContainerError)) throw e;
      onCorrupt(e);
    }
  }
  return states;
}

/** The container's spec (config.json); undefined while it is being created. */
export function readSpec(root: string, id: string): Spec | undefined {
  return readRecord(id, containerPaths(root, id).config, checkSpec);
}

export function readMonitorStatus(root: string, id: string): MonitorStatus | undefined {
  try {
    return readRecord(id, containerPaths(root, id).monitor, checkMonitorStatus);
  } catch (e) {
    // The monitor writes it atomically: a broken one was not written by a
    // monitor, and the state.json it would be folded into is the truth left.
    if (e instanceof CorruptContainerError) return undefined;
    throw e;
  }
}

export function foldMonitor(state: ContainerState, m: MonitorStatus | undefined): ContainerState {
  if (!m || state.status === "created") return state;
  const common = { ...state, startedAt: m.startedAt || state.startedAt, restartCount: m.restartCount };
  if (m.status === "exited") {
    return {
      ...common, status: "exited", pid: undefined, owner: undefined, exitCode: m.exitCode,
      oomKilled: m.oomKilled, finishedAt: m.finishedAt,
    };
  }
  return { ...common, status: m.status, pid: m.pid || state.pid, ...(m.status === "restarting" ? { exitCode: m.exitCode } : {}) };
}

export function listContainerIds(root: string): string[] {
  try {
    return readdirSync(join(root, "containers")).filter((n) => /^[0-9a-f]{64}$/.test(n));
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
}

/**
 * The id of the container a user names by full ID, unique ID prefix or name
 * (whether or not its state can be read), with Docker's wording when there is none.
 */
export function resolveContainerId(root: string, ref: string): string {
  const byName = join(root, "names", ref.replace(/^\//, ""));
  if (existsSync(byName)) {
    const id = readFileSync(byName, "utf8").trim();
    if (existsSync(containerPaths(root, id).dir) && /^[0-9a-f]{64}$/.test(id)) return id;
  }
  if (/^[0-9a-f]+$/.test(ref)) {
    const ids = listContainerIds(root).filter((id) => id.startsWith(ref));
    if (ids.length > 1) throw new UsageError(`multiple IDs found with provided prefix: ${ref}`);
    if (ids[0] !== undefined) return ids[0];
  }
  throw new NotFoundError(`No such container: ${ref}`);
}

/** By full ID, unique ID prefix or name; CorruptContainerError when its state cannot be read. */
export function findContainer(root: string, ref: string): ContainerState {
  const s = readState(root, resolveContainerId(root, ref));
  if (!s) throw new NotFoundError(`No such container: ${ref}`);
  return s;
}

/** The names (in <root>/names) that point at the container: how to find a name its state no longer gives. */
export function namesOf(root: string, id: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(root, "names"));
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
  return names.filter((n) => {
    try { return readFileSync(join(root, "names", n), "utf8").trim() === id; } catch { return false; }
  });
}

/** Serialises the last changes to a container between its owner, `rm -f` and recovery. */
export function containerLockFile(root: string, id: string): string {
  return join(root, "containers", `.${id}.lock`);
}

/**
 * The last word on a container once its processes are gone: removed, or
 * recorded as exited. Whoever comes second (owner, `rm -f`, recovery) finds
 * the work done.
 */
export interface ExitResult { exitCode: number; oomKilled?: boolean }

/** Returns the state of the container it removed (its volumes are the caller's to release), else undefined. */
export function settleContainer(root: string, state: ContainerState, result: ExitResult, remove: boolean,
  /** what follows `die` in the event log (runtime's network disconnects) */
  afterDie?: () => void): ContainerState | undefined {
  return withLock(containerLockFile(root, state.id), () => {
    const current = readState(root, state.id);
    if (!current) return undefined;
    // An exit no monitor reported (a foreground run, an owner that died, rm -f): its events are recorded here.
    if (current.status === "running" || current.status === "restarting") {
      if (result.oomKilled) recordEvent(root, "container", "oom", current.id, containerAttributes(current));
      recordEvent(root, "container", "die", current.id, containerAttributes(current, { exitCode: String(result.exitCode) }));
      afterDie?.();
    }
    if (remove) {
      removeContainerDir(root, current);
      recordEvent(root, "container", "destroy", current.id, containerAttributes(current));
      return current;
    }
    if (current.status !== "exited") {
      writeState(root, {
        ...current, status: "exited", ...result, pid: undefined, finishedAt: new Date().toISOString(), owner: undefined,
      });
      // A dead monitor's last word ("running") is not the truth any more.
      rmSync(containerPaths(root, state.id).monitor, { force: true });
    } else if (current.detached) {
      writeState(root, current); // fold the monitor's exit into state.json
    }
    return undefined;
  });
}

export function removeContainerDir(root: string, state: Pick<ContainerState, "id" | "name">): void {
  rmSync(containerPaths(root, state.id).dir, { recursive: true, force: true });
  releaseName(root, state.name, state.id);
}

/**
 * Start time of a live process (field 22 of /proc/PID/stat), to tell a live
 * owner from a reused pid; undefined for a zombie, which is as dead as gone.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" || fields[0] === "X" ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

export function selfOwner(): Owner {
  return { pid: process.pid, startTime: processStartTime(process.pid) ?? "" };
}

export function ownerAlive(owner: Owner | undefined): boolean {
  return owner !== undefined && processStartTime(owner.pid) === owner.startTime;
}
