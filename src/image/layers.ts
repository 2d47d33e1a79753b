// Unpacked layers, keyed by chain ID like Docker's layer store:
//
//   layers/<chainID hex>/diff     the layer's files (overlay lowerdir; read-only by convention)
//   layers/<chainID hex>/link     short random id; l/<id> → ../layers/<hex>/diff
//   layers/<chainID hex>/diffid   the layer's diff ID
//   layers/<chainID hex>/size     bytes of regular files (what `docker images` adds up)
//   layers/<chainID hex>/opaque   JSON list of directories marked opaque (only if any);
//                                 Node cannot read xattrs back, and file lookups need them
//
// The short links keep a 100+ layer overlay mount within its one-page option string.
import * as fs from "node:fs";
import * as path from "node:path";
import { randomInt } from "node:crypto";
import { ImageError, errnoCode } from "../errors.js";
import { fsyncDir, randomSuffix } from "../util/atomic.js";
import { digestHex } from "./digest.js";
import type { StorePaths } from "./store.js";

export interface LayerRef {
  chainID: string;
  diffID: string;
  /** Absolute path of `layers/<hex>/diff`. */
  dir: string;
  /** The short id: `l/<link>` points at `dir`. */
  link: string;
}

export interface LayerMeta {
  diffID: string;
  size: number;
  opaqueDirs: string[];
}

const LINK_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LINK_LENGTH = 26;

function newLinkId(): string {
  let s = "";
  for (let i = 0; i < LINK_LENGTH; i++) s += LINK_ALPHABET[randomInt(LINK_ALPHABET.length)];
  return s;
}

export function layerPath(p: StorePaths, chainID: string): string {
  return path.join(p.layers, digestHex(chainID));
}

export function hasLayer(p: StorePaths, chainID: string): boolean {
  return fs.existsSync(layerPath(p, chainID));
}

/**
 * Moves a staged layer (a directory holding `diff/`) into place under `chainID`.
 * Returns false, leaving the staging dir alone, if that layer already exists.
 * Callers must hold the store lock.
 */
export function commitLayer(p: StorePaths, staged: string, chainID: string, meta: LayerMeta): boolean {
  const target = layerPath(p, chainID);
  if (fs.existsSync(target)) return false;
  let link = newLinkId();
  while (fs.existsSync(path.join(p.links, link))) link = newLinkId();
  fs.writeFileSync(path.join(staged, "link"), link);
  fs.writeFileSync(path.join(staged, "diffid"), meta.diffID);
  fs.writeFileSync(path.join(staged, "size"), String(meta.size));
  if (meta.opaqueDirs.length > 0) fs.writeFileSync(path.join(staged, "opaque"), JSON.stringify(meta.opaqueDirs));
  fs.chmodSync(staged, 0o700);
  const linkPath = path.join(p.links, link);
  fs.symlinkSync(path.join("..", "layers", digestHex(chainID), "diff"), linkPath);
  try {
    fs.renameSync(staged, target);
  } catch (e) {
    fs.rmSync(linkPath, { force: true });
    throw e;
  }
  fsyncDir(p.layers);
  fsyncDir(p.links);
  return true;
}

function readMetaFile(p: StorePaths, chainID: string, name: string): string {
  try {
    return fs.readFileSync(path.join(layerPath(p, chainID), name), "utf8").trim();
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new ImageError(`image store is missing layer ${chainID}`);
    throw e;
  }
}

export function layerRef(p: StorePaths, chainID: string, diffID: string): LayerRef {
  const link = readMetaFile(p, chainID, "link");
  const dir = path.join(layerPath(p, chainID), "diff");
  if (!fs.existsSync(dir)) throw new ImageError(`image store is missing layer ${chainID}`);
  return { chainID, diffID, dir, link };
}

export function layerSize(p: StorePaths, chainID: string): number {
  const n = Number(readMetaFile(p, chainID, "size"));
  return Number.isFinite(n) ? n : 0;
}

/** Directories (relative to the layer root, "" for the root) marked opaque in this layer. */
export function opaqueDirs(layerDir: string): string[] {
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(path.join(path.dirname(layerDir), "opaque"), "utf8"));
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === "string") : [];
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
}

/** Removes a layer; it disappears from layers/ in one rename. Callers must hold the store lock. */
export function removeLayer(p: StorePaths, chainID: string): void {
  const target = layerPath(p, chainID);
  let link: string | undefined;
  try {
    link = fs.readFileSync(path.join(target, "link"), "utf8").trim();
  } catch {
    link = undefined;
  }
  const aside = path.join(p.tmp, `removed-${digestHex(chainID)}-${randomSuffix()}`);
  try {
    fs.renameSync(target, aside);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw e;
  }
  if (link !== undefined && /^[A-Z0-9]+$/.test(link)) fs.rmSync(path.join(p.links, link), { force: true });
  fs.rmSync(aside, { recursive: true, force: true });
}
