// Volumes on disk, as Docker's local driver keeps them: one directory per
// volume under <root>/volumes/NAME, its files in _data, its record in
// volume.json. A volume appears whole or not at all (made in a temporary
// directory, filled, then renamed into place) and disappears whole (renamed
// away, then removed). Which containers use a volume is never counted here:
// it is read from the containers' own records each time it is asked, so a
// crash can never leave a count that drifts. The volume lock serialises what
// decides on that answer (rm, prune, a run making sure its volumes exist).

import { lstatSync, mkdirSync, readdirSync, type Dirent, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CorruptContainerError, TsboxError, errnoCode } from "../errors.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { withLock } from "../util/lock.js";
import { randomBytesHex } from "../util/random.js";
import { log } from "../log.js";
import { ShapeError, boolean, object, optional, readChecked, recordOf, string, oneOf, type Check } from "../util/shape.js";
import { checkVolumeName } from "../oci/mount-points.js";
import { listContainerIds, readSpec, readState } from "./container-store.js";
import { recordEvent } from "./events.js";

export interface VolumeRecord {
  name: string;
  driver: "local";
  /** RFC 3339, seconds (Docker's CreatedAt) */
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** made for one container without a name (-v /path, --mount without source, the image's VOLUME) */
  anonymous?: boolean;
}

const checkVolume: Check<VolumeRecord> = object({
  name: string, driver: oneOf("local"), createdAt: string, labels: recordOf(string), options: recordOf(string),
  anonymous: optional(boolean),
});

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function volumesDir(root: string): string {
  return join(root, "volumes");
}

export interface VolumePaths { dir: string; data: string; record: string }

/** Where volume `name` lives; the name is checked first, so no name leads out of the store. */
export function volumePaths(root: string, name: string): VolumePaths {
  if (!NAME.test(name)) checkVolumeName(name);
  const dir = join(volumesDir(root), name);
  return { dir, data: join(dir, "_data"), record: join(dir, "volume.json") };
}

/** Docker's random name of an anonymous volume: 64 hex digits. */
export const newVolumeName = (): string => randomBytesHex(32);

/** The store's lock: held by whatever decides from who uses a volume (see the head of this file). */
export function withVolumeLock<T>(root: string, fn: () => T): T {
  mkdirSync(volumesDir(root), { recursive: true, mode: 0o701 });
  return withLock(join(volumesDir(root), ".lock"), fn);
}

/** A volume whose record cannot be read back: named in the message, left alone by ls and prune, removable by rm. */
export class CorruptVolumeError extends TsboxError {}

/** The volume's record; undefined when there is no such volume. */
export function readVolume(root: string, name: string): VolumeRecord | undefined {
  if (!NAME.test(name)) return undefined;
  const p = volumePaths(root, name);
  try {
    const v = readChecked(p.record, checkVolume);
    if (v !== undefined && v.name !== name) throw new CorruptVolumeError(`volume ${name}: ${p.record} names another volume (${v.name})`, 1);
    return v;
  } catch (e) {
    if (e instanceof ShapeError || e instanceof SyntaxError) throw new CorruptVolumeError(`volume ${name}: ${p.record} is unreadable: ${e.message}`, 1);
    throw e;
  }
}

/** The record, or undefined for a volume that is not there or cannot be read (logged: `volume rm` still removes it). */
export function readVolumeOrSkip(root: string, name: string): VolumeRecord | undefined {
  try {
    return readVolume(root, name);
  } catch (e) {
    if (!(e instanceof CorruptVolumeError)) throw e;
    log().warn({ volume: name }, e.message);
    return undefined;
  }
}

/** Every volume's name, sorted (temporary and trashed directories start with "." and are not volumes). */
export function listVolumeNames(root: string): string[] {
  try {
    return readdirSync(volumesDir(root)).filter((n) => NAME.test(n)).sort();
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
}

export interface NewVolume {
  name: string;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  anonymous?: boolean;
}

/**
 * The volume `want.name`, made if it does not exist: its directory is built
 * beside the store (`fill` may put the first content into its _data there)
 * and renamed into place, so no one ever sees it half made. An existing
 * volume is returned as it is (Docker's create is idempotent), `created` false.
 */
export function createVolume(root: string, want: NewVolume, fill?: (data: string) => void): { volume: VolumeRecord; created: boolean } {
  const p = volumePaths(root, want.name);
  const existing = readVolume(root, want.name);
  if (existing) return { volume: existing, created: false };
  mkdirSync(volumesDir(root), { recursive: true, mode: 0o701 });
  const tmp = join(volumesDir(root), `.new-${randomBytesHex(8)}`);
  const volume: VolumeRecord = {
    name: want.name, driver: "local", createdAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    labels: want.labels ?? {}, options: want.options ?? {}, ...(want.anonymous ? { anonymous: true } : {}),
  };
  try {
    mkdirSync(tmp, { mode: 0o701 });
    mkdirSync(join(tmp, "_data"), { mode: 0o755 });
    fill?.(join(tmp, "_data"));
    writeJsonAtomic(join(tmp, "volume.json"), volume, false);
    try {
      renameSync(tmp, p.dir);
    } catch (e) {
      // Made meanwhile by another tsbox: that one is the volume.
      if (errnoCode(e) !== "EEXIST" && errnoCode(e) !== "ENOTEMPTY") throw e;
      const other = readVolume(root, want.name);
      if (!other) throw e;
      return { volume: other, created: false };
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  recordEvent(root, "volume", "create", volume.name, { driver: volume.driver });
  return { volume, created: true };
}

/** Removes the volume whole: renamed out of the store first, so it is never seen half removed. */
export function removeVolumeDir(root: string, name: string): void {
  const p = volumePaths(root, name);
  const trash = join(volumesDir(root), `.gone-${randomBytesHex(8)}`);
  try {
    renameSync(p.dir, trash);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw e;
  }
  rmSync(trash, { recursive: true, force: true });
  recordEvent(root, "volume", "destroy", name, { driver: "local" });
}

/** Leftovers of a create or remove that a crash interrupted (old ones only: a young one may be in progress). */
export function sweepVolumeDebris(root: string, minAgeMs = 60_000): number {
  let names: string[];
  try { names = readdirSync(volumesDir(root)); } catch { return 0; }
  let removed = 0;
  for (const n of names) {
    if (!/^\.(new|gone)-[0-9a-f]{16}$/.test(n)) continue;
    const dir = join(volumesDir(root), n);
    const st = lstatSync(dir, { throwIfNoEntry: false });
    if (st === undefined || Date.now() - st.mtimeMs < minAgeMs) continue;
    rmSync(dir, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/**
 * Which containers use which volume, read from every container's records:
 * its state's mounts, or (when its state cannot be read) its spec's binds of
 * a volume's data directory. A container being created holds the volume lock
 * from before its record names a volume until the volume exists.
 */
export function volumeUsers(root: string): Map<string, string[]> {
  const users = new Map<string, string[]>();
  const add = (name: string, id: string): void => {
    const list = users.get(name) ?? [];
    if (!list.includes(id)) list.push(id);
    users.set(name, list);
  };
  const prefix = `${volumesDir(root)}/`;
  for (const id of listContainerIds(root)) {
    try {
      const s = readState(root, id);
      if (s) {
        for (const m of s.mounts ?? []) if (m.type === "volume" && m.name !== undefined) add(m.name, id);
        continue;
      }
    } catch (e) {
      if (!(e instanceof CorruptContainerError)) throw e;
    }
    try {
      for (const m of readSpec(root, id)?.mounts ?? []) {
        const src = m.source ?? "";
        if (m.type === "bind" && src.startsWith(prefix) && src.endsWith("/_data")) add(src.slice(prefix.length, -"/_data".length), id);
      }
    } catch (e) {
      if (!(e instanceof CorruptContainerError)) throw e;
    }
  }
  return users;
}

/**
 * A removed container's anonymous volumes (`rm -v`, `--rm`), each unless
 * another container still uses it (Docker ignores that conflict silently).
 * Named volumes stay.
 */
export function removeAnonymousVolumes(root: string, names: readonly string[]): void {
  if (names.length === 0) return;
  withVolumeLock(root, () => {
    const users = volumeUsers(root);
    for (const n of names) if (!users.has(n)) removeVolumeDir(root, n);
  });
}

/**
 * Bytes a volume's files hold, as Docker's directory.Size counts them: regular
 * files and links by their size, a hard-linked file once, directories not.
 */
export function volumeSize(root: string, name: string): number {
  const seen = new Set<string>();
  const walk = (dir: string): number => {
    let total = 0;
    let entries: Dirent[];
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return 0; }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        total += walk(p);
        continue;
      }
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (st === undefined) continue;
      const key = `${st.dev}:${st.ino}`;
      if (st.nlink > 1 && seen.has(key)) continue;
      seen.add(key);
      total += st.size;
    }
    return total;
  };
  return walk(volumePaths(root, name).data);
}
