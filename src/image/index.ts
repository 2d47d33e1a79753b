// The image store's public API: the CLI reaches image/ only through this file.
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

export { commitImage } from "./store-commit.js";
export { withLayerLock, withLayerLocks } from "./ingest-lock.js";
export { inspectImage } from "./inspect.js";
export { resolveImage, listImages } from "./images.js";
export { removeImage } from "./remove.js";
export { tagImage } from "./tag.js";
export { readImageFile } from "./files.js";
export { parseChanges } from "./import-changes.js";
export { shortId } from "./digest.js";
export {
  parseNormalizedNamed, withDefaultTag, referenceString, familiarName, familiarString,
} from "./reference.js";

// The layer pipeline (decompression, the unpack worker, tar) and the native
// binding (staging directories, which prune sweeps) are loaded on the first
// call: `tag`, `image inspect` and the other small commands that come through
// this file do not pay their start-up (ffi-rs alone is ~10 ms).
export const importImage: typeof import("./import.js").importImage =
  async (...a) => (await import("./import.js")).importImage(...a);
export const ingestLayer: typeof import("./ingest.js").ingestLayer =
  async (...a) => (await import("./ingest.js")).ingestLayer(...a);
export const loadArchive: typeof import("./archive/load.js").loadArchive =
  async (...a) => (await import("./archive/load.js")).loadArchive(...a);
export const saveImages: typeof import("./archive/save.js").saveImages =
  async (...a) => (await import("./archive/save.js")).saveImages(...a);
type PruneImages = typeof import("./prune.js").pruneImages;
export const pruneImages = async (...a: Parameters<PruneImages>): Promise<ReturnType<PruneImages>> =>
  (await import("./prune.js")).pruneImages(...a);

// The registry side is loaded by the command that needs it (HTTP and TLS cost
// ~17 ms of start-up that the store's commands should not pay).
export const pullApi = () => import("./registry/pull.js");
export const pullAllApi = () => import("./registry/pull-all.js");
export const pushApi = () => import("./registry/push.js");
export const historyApi = () => import("./history.js");
export const loginApi = () => import("./registry/login.js");
export const registryClientApi = () => import("./registry/client.js");
export const pullProgressApi = () => import("./registry/progress.js");
export const credentialsApi = () => import("./registry/credentials.js");
