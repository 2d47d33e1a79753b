// A new image from an image and a read-write layer on top of it: what
// `commit` (and each step of a build) makes. The layer archive is written to
// the store's staging area and ingested like any pulled layer (the same
// checks, the same unpacked form), then the image goes in through
// commitImage, the store's one commit path: all or nothing.
import * as fs from "node:fs";
import * as path from "node:path";
import { CONFIG_MEDIA_TYPE, type HistoryEntry, type ImageConfig, type ImageConfigBody } from "./config.js";
import { sha256 } from "./digest.js";
import type { ResolvedImage } from "./images.js";
import { ingestLayerFile } from "./ingest.js";
import { buildManifest, parseManifest, type Descriptor } from "./manifest.js";
import { DOCKER_LAYER, OCI_LAYER } from "./media-types.js";
import type { MergedLookup } from "./files.js";
import { readRwLayer, writeRwLayer, type OpaqueProbe, overlayOpaque } from "./rw-layer.js";
import { commitImage, type ExistingLayer } from "./store-commit.js";
import { makeStagingDir, sweepStaging } from "./staging.js";
import { ensureStore, readBlob, type StorePaths } from "./store.js";

export interface NewLayerImage {
  /** the image the layer goes on */
  base: ResolvedImage;
  /** the lookup of `base`'s files (files.ts MergedView) */
  lower: MergedLookup;
  /** the overlay upperdir holding the changes */
  upper: string;
  /** the new image's runtime config */
  config: ImageConfigBody;
  /** its history line (created is set here) */
  history: Omit<HistoryEntry, "created">;
  author?: string;
  refs: string[];
  probe?: OpaqueProbe;
  /** the upper was a container's (its launch mount points are left out); false for a layer made by hand */
  launched?: boolean;
  /** a build step's image (build cache, see ImageRecord) */
  intermediate?: boolean;
}

/** A new image from `base` with only its config and history changed (a build's ENV, CMD, ...): no new layer. */
export function commitConfigImage(root: string, base: ResolvedImage, config: ImageConfigBody, history: Omit<HistoryEntry, "created">,
  refs: string[] = [], author?: string, intermediate = false): ResolvedImage {
  const p = ensureStore(root);
  const created = new Date().toISOString();
  const image: ImageConfig & { author?: string } = {
    ...base.config,
    ...(author !== undefined ? { author } : {}),
    created,
    config,
    history: [...(base.config.history ?? []), { created, ...history, empty_layer: true }],
  };
  const configBytes = Buffer.from(JSON.stringify(image));
  const manifest = buildManifest(
    { mediaType: CONFIG_MEDIA_TYPE, digest: sha256(configBytes), size: configBytes.length }, baseLayers(p, base));
  return commitImage(root, {
    manifest: Buffer.from(JSON.stringify(manifest)), config: configBytes,
    layers: base.layers.map((l) => ({ existing: l.chainID })), refs, intermediate,
  });
}

/** The base's layer descriptors for the new manifest (none for a build's FROM scratch, which is never stored). */
function baseLayers(p: StorePaths, base: ResolvedImage): Descriptor[] {
  if (base.layers.length === 0 && base.manifestDigest === "") return [];
  return parseManifest(readBlob(p, base.manifestDigest), base.manifestDigest).layers.map(ociDescriptor);
}

/** A base layer's descriptor in an OCI manifest: Docker's media types become their OCI twins. */
function ociDescriptor(d: Descriptor): Descriptor {
  const t = d.mediaType.startsWith(DOCKER_LAYER)
    ? `${OCI_LAYER}${d.mediaType.slice(DOCKER_LAYER.length).replace(/^\./, "+")}`
    : d.mediaType;
  return { mediaType: t, digest: d.digest, size: d.size };
}

export async function commitLayerImage(root: string, n: NewLayerImage): Promise<ResolvedImage> {
  const p = ensureStore(root);
  sweepStaging(p);
  const items = readRwLayer(n.upper, n.lower, n.probe ?? overlayOpaque, { launched: n.launched ?? true });
  // As Docker's NewChildImage: nothing changed, no layer (an empty_layer history entry only).
  if (items.length === 0) return commitConfigImage(root, n.base, n.config, n.history, n.refs, n.author, n.intermediate === true);
  const staging = makeStagingDir(p, "commit");
  try {
    const tar = path.join(staging, "layer.tar");
    const out = fs.createWriteStream(tar, { mode: 0o600 });
    await writeRwLayer(n.upper, items, out);
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    const layer = await ingestLayerFile(p, tar, "commit");
    const created = new Date().toISOString();
    const baseConfig = n.base.config;
    const config: ImageConfig & Record<string, unknown> = {
      ...(n.author !== undefined ? { author: n.author } : {}),
      architecture: baseConfig.architecture,
      ...(baseConfig.variant !== undefined ? { variant: baseConfig.variant } : {}),
      os: baseConfig.os,
      created,
      config: n.config,
      rootfs: { type: "layers", diff_ids: [...baseConfig.rootfs.diff_ids, layer.diffID] },
      history: [...(baseConfig.history ?? []), { created, ...n.history }],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const manifest = buildManifest(
      { mediaType: CONFIG_MEDIA_TYPE, digest: sha256(configBytes), size: configBytes.length },
      [...baseLayers(p, n.base), { mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    );
    const existing: ExistingLayer[] = n.base.layers.map((l) => ({ existing: l.chainID }));
    return commitImage(root, {
      manifest: Buffer.from(JSON.stringify(manifest)), config: configBytes, layers: [...existing, layer], refs: n.refs,
      intermediate: n.intermediate === true,
    });
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
