// `tsbox rm`: removes a stopped container; with --force, kills a running one
// first (its monitor, then the cgroup; a foreground owner finds the container
// gone and exits 137).
import { CorruptContainerError, NotFoundError, TsboxError } from "../errors.js";
import { readState, resolveContainerId, ownerAlive, type ContainerState } from "../state/container-store.js";
import { crashPoint } from "../util/crash.js";
import { releaseContainer, removeBrokenContainer } from "./recover.js";
import { containerAttributes, recordEvent } from "../state/events.js";

/** `volumes` (rm -v): the container's anonymous volumes go with it. */
export async function removeContainer(root: string, ref: string, opts: { force: boolean; volumes?: boolean }): Promise<void> {
  const id = resolveContainerId(root, ref);
  let state: ContainerState | undefined;
  try {
    state = readState(root, id);
  } catch (e) {
    // Whether its processes still run is lost with its state: only --force takes it down.
    if (!(e instanceof CorruptContainerError)) throw e;
    if (!opts.force) throw new TsboxError(`cannot remove container "${ref}": ${e.message}: use rm -f to remove it`);
    await removeBrokenContainer(root, id);
    return;
  }
  if (!state) throw new NotFoundError(`No such container: ${ref}`);
  const live = state.status !== "exited" && ownerAlive(state.owner);
  if (live && !opts.force) {
    throw new TsboxError(`cannot remove container "${ref}": container is running: stop the container before removing or force remove`);
  }
  crashPoint("rm");
  if (live) recordEvent(root, "container", "kill", id, containerAttributes(state, { signal: "9" }));
  // Killing the cgroup takes the whole container down, init and all.
  await releaseContainer(root, { ...state, autoRemove: true }, undefined, { volumes: opts.volumes === true });
}
