// `tsbox container prune` and `tsbox system prune`/`df`: stopped containers
// go, with their directory, cgroup and name.

import { readdirSync, lstatSync } from "node:fs";
import { join } from "node:path";
import { containerPaths, listContainerIds, readState } from "./container-store.js";
import { isLive } from "./lifecycle.js";
import { releaseContainer } from "./recover.js";

/** Bytes used by files under dir (the writable layer of a container). */
export function dirSize(dir: string): number {
  let total = 0;
  let entries: string[];
  try { entries = readdirSync(dir); } catch { return 0; }
  for (const e of entries) {
    const p = join(dir, e);
    try {
      const st = lstatSync(p);
      total += st.isDirectory() ? dirSize(p) : st.size;
    } catch { /* removed meanwhile */ }
  }
  return total;
}

export async function pruneContainers(root: string): Promise<{ ids: string[]; bytes: number }> {
  const ids: string[] = [];
  let bytes = 0;
  for (const id of listContainerIds(root)) {
    const s = readState(root, id);
    if (!s || isLive(s) || s.status === "created") continue;
    bytes += dirSize(containerPaths(root, id).upper);
    await releaseContainer(root, { ...s, autoRemove: true });
    ids.push(id);
  }
  return { ids, bytes };
}
