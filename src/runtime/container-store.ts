// Containers on disk: one directory per container under <root>/containers,
// state.json written atomically, names reserved by an exclusive create in
// <root>/names so two concurrent runs can never take the same name.

import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { NotFoundError, TsboxError, UsageError, errnoCode } from "../errors.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { withLock } from "../util/lock.js";
import { randomBytesHex } from "../util/random.js";
import { generateName, validateName } from "./names.js";

export type ContainerStatus = "created" | "running" | "exited";

export interface Owner { pid: number; startTime: string }

export interface ContainerState {
  id: string;
  name: string;
  image: string;
  imageId: string;
  created: string;
  status: ContainerStatus;
  pid?: number;
  /** the tsbox process responsible for this container while it runs */
  owner?: Owner;
  exitCode?: number;
  /** the kernel's OOM killer killed a process of the container */
  oomKilled?: boolean;
  startedAt?: string;
  finishedAt?: string;
  autoRemove: boolean;
  /** --cgroup-parent, as given (segments joined by "/"); absent = the default "tsbox" */
  cgroupParent?: string;
}

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
}

export function containerPaths(root: string, id: string): ContainerPaths {
  const dir = join(root, "containers", id);
  return {
    dir, upper: join(dir, "upper"), work: join(dir, "work"), rootfs: join(dir, "rootfs"),
    state: join(dir, "state.json"), config: join(dir, "config.json"),
    hostname: join(dir, "hostname"), hosts: join(dir, "hosts"), resolvConf: join(dir, "resolv.conf"),
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

export function readState(root: string, id: string): ContainerState | undefined {
  try {
    return JSON.parse(readFileSync(containerPaths(root, id).state, "utf8")) as ContainerState;
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw new TsboxError(`container ${id}: unreadable state: ${(e as Error).message}`);
  }
}

export function listContainerIds(root: string): string[] {
  try {
    return readdirSync(join(root, "containers")).filter((n) => /^[0-9a-f]{64}$/.test(n));
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
}

/** By full ID, unique ID prefix or name, with Docker's wording when there is none. */
export function findContainer(root: string, ref: string): ContainerState {
  const byName = join(root, "names", ref.replace(/^\//, ""));
  if (existsSync(byName)) {
    const s = readState(root, readFileSync(byName, "utf8").trim());
    if (s) return s;
  }
  if (/^[0-9a-f]+$/.test(ref)) {
    const ids = listContainerIds(root).filter((id) => id.startsWith(ref));
    if (ids.length > 1) throw new UsageError(`multiple IDs found with provided prefix: ${ref}`);
    const s = ids[0] ? readState(root, ids[0]) : undefined;
    if (s) return s;
  }
  throw new NotFoundError(`No such container: ${ref}`);
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

export function settleContainer(root: string, state: ContainerState, result: ExitResult, remove: boolean): void {
  withLock(containerLockFile(root, state.id), () => {
    const current = readState(root, state.id);
    if (!current) return;
    if (remove) removeContainerDir(root, current);
    else if (current.status !== "exited") {
      writeState(root, { ...current, status: "exited", ...result, finishedAt: new Date().toISOString(), owner: undefined });
    }
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
