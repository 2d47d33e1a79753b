// `docker image prune` (and the image part of `system prune`): removes
// dangling images (no tag), or with `all` every image no container uses,
// through the same path as `rmi` (removeImage), and adds up the layers that
// went. Blobs no image names any more, and the staging left in tmp/ by killed
// writers, go too.
import { chainIDs } from "./digest.js";
import type { ImageConfig } from "./config.js";
import { ancestorKeys, lineageKey, loadImage, referencesByImage } from "./images.js";
import { hasLayer, layerSize } from "./layers.js";
import { parseKey } from "./images.js";
import { pruneBlobs, removeImage } from "./remove.js";
import { sweepStaging } from "./staging.js";
import { listImageIds, readImageRecord, readRepositories, storePaths } from "./store.js";

export interface PruneOptions {
  /** Also images with tags (`-a`). */
  all?: boolean;
  /** Whether a container uses the image: such images are kept. */
  inUse?: (imageId: string) => boolean;
  /** Only the build cache: untagged images of build steps (`builder prune`). */
  cacheOnly?: boolean;
  /** `--filter until=…, label=…`: whether an image may go (its config's created time and labels) */
  filter?: (image: { created: number; labels: Readonly<Record<string, string>> }) => boolean;
}

export interface PruneResult {
  /** Docker's lines: `untagged: name:tag`, `deleted: sha256:…` (images, then their layers). */
  lines: string[];
  /** Bytes of the layers removed. */
  reclaimed: number;
}

export function pruneImages(root: string, opts: PruneOptions = {}): PruneResult {
  const p = storePaths(root);
  sweepStaging(p);
  const refs = referencesByImage(p, readRepositories(p));
  const result: PruneResult = { lines: [], reclaimed: 0 };
  // Untagged images with a child (a build's steps, a committed container's image) are not dangling.
  const configs = new Map<string, ImageConfig>();
  for (const id of listImageIds(p)) {
    try {
      const rec = readImageRecord(p, id);
      if (rec !== undefined) configs.set(id, loadImage(p, rec.manifest).config);
    } catch {
      // unreadable: pruned below like any other
    }
  }
  const ancestors = ancestorKeys(configs.values());
  for (const id of listImageIds(p)) {
    if (opts.inUse?.(id) === true) continue;
    const tags = (refs.get(id) ?? []).filter((k) => parseKey(k).tag !== undefined);
    if (tags.length > 0 && opts.all !== true) continue;
    const config = configs.get(id);
    if (opts.filter !== undefined
      && !opts.filter({ created: Date.parse(config?.created ?? "") || 0, labels: config?.config?.Labels ?? {} })) continue;
    if (opts.all !== true && opts.cacheOnly !== true && config !== undefined && ancestors.has(lineageKey(config))) continue;
    const rec = readImageRecord(p, id);
    if (rec === undefined) continue;
    if (opts.cacheOnly === true ? rec.intermediate !== true || tags.length > 0 : opts.all !== true && rec.intermediate === true && tags.length === 0) {
      continue; // the build cache goes with `builder prune` (or image prune -a), and only it does then
    }
    const sizes = new Map<string, number>();
    try {
      for (const c of chainIDs(loadImage(p, rec.manifest).config.rootfs.diff_ids)) {
        if (hasLayer(p, c)) sizes.set(c, layerSize(p, c));
      }
    } catch {
      // An unreadable image is still removed; its size is unknown.
    }
    // By ID and forced: every reference goes, as Docker's prune does.
    const records = removeImage(root, id, { force: true, ...(opts.inUse ? { inUse: opts.inUse } : {}) });
    for (const r of records) {
      const [verb, what] = r.split(": ", 2);
      result.lines.push(`${(verb ?? "").toLowerCase()}: ${what ?? ""}`);
      if (verb === "Deleted" && what !== undefined) result.reclaimed += sizes.get(what) ?? 0;
    }
  }
  // Each removal swept the blobs; with none, blobs named by nothing since (a moved tag) still go.
  pruneBlobs(root);
  return result;
}
