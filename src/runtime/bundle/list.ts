// `tsbox-runc list`: every container under the root with its derived status,
// as runc lists them (its table, or JSON); one whose state cannot be read is
// reported on stderr and skipped.

import { readFileSync, statSync } from "node:fs";
import { CorruptContainerError } from "../../errors.js";
import { bundleContainerPaths, listBundleContainerIds, readBundleState } from "../../state/bundle-containers.js";
import { hostCgroups, type CgroupHost } from "../running.js";
import { bundleCgroup, bundleStatus, ociState, type OciState } from "./status.js";

export function listBundleContainers(root: string, onError: (id: string, message: string) => void,
  cgroups: CgroupHost = hostCgroups): OciState[] {
  const out: OciState[] = [];
  let h: ReturnType<CgroupHost["hierarchy"]> | undefined;
  for (const id of listBundleContainerIds(root)) {
    try {
      const s = readBundleState(root, id);
      if (!s) continue; // a create still under way, or one that died before writing its state
      const status = bundleStatus(root, s, () => bundleCgroup(h ??= cgroups.hierarchy(), s, cgroups));
      out.push({ ...ociState(s, status), owner: ownerOf(bundleContainerPaths(root, id).dir) });
    } catch (e) {
      if (!(e instanceof CorruptContainerError)) throw e;
      onError(id, e.message);
    }
  }
  return out;
}

/** The state directory's owner by name (runc: "#uid" when the user is unknown). */
function ownerOf(dir: string): string {
  let uid: number;
  try { uid = statSync(dir).uid; } catch { return ""; }
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = line.split(":");
      if (f[2] === String(uid) && f[0]) return f[0];
    }
  } catch { /* no passwd */ }
  return `#${uid}`;
}
