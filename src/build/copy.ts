// COPY and ADD: files from the build context or from another stage's image,
// laid out in a fresh directory that then becomes the step's layer (as a
// container's upperdir would: image/rw-layer.ts reads it). Docker's rules:
// a directory source copies its contents; several sources, or a destination
// ending in "/", mean a directory; a relative destination is under WORKDIR;
// the destination path follows the image's symlinks inside its root (COPY to
// /bin/x in an image whose /bin is a link to usr/bin writes /usr/bin/x);
// owners are 0:0 from the context, kept from an image, or --chown's; --chmod
// sets every mode; modes and mtimes are otherwise kept; hard links stay links.
//
// Nothing here follows a symlink of a source: the context and the image are
// walked one component at a time with lstat, so a link in either is copied as
// a link and never read through.
import { createHash } from "node:crypto";
import type { FileDigests } from "./file-digests.js";
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "../errors.js";
import type { MergedLookup } from "../image/files.js";
import { spawn } from "node:child_process";
import * as zlib from "node:zlib";
import { decompressor } from "../image/compression.js";
import { ByteSource, readTar } from "../image/tar.js";
import { unpackLayer } from "../image/unpack.js";
import { mknodBeneath, setxattrBeneath } from "../native/shim.js";
import { deviceNumbers } from "../util/fs.js";
import type { CopyOptions } from "../image/container-fs.js";
import { globToRegExp, type IgnoreRules } from "./ignore.js";

/** Where COPY reads from: the context directory or an image's merged layers. */
export interface SourceTree {
  /** what the sources are named after in errors */
  kind: "context" | "image";
  /** lstat of the entry at `parts` ([] = the root), undefined if absent (or ignored) */
  lstat(parts: readonly string[]): fs.Stats | undefined;
  names(parts: readonly string[]): string[];
  readlink(parts: readonly string[]): string;
  /** the host path holding the entry's content (every component checked to be a real directory) */
  hostPath(parts: readonly string[]): string;
}

function lstatBeneath(root: string, parts: readonly string[]): fs.Stats | undefined {
  let p = root;
  for (let i = 0; i < parts.length; i++) {
    p = path.join(p, parts[i] ?? "");
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (st === undefined) return undefined;
    if (i < parts.length - 1 && !st.isDirectory()) return undefined;
    if (i === parts.length - 1) return st;
  }
  return fs.lstatSync(root);
}

export function contextTree(root: string, ignore: IgnoreRules): SourceTree {
  const ignored = (parts: readonly string[]): boolean => parts.length > 0 && ignore.ignored(parts.join("/"));
  return {
    kind: "context",
    lstat: (parts) => {
      const st = lstatBeneath(root, parts);
      if (st === undefined) return undefined;
      // An ignored directory is still walked when a `!` pattern may take something below it back.
      if (ignored(parts) && !(st.isDirectory() && ignore.hasExclusions)) return undefined;
      return st;
    },
    names: (parts) => fs.readdirSync(path.join(root, ...parts)).sort().filter((n) => {
      const child = [...parts, n];
      if (!ignored(child)) return true;
      return ignore.hasExclusions && (lstatBeneath(root, child)?.isDirectory() ?? false);
    }),
    readlink: (parts) => fs.readlinkSync(path.join(root, ...parts)),
    hostPath: (parts) => path.join(root, ...parts),
  };
}

export function imageTree(view: MergedLookup, anyLayerRoot: string): SourceTree {
  return {
    kind: "image",
    lstat: (parts) => (parts.length === 0 ? fs.lstatSync(anyLayerRoot) : view.lookup(parts)?.st),
    names: (parts) => view.names(parts),
    readlink: (parts) => fs.readlinkSync(path.join(found(view, parts), ...parts)),
    hostPath: (parts) => path.join(found(view, parts), ...parts),
  };
}

function found(view: MergedLookup, parts: readonly string[]): string {
  const f = view.lookup(parts);
  if (f === undefined) throw new UsageError(`/${parts.join("/")}: not found`);
  return f.dir;
}

const GLOB = /[*?[\\]/;

/**
 * A source named on the COPY line that is a symlink is followed, inside the
 * tree's root (Docker copies what it points at); links below it are copied
 * as links.
 */
export function followTopLink(tree: SourceTree, parts: readonly string[], src: string): string[] {
  let cur = [...parts];
  for (let hops = 0; tree.lstat(cur)?.isSymbolicLink() === true; hops++) {
    if (hops >= 40) throw new UsageError(`${src}: too many levels of symbolic links`);
    const target = tree.readlink(cur);
    const joined = target.startsWith("/") ? target : path.posix.join(cur.slice(0, -1).join("/"), target);
    const norm = path.posix.normalize(joined.replace(/^\/+/, "") || ".");
    if (norm === ".." || norm.startsWith("../")) throw new UsageError(`forbidden path outside the build context: ${src} ()`);
    cur = norm === "." ? [] : norm.split("/");
    if (tree.lstat(cur) === undefined) throw new UsageError(`"/${cur.join("/")}": not found`);
  }
  return cur;
}

/** A COPY source (globs allowed) → the entries it names, each as path components. */
export function expandSource(tree: SourceTree, src: string): string[][] {
  const norm = path.posix.normalize(src.replace(/^\/+/, "") || ".");
  if (norm === ".." || norm.startsWith("../")) {
    throw new UsageError(`forbidden path outside the build context: ${src} ()`);
  }
  const segments = norm === "." ? [] : norm.split("/");
  if (!segments.some((s) => GLOB.test(s))) {
    if (tree.lstat(segments) === undefined) throw new UsageError(`"/${segments.join("/")}": not found`);
    return [segments];
  }
  let matches: string[][] = [[]];
  for (const seg of segments) {
    const next: string[][] = [];
    for (const m of matches) {
      if (!GLOB.test(seg)) {
        if (tree.lstat([...m, seg]) !== undefined) next.push([...m, seg]);
        continue;
      }
      if (!(tree.lstat(m)?.isDirectory() ?? false)) continue;
      const re = globToRegExp(seg);
      for (const n of tree.names(m)) if (re.test(n)) next.push([...m, n]);
    }
    matches = next;
  }
  if (matches.length === 0) throw new UsageError(`lstat ${src}: no source files were specified`);
  return matches;
}

/** A digest of what the sources hold (names, types, modes, owners where kept, contents, link targets): the cache key part. */
/**
 * A digest of what a COPY/ADD takes from `tree`: names, modes, owners (of an
 * image's files), sizes, each file's sha256 and each link's target. The
 * context's file digests come from `digests` when given (kept between builds).
 */
export function hashSources(tree: SourceTree, sources: readonly string[][], digests?: FileDigests): string {
  const h = createHash("sha256");
  const visit = (parts: readonly string[], rel: string): void => {
    const st = tree.lstat(parts);
    if (st === undefined) return;
    const owner = tree.kind === "image" ? `${st.uid}:${st.gid}` : "";
    h.update(`${rel}\0${st.mode}\0${owner}\0${st.isFile() ? st.size : 0}\0`);
    if (st.isFile()) {
      const file = tree.hostPath(parts);
      h.update(digests !== undefined && tree.kind === "context" ? digests.digest(file, st)
        : createHash("sha256").update(fs.readFileSync(file)).digest("hex"));
    }
    else if (st.isSymbolicLink()) h.update(tree.readlink(parts));
    else if (st.isDirectory()) for (const n of tree.names(parts)) visit([...parts, n], `${rel}/${n}`);
    h.update("\0");
  };
  for (const s of sources) visit(s, s.join("/"));
  return `sha256:${h.digest("hex")}`;
}

export type { CopyOptions } from "../image/container-fs.js";

/** Copies the entry `src` of `tree` to `target` (a path in the layer directory), recursively. */
export function copyEntry(tree: SourceTree, src: readonly string[], upper: string, target: readonly string[], opts: CopyOptions,
  links: Map<string, string> = new Map()): void {
  const st = tree.lstat(src);
  if (st === undefined) return;
  const dst = path.join(upper, ...target);
  const uid = opts.owner?.uid ?? (tree.kind === "image" ? st.uid : 0);
  const gid = opts.owner?.gid ?? (tree.kind === "image" ? st.gid : 0);
  const mode = opts.mode ?? st.mode & 0o7777;
  const existing = fs.lstatSync(dst, { throwIfNoEntry: false });
  if (existing !== undefined && !(existing.isDirectory() && st.isDirectory())) fs.rmSync(dst, { recursive: true, force: true });
  if (st.isDirectory()) {
    if (existing === undefined || !existing.isDirectory()) fs.mkdirSync(dst);
    for (const n of tree.names(src)) copyEntry(tree, [...src, n], upper, [...target, n], opts, links);
    fs.chownSync(dst, uid, gid);
    fs.chmodSync(dst, mode);
    fs.utimesSync(dst, st.atime, st.mtime);
    return;
  }
  if (st.isSymbolicLink()) {
    fs.symlinkSync(tree.readlink(src), dst);
    fs.lchownSync(dst, uid, gid);
    fs.lutimesSync(dst, st.atime, st.mtime);
    return;
  }
  const key = `${st.dev}:${st.ino}`;
  const first = st.nlink > 1 ? links.get(key) : undefined;
  if (first !== undefined) {
    fs.linkSync(first, dst);
    return;
  }
  if (st.isFile()) {
    fs.copyFileSync(tree.hostPath(src), dst, fs.constants.COPYFILE_FICLONE);
  } else if (st.isFIFO() || st.isCharacterDevice() || st.isBlockDevice()) {
    const { major, minor } = deviceNumbers(st.rdev);
    mknodBeneath(upper, target.slice(0, -1).join("/"), target[target.length - 1] ?? "", st.mode & fs.constants.S_IFMT, major, minor);
  } else {
    return; // a socket: not copied, as Docker's archiver
  }
  fs.chownSync(dst, uid, gid);
  fs.chmodSync(dst, mode);
  fs.utimesSync(dst, st.atime, st.mtime);
  if (st.nlink > 1) links.set(key, dst);
}

export type ArchiveKind = "tar" | "gzip" | "zstd" | "bzip2" | "xz";

const TAR_MAGIC_OFFSET = 257;

const isTarHead = (head: Buffer): boolean => head.subarray(TAR_MAGIC_OFFSET, TAR_MAGIC_OFFSET + 5).toString("latin1") === "ustar";

/** Whether ADD unpacks `file`: a tar archive, plain or compressed (gzip, zstd; bzip2 and xz through the host's programs). */
export function archiveKind(file: string): ArchiveKind | undefined {
  const fd = fs.openSync(file, "r");
  let head: Buffer;
  try {
    const b = Buffer.alloc(1024);
    head = b.subarray(0, fs.readSync(fd, b, 0, b.length, 0));
  } finally {
    fs.closeSync(fd);
  }
  const starts = (m: number[]): boolean => head.length >= m.length && m.every((x, i) => head[i] === x);
  if (starts([0x1f, 0x8b])) return isTarHead(zlib.gunzipSync(readHead(file, 64 << 10), { finishFlush: zlib.constants.Z_SYNC_FLUSH })) ? "gzip" : undefined;
  if (starts([0x28, 0xb5, 0x2f, 0xfd])) return "zstd";
  if (starts([0x42, 0x5a, 0x68])) return "bzip2";
  if (starts([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return "xz";
  return isTarHead(head) ? "tar" : undefined;
}

function readHead(file: string, n: number): Buffer {
  const fd = fs.openSync(file, "r");
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, fs.readSync(fd, b, 0, n, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * ADD of a local archive: its entries unpacked under `dest` (a directory of
 * the layer being made) by the image store's unpacker, which writes beneath
 * its root only (no entry, link or ".." leads out) and keeps owners and modes.
 */
export async function extractArchive(file: string, kind: ArchiveKind, dest: string, context: string): Promise<void> {
  let input: NodeJS.ReadableStream;
  let child: ReturnType<typeof spawn> | undefined;
  if (kind === "bzip2" || kind === "xz") {
    child = spawn(kind, ["-dc", file], { stdio: ["ignore", "pipe", "pipe"] });
    const started = child;
    started.on("error", () => { /* reported below, as a missing program */ });
    if (started.stdout === null) throw new UsageError(`${context}: cannot run ${kind}`);
    input = started.stdout;
  } else {
    input = fs.createReadStream(file).pipe(decompressor(kind === "tar" ? "none" : kind));
  }
  try {
    await unpackLayer(readTar(new ByteSource((input as AsyncIterable<Buffer>)[Symbol.asyncIterator]())), dest, {
      context, host: { mknodBeneath, setxattrBeneath },
    });
  } catch (e) {
    if (child !== undefined && child.exitCode === null && child.pid === undefined) {
      throw new UsageError(`${context}: ${kind} is needed to unpack this archive (not found on this host)`);
    }
    throw e;
  } finally {
    child?.kill();
  }
}
