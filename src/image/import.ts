// `docker import`: one tarball (plain, gzip or zstd) becomes a single-layer
// image. The layer is staged first; the store only changes in a short locked
// commit, and a failure anywhere leaves it exactly as it was.
import * as fs from "node:fs";
import { parseChanges } from "./changes.js";
import { CONFIG_MEDIA_TYPE, ociArchitecture, type ImageConfig } from "./config.js";
import { chainIDs } from "./digest.js";
import { resolveImage, type ResolvedImage } from "./images.js";
import { ingestLayer, type IngestedLayer } from "./ingest.js";
import { commitLayer, removeLayer } from "./layers.js";
import { withLock } from "../util/lock.js";
import { buildManifest } from "./manifest.js";
import { referenceString } from "./reference.js";
import {
  commitBlobFile, ensureStore, putBlob, readImageRecord, readRepositories, removeBlob, removeImageRecord,
  writeImageRecord, writeRepositories, storeLockFile, type StorePaths } from "./store.js";
import { parseTargetReference } from "./tag.js";

export interface ImportOptions {
  /** Dockerfile instructions applied to the config (`--change`). */
  changes?: string[];
  /** History comment (`--message`); Docker's default is "Imported from -". */
  message?: string;
}

function buildConfig(layer: IngestedLayer, opts: ImportOptions): ImageConfig {
  const created = new Date().toISOString();
  return {
    created,
    architecture: ociArchitecture(),
    os: "linux",
    config: parseChanges(opts.changes ?? []),
    rootfs: { type: "layers", diff_ids: [layer.diffID] },
    history: [{ created, comment: opts.message ?? "Imported from -" }],
  };
}

/** Makes the staged layer and its image visible; undoes its own steps if one fails. */
function commit(p: StorePaths, layer: IngestedLayer, config: ImageConfig, key: string | undefined): string {
  const undo: (() => void)[] = [];
  try {
    if (commitBlobFile(p, layer.blobFile, layer.digest)) undo.push(() => removeBlob(p, layer.digest));
    const chainID = chainIDs(config.rootfs.diff_ids)[0] ?? layer.diffID;
    const meta = { diffID: layer.diffID, size: layer.unpacked.size, opaqueDirs: layer.unpacked.opaqueDirs };
    if (commitLayer(p, layer.layerDir, chainID, meta)) undo.push(() => removeLayer(p, chainID));

    const configBytes = Buffer.from(JSON.stringify(config));
    const configBlob = putBlob(p, configBytes);
    if (configBlob.created) undo.push(() => removeBlob(p, configBlob.digest));
    const manifest = buildManifest(
      { mediaType: CONFIG_MEDIA_TYPE, digest: configBlob.digest, size: configBytes.length },
      [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    );
    const manifestBlob = putBlob(p, Buffer.from(JSON.stringify(manifest)));
    if (manifestBlob.created) undo.push(() => removeBlob(p, manifestBlob.digest));

    const hadRecord = readImageRecord(p, configBlob.digest) !== undefined;
    if (writeImageRecord(p, configBlob.digest, { manifest: manifestBlob.digest }) && !hadRecord) {
      undo.push(() => removeImageRecord(p, configBlob.digest));
    }
    if (key !== undefined) {
      const repos = readRepositories(p);
      repos[key] = manifestBlob.digest;
      writeRepositories(p, repos);
    }
    return configBlob.digest;
  } catch (e) {
    for (const u of undo.reverse()) {
      try {
        u();
      } catch {
        // Best effort: the original error is what matters.
      }
    }
    throw e;
  }
}

export async function importImage(
  root: string,
  input: NodeJS.ReadableStream,
  ref: string | undefined,
  opts: ImportOptions = {},
): Promise<ResolvedImage> {
  // Bad arguments fail before a byte is read.
  const key = ref === undefined ? undefined : referenceString(parseTargetReference(ref, "cannot import digest reference"));
  parseChanges(opts.changes ?? []);

  const p = ensureStore(root);
  const layer = await ingestLayer(p, input as AsyncIterable<Buffer | string>, "import");
  try {
    const config = buildConfig(layer, opts);
    return withLock(storeLockFile(root), () => {
      const id = commit(p, layer, config, key);
      // Resolved under the lock, so a concurrent tag move cannot swap the image.
      const image = resolveImage(root, id);
      if (key !== undefined) image.name = key;
      return image;
    });
  } finally {
    fs.rmSync(layer.staging, { recursive: true, force: true });
  }
}
