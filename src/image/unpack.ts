// Unpacks one layer archive into an empty private directory, safely: nothing is
// ever written outside it, whatever the archive says. The directory is ours
// alone while this runs, so lstat-then-act on each path component is not racy;
// the only adversary is the sequence of entries. A later entry can replace a
// directory by a symlink, so nothing is written through a path checked by an
// earlier entry: an opaque marker takes effect when it is met (as in Docker's
// applier), and xattrs and device nodes are made relative to their directory
// opened beneath the layer root without following any symlink (the host's
// *Beneath calls, passed in: see host-calls.ts). Whiteouts are converted to
// overlayfs form by the rules of whiteouts.ts.
import * as fs from "node:fs";
import * as path from "node:path";
import { ImageError, TsboxError, errnoCode } from "../errors.js";
import { log } from "../log.js";
import { writeAll } from "../util/atomic.js";
import type { LayerHostCalls } from "./host-calls.js";
import { TarFormatError, type TarEntry, type TarHeader } from "./tar.js";
import { lstatOrUndefined } from "../util/fs.js";
import { archiveWhiteout, isOverlayXattr, makeOverlayWhiteout, markOverlayOpaque, type ArchiveWhiteout } from "./whiteouts.js";

export interface UnpackOptions {
  /** Command named in error messages: "import", "load", "pull". */
  context: string;
  /** mknod and setxattr beneath the layer root: the native binding, the worker's relay or a test's fake. */
  host: LayerHostCalls;
}

export interface UnpackResult {
  /** Bytes of regular file content (hard links not counted twice). */
  size: number;
  /** Directories marked opaque, relative to the layer root ("" = the root). */
  opaqueDirs: string[];
}

const { S_IFCHR, S_IFBLK, S_IFIFO, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
// libuv adds O_CLOEXEC itself.
const NEW_FILE = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

/** Reasons to refuse an entry; reported as `<ctx>: refusing archive entry "<name>": <reason>`. */
class Refusal extends Error {}

/**
 * Lexically cleans an archive path into components below the layer root.
 * A leading "/" is dropped (confined to the layer, as Docker does); ".." that
 * would climb above the root returns undefined.
 */
export function cleanArchivePath(name: string): string[] | undefined {
  const parts: string[] = [];
  for (const c of name.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (parts.length === 0) return undefined;
      parts.pop();
      continue;
    }
    parts.push(c);
  }
  return parts;
}

const isUnsupported = (code: string | undefined): boolean =>
  code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "EPERM";

class LayerWriter {
  private size = 0;
  private readonly dirTimes = new Map<string, { atime: number; mtime: number }>();
  private readonly opaque = new Set<string>();
  // Paths known to be real directories; only clear() can change that, and it forgets them.
  private readonly knownDirs = new Set<string>();

  constructor(private readonly root: string, private readonly host: LayerHostCalls) {}

  private abs(parts: readonly string[]): string {
    return path.join(this.root, ...parts);
  }

  /** mknod of `parts` (its parents checked by the caller), resolved beneath the root. */
  private mknod(parts: readonly string[], mode: number, major: number, minor: number): void {
    this.host.mknodBeneath(this.root, parts.slice(0, -1).join("/"), parts[parts.length - 1] ?? "", mode, major, minor);
  }

  /** Makes sure every parent is a real directory inside the layer, creating missing ones. */
  private ensureParents(parts: readonly string[]): void {
    for (let i = 1; i < parts.length; i++) {
      const rel = parts.slice(0, i);
      const key = rel.join("/");
      if (this.knownDirs.has(key)) continue;
      const p = this.abs(rel);
      const st = lstatOrUndefined(p);
      if (st === undefined) {
        fs.mkdirSync(p, 0o755);
        fs.chmodSync(p, 0o755);
        this.knownDirs.add(key);
      } else if (st.isDirectory()) {
        this.knownDirs.add(key);
      } else if (st.isSymbolicLink()) {
        throw new Refusal(`path goes through symlink "${key}" and could escape the layer`);
      } else {
        throw new Refusal(`parent "${key}" is not a directory`);
      }
    }
  }

  /** Removes whatever is at `parts` unless both it and the new entry are directories. */
  private clear(parts: readonly string[], keepDir: boolean): void {
    const p = this.abs(parts);
    const st = lstatOrUndefined(p);
    if (st === undefined || (keepDir && st.isDirectory())) return;
    fs.rmSync(p, { recursive: true, force: true });
    const rel = parts.join("/");
    const under = (key: string): boolean => key === rel || key.startsWith(`${rel}/`);
    for (const key of [...this.dirTimes.keys()]) if (under(key)) this.dirTimes.delete(key);
    // An opaque directory removed takes its xattr with it.
    for (const key of [...this.opaque]) if (under(key)) this.opaque.delete(key);
    if (st.isDirectory()) for (const key of [...this.knownDirs]) if (under(key)) this.knownDirs.delete(key);
  }

  private linkTarget(h: TarHeader): string[] {
    const parts = cleanArchivePath(h.linkname);
    if (parts === undefined) throw new Refusal(`hard link target ${JSON.stringify(h.linkname)} escapes the layer`);
    if (parts.length === 0) throw new Refusal("hard link to the layer root");
    this.ensureParentsExist(parts);
    const st = lstatOrUndefined(this.abs(parts));
    if (st === undefined) throw new Refusal(`hard link target ${JSON.stringify(h.linkname)} does not exist in the layer`);
    if (st.isDirectory()) throw new Refusal(`hard link target ${JSON.stringify(h.linkname)} is a directory`);
    return parts;
  }

  /** Like ensureParents, for a path that must already exist: never creates anything. */
  private ensureParentsExist(parts: readonly string[]): void {
    for (let i = 1; i < parts.length; i++) {
      const rel = parts.slice(0, i);
      const st = lstatOrUndefined(this.abs(rel));
      if (st === undefined) break;
      if (st.isSymbolicLink()) {
        throw new Refusal(`hard link target goes through symlink "${rel.join("/")}" and could escape the layer`);
      }
      if (!st.isDirectory()) break;
    }
  }

  /** An xattr of the entry at `parts` ([] = the root). */
  private setXattr(parts: readonly string[], name: string, value: Buffer, entry: string): void {
    if (isOverlayXattr(name)) {
      throw new Refusal(`xattr ${name} is reserved for the overlay filesystem`);
    }
    try {
      this.host.setxattrBeneath(this.root, parts.slice(0, -1).join("/"), parts[parts.length - 1] ?? "", name, value);
    } catch (e) {
      // As Docker: a filesystem or kernel that refuses the attribute is not fatal.
      if (!isUnsupported(errnoCode(e))) throw e;
      log().warn({ entry, xattr: name, code: errnoCode(e) }, "skipping xattr the filesystem does not accept");
    }
  }

  private applyMetadata(p: string, parts: readonly string[], h: TarHeader, isDir: boolean): void {
    const rel = parts.join("/");
    fs.lchownSync(p, h.uid, h.gid);
    // After chown, which clears setuid/setgid.
    if (h.type !== "symlink") fs.chmodSync(p, h.mode);
    for (const [name, value] of h.xattrs) this.setXattr(parts, name, value, h.name);
    const times = { atime: h.atime ?? h.mtime, mtime: h.mtime };
    // A directory's mtime changes as entries land in it, so it is set at the end.
    if (isDir) this.dirTimes.set(rel, times);
    else fs.lutimesSync(p, times.atime, times.mtime);
  }

  /**
   * Creates a new name with `make`, which fails with EEXIST when something is
   * there already (mkdir, symlink: neither follows a symlink in the last
   * component); only then is the old entry looked at and cleared. Most names
   * in a layer are fresh, so most entries cost no lstat.
   */
  private create(parts: readonly string[], isDir: boolean, make: () => void): void {
    try {
      make();
      return;
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") throw e;
    }
    this.clear(parts, isDir);
    // A directory over a directory is kept (its metadata is updated).
    if (isDir && lstatOrUndefined(this.abs(parts))?.isDirectory() === true) return;
    make();
  }

  /**
   * A regular file, written and given its metadata through one descriptor:
   * O_CREAT|O_EXCL never follows a symlink and never reuses an existing file,
   * and fchown/fchmod/futimes need no further path walks.
   */
  private async file(p: string, parts: readonly string[], h: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    let fd: number | undefined;
    this.create(parts, false, () => { fd = fs.openSync(p, NEW_FILE, 0o600); });
    if (fd === undefined) throw new Error("unreachable: file not created");
    try {
      for await (const chunk of body) writeAll(fd, chunk);
      fs.fchownSync(fd, h.uid, h.gid);
      // After chown, which clears setuid/setgid.
      fs.fchmodSync(fd, h.mode);
      for (const [name, value] of h.xattrs) this.setXattr(parts, name, value, h.name);
      fs.futimesSync(fd, h.atime ?? h.mtime, h.mtime);
    } finally {
      fs.closeSync(fd);
    }
    this.size += h.size;
  }

  /** A whiteout entry of the archive, in overlayfs's form. */
  private whiteout(w: ArchiveWhiteout, parts: readonly string[], h: TarHeader): void {
    switch (w.kind) {
      case "invalid":
        throw new Refusal(w.reason);
      case "aufs-metadata":
        return;
      case "opaque":
        // The marker's parents, including the directory it makes opaque, must be real directories.
        this.ensureParents(parts);
        // Now, on the directory as it is: a later entry replacing it (or a
        // parent) by a symlink must not redirect the xattr.
        markOverlayOpaque(this.host, this.root, w.dir);
        this.opaque.add(w.dir.join("/"));
        return;
      case "whiteout":
        this.ensureParents(w.target);
        this.clear(w.target, false);
        makeOverlayWhiteout(this.host, this.root, w.target);
        fs.lchownSync(this.abs(w.target), h.uid, h.gid);
        return;
    }
  }

  async entry(e: TarEntry): Promise<void> {
    const h = e.header;
    const parts = cleanArchivePath(h.name);
    if (parts === undefined) throw new Refusal("path escapes the layer");

    if (parts.length === 0) {
      if (h.type !== "dir") throw new Refusal("the layer root must be a directory");
      this.applyMetadata(this.root, [], h, true);
      return;
    }

    const whiteout = archiveWhiteout(parts);
    if (whiteout !== undefined) {
      this.whiteout(whiteout, parts, h);
      return;
    }

    this.ensureParents(parts);
    const p = this.abs(parts);
    const rel = parts.join("/");
    if (h.type === "link") {
      const target = this.linkTarget(h);
      if (target.join("/") === rel) throw new Refusal("hard link to itself");
      this.clear(parts, false);
      fs.linkSync(this.abs(target), p);
      // The inode's metadata came with its first entry, as with GNU tar.
      return;
    }
    switch (h.type) {
      case "file":
        await this.file(p, parts, h, e.body);
        return;
      case "dir":
        this.create(parts, true, () => fs.mkdirSync(p, 0o700));
        break;
      case "symlink":
        if (h.linkname === "") throw new Refusal("symlink with an empty target");
        this.create(parts, false, () => fs.symlinkSync(h.linkname, p));
        // Docker's layer size counts a symlink's own size (its target's length), as du's apparent size does.
        this.size += Buffer.byteLength(h.linkname);
        break;
      case "char":
        this.clear(parts, false);
        this.mknod(parts, S_IFCHR | h.mode, h.devmajor, h.devminor);
        break;
      case "block":
        this.clear(parts, false);
        this.mknod(parts, S_IFBLK | h.mode, h.devmajor, h.devminor);
        break;
      case "fifo":
        this.clear(parts, false);
        this.mknod(parts, S_IFIFO | h.mode, 0, 0);
        break;
    }
    this.applyMetadata(p, parts, h, h.type === "dir");
  }

  finish(): UnpackResult {
    // clear() dropped the directories a later entry replaced; what is left is
    // still checked to be a real directory, reached through real directories
    // (each checked once), before its times are set through its path.
    const real = new Map<string, boolean>([["", true]]);
    const isRealDir = (rel: string): boolean => {
      const known = real.get(rel);
      if (known !== undefined) return known;
      const slash = rel.lastIndexOf("/");
      const ok = isRealDir(slash < 0 ? "" : rel.slice(0, slash)) && lstatOrUndefined(this.abs(rel.split("/")))?.isDirectory() === true;
      real.set(rel, ok);
      return ok;
    };
    for (const [rel, t] of this.dirTimes) {
      if (isRealDir(rel)) fs.lutimesSync(rel === "" ? this.root : this.abs(rel.split("/")), t.atime, t.mtime);
    }
    return { size: this.size, opaqueDirs: [...this.opaque].filter(isRealDir).sort() };
  }
}

/**
 * Unpacks `entries` into `dest`, an existing empty directory. On failure `dest`
 * is left partially filled: the caller owns it and removes it.
 */
export async function unpackLayer(entries: AsyncIterable<TarEntry>, dest: string, opts: UnpackOptions): Promise<UnpackResult> {
  const w = new LayerWriter(dest, opts.host);
  let current: string | undefined;
  try {
    for await (const e of entries) {
      current = e.header.name;
      await w.entry(e);
      current = undefined;
    }
    return w.finish();
  } catch (e) {
    throw unpackError(e, current, opts.context);
  }
}

function unpackError(e: unknown, entry: string | undefined, ctx: string): Error {
  if (e instanceof TsboxError) return e;
  const shown = JSON.stringify(entry ?? "");
  if (e instanceof Refusal) return new ImageError(`${ctx}: refusing archive entry ${shown}: ${e.message}`, 125, { cause: e });
  if (e instanceof TarFormatError) return new ImageError(`${ctx}: invalid tar archive: ${e.message}`, 125, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new ImageError(entry === undefined ? `${ctx}: ${msg}` : `${ctx}: failed to unpack ${shown}: ${msg}`, 125, { cause: e });
}
