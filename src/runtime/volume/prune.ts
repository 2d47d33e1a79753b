// `tsbox volume prune` (and `system prune --volumes`): the volumes no container uses.
import { listVolumeNames, readVolumeOrSkip, removeVolumeDir, sweepVolumeDebris, volumeSize, volumeUsers, withVolumeLock } from "../../state/volume-store.js";
import { labelsMatch } from "./ls.js";

export interface VolumePruneOptions {
  /**
   * Named volumes too. Docker 20.10 (the engine tsbox follows) removes every
   * unused local volume; Docker 23 removes only anonymous ones unless -a.
   */
  all: boolean;
  /** label filters: `key[=value]` kept only if matching, `label!=` ones only if not */
  labels: string[];
  notLabels: string[];
}

export function pruneVolumes(root: string, opts: VolumePruneOptions): { names: string[]; bytes: number } {
  return withVolumeLock(root, () => {
    sweepVolumeDebris(root);
    const users = volumeUsers(root);
    const names: string[] = [];
    let bytes = 0;
    for (const n of listVolumeNames(root)) {
      const v = readVolumeOrSkip(root, n);
      if (!v || users.has(n)) continue;
      if (!opts.all && !v.anonymous) continue;
      if (!labelsMatch(v.labels, opts.labels)) continue;
      if (opts.notLabels.length && opts.notLabels.some((l) => labelsMatch(v.labels, [l]))) continue;
      bytes += volumeSize(root, n);
      removeVolumeDir(root, n);
      names.push(n);
    }
    return { names, bytes };
  });
}
