// `tsbox volume ls`: the volumes, with Docker's filters (dangling, name, label, driver).
import { UsageError } from "../../errors.js";
import { listVolumeNames, readVolumeOrSkip, volumeUsers, type VolumeRecord } from "../../state/volume-store.js";

/** `-f KEY=VALUE` flags grouped by key, checked as Docker's daemon checks them. */
export function volumeFilters(flags: readonly string[], allowed: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of flags) {
    const eq = f.indexOf("=");
    if (eq < 0) throw new UsageError(`bad format of filter (expected name=value)`, 1);
    const key = f.slice(0, eq).trim().toLowerCase();
    if (!allowed.includes(key)) throw new UsageError(`Invalid filter '${key}'`, 1);
    out.set(key, [...(out.get(key) ?? []), f.slice(eq + 1)]);
  }
  for (const v of out.get("dangling") ?? []) {
    if (!["true", "1", "false", "0"].includes(v.toLowerCase())) throw new UsageError(`Invalid filter 'dangling=[${v}]'`, 1);
  }
  return out;
}

/** Docker's label filter: `key` present, or `key=value` equal. */
export function labelsMatch(labels: Record<string, string>, wanted: readonly string[]): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf("=");
    return eq < 0 ? w in labels : labels[w.slice(0, eq)] === w.slice(eq + 1);
  });
}

export function listVolumes(root: string, filters: Map<string, string[]>): VolumeRecord[] {
  const users = volumeUsers(root);
  const dangling = filters.get("dangling");
  return listVolumeNames(root).flatMap((n) => {
    const v = readVolumeOrSkip(root, n);
    if (!v) return [];
    if (dangling?.length && !dangling.some((d) => ["true", "1"].includes(d.toLowerCase()) === !users.has(n))) return [];
    const names = filters.get("name");
    if (names?.length && !names.some((s) => n.includes(s))) return [];
    const drivers = filters.get("driver");
    if (drivers?.length && !drivers.includes(v.driver)) return [];
    if (!labelsMatch(v.labels, filters.get("label") ?? [])) return [];
    return [v];
  });
}
