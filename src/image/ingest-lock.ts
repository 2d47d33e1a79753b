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
import { log } from "../log.js";
import { takeLock } from "../util/lock.js";
import type { StorePaths } from "./store.js";

const POLL_MS = 25;
// A holder writes its pid right after creating the file; an empty lock older
// than this belongs to a process that died in between.
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

async function acquire(lockPath: string): Promise<void> {
  let logged = false;
  for (;;) {
    // Our own pid on a file no one in this process holds (see held): left by a
    // previous process that had our pid, so takeLock breaks it.
    const owner = takeLock(lockPath, (pid) => log().debug({ lock: lockPath, owner: pid }, "breaking stale layer lock"));
    if (owner === true) return;
    if (!logged) {
      log().debug({ lock: lockPath, owner: owner.pid }, "waiting for another process unpacking the same layer");
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
