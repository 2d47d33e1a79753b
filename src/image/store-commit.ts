// The one way an image enters the store, for import, load and pull: staged
// layers plus the exact manifest and config bytes are checked against each
// other, then made visible in one short section under the store lock. Either
// everything lands or the store is left exactly as it was.
import * as fs from "node:fs";
import { ImageError } from "../errors.js";
import { withLock } from "../util/lock.js";
import { Undo } from "../util/undo.js";
import { parseImageConfig } from "./config.js";
import { chainIDs, sha256 } from "./digest.js";
import { resolveImage, type ResolvedImage } from "./images.js";
import type { IngestedLayer } from "./ingest.js";
import { commitLayer, hasLayer, removeLayer } from "./layers.js";
import { parseManifest } from "./manifest.js";
import { isConfigMediaType, isLayerMediaType, isManifestMediaType } from "./media-types.js";
import { parseNormalizedNamed, referenceString, withDefaultTag } from "./reference.js";
import {
  commitBlobFile, ensureStore, putBlob, readImageRecord, readRepositories, removeBlob, removeImageRecord,
  storeLockFile, writeImageRecord, writeRepositories, type StorePaths,
} from "./store.js";

/** A layer whose chain is already unpacked in the store (found under its ingest lock). */
export interface ExistingLayer {
  /** Chain ID of the layer in the store. */
  existing: string;
  /** The layer's blob as received, when the caller has it (fsynced); stored if missing. */
  blob?: { file: string; digest: string };
}

export interface StagedImage {
  /** Exact bytes; their sha256 is the manifest digest. */
  manifest: Buffer;
  /** Exact bytes; their sha256 must equal manifest.config.digest. */
  config: Buffer;
  /** Bottom → top, aligned with config.rootfs.diff_ids. */
  layers: (IngestedLayer | ExistingLayer)[];
  /** References (any form; normalised here) to point at this image. */
  refs: string[];
  /** A build step's image (see ImageRecord); an image already in the store as an ordinary one stays ordinary. */
  intermediate?: boolean;
}

const isExisting = (l: IngestedLayer | ExistingLayer): l is ExistingLayer => "existing" in l;

/** Checks everything that can be checked without the lock; returns the normalised refs and chain IDs. */
function verify(staged: StagedImage): { id: string; manifestDigest: string; keys: string[]; chain: string[] } {
  const manifestDigest = sha256(staged.manifest);
  const manifest = parseManifest(staged.manifest, manifestDigest);
  if (!isManifestMediaType(manifest.mediaType)) {
    throw new ImageError(`unsupported manifest media type ${manifest.mediaType}`);
  }
  if (!isConfigMediaType(manifest.config.mediaType)) {
    throw new ImageError(`unsupported image config media type ${manifest.config.mediaType}`);
  }
  for (const l of manifest.layers) {
    if (!isLayerMediaType(l.mediaType)) throw new ImageError(`unsupported layer media type ${l.mediaType}`);
  }
  const id = sha256(staged.config);
  if (id !== manifest.config.digest) {
    throw new ImageError(`image config digest mismatch: expected ${manifest.config.digest}, got ${id}`);
  }
  if (staged.config.length !== manifest.config.size) {
    throw new ImageError(`image config size mismatch: expected ${manifest.config.size} bytes, got ${staged.config.length}`);
  }
  const diffIDs = parseImageConfig(staged.config, id).rootfs.diff_ids;
  if (diffIDs.length !== manifest.layers.length || diffIDs.length !== staged.layers.length) {
    throw new ImageError(
      `image ${id}: layer count mismatch (config ${diffIDs.length}, manifest ${manifest.layers.length}, staged ${staged.layers.length})`);
  }
  const chain = chainIDs(diffIDs);
  staged.layers.forEach((l, i) => {
    const desc = manifest.layers[i];
    if (isExisting(l)) {
      if (l.existing !== chain[i]) throw new ImageError(`layer ${i + 1}: wrong chain ID: expected ${chain[i]}, got ${l.existing}`);
      if (l.blob !== undefined && l.blob.digest !== desc?.digest) {
        throw new ImageError(`layer ${i + 1}: blob digest mismatch: expected ${desc?.digest}, got ${l.blob.digest}`);
      }
      return;
    }
    if (l.diffID !== diffIDs[i]) throw new ImageError(`layer ${i + 1}: wrong diff ID: expected ${diffIDs[i]}, got ${l.diffID}`);
    if (l.digest !== desc?.digest) throw new ImageError(`layer ${i + 1}: blob digest mismatch: expected ${desc?.digest}, got ${l.digest}`);
    if (l.size !== desc.size) throw new ImageError(`layer ${i + 1}: size mismatch: expected ${desc.size} bytes, got ${l.size}`);
  });
  const keys = [...new Set(staged.refs.map((r) => referenceString(withDefaultTag(parseNormalizedNamed(r)))))];
  return { id, manifestDigest, keys, chain };
}

function commitLocked(p: StorePaths, staged: StagedImage, v: ReturnType<typeof verify>): void {
  const undo = new Undo(() => { /* best effort: the original error is what matters */ });
  try {
    staged.layers.forEach((l, i) => {
      const chainID = v.chain[i] ?? "";
      if (isExisting(l)) {
        if (!hasLayer(p, chainID)) throw new ImageError(`image store is missing layer ${chainID}`);
        if (l.blob !== undefined && commitBlobFile(p, l.blob.file, l.blob.digest)) {
          const d = l.blob.digest;
          undo.push(() => removeBlob(p, d));
        }
        return;
      }
      if (commitBlobFile(p, l.blobFile, l.digest)) undo.push(() => removeBlob(p, l.digest));
      const meta = { diffID: l.diffID, size: l.unpacked.size, opaqueDirs: l.unpacked.opaqueDirs };
      // A concurrent writer may have committed the same chain first; its copy is as good as ours.
      if (commitLayer(p, l.layerDir, chainID, meta)) undo.push(() => removeLayer(p, chainID));
    });
    for (const bytes of [staged.config, staged.manifest]) {
      const b = putBlob(p, bytes);
      if (b.created) undo.push(() => removeBlob(p, b.digest));
    }
    const had = readImageRecord(p, v.id);
    const hadRecord = had !== undefined;
    const intermediate = staged.intermediate === true && (had === undefined || had.intermediate === true);
    if (writeImageRecord(p, v.id, { manifest: v.manifestDigest, ...(intermediate ? { intermediate: true } : {}) }) && !hadRecord) {
      undo.push(() => removeImageRecord(p, v.id));
    }
    if (v.keys.length > 0) {
      const repos = readRepositories(p);
      for (const k of v.keys) repos[k] = v.manifestDigest;
      writeRepositories(p, repos);
    }
  } catch (e) {
    undo.runSync();
    throw e;
  }
}

/**
 * Makes a staged image visible in the store, all or nothing, and returns it
 * (named by its first reference, if any). The staging directories of the
 * ingested layers are removed whatever happens.
 */
export function commitImage(root: string, staged: StagedImage): ResolvedImage {
  try {
    const v = verify(staged);
    const p = ensureStore(root);
    return withLock(storeLockFile(root), () => {
      commitLocked(p, staged, v);
      // Resolved under the lock, so a concurrent tag move cannot swap the image.
      const image = resolveImage(root, v.id);
      const name = v.keys[0];
      if (name !== undefined) image.name = name;
      return image;
    });
  } finally {
    for (const l of staged.layers) if (!isExisting(l)) fs.rmSync(l.staging, { recursive: true, force: true });
  }
}

/** Records a build's result as an ordinary image (no longer only cache). */
export function markFinal(root: string, imageId: string): void {
  const p = ensureStore(root);
  withLock(storeLockFile(root), () => {
    const rec = readImageRecord(p, imageId);
    if (rec?.intermediate === true) writeImageRecord(p, imageId, { manifest: rec.manifest });
  });
}
