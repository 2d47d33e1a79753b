// `tsbox volume inspect`: Docker's JSON of a volume.
import { NotFoundError } from "../../errors.js";
import { readVolume, volumePaths, type VolumeRecord } from "../../state/volume-store.js";

/** Docker's shape: empty labels and options are null (Go's nil maps). */
export function volumeJson(root: string, v: VolumeRecord): Record<string, unknown> {
  const orNull = (m: Record<string, string>): Record<string, string> | null => (Object.keys(m).length ? m : null);
  return {
    CreatedAt: v.createdAt, Driver: v.driver, Labels: orNull(v.labels), Mountpoint: volumePaths(root, v.name).data,
    Name: v.name, Options: orNull(v.options), Scope: "local",
  };
}

export function inspectVolume(root: string, name: string): Record<string, unknown> {
  const v = readVolume(root, name);
  if (!v) throw new NotFoundError(`get ${name}: no such volume`, 1);
  return volumeJson(root, v);
}
