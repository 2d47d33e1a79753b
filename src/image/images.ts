// Finding images: by name (through repositories.json), by full ID or by an
// unambiguous ID prefix, in Docker's order. An image is its config (the ID is
// the config digest) plus the manifest that lists its layer blobs.
import { ImageError, NotFoundError, UsageError } from "../errors.js";
import { log } from "../log.js";
import { parseImageConfig, type ImageConfig } from "./config.js";
import { chainIDs, digestHex, isDigest } from "./digest.js";
import { layerRef, layerSize, type LayerRef } from "./layers.js";
import { parseManifest, type ImageManifest } from "./manifest.js";
import {
  familiarName, familiarString, parseNormalizedNamed, referenceName, referenceString, withDefaultTag, type Reference,
} from "./reference.js";
import {
  listImageIds, readBlob, readImageRecord, readRepositories, storePaths, type Repositories, type StorePaths,
} from "./store.js";

export interface ResolvedImage {
  /** `sha256:<config hex>`. */
  id: string;
  /** The normalised reference, when resolved by name. */
  name?: string;
  config: ImageConfig;
  /** Bottom → top. */
  layers: LayerRef[];
  manifestDigest: string;
}

export interface ImageSummary {
  /** Familiar repository name (`busybox`), or `<none>`. */
  repository: string;
  /** Tag, or `<none>`. */
  tag: string;
  /** `sha256:<config hex>` (display the first 12 hex). */
  id: string;
  /** RFC 3339, from the config; "" if it has none. */
  created: string;
  /** Bytes of the unpacked layers. */
  size: number;
  /** Manifest digest the repository has for this image (`repo@sha256:…` reference), if any. */
  digest?: string;
}

export interface LoadedImage {
  id: string;
  manifestDigest: string;
  manifest: ImageManifest;
  config: ImageConfig;
}

export function loadImage(p: StorePaths, manifestDigest: string): LoadedImage {
  if (!isDigest(manifestDigest)) throw new ImageError(`image store refers to an invalid manifest digest ${manifestDigest}`);
  const manifest = parseManifest(readBlob(p, manifestDigest), manifestDigest);
  const id = manifest.config.digest;
  const config = parseImageConfig(readBlob(p, id), id);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new ImageError(`image ${id} is corrupt: manifest and config disagree on the number of layers`);
  }
  return { id, manifestDigest, manifest, config };
}

function toResolved(p: StorePaths, img: LoadedImage, name?: string): ResolvedImage {
  const diffIDs = img.config.rootfs.diff_ids;
  const layers = chainIDs(diffIDs).map((c, i) => layerRef(p, c, diffIDs[i] ?? ""));
  const out: ResolvedImage = { id: img.id, config: img.config, layers, manifestDigest: img.manifestDigest };
  if (name !== undefined) out.name = name;
  return out;
}

export function loadById(p: StorePaths, id: string): LoadedImage | undefined {
  const rec = readImageRecord(p, id);
  return rec === undefined ? undefined : loadImage(p, rec.manifest);
}

/** Docker's isImageIDPrefix: did the user name the image by (a prefix of) its ID? */
export function isImageIDPrefix(imageId: string, s: string): boolean {
  return imageId.startsWith(s) || imageId.slice(imageId.indexOf(":") + 1).startsWith(s);
}

export interface Lookup {
  image: LoadedImage;
  /** The repositories.json key, when found by name. */
  key?: string;
}

/** The lookup behind resolveImage and removeImage. */
export function lookupImage(p: StorePaths, refOrId: string): Lookup {
  const fullId = /^(?:sha256:)?([a-f0-9]{64})$/.exec(refOrId);
  if (fullId?.[1] !== undefined) {
    const image = loadById(p, `sha256:${fullId[1]}`);
    if (image !== undefined) return { image };
    throw new NotFoundError(`No such image: ${refOrId}`);
  }

  let ref: Reference | undefined;
  let parseError: UsageError | undefined;
  try {
    ref = withDefaultTag(parseNormalizedNamed(refOrId));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    parseError = e;
  }
  if (ref !== undefined) {
    const key = referenceString(ref);
    const manifest = readRepositories(p)[key];
    if (manifest !== undefined) return { image: loadImage(p, manifest), key };
  }

  const prefix = /^(?:sha256:)?([a-f0-9]+)$/.exec(refOrId)?.[1];
  if (prefix !== undefined) {
    const matches = listImageIds(p).filter((id) => digestHex(id).startsWith(prefix));
    if (matches.length === 1 && matches[0] !== undefined) {
      const image = loadById(p, matches[0]);
      if (image !== undefined) return { image };
    }
  }
  if (parseError !== undefined) throw parseError;
  throw new NotFoundError(`No such image: ${ref === undefined ? refOrId : familiarString(ref)}`);
}

export function resolveImage(root: string, refOrId: string): ResolvedImage {
  const p = storePaths(root);
  const { image, key } = lookupImage(p, refOrId);
  return toResolved(p, image, key);
}

/** Image ID of every reference in repositories.json (unreadable manifests skipped). */
export function referencesByImage(p: StorePaths, repos: Repositories): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const idOfManifest = new Map<string, string>();
  for (const [key, manifest] of Object.entries(repos)) {
    let id = idOfManifest.get(manifest);
    if (id === undefined) {
      try {
        id = loadImage(p, manifest).id;
      } catch (e) {
        log().warn({ reference: key, err: e instanceof Error ? e.message : String(e) }, "skipping unreadable image reference");
        continue;
      }
      idOfManifest.set(manifest, id);
    }
    out.set(id, [...(out.get(id) ?? []), key]);
  }
  return out;
}

/** Parses a repositories.json key (always normalised). */
export function parseKey(key: string): Reference {
  return parseNormalizedNamed(key);
}

/** An image's place in its lineage: its history and layers (a step of a build or a commit extends both). */
export function lineageKey(config: ImageConfig, entries = config.history?.length ?? 0, layers = config.rootfs.diff_ids.length): string {
  return JSON.stringify([(config.history ?? []).slice(0, entries), config.rootfs.diff_ids.slice(0, layers)]);
}

/**
 * The lineage keys of every image's ancestors: an image whose own key is
 * among them has a child in the store (a build's intermediate step, a
 * committed container's image), which Docker's `images` does not list
 * unless it is tagged.
 */
export function ancestorKeys(configs: Iterable<ImageConfig>): Set<string> {
  const out = new Set<string>();
  for (const c of configs) {
    const history = c.history ?? [];
    let layers = 0;
    for (let i = 0; i < history.length - 1; i++) {
      if (history[i]?.empty_layer !== true) layers++;
      out.add(lineageKey(c, i + 1, Math.min(layers, c.rootfs.diff_ids.length)));
    }
  }
  return out;
}

/** `all` (`images -a`): also the intermediate images (a build's steps, images with a child). */
export function listImages(root: string, opts: { all?: boolean } = {}): ImageSummary[] {
  const p = storePaths(root);
  const refs = referencesByImage(p, readRepositories(p));
  const ids = new Set([...listImageIds(p), ...refs.keys()]);
  const loaded = new Map<string, LoadedImage>();
  for (const id of ids) {
    try {
      const img = loadById(p, id);
      if (img !== undefined) loaded.set(id, img);
    } catch (e) {
      log().warn({ image: id, err: e instanceof Error ? e.message : String(e) }, "skipping unreadable image");
    }
  }
  const ancestors = ancestorKeys([...loaded.values()].map((i) => i.config));
  const rows: ImageSummary[] = [];
  for (const [id, img] of loaded) {
    let size = 0;
    const created = img.config.created ?? "";
    try {
      for (const c of chainIDs(img.config.rootfs.diff_ids)) size += layerSize(p, c);
    } catch (e) {
      log().warn({ image: id, err: e instanceof Error ? e.message : String(e) }, "skipping unreadable image");
      continue;
    }
    const named = (refs.get(id) ?? []).map(parseKey);
    // An untagged image with a child (a build step's, a committed container's), or a build's cache only.
    if (opts.all !== true && named.length === 0 && (ancestors.has(lineageKey(img.config)) || readImageRecord(p, id)?.intermediate === true)) continue;
    const tagged = named.filter((r) => r.tag !== undefined);
    const tagRepos = new Set(tagged.map(referenceName));
    const digestOnlyRepos = new Set(named.filter((r) => r.tag === undefined && !tagRepos.has(referenceName(r))).map(referenceName));
    const digestOf = new Map(named.filter((r) => r.digest !== undefined).map((r) => [referenceName(r), r.digest ?? ""]));
    const row = (repoName: string, repository: string, tag: string): ImageSummary => {
      const digest = digestOf.get(repoName);
      return digest === undefined ? { repository, tag, id, created, size } : { repository, tag, id, created, size, digest };
    };
    for (const r of tagged) rows.push(row(referenceName(r), familiarName(r), r.tag ?? "<none>"));
    for (const name of digestOnlyRepos) rows.push(row(name, familiarName(parseKey(name)), "<none>"));
    if (named.length === 0) rows.push({ repository: "<none>", tag: "<none>", id, created, size });
  }
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return rows.sort((a, b) => cmp(b.created, a.created) || cmp(a.repository, b.repository) || cmp(a.tag, b.tag));
}
