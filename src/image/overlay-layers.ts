// The overlay view of an image: its layers as overlayfs lowerdirs. Layers are
// named by their short link (<root>/l/<link> → layers/<chainID>/diff), so the
// mount data stays short (oci/overlay-lowerdirs.ts fits it in a page); the
// mount itself is made by the container's child with <root>/l as its working
// directory.
import { join } from "node:path";
import type { ResolvedImage } from "./images.js";

export interface OverlayLayers {
  /** the directory the lowerdir names are relative to */
  linkDir: string;
  /** top layer first, as overlayfs wants them */
  lowers: string[];
}

export function overlayLayers(root: string, image: Pick<ResolvedImage, "layers">): OverlayLayers {
  return { linkDir: join(root, "l"), lowers: image.layers.map((l) => l.link).reverse() };
}
