// `tsbox rm`: removes a stopped container; with --force, kills a running one
// first (its monitor, then the cgroup; a foreground owner finds the container
// gone and exits 137).
import { TsboxError } from "../errors.js";
import { findContainer, ownerAlive } from "./container-store.js";
import { crashPoint } from "./crash.js";
import { releaseContainer } from "./recover.js";

export async function removeContainer(root: string, ref: string, opts: { force: boolean }): Promise<void> {
  const state = findContainer(root, ref);
  const live = state.status !== "exited" && ownerAlive(state.owner);
  if (live && !opts.force) {
    throw new TsboxError(`cannot remove container "${ref}": container is running: stop the container before removing or force remove`);
  }
  crashPoint("rm");
  // Killing the cgroup takes the whole container down, init and all.
  await releaseContainer(root, { ...state, autoRemove: true });
}
