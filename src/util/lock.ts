// A writer lock: a file created with O_EXCL and holding the owner's pid (the
// image store's `<root>/.lock`, a container's `<root>/containers/.<id>.lock`). Every critical section is synchronous, so the lock is never held
// across an await and a process can never wait on itself; a lock whose owner is
// gone (or is this very process, which cannot be inside a section while it is
// waiting) is stale and broken.
import * as fs from "node:fs";
import * as path from "node:path";
import { TsboxError, errnoCode } from "../errors.js";
import { randomSuffix } from "./atomic.js";

const POLL_MS = 20;
const TIMEOUT_MS = 60_000;
// A holder writes its pid right after creating the file; an empty lock older
// than this belongs to a process that died in between.
export const EMPTY_GRACE_MS = 5_000;

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread for ms (polling loops of synchronous code). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Whether a process exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === "EPERM";
  }
}

/** Creates the lock file with our pid; false if it exists. */
export function tryCreateLock(lockPath: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(lockPath, "wx", 0o600);
  } catch (e) {
    if (errnoCode(e) === "EEXIST") return false;
    throw e;
  }
  try {
    fs.writeSync(fd, `${process.pid}\n`);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** The holder's pid, or undefined if the lock vanished; NaN if not yet written. */
export function readLockOwner(lockPath: string): { pid: number; ageMs: number } | undefined {
  try {
    const text = fs.readFileSync(lockPath, "utf8");
    const ageMs = Date.now() - fs.statSync(lockPath).mtimeMs;
    return { pid: text.trim() === "" ? Number.NaN : Number.parseInt(text, 10), ageMs };
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

/** Removes a stale lock unless someone replaced it since we looked at it. */
export function breakStale(lockPath: string, stalePid: number): void {
  const aside = `${lockPath}.stale-${randomSuffix()}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw e;
  }
  const text = fs.readFileSync(aside, "utf8").trim();
  const pid = text === "" ? Number.NaN : Number.parseInt(text, 10);
  if (pid !== stalePid && !(Number.isNaN(pid) && Number.isNaN(stalePid))) {
    // We moved a live owner's lock aside: put it back if the name is still free.
    try {
      fs.linkSync(aside, lockPath);
    } catch {
      // Someone else already holds a new lock; the old owner will unlink that
      // one on release. Rare enough (two breakers racing) to accept.
    }
  }
  fs.rmSync(aside, { force: true });
}

/**
 * One try at the lock: true when taken, else its live owner. A stale lock (its
 * owner gone, or our own pid: no section of ours can be waiting, or still empty
 * past the grace time) is broken (`onBreak` first) and tried again. Shared by
 * every waiter on a lock file, synchronous or not.
 */
export function takeLock(lockPath: string, onBreak?: (pid: number) => void): true | { pid: number } {
  for (;;) {
    if (tryCreateLock(lockPath)) return true;
    const owner = readLockOwner(lockPath);
    if (owner === undefined) continue;
    const stale = Number.isNaN(owner.pid) ? owner.ageMs > EMPTY_GRACE_MS : owner.pid === process.pid || !processAlive(owner.pid);
    if (!stale) return owner;
    onBreak?.(owner.pid);
    breakStale(lockPath, owner.pid);
  }
}

function acquire(lockPath: string): string {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const owner = takeLock(lockPath);
    if (owner === true) return lockPath;
    if (Date.now() > deadline) {
      throw new TsboxError(`timed out waiting for the lock ${lockPath} (held by process ${owner.pid})`);
    }
    sleepSync(POLL_MS);
  }
}

// Own-pid locks count as stale, so a nested section would break its own lock.
const held = new Set<string>();

/** Runs `fn` holding the lock file. `fn` must be synchronous (see above) and must not nest. */
export function withLock<T>(lockFile: string, fn: () => T): T {
  const key = path.resolve(lockFile);
  if (held.has(key)) throw new Error("withLock: nested critical section");
  const lockPath = acquire(key);
  held.add(key);
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error("withLock: the critical section must be synchronous");
    return result;
  } finally {
    held.delete(key);
    fs.rmSync(lockPath, { force: true });
  }
}
