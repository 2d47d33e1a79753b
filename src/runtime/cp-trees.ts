// The three kinds of directory tree `tsbox cp` copies between, behind one
// interface of path components:
//
// - the host: plain paths (the user's own files, followed as cp follows them);
// - a running container: its /proc/<pid>/root, every path resolved inside it
//   (openat2 RESOLVE_IN_ROOT, so an absolute symlink or ".." planted by the
//   container never leads out), and every change made through a descriptor
//   of the entry itself or of its directory, never through a path the
//   container could swap for a symlink between two calls;
// - a stopped container: read from its image's layers and read-write layer
//   merged (no mount), written into the read-write layer as overlayfs would
//   (directories of the image copied up, a whiteout in the way removed, a
//   directory made again opaque).
import * as fs from "node:fs";
import * as path from "node:path";
import { TsboxError, UsageError, errnoCode } from "../errors.js";
import { containerView, ensureDirs } from "../image/container-fs.js";
import type { MergedView } from "../image/files.js";
import type { LayerRef } from "../image/layers.js";
import { isOverlayWhiteout } from "../image/whiteouts.js";
import { mknodBeneath, openInRoot, setxattrBeneath } from "../native/shim.js";
import { deviceNumbers } from "../util/fs.js";

export interface Meta { mode: number; uid: number; gid: number; atime: Date; mtime: Date }

export interface CpTree {
  /** Follows symlinks inside the tree (all components, or all but the last): the path as it resolves. */
  resolve(parts: readonly string[], followLast: boolean): string[];
  lstat(parts: readonly string[]): fs.Stats | undefined;
  names(parts: readonly string[]): string[];
  readlink(parts: readonly string[]): string;
  /** a descriptor to read a regular file's content (the caller closes it) */
  openRead(parts: readonly string[]): number;
  /** Makes `parts`' parent directories exist (0755, owned by root) as needed. */
  ensureParent(parts: readonly string[]): void;
  /** Removes a non-directory (or an empty directory) at `parts` if there is one. */
  clear(parts: readonly string[]): void;
  mkdir(parts: readonly string[], meta: Meta): void;
  /** Creates a regular file and returns a descriptor to write it (the caller sets meta, then closes). */
  createFile(parts: readonly string[]): number;
  symlink(parts: readonly string[], target: string, meta: Meta): void;
  special(parts: readonly string[], st: fs.Stats, meta: Meta): void;
  link(parts: readonly string[], existing: readonly string[]): void;
  /** Sets owner, mode and times on a file or directory just made (through a descriptor). */
  finish(parts: readonly string[], meta: Meta, fd?: number): void;
}

const O_PATH = 0o10000000;
const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_WRONLY, O_CREAT, O_EXCL, O_NONBLOCK } = fs.constants;
const at = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;
const MAX_LINKS = 40;

function setMeta(fd: number, meta: Meta): void {
  fs.fchownSync(fd, meta.uid, meta.gid);
  fs.fchmodSync(fd, meta.mode & 0o7777);
  fs.futimesSync(fd, meta.atime, meta.mtime);
}

/** Symlink resolution inside a root, by the caller's lstat and readlink (scoped: ".." and absolute targets stay in). */
function resolveScoped(parts: readonly string[], followLast: boolean,
  lstat: (p: readonly string[]) => fs.Stats | undefined, readlink: (p: readonly string[]) => string): string[] {
  let pending = [...parts];
  let out: string[] = [];
  for (let hops = 0; pending.length > 0;) {
    const c = pending.shift() ?? "";
    if (c === "" || c === ".") continue;
    if (c === "..") {
      out.pop();
      continue;
    }
    const candidate = [...out, c];
    const st = lstat(candidate);
    if (st?.isSymbolicLink() === true && (pending.length > 0 || followLast)) {
      if (++hops > MAX_LINKS) throw new UsageError(`/${parts.join("/")}: too many levels of symbolic links`);
      const target = readlink(candidate);
      if (target.startsWith("/")) out = [];
      pending = [...target.split("/"), ...pending];
      continue;
    }
    out = candidate;
  }
  return out;
}

/** The host's files, as the user names them. */
export class HostTree implements CpTree {
  constructor(private readonly root: string) {}
  private p(parts: readonly string[]): string {
    return path.join(this.root, ...parts);
  }
  /** The host's own links are the user's: the kernel follows them. */
  resolve(parts: readonly string[]): string[] {
    return [...parts];
  }
  lstat(parts: readonly string[]): fs.Stats | undefined {
    return fs.lstatSync(this.p(parts), { throwIfNoEntry: false });
  }
  names(parts: readonly string[]): string[] {
    return fs.readdirSync(this.p(parts)).sort();
  }
  readlink(parts: readonly string[]): string {
    return fs.readlinkSync(this.p(parts));
  }
  openRead(parts: readonly string[]): number {
    return fs.openSync(this.p(parts), O_RDONLY | O_NONBLOCK);
  }
  ensureParent(parts: readonly string[]): void {
    fs.mkdirSync(path.dirname(this.p(parts)), { recursive: true });
  }
  clear(parts: readonly string[]): void {
    const st = this.lstat(parts);
    if (st !== undefined && !st.isDirectory()) fs.rmSync(this.p(parts), { force: true });
  }
  mkdir(parts: readonly string[], meta: Meta): void {
    if (!this.lstat(parts)?.isDirectory()) fs.mkdirSync(this.p(parts), meta.mode & 0o7777);
  }
  createFile(parts: readonly string[]): number {
    return fs.openSync(this.p(parts), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  }
  symlink(parts: readonly string[], target: string, meta: Meta): void {
    fs.symlinkSync(target, this.p(parts));
    fs.lutimesSync(this.p(parts), meta.atime, meta.mtime);
  }
  special(parts: readonly string[], st: fs.Stats, meta: Meta): void {
    const dir = path.dirname(this.p(parts));
    const { major, minor } = deviceNumbers(st.rdev);
    mknodBeneath(dir, "", path.basename(this.p(parts)), st.mode & fs.constants.S_IFMT, major, minor);
    this.finish(parts, meta);
  }
  link(parts: readonly string[], existing: readonly string[]): void {
    fs.linkSync(this.p(existing), this.p(parts));
  }
  finish(parts: readonly string[], meta: Meta, fd?: number): void {
    const own = fd ?? fs.openSync(this.p(parts), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    try {
      setMeta(own, meta);
    } finally {
      if (fd === undefined) fs.closeSync(own);
    }
  }
}

/** A running container's files, through its /proc/<pid>/root. */
export class RootTree implements CpTree {
  constructor(private readonly root: string) {}

  /** The directory holding `parts`' last component, open (O_PATH), resolved inside the root. */
  private parent<T>(parts: readonly string[], fn: (dirFd: number, name: string) => T): T {
    const fd = openInRoot(this.root, parts.slice(0, -1).join("/"), O_PATH | O_DIRECTORY);
    try {
      return fn(fd, parts[parts.length - 1] ?? ".");
    } finally {
      fs.closeSync(fd);
    }
  }
  resolve(parts: readonly string[], followLast: boolean): string[] {
    return resolveScoped(parts, followLast, (p) => this.lstat(p), (p) => this.readlink(p));
  }
  lstat(parts: readonly string[]): fs.Stats | undefined {
    if (parts.length === 0) return fs.statSync(this.root);
    try {
      return this.parent(parts, (fd, name) => fs.lstatSync(at(fd, name), { throwIfNoEntry: false }));
    } catch (e) {
      if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return undefined;
      throw e;
    }
  }
  names(parts: readonly string[]): string[] {
    const fd = openInRoot(this.root, parts.join("/"), O_RDONLY | O_DIRECTORY);
    try {
      return fs.readdirSync(`/proc/self/fd/${fd}`).sort();
    } finally {
      fs.closeSync(fd);
    }
  }
  readlink(parts: readonly string[]): string {
    return this.parent(parts, (fd, name) => fs.readlinkSync(at(fd, name)));
  }
  openRead(parts: readonly string[]): number {
    return this.parent(parts, (fd, name) => fs.openSync(at(fd, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK));
  }
  ensureParent(parts: readonly string[]): void {
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i);
      const st = this.lstat(prefix);
      if (st === undefined) this.parent(prefix, (fd, name) => fs.mkdirSync(at(fd, name), 0o755));
    }
  }
  clear(parts: readonly string[]): void {
    this.parent(parts, (fd, name) => {
      const st = fs.lstatSync(at(fd, name), { throwIfNoEntry: false });
      if (st !== undefined && !st.isDirectory()) fs.unlinkSync(at(fd, name));
    });
  }
  mkdir(parts: readonly string[], meta: Meta): void {
    this.parent(parts, (fd, name) => {
      if (!fs.lstatSync(at(fd, name), { throwIfNoEntry: false })?.isDirectory()) fs.mkdirSync(at(fd, name), meta.mode & 0o7777);
    });
  }
  createFile(parts: readonly string[]): number {
    return this.parent(parts, (fd, name) => fs.openSync(at(fd, name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600));
  }
  symlink(parts: readonly string[], target: string, meta: Meta): void {
    this.parent(parts, (fd, name) => {
      fs.symlinkSync(target, at(fd, name));
      fs.lchownSync(at(fd, name), meta.uid, meta.gid);
      fs.lutimesSync(at(fd, name), meta.atime, meta.mtime);
    });
  }
  special(parts: readonly string[], st: fs.Stats, meta: Meta): void {
    this.parent(parts, (fd, name) => {
      const { major, minor } = deviceNumbers(st.rdev);
      mknodBeneath(`/proc/self/fd/${fd}`, "", name, st.mode & fs.constants.S_IFMT, major, minor);
    });
    this.finish(parts, meta);
  }
  link(parts: readonly string[], existing: readonly string[]): void {
    const from = this.resolve(existing, false);
    this.parent(from, (fromFd, fromName) => this.parent(parts, (fd, name) => fs.linkSync(at(fromFd, fromName), at(fd, name))));
  }
  finish(parts: readonly string[], meta: Meta, fd?: number): void {
    const own = fd ?? this.parent(parts, (dir, name) => fs.openSync(at(dir, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK));
    try {
      setMeta(own, meta);
    } finally {
      if (fd === undefined) fs.closeSync(own);
    }
  }
}

/** A stopped container's files: its layers merged for reading, its read-write layer for writing. */
export class LayeredTree implements CpTree {
  private readonly view: MergedView;
  constructor(layers: readonly LayerRef[], private readonly upper: string) {
    this.view = containerView(layers, upper);
  }
  private found(parts: readonly string[]): string {
    const f = this.view.lookup(parts);
    if (f === undefined) throw new UsageError(`/${parts.join("/")}: no such file or directory`);
    return path.join(f.dir, ...parts);
  }
  resolve(parts: readonly string[], followLast: boolean): string[] {
    return resolveScoped(parts, followLast, (p) => this.lstat(p), (p) => this.readlink(p));
  }
  lstat(parts: readonly string[]): fs.Stats | undefined {
    return parts.length === 0 ? fs.statSync(this.upper) : this.view.lookup(parts)?.st;
  }
  names(parts: readonly string[]): string[] {
    return this.view.names(parts);
  }
  readlink(parts: readonly string[]): string {
    return fs.readlinkSync(this.found(parts));
  }
  openRead(parts: readonly string[]): number {
    return fs.openSync(this.found(parts), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  }
  /**
   * Where a write of `parts` lands: its parents resolved inside the container
   * (a symlink there followed in scope) and made real directories of the
   * upper layer, so the host path below has no symlink the kernel would follow.
   */
  private up(parts: readonly string[]): string {
    const parent = this.resolve(parts.slice(0, -1), true);
    ensureDirs(this.upper, this.view, parent, {});
    return path.join(this.upper, ...parent, ...parts.slice(-1));
  }
  /** The upper layer's whiteout at `parts`, if any, removed (what is written there replaces it). */
  private unwhite(parts: readonly string[]): boolean {
    const st = fs.lstatSync(this.up(parts), { throwIfNoEntry: false });
    if (st !== undefined && isOverlayWhiteout(st)) {
      fs.unlinkSync(this.up(parts));
      return true;
    }
    return false;
  }
  ensureParent(parts: readonly string[]): void {
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i);
      if (this.lstat(prefix) === undefined) {
        ensureDirs(this.upper, this.view, prefix.slice(0, -1), {});
        const wasDeleted = this.unwhite(prefix);
        fs.mkdirSync(this.up(prefix), 0o755);
        if (wasDeleted) setxattrBeneath(this.upper, prefix.join("/"), "", "trusted.overlay.opaque", "y");
      }
    }
    ensureDirs(this.upper, this.view, parts.slice(0, -1), {});
  }
  clear(parts: readonly string[]): void {
    const st = this.lstat(parts);
    if (st !== undefined && !st.isDirectory()) {
      // gone from the merged view: the upper's own entry removed, and a whiteout over the image's
      fs.rmSync(this.up(parts), { force: true });
      if (this.view.lookup(parts) !== undefined) {
        mknodBeneath(this.upper, parts.slice(0, -1).join("/"), parts[parts.length - 1] ?? "", fs.constants.S_IFCHR, 0, 0);
      }
    }
  }
  mkdir(parts: readonly string[], meta: Meta): void {
    if (this.lstat(parts)?.isDirectory() === true) {
      ensureDirs(this.upper, this.view, parts, {});
      return;
    }
    const wasDeleted = this.unwhite(parts);
    fs.mkdirSync(this.up(parts), meta.mode & 0o7777);
    if (wasDeleted) setxattrBeneath(this.upper, parts.join("/"), "", "trusted.overlay.opaque", "y");
  }
  createFile(parts: readonly string[]): number {
    this.unwhite(parts);
    return fs.openSync(this.up(parts), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  }
  symlink(parts: readonly string[], target: string, meta: Meta): void {
    this.unwhite(parts);
    fs.symlinkSync(target, this.up(parts));
    fs.lchownSync(this.up(parts), meta.uid, meta.gid);
    fs.lutimesSync(this.up(parts), meta.atime, meta.mtime);
  }
  special(parts: readonly string[], st: fs.Stats, meta: Meta): void {
    this.unwhite(parts);
    const { major, minor } = deviceNumbers(st.rdev);
    mknodBeneath(this.upper, parts.slice(0, -1).join("/"), parts[parts.length - 1] ?? "", st.mode & fs.constants.S_IFMT, major, minor);
    this.finish(parts, meta);
  }
  link(parts: readonly string[], existing: readonly string[]): void {
    this.unwhite(parts);
    fs.linkSync(this.up(existing), this.up(parts));
  }
  finish(parts: readonly string[], meta: Meta, fd?: number): void {
    const own = fd ?? fs.openSync(this.up(parts), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    try {
      setMeta(own, meta);
    } finally {
      if (fd === undefined) fs.closeSync(own);
    }
  }
}

export function metaOf(st: fs.Stats, owner: { uid: number; gid: number } | undefined): Meta {
  return { mode: st.mode & 0o7777, uid: owner?.uid ?? st.uid, gid: owner?.gid ?? st.gid, atime: st.atime, mtime: st.mtime };
}

/** Copies the entry `src` of `from` to `dst` of `to`, recursively; hard links inside the copy stay links. */
export function copyTree(from: CpTree, src: readonly string[], to: CpTree, dst: readonly string[], owner: { uid: number; gid: number } | undefined,
  links: Map<string, string[]> = new Map()): void {
  const st = from.lstat(src);
  if (st === undefined || st.isSocket()) return;
  const meta = metaOf(st, owner);
  if (st.isDirectory()) {
    to.mkdir(dst, meta);
    for (const n of from.names(src)) copyTree(from, [...src, n], to, [...dst, n], owner, links);
    to.finish(dst, meta);
    return;
  }
  to.clear(dst);
  const key = `${st.dev}:${st.ino}`;
  const first = st.nlink > 1 ? links.get(key) : undefined;
  if (first !== undefined) {
    to.link(dst, first);
    return;
  }
  if (st.nlink > 1) links.set(key, [...dst]);
  if (st.isSymbolicLink()) {
    to.symlink(dst, from.readlink(src), meta);
  } else if (st.isFile()) {
    const r = from.openRead(src);
    const w = to.createFile(dst);
    try {
      if (!fs.fstatSync(r).isFile()) throw new TsboxError(`/${src.join("/")} changed while being copied`);
      const buf = Buffer.allocUnsafe(1 << 20);
      for (let n = fs.readSync(r, buf); n > 0; n = fs.readSync(r, buf)) {
        for (let off = 0; off < n;) off += fs.writeSync(w, buf, off, n - off);
      }
      to.finish(dst, meta, w);
    } finally {
      fs.closeSync(r);
      fs.closeSync(w);
    }
  } else {
    to.special(dst, st, meta);
  }
}
