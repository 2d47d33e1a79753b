// `docker save`: images as a tar archive in the legacy docker-save layout,
// which every Docker (20.10 here, and 25+ still) loads and which load.ts
// reads back:
//
//   <layer id>/VERSION      "1.0"
//   <layer id>/json         legacy v1 layer JSON (id, parent, created)
//   <layer id>/layer.tar    the layer uncompressed: its sha256 is the diff ID
//   <config hex>.json       the image config, byte for byte (so the ID survives)
//   manifest.json           [{Config, RepoTags, Layers}]
//   repositories            {"repo": {"tag": "<top layer id>"}}
//
// A layer's id is its chain ID, so images sharing layers share directories.
// Layers are written from the stored blobs (decompressed when gzip or zstd)
// and checked against their diff IDs on the way out.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ImageError } from "../../errors.js";
import { writeAll } from "../../util/atomic.js";
import { decompressor, detectCompression, readMagic } from "../compression.js";
import { chainIDs, digestHex } from "../digest.js";
import { loadImage, lookupImage, parseKey, type LoadedImage } from "../images.js";
import { familiarName, parseNormalizedNamed, referenceName, type Reference } from "../reference.js";
import { makeStagingDir } from "../staging.js";
import {
  blobPath, ensureStore, hasBlob, listImageIds, readBlob, readImageRecord, readRepositories, type StorePaths,
} from "../store.js";
import { TarWriter } from "./tar-writer.js";

interface SavedImage {
  image: LoadedImage;
  /** Normalised name:tag references to record in RepoTags. */
  tags: string[];
}

/** Docker's rules: a name:tag is that tag, a bare name is every tag of the repository, an ID has no tags. */
function selectImages(p: StorePaths, refs: readonly string[]): SavedImage[] {
  const out = new Map<string, SavedImage>();
  const add = (image: LoadedImage, tag?: string): void => {
    const s = out.get(image.id) ?? { image, tags: [] };
    if (tag !== undefined && !s.tags.includes(tag)) s.tags.push(tag);
    out.set(image.id, s);
  };
  const repos = readRepositories(p);
  for (const ref of refs) {
    let named: Reference | undefined;
    try {
      named = parseNormalizedNamed(ref);
    } catch {
      named = undefined;
    }
    if (named !== undefined && named.tag === undefined && named.digest === undefined) {
      const name = referenceName(named);
      const tagged = Object.keys(repos).filter((k) => {
        const r = parseKey(k);
        return r.tag !== undefined && r.digest === undefined && referenceName(r) === name;
      });
      if (tagged.length > 0) {
        for (const k of tagged.sort()) add(loadImage(p, repos[k] ?? ""), k);
        continue;
      }
    }
    const { image, key } = lookupImage(p, ref);
    add(image, key !== undefined && parseKey(key).tag !== undefined && parseKey(key).digest === undefined ? key : undefined);
  }
  return [...out.values()];
}

/** The blob holding the layer with `diffID` at position `index` of some image (the image's own first). */
function layerBlob(p: StorePaths, image: LoadedImage, index: number): string {
  const own = image.manifest.layers[index]?.digest;
  if (own !== undefined && hasBlob(p, own)) return own;
  // A layer found already unpacked when its image came in may have arrived with another image's blob.
  const diffID = image.config.rootfs.diff_ids[index];
  const manifests = new Set(Object.values(readRepositories(p)));
  for (const id of listImageIds(p)) {
    const rec = readImageRecord(p, id);
    if (rec !== undefined) manifests.add(rec.manifest);
  }
  for (const m of manifests) {
    let other: LoadedImage;
    try {
      other = loadImage(p, m);
    } catch {
      continue;
    }
    const i = other.config.rootfs.diff_ids.indexOf(diffID ?? "");
    const d = i === -1 ? undefined : other.manifest.layers[i]?.digest;
    if (d !== undefined && hasBlob(p, d)) return d;
  }
  throw new ImageError(`save: image ${image.id}: the store has no archive of layer ${diffID ?? index}`);
}

/**
 * The layer as a plain tar: a gzip or zstd blob is decompressed into `tmp`
 * (the tar header needs its size first) and checked against `diffID` there;
 * a plain blob is used as it is and checked as it is written (`verified` false).
 */
async function plainLayer(p: StorePaths, blob: string, diffID: string, tmp: string): Promise<{ file: string; verified: boolean }> {
  const file = blobPath(p, blob);
  const compression = detectCompression(readMagic(file), "save");
  if (compression === "none") return { file, verified: false };
  const out = path.join(tmp, digestHex(diffID));
  const hash = createHash("sha256");
  const fd = fs.openSync(out, "wx", 0o600);
  try {
    const dec = decompressor(compression);
    fs.createReadStream(file).on("error", (e) => dec.destroy(e)).pipe(dec);
    for await (const c of dec as AsyncIterable<Buffer>) {
      hash.update(c);
      writeAll(fd, c);
    }
  } catch (e) {
    throw new ImageError(`save: layer blob ${blob}: ${e instanceof Error ? e.message : String(e)}`, 125, { cause: e });
  } finally {
    fs.closeSync(fd);
  }
  checkDiffID(blob, diffID, `sha256:${hash.digest("hex")}`);
  return { file: out, verified: true };
}

function checkDiffID(blob: string, diffID: string, got: string): void {
  if (got !== diffID) throw new ImageError(`save: layer blob ${blob}: wrong diff ID: expected ${diffID}, got ${got}`);
}

/**
 * Writes the images `refs` name (names, name:tag, IDs) to `output` as one
 * archive. `output` is not ended: the caller owns it (and, for a file, its
 * rename into place).
 */
export async function saveImages(root: string, refs: readonly string[], output: NodeJS.WritableStream): Promise<void> {
  const p = ensureStore(root);
  const images = selectImages(p, refs);
  const tmp = makeStagingDir(p, "save");
  const tw = new TarWriter(output);
  try {
    const manifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    const written = new Set<string>();
    for (const { image, tags } of images) {
      const created = image.config.created ?? "";
      const mtime = Number.isNaN(Date.parse(created)) ? new Date(0) : new Date(created);
      const diffIDs = image.config.rootfs.diff_ids;
      const layerIds = chainIDs(diffIDs).map(digestHex);
      for (const [i, id] of layerIds.entries()) {
        if (written.has(id)) continue;
        const diffID = diffIDs[i] ?? "";
        const blob = layerBlob(p, image, i);
        const { file, verified } = await plainLayer(p, blob, diffID, tmp);
        await tw.dir(id, mtime);
        await tw.file(`${id}/VERSION`, "1.0", mtime);
        const parent = i > 0 ? layerIds[i - 1] : undefined;
        const json = { id, ...(parent !== undefined ? { parent } : {}), created: mtime.toISOString(), container_config: {} };
        await tw.file(`${id}/json`, JSON.stringify(json), mtime);
        // A plain blob is hashed on its way out: a mismatch fails the save (and -o keeps no file).
        const hash = createHash("sha256");
        await tw.fileFrom(`${id}/layer.tar`, file, mtime, verified ? undefined : (c) => hash.update(c));
        if (!verified) checkDiffID(blob, diffID, `sha256:${hash.digest("hex")}`);
        if (file.startsWith(tmp)) fs.rmSync(file, { force: true });
        written.add(id);
      }
      const configName = `${digestHex(image.id)}.json`;
      if (!written.has(configName)) {
        await tw.file(configName, readBlob(p, image.id), mtime);
        written.add(configName);
      }
      const shown = tags.map((t) => {
        const r = parseKey(t);
        return `${familiarName(r)}:${r.tag ?? "latest"}`;
      });
      manifest.push({ Config: configName, RepoTags: shown.length > 0 ? shown : null, Layers: layerIds.map((id) => `${id}/layer.tar`) });
      const top = layerIds[layerIds.length - 1];
      for (const t of tags) {
        const r = parseKey(t);
        if (top === undefined || r.tag === undefined) continue;
        (repositories[familiarName(r)] ??= {})[r.tag] = top;
      }
    }
    const epoch = new Date(0);
    await tw.file("manifest.json", `${JSON.stringify(manifest)}\n`, epoch);
    if (Object.keys(repositories).length > 0) await tw.file("repositories", `${JSON.stringify(repositories)}\n`, epoch);
    await tw.end();
  } catch (e) {
    const failed = tw.outputError;
    if (failed !== undefined) throw new ImageError(`save: writing the archive failed: ${failed.message}`, 125, { cause: failed });
    throw e;
  } finally {
    tw.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
