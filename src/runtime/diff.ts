// `tsbox diff`: what the container changed in its filesystem, relative to its
// image (Docker's A/C/D lines), read from its read-write layer; running or not.
import { MergedView } from "../image/files.js";
import { resolveImage } from "../image/images.js";
import { changesOf, readRwLayer, type Change } from "../image/rw-layer.js";
import { containerPaths, findContainer } from "../state/container-store.js";

export function containerChanges(root: string, ref: string): Change[] {
  const s = findContainer(root, ref);
  const image = resolveImage(root, s.imageId);
  return changesOf(readRwLayer(containerPaths(root, s.id).upper, new MergedView(image.layers)));
}
