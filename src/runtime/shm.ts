// `--ipc shareable`'s /dev/shm, as moby's setupIpcDirs makes it: a tmpfs of
// --shm-size bytes mounted on the host, under the container's directory, while
// the container runs; its spec binds it at /dev/shm, and so does the spec of
// every `--ipc container:` joiner, so that both see one /dev/shm (a tmpfs made
// inside the donor's own mount namespace could not be bound into another's).
// A restart by the container's policy gets a new one from the monitor, as
// Docker's does. Unmounted (detached: a joiner's bind keeps its contents alive) when the
// container stops: by the monitor at its end, by the foreground CLI after the
// exit, by rm and crash recovery for whatever is left.

import { existsSync, mkdirSync } from "node:fs";
import type { NativeLauncher } from "../native/launcher.js";
import { DEFAULT_SHM_SIZE } from "../oci/container-config.js";
import type { ContainerPaths, ContainerState } from "../state/container-store.js";

/** Whether the container has a /dev/shm of its own on the host: --ipc shareable. */
export function ownsShm(state: Pick<ContainerState, "hostConfig">): boolean {
  return state.hostConfig?.IpcMode === "shareable";
}

/** The host directory a joiner of `donor`'s IPC namespace binds at /dev/shm: the donor's tmpfs, or the host's /dev/shm. */
export function sharedShmSource(donor: Pick<ContainerState, "hostConfig">, paths: ContainerPaths): string {
  return donor.hostConfig?.IpcMode === "host" ? "/dev/shm" : paths.shm;
}

/** The tmpfs's mount options: mode 1777 as Docker's, --shm-size (64 MiB by default). */
export function shmOptions(state: Pick<ContainerState, "hostConfig">): string {
  return `mode=1777,size=${state.hostConfig?.ShmSize || DEFAULT_SHM_SIZE}`;
}

/** Mounts the container's tmpfs (a stale one from a crash is detached first). */
export function mountShm(native: Pick<NativeLauncher, "mountShm" | "unmount">, paths: ContainerPaths,
  state: Pick<ContainerState, "hostConfig">): void {
  unmountShm(native, paths);
  mkdirSync(paths.shm, { recursive: true, mode: 0o700 });
  native.mountShm(paths.shm, shmOptions(state));
}

/** Detaches the container's tmpfs if it is mounted; nothing otherwise. */
export function unmountShm(native: Pick<NativeLauncher, "unmount">, paths: ContainerPaths): void {
  if (!existsSync(paths.shm)) return;
  try {
    native.unmount(paths.shm);
  } catch {
    // not mounted (EINVAL): nothing to do
  }
}
