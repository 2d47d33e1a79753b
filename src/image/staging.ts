// Staging directories under <root>/tmp carry their creator's pid
// (`<kind>-<pid>-<random>`), so that what a killed process left behind can be
// told apart from a live process's work and swept by the next writer (import,
// load, pull) and by image and system prune. A killed writer's ingest locks
// (tmp/ingest-*.lock, holding its pid) go the same way.
import * as fs from "node:fs";
import * as path from "node:path";
import { errnoCode } from "../errors.js";
import { log } from "../log.js";
import { setTopdir } from "../native/shim.js";
import { EMPTY_GRACE_MS, breakStale, processAlive, readLockOwner } from "../util/lock.js";
import type { StorePaths } from "./store.js";

const spread = new Set<string>();

/**
 * Marks tmp/ as a top of directory hierarchies (FS_TOPDIR_FL), once per
 * process. ext4's Orlov allocator then places each staging directory (and so
 * the layer unpacked in it; a rename into layers/ keeps the inodes) in a
 * lightly used block group, instead of the group of tmp/ itself. That group
 * is where the previous layers and spools lived: on an ext4 without a journal
 * every inode allocation scans past the inodes freed there in the last minutes
 * (recently_deleted()), which made each file creation cost ~100-300 µs after
 * an image was removed, instead of ~20 µs. Elsewhere the flag is harmless or
 * unsupported (ENOTTY, EOPNOTSUPP): then nothing changes.
 */
function spreadStaging(tmp: string): void {
  if (spread.has(tmp)) return;
  spread.add(tmp);
  try {
    setTopdir(tmp);
  } catch (e) {
    log().debug({ dir: tmp, code: errnoCode(e) }, "cannot set FS_TOPDIR_FL on the staging directory");
  }
}

export function makeStagingDir(p: StorePaths, kind: string): string {
  spreadStaging(p.tmp);
  return fs.mkdtempSync(path.join(p.tmp, `${kind}-${process.pid}-`));
}

/**
 * Removes staging directories and ingest locks whose creator is gone. A
 * live writer's are kept whatever their age: its pid is alive (a pid reused
 * by another process keeps a dead writer's until that one exits too).
 */
export function sweepStaging(p: StorePaths): void {
  let names: string[];
  try {
    names = fs.readdirSync(p.tmp);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw e;
  }
  for (const name of names) {
    if (/^ingest-[A-Za-z0-9_.-]+\.lock$/.test(name)) {
      sweepLock(path.join(p.tmp, name));
      continue;
    }
    const m = /^(?:layer|load|save|commit|build|push)-([0-9]+)-[A-Za-z0-9]{6}$/.exec(name);
    if (m?.[1] === undefined || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    log().info({ dir: name }, "removing staging left by a dead tsbox process");
    fs.rmSync(path.join(p.tmp, name), { recursive: true, force: true });
  }
}

/** An ingest lock whose holder is gone, broken the way a waiter breaks it (see ingest-lock.ts). */
function sweepLock(lockPath: string): void {
  const owner = readLockOwner(lockPath);
  if (owner === undefined) return;
  // Our own pid: a concurrent ingest of this process may hold it (one left by
  // a dead process that had our pid is broken by the next waiter).
  const stale = Number.isNaN(owner.pid) ? owner.ageMs > EMPTY_GRACE_MS : owner.pid !== process.pid && !processAlive(owner.pid);
  if (!stale) return;
  log().info({ lock: path.basename(lockPath), owner: owner.pid }, "removing an ingest lock left by a dead tsbox process");
  breakStale(lockPath, owner.pid);
}
