// `system df -v`: Docker's verbose disk usage, section by section (docker/cli
// formatter/disk_usage.go): each image with the part of its size it shares
// with other images, each container's read-write layer, the volumes, the
// build cache. Sizes as Docker prints them there: an image's SIZE with 3
// significant digits, every other size with 4.

import { humanSize, relativeTime, table } from "../format.js";
import { listImages, resolveImage } from "../image/images.js";
import { layerSize } from "../image/layers.js";
import { storePaths } from "../image/store.js";
import { readAllStates, type ContainerState } from "../state/container-store.js";
import { containerSize, imageSizes } from "./container-size.js";
import { commandOf, shortCommand, statusText } from "./ps.js";

/** A volume's line: its name, how many containers use it, its size. */
export interface VolumeUsage { name: string; links: number; size: number }

const bare = (id: string): string => id.replace(/^sha256:/, "");
const size4 = (n: number): string => humanSize(n, 4);

/** Each image's layers (chain IDs) and their sizes; an unreadable image has none. */
function layersOf(root: string, ids: readonly string[]): Map<string, Map<string, number>> {
  const p = storePaths(root);
  const out = new Map<string, Map<string, number>>();
  for (const id of ids) {
    try {
      out.set(bare(id), new Map(resolveImage(root, id).layers.map((l) => [l.chainID, layerSize(p, l.chainID)])));
    } catch {
      out.set(bare(id), new Map());
    }
  }
  return out;
}

/** As moby's df: a layer is shared when more than one image (intermediate ones too) is made of it. */
function sharedSizes(root: string): Map<string, number> {
  const all = [...new Set(listImages(root, { all: true }).map((i) => i.id))];
  const layers = layersOf(root, all);
  const refs = new Map<string, number>();
  for (const l of layers.values()) for (const chain of l.keys()) refs.set(chain, (refs.get(chain) ?? 0) + 1);
  return new Map([...layers].map(([id, l]) => [id, [...l].reduce((a, [chain, n]) => a + ((refs.get(chain) ?? 0) > 1 ? n : 0), 0)]));
}

export function verboseDiskUsage(root: string, volumes: readonly VolumeUsage[] = []): string {
  const states = readAllStates(root);
  const images = listImages(root);
  const shared = sharedSizes(root);
  const using = (id: string): number => states.filter((s) => bare(s.imageId) === bare(id)).length;
  const imageRows = images.map((i) => {
    const sh = shared.get(bare(i.id)) ?? 0;
    return [i.repository, i.tag, bare(i.id).slice(0, 12), i.created ? relativeTime(i.created) : "", humanSize(i.size),
      size4(sh), size4(Math.max(0, i.size - sh)), String(using(i.id))];
  });
  const sizes = imageSizes(root);
  const byCreated = [...states].sort((a, b) => b.created.localeCompare(a.created));
  const containerRow = (s: ContainerState): string[] => [
    s.id.slice(0, 12), s.image, shortCommand(commandOf(root, s.id), false), "0", size4(containerSize(root, s, sizes).rw),
    relativeTime(s.created), statusText(s), s.name,
  ];
  return [
    "Images space usage:\n\n",
    table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"], imageRows),
    "\nContainers space usage:\n\n",
    table(["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"], byCreated.map(containerRow)),
    "\nLocal Volumes space usage:\n\n",
    table(["VOLUME NAME", "LINKS", "SIZE"], volumes.map((v) => [v.name, String(v.links), size4(v.size)])),
    // tsbox's build cache is images, already counted above, as the classic builder's was.
    "\nBuild cache usage: 0B\n\n",
    table(["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"], []),
  ].join("");
}
