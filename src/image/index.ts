// The image store's public API (used by the CLI and by `run`).
export type { ImageConfig, ImageConfigBody, HistoryEntry } from "./config.js";
export type { LayerRef } from "./layers.js";
export type { ResolvedImage, ImageSummary } from "./images.js";
export type { ImportOptions } from "./import.js";
export type { RemoveOptions } from "./remove.js";
export type { Reference } from "./reference.js";

export { importImage } from "./import.js";
export { resolveImage, listImages } from "./images.js";
export { removeImage } from "./remove.js";
export { tagImage } from "./tag.js";
export { readImageFile } from "./files.js";
export { parseChanges } from "./changes.js";
export { DEFAULT_ROOT } from "./store.js";
export { shortId } from "./digest.js";
export {
  parseNormalizedNamed, withDefaultTag, referenceString, familiarName, familiarString,
} from "./reference.js";
