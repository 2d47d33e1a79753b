// Reading a file out of an image without mounting it: the overlay lookup done
// by hand over the layer directories (top layer first, whiteouts and opaque
// directories honoured), with symlinks resolved inside the image's root. Every
// component is lstat'ed, so a link in a layer never leads to a host file.
import * as fs from "node:fs";
import * as path from "node:path";
import type { ResolvedImage } from "./images.js";
import { opaqueDirs, type LayerRef } from "./layers.js";
import { lstatOrUndefined } from "../util/fs.js";
import { isOverlayWhiteout } from "./whiteouts.js";

// Linux's MAXSYMLINKS.
const MAX_SYMLINKS = 40;

interface Found {
  layer: LayerRef;
  st: fs.Stats;
}

/** An image's merged tree, read without mounting it. */
export interface MergedLookup {
  /** The topmost entry at `parts` (non-empty), or undefined where the image has nothing. */
  lookup(parts: readonly string[]): { st: fs.Stats; dir: string } | undefined;
  /** The names the image shows in the directory `parts`, sorted. */
  names(parts: readonly string[]): string[];
  /** This view with everything beneath `parts` gone (an opaque directory above it). */
  without(parts: readonly string[]): MergedLookup;
}

export class MergedView implements MergedLookup {
  private readonly opaque = new Map<string, Set<string>>();

  /**
   * `layers` bottom → top. `opaque` gives the opaque directories of a layer
   * that has no list of its own (a container's upperdir, read from its xattrs).
   */
  constructor(private readonly layers: readonly LayerRef[], opaque?: ReadonlyMap<string, ReadonlySet<string>>) {
    for (const [dir, set] of opaque ?? []) this.opaque.set(dir, new Set(set));
  }

  private opaqueIn(layer: LayerRef): Set<string> {
    let s = this.opaque.get(layer.dir);
    if (s === undefined) {
      s = new Set(opaqueDirs(layer.dir));
      this.opaque.set(layer.dir, s);
    }
    return s;
  }

  names(parts: readonly string[]): string[] {
    const top = parts.length === 0 ? undefined : this.lookup(parts);
    if (parts.length > 0 && !top?.st.isDirectory()) return [];
    const candidates = new Set<string>();
    for (const layer of this.layers) {
      try {
        for (const n of fs.readdirSync(path.join(layer.dir, ...parts))) candidates.add(n);
      } catch {
        // not a directory in this layer
      }
    }
    return [...candidates].filter((n) => this.lookup([...parts, n]) !== undefined).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  without(parts: readonly string[]): MergedLookup {
    const inside = (p: readonly string[]): boolean => p.length > parts.length && parts.every((c, i) => p[i] === c);
    return {
      lookup: (p) => (inside(p) ? undefined : this.lookup(p)),
      names: (p) => (inside([...p, ""]) ? [] : this.names(p)),
      without: (p) => this.without(p.length < parts.length ? p : parts),
    };
  }

  /** The topmost layer entry at `parts` (non-empty), as overlayfs would find it. */
  lookup(parts: readonly string[]): (Found & { dir: string }) | undefined {
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const layer = this.layers[i];
      if (layer === undefined) continue;
      const opaque = this.opaqueIn(layer);
      let hidesLower = opaque.has("");
      for (let j = 1; j <= parts.length; j++) {
        const prefix = parts.slice(0, j);
        const st = lstatOrUndefined(path.join(layer.dir, ...prefix));
        if (st === undefined) break;
        if (isOverlayWhiteout(st)) return undefined;
        if (j === parts.length) return { layer, st, dir: layer.dir };
        // A non-directory here replaces the whole subtree of every lower layer.
        if (!st.isDirectory()) return undefined;
        if (opaque.has(prefix.join("/"))) hidesLower = true;
      }
      if (hidesLower) return undefined;
    }
    return undefined;
  }
}

/** A regular file's content from the image, or undefined if it is absent or not a regular file. */
export function readImageFile(image: ResolvedImage, filePath: string): Buffer | undefined {
  const view = new MergedView(image.layers);
  let pending = filePath.split("/");
  let resolved: string[] = [];
  let last: Found | undefined;
  let hops = 0;
  while (pending.length > 0) {
    const c = pending.shift() ?? "";
    if (c === "" || c === ".") continue;
    if (c === "..") {
      resolved.pop();
      last = undefined;
      continue;
    }
    const candidate = [...resolved, c];
    const found = view.lookup(candidate);
    if (found === undefined) return undefined;
    if (found.st.isSymbolicLink()) {
      if (++hops > MAX_SYMLINKS) return undefined;
      const target = fs.readlinkSync(path.join(found.layer.dir, ...candidate));
      if (target.startsWith("/")) resolved = [];
      pending = [...target.split("/"), ...pending];
      last = undefined;
      continue;
    }
    if (!found.st.isDirectory() && pending.some((x) => x !== "" && x !== ".")) return undefined;
    resolved = candidate;
    last = found;
  }
  if (last === undefined || !last.st.isFile()) return undefined;
  return fs.readFileSync(path.join(last.layer.dir, ...resolved));
}
