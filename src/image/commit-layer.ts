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
import { ensureStore, readBlob } from "./store.js";

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
  const staging = makeStagingDir(p, "commit");
  try {
    const tar = path.join(staging, "layer.tar");
    const items = readRwLayer(n.upper, n.lower, n.probe ?? overlayOpaque);
    const out = fs.createWriteStream(tar, { mode: 0o600 });
    await writeRwLayer(n.upper, items, out);
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    const layer = await ingestLayerFile(p, tar, "commit");
    const created = new Date().toISOString();
    const baseManifest = parseManifest(readBlob(p, n.base.manifestDigest), n.base.manifestDigest);
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
      [...baseManifest.layers.map(ociDescriptor), { mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    );
    const existing: ExistingLayer[] = n.base.layers.map((l) => ({ existing: l.chainID }));
    return commitImage(root, {
      manifest: Buffer.from(JSON.stringify(manifest)), config: configBytes, layers: [...existing, layer], refs: n.refs,
    });
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
