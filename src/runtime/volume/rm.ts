// `tsbox volume rm`: a volume no container uses (Docker refuses one in use, naming the containers).
import { NotFoundError, TsboxError } from "../../errors.js";
import { CorruptVolumeError, readVolume, removeVolumeDir, volumeUsers, withVolumeLock } from "../../state/volume-store.js";

/** `force`: a volume that is not there is no error (Docker's -f). */
export function removeVolume(root: string, name: string, opts: { force: boolean }): void {
  withVolumeLock(root, () => {
    if (!exists(root, name)) {
      if (opts.force) return;
      throw new NotFoundError(`get ${name}: no such volume`, 1);
    }
    const users = volumeUsers(root).get(name);
    // Go prints the list of ids as [a b].
    if (users?.length) throw new TsboxError(`remove ${name}: volume is in use - [${users.join(" ")}]`, 1);
    removeVolumeDir(root, name);
  });
}

/** There, readable or not: a volume whose record is broken can still be removed. */
function exists(root: string, name: string): boolean {
  try {
    return readVolume(root, name) !== undefined;
  } catch (e) {
    if (e instanceof CorruptVolumeError) return true;
    throw e;
  }
}
