// `tsbox history`: an image's history entries, newest first, each with the
// size of the layer it made (0 for an entry that made none). A row shows an
// image ID where the store holds the image that ended at that entry (Docker
// follows its parent chain; tsbox recognises the image by its history and
// layers being exactly that prefix), else <missing>, as for pulled images.
import { log } from "../log.js";
import type { HistoryEntry, ImageConfig } from "./config.js";
import { chainIDs } from "./digest.js";
import { lineageKey, loadById, resolveImage } from "./images.js";
import { layerSize } from "./layers.js";
import { listImageIds, storePaths } from "./store.js";

export interface HistoryRow {
  /** the image that ends at this entry, or "<missing>" */
  id: string;
  created: string;
  createdBy: string;
  /** bytes of the layer this entry made */
  size: number;
  comment: string;
}

export function imageHistory(root: string, ref: string): HistoryRow[] {
  const p = storePaths(root);
  const image = resolveImage(root, ref);
  const diffIDs = image.config.rootfs.diff_ids;
  const chain = chainIDs(diffIDs);
  // An image without history (some importers write none): one row per layer.
  const history: HistoryEntry[] = image.config.history ?? diffIDs.map(() => ({ created: image.config.created ?? "" }));

  const known = new Map<string, string>();
  for (const id of listImageIds(p)) {
    let config: ImageConfig | undefined;
    try {
      config = loadById(p, id)?.config;
    } catch (e) {
      log().debug({ image: id, err: e instanceof Error ? e.message : String(e) }, "history: skipping unreadable image");
    }
    if (config?.history !== undefined) known.set(lineageKey(config), id);
  }

  const rows: HistoryRow[] = [];
  let layer = 0;
  history.forEach((h, i) => {
    const makesLayer = h.empty_layer !== true && layer < chain.length;
    const size = makesLayer ? layerSize(p, chain[layer] ?? "") : 0;
    if (makesLayer) layer++;
    const id = i === history.length - 1 ? image.id : known.get(lineageKey(image.config, i + 1, layer)) ?? "<missing>";
    rows.push({ id, created: h.created ?? "", createdBy: h.created_by ?? "", size, comment: h.comment ?? "" });
  });
  return rows.reverse();
}
