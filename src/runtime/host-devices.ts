// The host's device nodes, for --privileged: what containerd's HostDevices
// (pkg/oci, used by moby's WithDevices) collects from /dev. Every character and
// block device, recursing into directories except pts, shm, fd, mqueue and the
// lxc/lxd/udev private ones; not `console` (the container gets its own), not
// FIFOs, not symlinks (lstat: a link is not followed out of /dev).

import { devicesUnder } from "../oci/device-flags.js";
import type { SpecDevice } from "../oci/spec.js";

const SKIPPED_DIRS = new Set(["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"]);

/** Device nodes under `dir` (default /dev), as spec devices at the same paths. */
export function hostDevices(dir = "/dev"): SpecDevice[] {
  return devicesUnder(dir, (name, isDir) => (isDir ? SKIPPED_DIRS.has(name) : name === "console"))
    .map(({ path, device }) => ({ path, ...device }));
}
