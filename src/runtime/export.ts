// `tsbox export`: the container's filesystem as one tar, read from its
// image's layers and its read-write layer (no mount). A running container is
// frozen while it is read, so the archive is one moment's state and nothing
// in it can be swapped for a symlink mid-read.
import { detectHierarchy } from "../cgroupfs/index.js";
import { containerView, writeMergedTar } from "../image/container-fs.js";
import { resolveImage } from "../image/images.js";
import { containerCgroup } from "../state/container-cgroup.js";
import { containerPaths, findContainer } from "../state/container-store.js";
import { isLive } from "./container-control.js";

export async function exportContainer(root: string, ref: string, out: NodeJS.WritableStream): Promise<void> {
  const s = findContainer(root, ref);
  const image = resolveImage(root, s.imageId);
  const cgroup = isLive(s) ? containerCgroup(detectHierarchy(), s) : undefined;
  const freeze = cgroup !== undefined && !cgroup.frozen();
  if (freeze) await cgroup.freeze();
  try {
    await writeMergedTar(containerView(image.layers, containerPaths(root, s.id).upper), out);
  } finally {
    if (freeze) await cgroup.thaw();
  }
}
