// A container's filesystem read without mounting it: its image's layers with
// its read-write layer (the overlay upperdir) on top, as overlayfs merges
// them (whiteouts and opaque directories honoured), and the tar of the whole
// tree that `export` writes. The caller keeps the container still (frozen, or
// not running) while it reads.
import * as fs from "node:fs";
import * as path from "node:path";
import { TarWriter, type TarEntry } from "./archive/tar-writer.js";
import { MergedView } from "./files.js";
import type { LayerRef } from "./layers.js";
import { overlayOpaque, type OpaqueProbe } from "./rw-layer.js";
import { UsageError } from "../errors.js";
import { deviceNumbers } from "../util/fs.js";
import type { MergedLookup } from "./files.js";

/** Who owns what a copy creates, and its mode (COPY --chown/--chmod, cp -a). */
export interface CopyOptions {
  owner?: { uid: number; gid: number };
  mode?: number;
}


/** The directories of `upper` carrying overlayfs's opaque mark ("" = the root), by lstat only (no symlink followed). */
function opaqueDirsOf(upper: string, probe: OpaqueProbe): Set<string> {
  const out = new Set<string>();
  const walk = (rel: string): void => {
    const dir = path.join(upper, rel);
    if (probe(dir)) out.add(rel);
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(rel === "" ? e.name : `${rel}/${e.name}`);
    }
  };
  walk("");
  return out;
}

export function containerView(layers: readonly LayerRef[], upper: string, probe: OpaqueProbe = overlayOpaque): MergedView {
  const top: LayerRef = { chainID: "", diffID: "", dir: upper, link: "" };
  return new MergedView([...layers, top], new Map([[upper, opaqueDirsOf(upper, probe)]]));
}

/** Writes the merged tree as one tar (`docker export`): every entry with its owner, mode and mtime; hard links kept. */
export async function writeMergedTar(view: MergedView, out: NodeJS.WritableStream): Promise<void> {
  const tw = new TarWriter(out);
  const inodes = new Map<string, string>();
  const walk = async (parts: string[]): Promise<void> => {
    for (const name of view.names(parts)) {
      const child = [...parts, name];
      const found = view.lookup(child);
      if (found === undefined) continue;
      const st = found.st;
      if (st.isSocket()) continue;
      const rel = child.join("/");
      const host = path.join(found.dir, ...child);
      const base = { name: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
      let entry: TarEntry;
      const key = `${st.dev}:${st.ino}`;
      const first = !st.isDirectory() && st.nlink > 1 ? inodes.get(key) : undefined;
      if (first !== undefined) entry = { ...base, type: "hardlink", linkname: first };
      else if (st.isDirectory()) entry = { ...base, type: "dir" };
      else if (st.isSymbolicLink()) entry = { ...base, type: "symlink", linkname: fs.readlinkSync(host) };
      else if (st.isFile()) entry = { ...base, type: "file", size: st.size };
      else if (st.isFIFO()) entry = { ...base, type: "fifo" };
      else entry = { ...base, type: st.isCharacterDevice() ? "char" : "block", devmajor: deviceNumbers(st.rdev).major, devminor: deviceNumbers(st.rdev).minor };
      if (first === undefined && !st.isDirectory() && st.nlink > 1) inodes.set(key, rel);
      await tw.entry(entry, entry.type === "file" && (entry.size ?? 0) > 0 ? host : undefined);
      if (st.isDirectory()) await walk(child);
    }
  };
  try {
    await walk([]);
    await tw.end();
  } finally {
    tw.close();
  }
}

/**
 * The destination's components after following the image's symlinks inside
 * its root, and whether it is an existing directory there.
 */
export function resolveDestination(lower: MergedLookup, dest: string): { parts: string[]; isDir: boolean } {
  let pending = dest.split("/").filter((c) => c !== "" && c !== ".");
  let resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const c = pending.shift() ?? "";
    if (c === "..") {
      resolved.pop();
      continue;
    }
    const candidate = [...resolved, c];
    const f = lower.lookup(candidate);
    if (f?.st.isSymbolicLink() === true) {
      if (++hops > 40) throw new UsageError(`${dest}: too many levels of symbolic links`);
      const target = fs.readlinkSync(path.join(f.dir, ...candidate));
      if (target.startsWith("/")) resolved = [];
      pending = [...target.split("/").filter((x) => x !== "" && x !== "."), ...pending];
      continue;
    }
    resolved = candidate;
  }
  const last = resolved.length === 0 ? undefined : lower.lookup(resolved);
  return { parts: resolved, isDir: resolved.length === 0 || (last?.st.isDirectory() ?? false) };
}

/**
 * Makes the directories of `parts` in `upper`: one the image has gets the
 * image's mode, owner and mtime (what overlayfs's copy-up would keep), a new
 * one 0755 and the copy's owner.
 */
export function ensureDirs(upper: string, lower: MergedLookup, parts: readonly string[], opts: CopyOptions): void {
  let p = upper;
  for (let i = 0; i < parts.length; i++) {
    const prefix = parts.slice(0, i + 1);
    p = path.join(p, parts[i] ?? "");
    const here = fs.lstatSync(p, { throwIfNoEntry: false });
    if (here !== undefined) {
      if (!here.isDirectory()) throw new UsageError(`cannot copy to /${prefix.join("/")}: not a directory`);
      continue;
    }
    const below = lower.lookup(prefix);
    if (below !== undefined && !below.st.isDirectory()) throw new UsageError(`cannot copy to /${prefix.join("/")}: not a directory`);
    fs.mkdirSync(p);
    if (below !== undefined) {
      fs.chownSync(p, below.st.uid, below.st.gid);
      fs.chmodSync(p, below.st.mode & 0o7777);
      fs.utimesSync(p, below.st.atime, below.st.mtime);
    } else {
      fs.chownSync(p, opts.owner?.uid ?? 0, opts.owner?.gid ?? 0);
      fs.chmodSync(p, 0o755);
    }
  }
}

