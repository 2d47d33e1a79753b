// `tsbox container prune` and `tsbox system prune`/`df`: stopped containers
// go, with their directory, cgroup and name.

import { releaseNetwork, sweepNetworkLeftovers } from "../network/index.js";
import { shimLauncher } from "../native/launcher.js";
import { existsSync, lstatSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CorruptContainerError } from "../errors.js";
import { containerPaths, listContainerIds, readAllStates, readState, type ContainerState } from "../state/container-store.js";
import { isLive } from "./container-control.js";
import { sweepVolumeDebris } from "../state/volume-store.js";
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

/** `--filter`'s test of a stopped container (its created time and its labels); absent: every one. */
export type ContainerPruneFilter = (c: { created: number; labels: Readonly<Record<string, string>> }) => boolean;

export async function pruneContainers(root: string, filter?: ContainerPruneFilter): Promise<{ ids: string[]; bytes: number }> {
  const ids: string[] = [];
  let bytes = 0;
  for (const s of readAllStates(root)) {
    const id = s.id;
    if (isLive(s) || s.status === "created") continue;
    if (filter !== undefined && !filter({ created: Date.parse(s.created) || 0, labels: containerLabels(s) })) continue;
    bytes += dirSize(containerPaths(root, id).upper);
    await releaseContainer(root, { ...s, autoRemove: true }, undefined, { volumes: false });
    ids.push(id);
  }
  return { ids, bytes };
}

/** The labels a container was given (its Config.Labels). */
function containerLabels(s: ContainerState): Readonly<Record<string, string>> {
  return s.config?.Labels ?? {};
}

/**
 * What a crash between reserving a name and writing the state leaves: a
 * container directory without state.json, a name pointing nowhere. Only old
 * ones: a younger one may belong to a `run` in progress.
 */
export function pruneDebris(root: string, minAgeMs = 60_000): number {
  let removed = 0;
  const old = (p: string): boolean => {
    try { return Date.now() - lstatSync(p).mtimeMs > minAgeMs; } catch { return false; }
  };
  for (const id of listContainerIds(root)) {
    const p = containerPaths(root, id);
    if (!existsSync(p.state) && old(p.dir)) {
      releaseNetwork(shimLauncher, root, id, p.dir); // its netns is mounted in the directory
      rmSync(p.dir, { recursive: true, force: true });
      removed++;
    }
  }
  const names = join(root, "names");
  let entries: string[] = [];
  try { entries = readdirSync(names); } catch { /* none yet */ }
  for (const n of entries) {
    const file = join(names, n);
    let id = "";
    try { id = readFileSync(file, "utf8").trim(); } catch { continue; }
    let s: ContainerState | undefined;
    try {
      s = /^[0-9a-f]{64}$/.test(id) ? readState(root, id) : undefined;
    } catch (e) {
      if (e instanceof CorruptContainerError) continue; // its name may be all that is left to find it by
      throw e;
    }
    if ((!s || s.name !== n) && old(file)) { rmSync(file, { force: true }); removed++; }
  }
  // and a volume's creation or removal that a crash cut short (old ones only, as above)
  return removed + sweepVolumeDebris(root, minAgeMs) + sweepNetworkLeftovers(shimLauncher, root);
}
