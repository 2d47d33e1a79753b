// A container's read-write layer (its overlay upperdir) read as Docker reads
// it: the changes `diff` lists (A added, C changed, D deleted, relative to the
// image) and the layer archive `commit` makes of them, overlayfs's whiteouts
// turned back into the image spec's `.wh.` names.
//
// What is not the container's own change is left out, as Docker leaves out
// its init layer: the mount points the launch makes (/etc/hostname,
// /etc/hosts, /etc/resolv.conf, and /dev, /proc, /sys where the image has
// none), and a directory copied up only because of them. A directory of the
// image counts as changed when something beneath it changed or its mode or
// owner did, not for its mtime alone (which every copy-up moves).
//
// The layer belongs to a container that may still run (`commit --pause=false`)
// and may swap any of its directories for a symlink while it is read: every
// path is reached from a pinned directory descriptor, one component at a time
// and never through a symlink (O_NOFOLLOW on each, through /proc/self/fd), so
// nothing outside the layer is ever listed or read.
import * as fs from "node:fs";
import { errnoCode } from "../errors.js";
import { deviceNumbers } from "../util/fs.js";
import { lgetxattrLen } from "../native/shim.js";
import { TarWriter, type TarEntry } from "./archive/tar-writer.js";
import type { MergedLookup } from "./files.js";
import { isOverlayWhiteout } from "./whiteouts.js";

export type ChangeKind = "A" | "C" | "D";

export interface Change {
  kind: ChangeKind;
  /** absolute, as Docker prints it: "/etc/motd" */
  path: string;
}

/** Where the launch mounts something over a path it may have to create (Docker's init layer). */
const LAUNCH_MOUNT_POINTS = new Set(["etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/mtab", "dev", "proc", "sys", ".dockerenv"]);

/** One entry of the read-write layer that belongs in the diff, in walk order (parents first, names sorted). */
export interface LayerItem {
  parts: string[];
  kind: ChangeKind;
  /** the upper entry; absent for a deletion */
  st?: fs.Stats;
  /** a directory of the upper layer that hides everything below it */
  opaque: boolean;
  /** a deletion that the opaque directory above it already says (no whiteout of its own in the archive) */
  implied?: boolean;
}

/** Reads whether an upper directory carries overlayfs's opaque mark. */
export type OpaqueProbe = (dir: string) => boolean;

export const overlayOpaque: OpaqueProbe = (dir) => {
  try {
    return lgetxattrLen(dir, "trusted.overlay.opaque") > 0;
  } catch (e) {
    if (errnoCode(e) === "ENODATA" || errnoCode(e) === "ENOTSUP") return false;
    throw e;
  }
};

const sortedNames = (dir: string): string[] => fs.readdirSync(dir).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * The container's changes, parents before children and names in byte order.
 * `lower` answers what the image has at a path and lists its directories (for
 * what an opaque directory hides). `launched`: the directory was a container's
 * upperdir, so the launch's mount points are left out (a build's COPY layer
 * keeps everything).
 */
export function readRwLayer(upper: string, lower: MergedLookup, probe: OpaqueProbe = overlayOpaque,
  opts: { launched: boolean } = { launched: true }): LayerItem[] {
  const out: LayerItem[] = [];
  const fd = fs.openSync(upper, O_DIR);
  try {
    walk(fd, [], lower, probe, out, opts.launched ? LAUNCH_MOUNT_POINTS : new Set());
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

const O_DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;
const O_FILE = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
/** `name` in the directory open as `fd`: the walk cannot leave that directory, and `name` itself is never followed. */
const at = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;

/** Appends the items under `parts` (the upper directory open as `dirFd`); returns whether any was added. */
function walk(dirFd: number, parts: string[], lower: MergedLookup, probe: OpaqueProbe, out: LayerItem[],
  skip: ReadonlySet<string>): boolean {
  let added = false;
  for (const name of sortedNames(`/proc/self/fd/${dirFd}`)) {
    const child = [...parts, name];
    const rel = child.join("/");
    const st = fs.lstatSync(at(dirFd, name));
    const below = lower.lookup(child);
    if (isOverlayWhiteout(st)) {
      if (below !== undefined) {
        out.push({ parts: child, kind: "D", opaque: false });
        added = true;
      }
      continue;
    }
    if (st.isSocket()) continue; // as Docker's archiver: a socket has no place in a layer
    if (skip.has(rel) && (st.isDirectory() || (st.isFile() && st.size === 0))) continue;
    if (!st.isDirectory()) {
      out.push({ parts: child, kind: below === undefined ? "A" : "C", st, opaque: false });
      added = true;
      continue;
    }
    const opaque = below !== undefined && probe(at(dirFd, name));
    const at0 = out.length;
    out.push({ parts: child, kind: below === undefined ? "A" : "C", st, opaque });
    const fd = fs.openSync(at(dirFd, name), O_DIR);
    let inner: boolean;
    try {
      inner = walk(fd, child, opaque ? lower.without(child) : lower, probe, out, skip);
      if (opaque) {
        // What the image had here and the layer did not put back is gone.
        const here = new Set(fs.readdirSync(`/proc/self/fd/${fd}`));
        for (const n of lower.names(child)) if (!here.has(n)) out.push({ parts: [...child, n], kind: "D", opaque: false, implied: true });
      }
    } finally {
      fs.closeSync(fd);
    }
    const metaChanged = below === undefined || !below.st.isDirectory() || opaque
      || below.st.mode !== st.mode || below.st.uid !== st.uid || below.st.gid !== st.gid;
    if (!inner && !metaChanged) {
      out.splice(at0, 1); // copied up for a launch mount point only
      continue;
    }
    added = true;
  }
  return added;
}

/** Docker's `diff` lines: each change, plus a C for the parent of an A or D not listed already. */
export function changesOf(items: readonly LayerItem[]): Change[] {
  const seen = new Set<string>();
  const out: Change[] = [];
  const add = (kind: ChangeKind, p: string): void => {
    if (seen.has(p)) return;
    seen.add(p);
    out.push({ kind, path: p });
  };
  for (const it of items) {
    const p = `/${it.parts.join("/")}`;
    if (it.kind !== "C" && it.parts.length > 1) add("C", `/${it.parts.slice(0, -1).join("/")}`);
    add(it.kind, p);
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The directories of the upper layer open along the current path, as the
 * items come (parents first): each opened from its parent, never through a
 * symlink, and closed once the items have left it.
 */
class DirStack {
  private readonly fds: number[];
  private readonly names: string[] = [];

  constructor(upper: string) {
    this.fds = [fs.openSync(upper, O_DIR)];
  }

  /** The descriptor of the directory `parts`. */
  open(parts: readonly string[]): number {
    let keep = 0;
    while (keep < this.names.length && keep < parts.length && this.names[keep] === parts[keep]) keep++;
    while (this.names.length > keep) {
      this.names.pop();
      fs.closeSync(this.fds.pop() ?? -1);
    }
    for (const c of parts.slice(keep)) {
      this.fds.push(fs.openSync(at(this.top(), c), O_DIR));
      this.names.push(c);
    }
    return this.top();
  }

  private top(): number {
    return this.fds[this.fds.length - 1] ?? -1;
  }

  close(): void {
    for (const fd of this.fds.splice(0)) fs.closeSync(fd);
    this.names.length = 0;
  }
}

/**
 * Writes the layer archive of `items` to `out`: entries with their owners,
 * modes and times, `.wh.<name>` for a deletion, `.wh..wh..opq` in an opaque
 * directory, and a second name of the same inode as a hard link to the first.
 * A file that changed type or inode since the walk fails the write.
 */
export async function writeRwLayer(upper: string, items: readonly LayerItem[], out: NodeJS.WritableStream): Promise<void> {
  const tw = new TarWriter(out);
  const inodes = new Map<string, string>();
  const dirs = new DirStack(upper);
  try {
    for (const it of items) {
      const name = it.parts.join("/");
      const last = it.parts[it.parts.length - 1] ?? "";
      if (it.kind === "D") {
        if (it.implied === true) continue;
        const wh = [...it.parts.slice(0, -1), `.wh.${last}`].join("/");
        await tw.entry({ name: wh, type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0 });
        continue;
      }
      const st = it.st;
      if (st === undefined) continue;
      const dirFd = dirs.open(it.parts.slice(0, -1));
      const base = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
      const entry = entryOf(base, st, dirFd, last, inodes);
      await tw.entry(entry, entry.type === "file" && (entry.size ?? 0) > 0 ? openSame(dirFd, last, st) : undefined);
      if (it.opaque) await tw.entry({ name: `${name}/.wh..wh..opq`, type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0 });
    }
    await tw.end();
  } finally {
    dirs.close();
    tw.close();
  }
}

/** Opens the regular file the walk saw (same inode, same size), or fails. */
function openSame(dirFd: number, name: string, st: fs.Stats): number {
  const fd = fs.openSync(at(dirFd, name), O_FILE);
  const now = fs.fstatSync(fd);
  if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev || now.size !== st.size) {
    fs.closeSync(fd);
    throw new Error(`${name} changed while the layer was being written`);
  }
  return fd;
}

function entryOf(base: Omit<TarEntry, "type">, st: fs.Stats, dirFd: number, name: string, inodes: Map<string, string>): TarEntry {
  if (st.isDirectory()) return { ...base, type: "dir" };
  if (st.isSymbolicLink()) return { ...base, type: "symlink", linkname: fs.readlinkSync(at(dirFd, name)) };
  if (st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = inodes.get(key);
    if (first !== undefined) return { ...base, type: "hardlink", linkname: first };
    inodes.set(key, base.name);
  }
  if (st.isFile()) return { ...base, type: "file", size: st.size };
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    const { major, minor } = deviceNumbers(st.rdev);
    return { ...base, type: st.isCharacterDevice() ? "char" : "block", devmajor: major, devminor: minor };
  }
  if (st.isFIFO()) return { ...base, type: "fifo" };
  throw new Error(`${name}: unsupported file type`);
}
