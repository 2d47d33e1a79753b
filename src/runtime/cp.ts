// `tsbox cp`: files between a container (running or not) and the host, or a
// tar stream (`-`), with `docker cp`'s rules: a directory is copied as a
// directory (its contents when the source ends in "/."), into a destination
// directory that exists or as the destination itself; a file into a
// directory or onto a file; the source's last component is not followed
// unless -L; container paths resolve their symlinks inside the container
// (cp-trees.ts); what is copied into a container is owned by root unless -a,
// what is copied out by the user running tsbox unless -a.
import * as fs from "node:fs";
import * as path from "node:path";
import { TsboxError, UsageError } from "../errors.js";
import { TarWriter, type TarEntry } from "../image/archive/tar-writer.js";
import { resolveImage } from "../image/images.js";
import { ByteSource, readTar } from "../image/tar.js";
import { cleanArchivePath } from "../image/unpack.js";
import { containerPaths, findContainer } from "../state/container-store.js";
import { deviceNumbers } from "../util/fs.js";
import { isLive } from "./container-control.js";
import { HostTree, LayeredTree, RootTree, copyTree, type CpTree, type Meta } from "./cp-trees.js";

export interface CpOptions {
  /** -a: keep uid/gid */
  archive: boolean;
  /** -L: follow a symlink named as the source */
  followLink: boolean;
}

/** `CONTAINER:PATH` → its parts; a plain path (or one with "/" before any ":") → undefined. */
export function splitCpArg(arg: string): { container: string; path: string } | undefined {
  if (arg === "-" || arg.startsWith("/") || arg.startsWith(".")) return undefined;
  const i = arg.indexOf(":");
  if (i <= 0 || arg.slice(0, i).includes("/")) return undefined;
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

function containerTree(root: string, ref: string): { tree: CpTree; name: string } {
  const s = findContainer(root, ref);
  if (isLive(s) && s.pid !== undefined) return { tree: new RootTree(`/proc/${s.pid}/root`), name: s.name };
  const image = resolveImage(root, s.imageId);
  return { tree: new LayeredTree(image.layers, containerPaths(root, s.id).upper), name: s.name };
}

const partsOf = (p: string): string[] => p.split("/").filter((c) => c !== "" && c !== ".");
const wantsContents = (p: string): boolean => /(^|\/)\.$/.test(p);

/** Where the copy of `srcName` (a directory or not) goes, given what `dest` is in `to`, as docker cp decides. */
function target(to: CpTree, destPath: string, destParts: string[], srcIsDir: boolean, srcName: string, contents: boolean): string[] {
  const st = to.lstat(destParts);
  if (st === undefined) {
    if (destPath.endsWith("/") && !srcIsDir) throw new TsboxError(`no such directory: ${destPath}`, 1);
    to.ensureParent(destParts);
    return destParts;
  }
  if (st.isDirectory()) return srcIsDir && contents ? destParts : [...destParts, srcName];
  if (srcIsDir) throw new TsboxError(`cannot copy a directory to a file: ${destPath}`, 1);
  return destParts;
}

export async function copyFromContainer(root: string, ref: string, srcPath: string, dest: string, opts: CpOptions): Promise<void> {
  const { tree, name } = containerTree(root, ref);
  const src = tree.resolve(partsOf(srcPath), opts.followLink);
  const st = tree.lstat(src);
  if (st === undefined) throw new TsboxError(`No such container:path: ${name}:${srcPath}`, 1);
  if (srcPath.endsWith("/") && !st.isDirectory() && !wantsContents(srcPath)) throw new TsboxError(`not a directory: ${srcPath}`, 1);
  if (dest === "-") {
    await writeTarOf(tree, src, wantsContents(srcPath) ? "" : (src[src.length - 1] ?? "."), process.stdout);
    return;
  }
  const hostDest = path.resolve(dest);
  const host = new HostTree("/");
  const destParts = partsOf(hostDest);
  const to = target(host, dest, destParts, st.isDirectory(), src[src.length - 1] ?? "root", wantsContents(srcPath));
  copyTree(tree, src, host, to, opts.archive ? undefined : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
}

export async function copyToContainer(root: string, src: string, ref: string, destPath: string, opts: CpOptions, input?: NodeJS.ReadableStream): Promise<void> {
  const { tree } = containerTree(root, ref);
  const destParts = tree.resolve(partsOf(destPath), true);
  const owner = opts.archive ? undefined : { uid: 0, gid: 0 };
  if (src === "-") {
    if (!(tree.lstat(destParts)?.isDirectory() ?? false)) throw new TsboxError(`destination "${ref}:${destPath}" must be a directory`, 1);
    await extractInto(tree, destParts, input ?? process.stdin, opts.archive);
    return;
  }
  const hostSrc = path.resolve(src);
  let st = fs.lstatSync(hostSrc, { throwIfNoEntry: false });
  if (st?.isSymbolicLink() === true && opts.followLink) st = fs.statSync(hostSrc, { throwIfNoEntry: false });
  if (st === undefined) throw new TsboxError(`lstat ${hostSrc}: no such file or directory`, 1);
  const host = new HostTree("/");
  const from = opts.followLink ? partsOf(fs.realpathSync(hostSrc)) : partsOf(hostSrc);
  const to = target(tree, destPath, destParts, st.isDirectory(), path.basename(hostSrc), wantsContents(src));
  copyTree(host, from, tree, to, owner);
}

/** A tar of `src` (named `name`, or its contents at the top when name is "") to `out`. */
async function writeTarOf(tree: CpTree, src: readonly string[], name: string, out: NodeJS.WritableStream): Promise<void> {
  const tw = new TarWriter(out);
  const links = new Map<string, string>();
  const walk = async (parts: readonly string[], rel: string): Promise<void> => {
    const st = tree.lstat(parts);
    if (st === undefined || st.isSocket()) return;
    if (rel !== "") {
      const base = { name: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
      const key = `${st.dev}:${st.ino}`;
      const first = !st.isDirectory() && st.nlink > 1 ? links.get(key) : undefined;
      let e: TarEntry;
      if (first !== undefined) e = { ...base, type: "hardlink", linkname: first };
      else if (st.isDirectory()) e = { ...base, type: "dir" };
      else if (st.isSymbolicLink()) e = { ...base, type: "symlink", linkname: tree.readlink(parts) };
      else if (st.isFile()) e = { ...base, type: "file", size: st.size };
      else if (st.isFIFO()) e = { ...base, type: "fifo" };
      else {
        const { major, minor } = deviceNumbers(st.rdev);
        e = { ...base, type: st.isCharacterDevice() ? "char" : "block", devmajor: major, devminor: minor };
      }
      if (first === undefined && !st.isDirectory() && st.nlink > 1) links.set(key, rel);
      await tw.entry(e, e.type === "file" && (e.size ?? 0) > 0 ? tree.openRead(parts) : undefined);
    }
    if (st.isDirectory()) for (const n of tree.names(parts)) await walk([...parts, n], rel === "" ? n : `${rel}/${n}`);
  };
  try {
    await walk(src, name);
    await tw.end();
  } finally {
    tw.close();
  }
}

/** A tar stream's entries written under `dest` of `tree`, each parent resolved inside the container first. */
async function extractInto(tree: CpTree, dest: readonly string[], input: NodeJS.ReadableStream, archive: boolean): Promise<void> {
  for await (const e of readTar(new ByteSource((input as AsyncIterable<Buffer>)[Symbol.asyncIterator]()))) {
    const h = e.header;
    const rel = cleanArchivePath(h.name);
    if (rel === undefined) throw new UsageError(`refusing archive entry "${h.name}": it climbs out of the destination`);
    if (rel.length === 0) {
      for await (const _ of e.body) { /* the destination itself */ }
      continue;
    }
    const parent = tree.resolve([...dest, ...rel.slice(0, -1)], true);
    const parts = [...parent, rel[rel.length - 1] ?? ""];
    tree.ensureParent(parts);
    const meta: Meta = {
      mode: h.mode & 0o7777, uid: archive ? h.uid : 0, gid: archive ? h.gid : 0,
      atime: new Date((h.atime ?? h.mtime) * 1000), mtime: new Date(h.mtime * 1000),
    };
    switch (h.type) {
      case "dir":
        tree.mkdir(parts, meta);
        tree.finish(parts, meta);
        break;
      case "file": {
        tree.clear(parts);
        const w = tree.createFile(parts);
        try {
          for await (const chunk of e.body) for (let off = 0; off < chunk.length;) off += fs.writeSync(w, chunk, off, chunk.length - off);
          tree.finish(parts, meta, w);
        } finally {
          fs.closeSync(w);
        }
        break;
      }
      case "symlink":
        tree.clear(parts);
        tree.symlink(parts, h.linkname, meta);
        break;
      case "link": {
        const from = cleanArchivePath(h.linkname);
        if (from === undefined || from.length === 0) throw new UsageError(`refusing archive entry "${h.name}": bad hard link target`);
        tree.clear(parts);
        tree.link(parts, [...dest, ...from]);
        break;
      }
      default:
        break;
    }
    for await (const _ of e.body) { /* drain what was not read */ }
  }
}
