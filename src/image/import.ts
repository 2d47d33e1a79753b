// `docker import`: one tarball (plain, gzip or zstd) becomes a single-layer
// image. The layer is staged first, then import builds its own config and
// manifest and hands everything to commitImage, the store's one commit path.
import * as fs from "node:fs";
import { parseChanges } from "./import-changes.js";
import { commitImage } from "./store-commit.js";
import { CONFIG_MEDIA_TYPE, ociArchitecture, type ImageConfig } from "./config.js";
import type { ResolvedImage } from "./images.js";
import { ingestLayer, type IngestedLayer } from "./ingest.js";
import { sha256 } from "./digest.js";
import { buildManifest } from "./manifest.js";
import { referenceString } from "./reference.js";
import { sweepStaging } from "./staging.js";
import { ensureStore } from "./store.js";
import { parseTargetReference } from "./tag.js";
import { parsePlatform } from "./registry/platform.js";

export interface ImportOptions {
  /** Dockerfile instructions applied to the config (`--change`). */
  changes?: string[];
  /** History comment (`--message`); Docker's default is "Imported from -". */
  message?: string;
  /** `--platform os/arch[/variant]`: the image's platform in its config (default: this machine's) */
  platform?: string;
}

function buildConfig(layer: IngestedLayer, opts: ImportOptions): ImageConfig {
  const created = new Date().toISOString();
  const platform = opts.platform === undefined ? undefined : parsePlatform(opts.platform);
  return {
    created,
    architecture: platform?.architecture ?? ociArchitecture(),
    os: "linux",
    ...(platform?.variant ? { variant: platform.variant } : {}),
    config: parseChanges(opts.changes ?? []),
    rootfs: { type: "layers", diff_ids: [layer.diffID] },
    history: [{ created, comment: opts.message ?? "Imported from -" }],
  };
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
  if (opts.platform !== undefined) parsePlatform(opts.platform);

  const p = ensureStore(root);
  sweepStaging(p);
  const layer = await ingestLayer(p, input as AsyncIterable<Buffer | string>, "import");
  try {
    const config = Buffer.from(JSON.stringify(buildConfig(layer, opts)));
    const manifest = buildManifest(
      { mediaType: CONFIG_MEDIA_TYPE, digest: sha256(config), size: config.length },
      [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    );
    return commitImage(root, {
      manifest: Buffer.from(JSON.stringify(manifest)), config, layers: [layer], refs: key === undefined ? [] : [key],
    });
  } finally {
    // commitImage removes it too; this covers a failure before it is reached.
    fs.rmSync(layer.staging, { recursive: true, force: true });
  }
}
