// A run's mounts, as Docker's daemon registers them (moby daemon/volumes.go
// registerMountPoints, create_unix.go): --volumes-from first, then -v binds
// and volumes, then --mount (a duplicate destination among those two is an
// error), then an anonymous volume for each image VOLUME and `-v /path` that
// nothing covers yet. The volumes are made (or found) once the container's
// record names them, under the volume lock; a new or still empty and unused
// volume is filled from the image's content at its destination (Docker's
// copy-up), read from the image's layers without following a link out of
// the image's root.

import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import type { ImageConfigBody } from "../image/index.js";
import type { LayerRef } from "../image/layers.js";
import { MergedView } from "../image/files.js";
import { resolveDestination } from "../image/container-fs.js";
import {
  cleanPath, parseMountFlag, parseVolumeFlag, parseVolumesFrom, type MountPoint, type MountRequest,
} from "../oci/mount-points.js";
import { findContainer } from "../state/container-store.js";
import {
  createVolume, newVolumeName, readVolume, removeVolumeDir, volumePaths, volumeUsers, withVolumeLock,
} from "../state/volume-store.js";
import { randomBytesHex } from "../util/random.js";
import { HostTree, LayeredTree, copyTree } from "./cp-trees.js";

/** What the flags ask for, raw. */
export interface MountFlags {
  volumes: readonly string[];
  mounts: readonly string[];
  volumesFrom: readonly string[];
}

/** The container's mount points, and for each volume among them how it is to be made. */
export interface ResolvedMounts {
  points: MountPoint[];
  /** by volume name: copy-up wanted, labels and options for a volume made here */
  volumes: Map<string, VolumeWanted>;
}

/** How a volume the container mounts is to be made if it is not there. */
type VolumeWanted = Pick<MountRequest, "copyData" | "labels" | "driverOpts"> & { anonymous: boolean; destination: string };

const duplicate = (dest: string): UsageError => new UsageError(`Duplicate mount point: ${dest}`);

/**
 * The flags and the image's VOLUMEs → mount points, with every error Docker
 * gives for them; nothing is created here. `tmpfs` are the --tmpfs
 * destinations (a -v there is a duplicate, as Docker's #10618 check).
 */
export function resolveMounts(root: string, image: ImageConfigBody, layers: readonly LayerRef[], flags: MountFlags,
  tmpfs: readonly string[]): ResolvedMounts {
  const points = new Map<string, MountPoint>();
  const volumes: ResolvedMounts["volumes"] = new Map();
  for (const spec of flags.volumesFrom) {
    const { container, rw } = parseVolumesFrom(spec);
    const from = findContainer(root, container);
    for (const m of from.mounts ?? []) points.set(m.destination, { ...m, rw: m.rw && rw });
  }
  const claimed = new Set<string>();
  const anonymous: string[] = [];
  const tmpfsDests = new Set(tmpfs.map((t) => cleanPath(t.split(":", 1)[0] ?? "")));
  const add = (r: MountRequest): void => {
    if (claimed.has(r.destination) || tmpfsDests.has(r.destination)) throw duplicate(r.destination);
    claimed.add(r.destination);
    points.set(r.destination, pointOf(root, r, volumes));
  };
  for (const v of flags.volumes) {
    const r = parseVolumeFlag(v, process.cwd());
    // `-v /path` is Docker's Config.Volumes: an anonymous volume unless something else is mounted there.
    if (r.type === "volume" && r.source === "") anonymous.push(r.destination);
    else add(r);
  }
  for (const m of flags.mounts) add(parseMountFlag(m, (p) => existsSync(p), process.cwd()));
  let view: MergedView | undefined;
  for (const dest of [...anonymous, ...Object.keys(image.Volumes ?? {}).map(cleanPath)]) {
    if (points.has(dest)) continue;
    // moby's createContainerOSSpecificSettings: a volume cannot go over a file of the image
    view ??= new MergedView(layers);
    const at = resolveDestination(view, dest);
    if (!at.isDir && view.lookup(at.parts) !== undefined) throw new UsageError(`cannot mount volume over existing file, file exists ${dest}`);
    points.set(dest, pointOf(root, { type: "volume", source: "", destination: dest, mode: "", rw: true, propagation: "", copyData: true }, volumes));
  }
  // Parents before children (moby's sortMounts): /a is mounted before /a/b.
  const depth = (p: string): number => p.split("/").filter(Boolean).length;
  return { points: [...points.values()].sort((a, b) => depth(a.destination) - depth(b.destination)), volumes };
}

function pointOf(root: string, r: MountRequest, volumes: ResolvedMounts["volumes"]): MountPoint {
  if (r.type !== "volume") {
    return {
      type: r.type, source: r.source, destination: r.destination, mode: r.mode, rw: r.rw, propagation: r.propagation,
      ...(r.tmpfsData !== undefined ? { tmpfsData: r.tmpfsData } : {}),
    };
  }
  const anonymous = r.source === "";
  const name = anonymous ? newVolumeName() : r.source;
  const opts = readVolume(root, name)?.options ?? r.driverOpts ?? {};
  if (r.driverOpts) checkVolumeOptions(r.driverOpts);
  if (!volumes.has(name)) {
    volumes.set(name, {
      anonymous, destination: r.destination, copyData: r.copyData,
      ...(r.labels ? { labels: r.labels } : {}), ...(r.driverOpts ? { driverOpts: r.driverOpts } : {}),
    });
  }
  return {
    type: "volume", name, source: volumePaths(root, name).data, destination: r.destination, mode: r.mode, rw: r.rw,
    propagation: "", ...(anonymous ? { anonymous: true } : {}), ...driverMount(opts),
  };
}

/** A local volume created with type/device/o is that mount, made where the container mounts the volume. */
function driverMount(opts: Record<string, string>): Pick<MountPoint, "device"> {
  if (opts.type === undefined || opts.device === undefined) return {};
  return { device: { type: opts.type, source: opts.device, options: opts.o ?? "" } };
}

/** The local driver's options (moby volume/local setOpts): type, device, o; size needs quota support tsbox has not. */
export function checkVolumeOptions(opts: Record<string, string>): void {
  for (const k of Object.keys(opts)) {
    if (!["type", "o", "device", "size"].includes(k)) throw new UsageError(`invalid option: "${k}"`);
  }
  const needs: [string, string[]][] = [["device", ["type"]], ["type", ["device"]], ["o", ["device", "type"]]];
  for (const [k, req] of needs) {
    if (opts[k] === undefined) continue;
    for (const r of req) if (opts[r] === undefined) throw new UsageError(`missing required option: "${r}"`);
  }
  if (opts.size !== undefined) throw new UsageError("quota size requested but no quota support");
}

/**
 * Makes sure every volume of the container exists, filling a new one (or an
 * empty one no container uses) from the image. Called once the container's
 * record names its volumes; returns the names it created, for the undo of a
 * run that fails later.
 */
export function ensureVolumes(root: string, resolved: ResolvedMounts, layers: readonly LayerRef[], upper: string): string[] {
  if (resolved.volumes.size === 0) return [];
  return withVolumeLock(root, () => {
    const created: string[] = [];
    const users = lazy(() => volumeUsers(root));
    try {
      for (const [name, v] of resolved.volumes) {
        if (ensureVolume(root, name, v, layers, upper, users)) created.push(name);
      }
    } catch (e) {
      for (const n of created) removeVolumeDir(root, n);
      throw e;
    }
    return created;
  });
}

const lazy = <T>(f: () => T): (() => T) => {
  let v: { value: T } | undefined;
  return () => (v ??= { value: f() }).value;
};

/** One volume made or found (and filled where Docker would); true when made here. */
function ensureVolume(root: string, name: string, v: VolumeWanted, layers: readonly LayerRef[], upper: string,
  users: () => Map<string, string[]>): boolean {
  const fill = v.copyData ? (data: string) => copyUp(layers, upper, v.destination, data) : undefined;
  const made = createVolume(root, {
    name, anonymous: v.anonymous, ...(v.labels ? { labels: v.labels } : {}), ...(v.driverOpts ? { options: v.driverOpts } : {}),
  }, fill);
  if (made.created) return true;
  if (fill === undefined || Object.keys(made.volume.options).length > 0) return false;
  // Docker fills an existing volume too while it is empty: here only one no
  // other container uses, so that nothing else writes there meanwhile.
  const data = volumePaths(root, name).data;
  if (readdirSync(data).length > 0 || (users().get(name) ?? []).length > 1) return false;
  fillInPlace(data, fill);
  return false;
}

/** Fills an empty _data through a fresh directory renamed over it: never half filled. */
function fillInPlace(data: string, fill: (dir: string) => void): void {
  const tmp = join(data, "..", `.fill-${randomBytesHex(8)}`);
  try {
    mkdirSync(tmp, { mode: 0o755 });
    fill(tmp);
    renameSync(tmp, data);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The image's directory at `destination` (its links followed inside the image's root) copied into `data`, owners, modes and links kept. */
function copyUp(layers: readonly LayerRef[], upper: string, destination: string, data: string): void {
  const tree = new LayeredTree(layers, upper);
  const src = tree.resolve(destination.split("/").filter(Boolean), true);
  if (!(tree.lstat(src)?.isDirectory() ?? false)) return;
  copyTree(tree, src, new HostTree(data), [], undefined);
}

/** Removes the volumes a failed run made (what it did not make stays). */
export function removeCreatedVolumes(root: string, names: readonly string[]): void {
  withVolumeLock(root, () => {
    for (const n of names) removeVolumeDir(root, n);
  });
}

/** The anonymous volumes of a container's mounts (what `rm -v` and `--rm` remove). */
export function anonymousVolumes(mounts: readonly MountPoint[] | undefined): string[] {
  return (mounts ?? []).filter((m) => m.type === "volume" && m.anonymous === true && m.name !== undefined).map((m) => m.name!);
}
