// `rmi`, following Docker's ImageService.ImageDelete: a name untags first and
// deletes the image only with its last reference; an ID deletes the image
// (untagging it, if it has a single repository or --force). Layers go when no
// remaining image uses them; blobs too, and not only the removed image's: any
// blob no image names any more (a manifest whose tag moved to another manifest
// of the same image, and that manifest's layer blobs) goes with every rmi and
// prune. Blobs enter the store only under the store lock, in the same section
// as the record or reference naming them (store-commit.ts), so a sweep under that
// lock never sees a concurrent pull's or load's blob before its image.
//
// One deliberate difference: an image used by a container is never deleted,
// even with force, because containers mount its layer directories directly and
// there is no per-container layer reference yet. Force can still remove its
// tags (the image is left as <none>, as Docker does for a running container).
import * as fs from "node:fs";
import { ImageError, errnoCode } from "../errors.js";
import { chainIDs, shortId } from "./digest.js";
import { isImageIDPrefix, loadImage, lookupImage, parseKey, referencesByImage, type LoadedImage } from "./images.js";
import { hasLayer, removeLayer } from "./layers.js";
import { withLock } from "../util/lock.js";
import { familiarString, referenceName } from "./reference.js";
import {
  ensureStore, listImageIds, readImageRecord, readRepositories, removeBlob, removeImageRecord, writeRepositories,
  storeLockFile, storePaths, type Repositories, type StorePaths } from "./store.js";

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
      // The manifest the removed reference named may be named by nothing now.
      const live = liveContent(p, repos);
      if (live !== undefined) sweepBlobs(p, live.blobs);
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
  deleteImage(p, image, repos, records);
  return records;
}

/**
 * Removes every blob no image in the store names (a sweep of blobs/, done
 * under the store lock), and returns how many went. Nothing goes while an
 * image cannot be read: it cannot prove what it does not use.
 */
export function pruneBlobs(root: string): number {
  const p = storePaths(root);
  // No store, nothing to sweep (and none made for it).
  if (!fs.existsSync(p.blobs)) return 0;
  return withLock(storeLockFile(root), () => {
    const live = liveContent(p, readRepositories(p));
    return live === undefined ? 0 : sweepBlobs(p, live.blobs);
  });
}

function sweepBlobs(p: StorePaths, live: ReadonlySet<string>): number {
  let names: string[];
  try {
    names = fs.readdirSync(p.blobs);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return 0;
    throw e;
  }
  let removed = 0;
  for (const hex of names) {
    // Only blobs: anything else in the directory is not ours to judge.
    if (!/^[a-f0-9]{64}$/.test(hex) || live.has(`sha256:${hex}`)) continue;
    removeBlob(p, `sha256:${hex}`);
    removed++;
  }
  return removed;
}

/** Deletes the image record, then every layer of it that nothing else still uses, and every unused blob. */
function deleteImage(p: StorePaths, image: LoadedImage, repos: Repositories, records: string[]): void {
  removeImageRecord(p, image.id);
  records.push(`Deleted: ${image.id}`);

  const live = liveContent(p, repos);
  if (live === undefined) return;
  sweepBlobs(p, live.blobs);
  // Top first, as Docker releases a layer chain.
  for (const c of chainIDs(image.config.rootfs.diff_ids).reverse()) {
    if (live.layers.has(c) || !hasLayer(p, c)) continue;
    removeLayer(p, c);
    records.push(`Deleted: ${c}`);
  }
}

/** The blobs and layers the store's images use; undefined if one cannot be read (then anything may be in use). */
function liveContent(p: StorePaths, repos: Repositories): { blobs: Set<string>; layers: Set<string> } | undefined {
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
      return undefined;
    }
    liveBlobs.add(m).add(img.id);
    for (const l of img.manifest.layers) liveBlobs.add(l.digest);
    for (const c of chainIDs(img.config.rootfs.diff_ids)) liveLayers.add(c);
  }
  return { blobs: liveBlobs, layers: liveLayers };
}
