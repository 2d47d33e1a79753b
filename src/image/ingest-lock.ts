// Per-layer ingest locks, so that concurrent loads and pulls of images sharing
// a layer unpack it once: the first takes the lock, unpacks, commits and
// releases; the others wait, then find the layer in the store and skip it.
//
// Unlike the store lock (util/lock.ts) these are held across awaits, for as
// long as an unpack takes, so waiting is an async poll and there is no
// timeout: a holder that dies is detected by its pid and its lock broken, as
// in util/lock.ts. Within one process the file alone cannot tell two holders
// apart (same pid), so an in-process queue per key comes first.
//
//   <root>/tmp/ingest-<key>.lock   created O_EXCL, holds the owner's pid
import * as fs from "node:fs";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { errnoCode } from "../errors.js";
import { log } from "../log.js";
import { randomSuffix } from "../util/atomic.js";
import type { StorePaths } from "./store.js";

const POLL_MS = 25;
// A holder writes its pid right after creating the file; an empty lock older
// than this belongs to a process that died in between.
const EMPTY_GRACE_MS = 5_000;
const KEY = /^[A-Za-z0-9_.-]{1,128}$/;

/** The file name part for a key: the hex of a digest, or a plain safe token. */
function keyName(key: string): string {
  const hex = /^sha256:([a-f0-9]{64})$/.exec(key)?.[1];
  if (hex !== undefined) return hex;
  if (!KEY.test(key) || key.startsWith(".")) throw new Error(`invalid layer lock key ${JSON.stringify(key)}`);
  return key;
}

export function layerLockPath(p: StorePaths, key: string): string {
  return path.join(p.tmp, `ingest-${keyName(key)}.lock`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === "EPERM";
  }
}

function tryCreate(lockPath: string): boolean {
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

function readOwner(lockPath: string): { text: string; ageMs: number } | undefined {
  try {
    const text = fs.readFileSync(lockPath, "utf8");
    return { text, ageMs: Date.now() - fs.statSync(lockPath).mtimeMs };
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

/** Removes a stale lock unless it was replaced since it was read (then puts the new one back). */
function breakStale(lockPath: string, staleText: string): void {
  const aside = `${lockPath}.stale-${randomSuffix()}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw e;
  }
  if (fs.readFileSync(aside, "utf8") !== staleText) {
    try {
      fs.linkSync(aside, lockPath);
    } catch {
      // A third process already holds a fresh lock; the one we moved will find
      // its file gone on release, which rmSync({force}) tolerates.
    }
  }
  fs.rmSync(aside, { force: true });
}

async function acquire(lockPath: string): Promise<void> {
  let logged = false;
  for (;;) {
    if (tryCreate(lockPath)) return;
    const owner = readOwner(lockPath);
    if (owner === undefined) continue;
    const pid = Number.parseInt(owner.text, 10);
    // Our own pid on a file no one in this process holds (see held): left by a
    // previous process that had our pid.
    const stale = Number.isNaN(pid) ? owner.ageMs > EMPTY_GRACE_MS : pid === process.pid || !alive(pid);
    if (stale) {
      log().debug({ lock: lockPath, owner: owner.text.trim() }, "breaking stale layer lock");
      breakStale(lockPath, owner.text);
      continue;
    }
    if (!logged) {
      log().debug({ lock: lockPath, owner: pid }, "waiting for another process unpacking the same layer");
      logged = true;
    }
    await sleep(POLL_MS);
  }
}

// In-process queue: the tail of the chain of holders per lock file.
const held = new Map<string, Promise<void>>();

/**
 * Runs `fn` holding the ingest lock for `key` (a digest, or a token of
 * [A-Za-z0-9_.-]), across processes and within this one. Key it by the chain
 * ID the layer will be committed under and check the store inside `fn`:
 * whoever held the lock before may have committed it meanwhile.
 */
export async function withLayerLock<T>(p: StorePaths, key: string, fn: () => Promise<T>): Promise<T> {
  const lockPath = layerLockPath(p, key);
  const before = held.get(lockPath) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => { release = r; });
  const tail = before.then(() => mine);
  held.set(lockPath, tail);
  await before;
  try {
    await acquire(lockPath);
    try {
      return await fn();
    } finally {
      fs.rmSync(lockPath, { force: true });
    }
  } finally {
    release();
    if (held.get(lockPath) === tail) held.delete(lockPath);
  }
}

/**
 * Holds the locks of several keys for the duration of `fn`. They are taken in
 * the order given, which must be bottom → top chain IDs: a chain ID depends on
 * every layer below it, so no two images can order two shared chains
 * differently, and waiting on each other in a cycle is impossible.
 */
export async function withLayerLocks<T>(p: StorePaths, keys: readonly string[], fn: () => Promise<T>): Promise<T> {
  const unique = [...new Set(keys)];
  const step = async (i: number): Promise<T> => {
    const key = unique[i];
    return key === undefined ? fn() : withLayerLock(p, key, () => step(i + 1));
  };
  return step(0);
}
