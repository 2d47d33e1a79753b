// The host's device nodes, for --privileged: what containerd's HostDevices
// (pkg/oci, used by moby's WithDevices) collects from /dev. Every character and
// block device, recursing into directories except pts, shm, fd, mqueue and the
// lxc/lxd/udev private ones; not `console` (the container gets its own), not
// FIFOs, not symlinks (lstat: a link is not followed out of /dev).

import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { errnoCode } from "../errors.js";
import type { SpecDevice } from "../oci/spec.js";

const SKIPPED_DIRS = new Set(["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"]);

/** Device nodes under `dir` (default /dev), as spec devices at the same paths. */
export function hostDevices(dir = "/dev"): SpecDevice[] {
  const out: SpecDevice[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIPPED_DIRS.has(e.name)) out.push(...hostDevices(path));
      continue;
    }
    if (e.name === "console" || !(e.isCharacterDevice() || e.isBlockDevice())) continue;
    let st;
    try {
      st = lstatSync(path, { bigint: true });
    } catch (err) {
      if (errnoCode(err) === "ENOENT") continue; // gone since readdir (hot-unplug)
      throw err;
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) continue;
    out.push({
      path, type: st.isCharacterDevice() ? "c" : "b",
      major: Number(devMajor(st.rdev)), minor: Number(devMinor(st.rdev)),
      fileMode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid),
    });
  }
  return out;
}

// glibc's gnu_dev_major/minor: the 64-bit dev_t split.
const devMajor = (d: bigint): bigint => ((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n);
const devMinor = (d: bigint): bigint => (d & 0xffn) | ((d >> 12n) & 0xffffff00n);
