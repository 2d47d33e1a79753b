// The image store's public API (used by the CLI and by `run`).
export type { ImageConfig, ImageConfigBody, HistoryEntry } from "./config.js";
export type { LayerRef } from "./layers.js";
export type { ResolvedImage, ImageSummary } from "./images.js";
export type { ImportOptions } from "./import.js";
export type { RemoveOptions } from "./remove.js";
export type { Reference } from "./reference.js";
export type { IngestedLayer, LayerExpectation } from "./ingest.js";
export type { StagedImage, ExistingLayer } from "./store-commit.js";
export type { LoadOptions, LoadResult } from "./archive/load.js";
export type { ImageInspect } from "./inspect.js";
export type { PruneOptions, PruneResult } from "./prune.js";

export { importImage } from "./import.js";
export { ingestLayer } from "./ingest.js";
export { commitImage } from "./store-commit.js";
export { withLayerLock, withLayerLocks } from "./ingest-lock.js";
export { loadArchive } from "./archive/load.js";
export { saveImages } from "./archive/save.js";
export { inspectImage } from "./inspect.js";
export { pruneImages } from "./prune.js";
export { resolveImage, listImages } from "./images.js";
export { removeImage } from "./remove.js";
export { tagImage } from "./tag.js";
export { readImageFile } from "./files.js";
export { parseChanges } from "./import-changes.js";
export { DEFAULT_ROOT } from "./store.js";
export { shortId } from "./digest.js";
export {
  parseNormalizedNamed, withDefaultTag, referenceString, familiarName, familiarString,
} from "./reference.js";
