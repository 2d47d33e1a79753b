// On-disk layout of the image store and its small persistent records:
//
//   blobs/sha256/<hex>        content-addressed blobs (layer archives as received, configs, manifests)
//   layers/<chainID hex>/     unpacked layers (see layers.ts); 0700: they hold images' setuid files
//   l/<short id>              → ../layers/<hex>/diff, short overlay lowerdir names
//   images/<config hex>       {"manifest": "sha256:…"}: the image exists (tagged or not)
//   repositories.json         {"docker.io/library/busybox:latest": "sha256:<manifest>"}
//   tmp/                      staging; everything is renamed into place from here
//   .lock                     writer lock (lock.ts)
//
// Writers hold the lock and only ever rename complete files/dirs into place,
// so readers need no lock.
import * as fs from "node:fs";
import * as path from "node:path";
import { ImageError, errnoCode } from "../errors.js";
import { writeFileAtomic, fsyncDir } from "../util/atomic.js";
import { digestHex, sha256 } from "./digest.js";

export interface StorePaths {
  root: string;
  blobs: string;
  layers: string;
  links: string;
  images: string;
  tmp: string;
  repositories: string;
}

/** The store's writer lock (see util/lock.ts). */
export function storeLockFile(root: string): string {
  return path.join(root, ".lock");
}

export function storePaths(root: string): StorePaths {
  return {
    root,
    blobs: path.join(root, "blobs", "sha256"),
    layers: path.join(root, "layers"),
    links: path.join(root, "l"),
    images: path.join(root, "images"),
    tmp: path.join(root, "tmp"),
    repositories: path.join(root, "repositories.json"),
  };
}

/** Creates the layout if missing (idempotent). */
export function ensureStore(root: string): StorePaths {
  const p = storePaths(root);
  fs.mkdirSync(root, { recursive: true, mode: 0o711 });
  for (const [dir, mode] of [
    [path.dirname(p.blobs), 0o700], [p.blobs, 0o700], [p.layers, 0o700], [p.links, 0o700],
    [p.images, 0o700], [p.tmp, 0o700],
  ] as const) {
    try {
      fs.mkdirSync(dir, { mode });
      fs.chmodSync(dir, mode);
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") throw e;
    }
  }
  return p;
}

// ---- blobs ----

export function blobPath(p: StorePaths, digest: string): string {
  return path.join(p.blobs, digestHex(digest));
}

export function hasBlob(p: StorePaths, digest: string): boolean {
  return fs.existsSync(blobPath(p, digest));
}

/**
 * Reads a blob. Digests are checked when content enters the store (as
 * containerd's content store does), not on every read: re-hashing the manifest
 * and config on each `run` would load node:crypto on its start path (~5 ms).
 */
export function readBlob(p: StorePaths, digest: string): Buffer {
  let data: Buffer;
  try {
    data = fs.readFileSync(blobPath(p, digest));
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new ImageError(`image store is missing blob ${digest}`);
    throw e;
  }
  return data;
}

/** Stores `data`; returns its digest and whether this call created the blob. */
export function putBlob(p: StorePaths, data: Buffer): { digest: string; created: boolean } {
  const digest = sha256(data);
  const target = blobPath(p, digest);
  if (fs.existsSync(target)) return { digest, created: false };
  writeFileAtomic(p.tmp, target, data);
  return { digest, created: true };
}

/** Moves a fully written, already fsynced staging file into place as `digest`. */
export function commitBlobFile(p: StorePaths, file: string, digest: string): boolean {
  const target = blobPath(p, digest);
  if (fs.existsSync(target)) return false;
  fs.renameSync(file, target);
  fsyncDir(p.blobs);
  return true;
}

export function removeBlob(p: StorePaths, digest: string): void {
  fs.rmSync(blobPath(p, digest), { force: true });
}

// ---- repositories.json ----

/** Normalised reference → manifest digest. */
export type Repositories = Record<string, string>;

export function readRepositories(p: StorePaths): Repositories {
  let text: string;
  try {
    text = fs.readFileSync(p.repositories, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return {};
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ImageError(`image store ${p.repositories} is corrupt (invalid JSON)`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ImageError(`image store ${p.repositories} is corrupt (not an object)`);
  }
  const out: Repositories = {};
  for (const [k, v] of Object.entries(parsed)) if (typeof v === "string") out[k] = v;
  return out;
}

/** Callers must hold the store lock (read-modify-write). */
export function writeRepositories(p: StorePaths, repos: Repositories): void {
  const sorted = Object.fromEntries(Object.entries(repos).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  writeFileAtomic(p.tmp, p.repositories, `${JSON.stringify(sorted, null, 2)}\n`, 0o600);
}

// ---- image records ----

export interface ImageRecord {
  manifest: string;
  /**
   * A build step's image (build cache): not listed by `images` nor pruned as
   * dangling while untagged; the build's final image is recorded without it.
   */
  intermediate?: boolean;
}

function recordPath(p: StorePaths, imageId: string): string {
  return path.join(p.images, digestHex(imageId));
}

export function readImageRecord(p: StorePaths, imageId: string): ImageRecord | undefined {
  let text: string;
  try {
    text = fs.readFileSync(recordPath(p, imageId), "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
  try {
    const rec = JSON.parse(text) as { manifest?: unknown; intermediate?: unknown };
    if (typeof rec.manifest === "string") return { manifest: rec.manifest, ...(rec.intermediate === true ? { intermediate: true } : {}) };
  } catch {
    // fall through
  }
  throw new ImageError(`image store record for ${imageId} is corrupt`);
}

/** Returns whether the record changed. Callers must hold the store lock. */
export function writeImageRecord(p: StorePaths, imageId: string, rec: ImageRecord): boolean {
  const prev = readImageRecord(p, imageId);
  if (prev?.manifest === rec.manifest && prev.intermediate === rec.intermediate) return false;
  writeFileAtomic(p.tmp, recordPath(p, imageId), `${JSON.stringify(rec)}\n`);
  return true;
}

export function removeImageRecord(p: StorePaths, imageId: string): void {
  fs.rmSync(recordPath(p, imageId), { force: true });
}

/** IDs (`sha256:<hex>`) of every image in the store. */
export function listImageIds(p: StorePaths): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(p.images);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
  return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
}
