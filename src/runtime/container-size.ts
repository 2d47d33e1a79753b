// A container's sizes as Docker reports them (`ps -s`, `inspect --size`,
// `system df`): SizeRw, the bytes of the files in its read-write layer, and
// SizeRootFs, those plus its image's layers (the "virtual" size).

import { listImages } from "../image/images.js";
import { containerPaths, type ContainerState } from "../state/container-store.js";
import { dirSize } from "./prune.js";

export interface ContainerSize { rw: number; rootFs: number }

const bare = (id: string): string => id.replace(/^sha256:/, "");

/** Each image's size by its bare id: read once for a whole listing. */
export function imageSizes(root: string): Map<string, number> {
  return new Map(listImages(root, { all: true }).map((i) => [bare(i.id), i.size]));
}

export function containerSize(root: string, s: Pick<ContainerState, "id" | "imageId">,
  images: ReadonlyMap<string, number> = imageSizes(root)): ContainerSize {
  const rw = dirSize(containerPaths(root, s.id).upper);
  return { rw, rootFs: rw + (images.get(bare(s.imageId)) ?? 0) };
}
