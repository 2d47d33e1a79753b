// The mount propagation a bundle's root starts from (runc's prepareRoot): "/"
// gets rootfsPropagation, and if the mount the rootfs lives on would still be
// shared after that, it is made private, since pivot_root refuses a new root
// whose parent mount is shared. Decided here, from the host's mountinfo (the
// child's new mount namespace starts as a copy of it), so the child only mounts.

import { readFileSync, realpathSync } from "node:fs";
import { TsboxError } from "../../errors.js";
import { mountHolding, unescapeMountField } from "../../util/mountinfo.js";

const MS_REC = 0x4000;
const MS_SHARED = 0x100000;

export interface RootMountSetup {
  rootPropagation: number;
  privateParent?: string;
}

/** The mount point holding path, and whether it is shared (mountinfo's "shared:N"). */
export function mountOf(path: string, mountinfo: string): { mountPoint: string; shared: boolean } {
  const { mountPoint, shared } = mountHolding(path, mountinfo);
  return { mountPoint, shared };
}

export function rootMountSetup(rootfs: string, propagation: number,
  mountinfo: string = readFileSync("/proc/self/mountinfo", "utf8")): RootMountSetup {
  const { mountPoint, shared } = mountOf(realpathSync(rootfs), mountinfo);
  const applies = mountPoint === "/" || (propagation & MS_REC) !== 0;
  const sharedAfter = applies ? (propagation & MS_SHARED) !== 0 : shared;
  return { rootPropagation: propagation, ...(sharedAfter ? { privateParent: mountPoint } : {}) };
}

/**
 * Mount points strictly below root in a mountinfo, last mounted first: the
 * order that unmounts a mount before the one it was mounted on or over.
 */
export function mountsBelow(root: string, mountinfo: string): string[] {
  const below: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const mp = unescapeMountField(line.split(" ")[4] ?? "");
    if (mp !== root && mp.startsWith(`${root === "/" ? "" : root}/`)) below.push(mp);
  }
  return below.reverse();
}

/**
 * A container without a mount namespace made its mounts in the host's, below
 * its root (runc leaves them there): each is detached, until none is left.
 */
export function unmountBelow(rootfs: string, unmount: (path: string) => void,
  mountinfo: () => string = () => readFileSync("/proc/self/mountinfo", "utf8")): void {
  let root: string;
  try { root = realpathSync(rootfs); } catch { return; /* the bundle is gone, and its mounts with it */ }
  if (root === "/") return;
  for (let pass = 0; pass < 8; pass++) {
    const left = mountsBelow(root, mountinfo());
    if (left.length === 0) return;
    for (const mp of left) {
      try { unmount(mp); } catch { /* below one detached already */ }
    }
  }
  throw new TsboxError(`mounts below ${root} could not be unmounted`, 1);
}
