// `rmi`, following Docker's ImageService.ImageDelete: a name untags first and
// deletes the image only with its last reference; an ID deletes the image
// (untagging it, if it has a single repository or --force). Blobs and layers go
// when no remaining image uses them.
//
// One deliberate difference: an image used by a container is never deleted,
// even with force, because containers mount its layer directories directly and
// there is no per-container layer reference yet. Force can still remove its
// tags (the image is left as <none>, as Docker does for a running container).
import { ImageError } from "../errors.js";
import { chainIDs, shortId } from "./digest.js";
import { isImageIDPrefix, loadImage, lookupImage, parseKey, referencesByImage, type LoadedImage } from "./images.js";
import { hasLayer, removeLayer } from "./layers.js";
import { withLock } from "../util/lock.js";
import { familiarString, referenceName } from "./reference.js";
import {
  ensureStore, listImageIds, readImageRecord, readRepositories, removeBlob, removeImageRecord, writeRepositories,
  storeLockFile, type Repositories, type StorePaths } from "./store.js";

export interface RemoveOptions {
  force?: boolean;
  /** Whether a container uses the image; a string is that container's ID (shown in the conflict message). */
  inUse?: (imageId: string) => boolean | string;
}

class Conflict extends ImageError {}

/** Docker's isSingleReference: at most one tag, and all references in one repository. */
function isSingleReference(keys: readonly string[]): boolean {
  if (keys.length <= 1) return keys.length === 1;
  const refs = keys.map(parseKey);
  const tags = refs.filter((r) => r.digest === undefined);
  if (tags.length > 1) return false;
  const repos = new Set(refs.map(referenceName));
  return repos.size === 1;
}

function untag(repos: Repositories, key: string, out: string[]): void {
  delete repos[key];
  out.push(`Untagged: ${familiarString(parseKey(key))}`);
}

export function removeImage(root: string, refOrId: string, opts: RemoveOptions = {}): string[] {
  const p = ensureStore(root);
  return withLock(storeLockFile(root), () => removeLocked(p, refOrId, opts));
}

function removeLocked(p: StorePaths, refOrId: string, opts: RemoveOptions): string[] {
  const force = opts.force === true;
  const { image, key } = lookupImage(p, refOrId);
  const id = image.id;
  const repos = readRepositories(p);
  let refs = referencesByImage(p, repos).get(id) ?? [];
  // Every manifest of this image, for the blob sweep should the image go.
  const manifests = new Set([image.manifestDigest, ...refs.map((k) => repos[k] ?? "")]);
  const record = readImageRecord(p, id);
  if (record !== undefined) manifests.add(record.manifest);
  const usage = opts.inUse?.(id) ?? false;
  const used = usage !== false;
  const user = typeof usage === "string" ? `container ${shortId(usage)}` : "a container";
  const records: string[] = [];

  if (key !== undefined && !isImageIDPrefix(id, refOrId)) {
    if (!force && used && isSingleReference(refs)) {
      throw new Conflict(`conflict: unable to remove repository reference "${refOrId}" (must force) - ${user} is using its referenced image ${shortId(id)}`);
    }
    untag(repos, key, records);
    const removed = parseKey(key);
    refs = refs.filter((k) => k !== key);
    // With its last tag in a repository gone, that repository's digest references go too.
    if (removed.digest === undefined) {
      const name = referenceName(removed);
      const sameRepo = refs.map((k) => ({ k, r: parseKey(k) })).filter(({ r }) => referenceName(r) === name);
      if (!sameRepo.some(({ r }) => r.digest === undefined)) {
        for (const { k } of sameRepo) untag(repos, k, records);
        refs = refs.filter((k) => !sameRepo.some((s) => s.k === k));
      }
    }
    if (refs.length > 0 || used) {
      writeRepositories(p, repos);
      return records;
    }
  } else {
    if (used) {
      throw new Conflict(`conflict: unable to delete ${shortId(id)} (cannot be forced) - image is being used by ${user}`);
    }
    if (refs.length > 0 && !force && !isSingleReference(refs)) {
      throw new Conflict(`conflict: unable to delete ${shortId(id)} (must be forced) - image is referenced in multiple repositories`);
    }
    for (const k of refs) untag(repos, k, records);
  }

  writeRepositories(p, repos);
  deleteImage(p, image, manifests, repos, records);
  return records;
}

/** Deletes the image record, then every blob and layer of it that nothing else still uses. */
function deleteImage(p: StorePaths, image: LoadedImage, itsManifests: Set<string>, repos: Repositories, records: string[]): void {
  removeImageRecord(p, image.id);
  records.push(`Deleted: ${image.id}`);

  const candidates = new Set<string>([image.id]);
  for (const m of itsManifests) {
    candidates.add(m);
    try {
      for (const l of loadImage(p, m).manifest.layers) candidates.add(l.digest);
    } catch {
      // Already unreadable: nothing more to learn from it.
    }
  }

  const liveBlobs = new Set<string>();
  const liveLayers = new Set<string>();
  const manifests = new Set<string>(Object.values(repos));
  for (const other of listImageIds(p)) {
    const rec = readImageRecord(p, other);
    if (rec !== undefined) manifests.add(rec.manifest);
  }
  for (const m of manifests) {
    let img: LoadedImage;
    try {
      img = loadImage(p, m);
    } catch {
      // An unreadable image cannot prove anything is unused; keep what it might use.
      return;
    }
    liveBlobs.add(m).add(img.id);
    for (const l of img.manifest.layers) liveBlobs.add(l.digest);
    for (const c of chainIDs(img.config.rootfs.diff_ids)) liveLayers.add(c);
  }

  for (const d of candidates) if (!liveBlobs.has(d)) removeBlob(p, d);
  // Top first, as Docker releases a layer chain.
  for (const c of chainIDs(image.config.rootfs.diff_ids).reverse()) {
    if (liveLayers.has(c) || !hasLayer(p, c)) continue;
    removeLayer(p, c);
    records.push(`Deleted: ${c}`);
  }
}
