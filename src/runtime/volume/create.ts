// `tsbox volume create`: a local volume, named or with a random name.
import { UsageError } from "../../errors.js";
import { checkVolumeName } from "../../oci/mount-points.js";
import { createVolume, newVolumeName, withVolumeLock, type VolumeRecord } from "../../state/volume-store.js";
import { checkVolumeOptions } from "../container-mounts.js";

export interface VolumeCreateRequest {
  name?: string;
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
}

/** The volume made, or the one of that name already there (Docker's create is idempotent). */
export function createVolumeVerb(root: string, req: VolumeCreateRequest): VolumeRecord {
  const name = req.name ?? newVolumeName();
  if (req.driver !== "local") throw new UsageError(`create ${name}: error looking up volume plugin ${req.driver}: plugin "${req.driver}" not found`, 1);
  checkVolumeName(name);
  try {
    checkVolumeOptions(req.options);
  } catch (e) {
    throw e instanceof UsageError ? new UsageError(`create ${name}: ${e.message}`, 1) : e;
  }
  return withVolumeLock(root, () => createVolume(root, { name, labels: req.labels, options: req.options }).volume);
}
