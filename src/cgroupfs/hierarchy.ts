// Which cgroup layout does this host use? Read from /proc/self/mountinfo:
// `cgroup` mounts are v1 hierarchies whose super options name their
// controllers (`rw,cpu,cpuacct`, or `rw,xattr,name=systemd` for the named
// systemd one); a `cgroup2` mount is the unified hierarchy.
//
//   v1 (legacy or hybrid): at least one v1 hierarchy carries a real controller.
//     Hybrid hosts also mount cgroup2 at /sys/fs/cgroup/unified, normally with
//     no controllers, which tsbox leaves alone.
//   v2 (pure): no v1 controllers; the cgroup2 mount (normally /sys/fs/cgroup)
//     holds everything. A stray v1 name=systemd mount does not change that.

import * as fs from "node:fs";
import { TsboxError } from "../errors.js";
import { V2_KEY, type Hierarchy } from "./types.js";

export interface CgroupMount {
  fstype: "cgroup" | "cgroup2";
  /** Mount point, octal escapes (\040) decoded. */
  mountpoint: string;
  /** The cgroup inside the hierarchy that is mounted there ("/" normally). */
  root: string;
  /** v1 only: controllers (e.g. ["cpu", "cpuacct"]) plus "name=X" for named hierarchies. */
  controllers: string[];
}

// v1 super options that are not controllers.
const NOT_CONTROLLERS = new Set(["rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode", "favordynmods", "none", "all"]);

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Every cgroup/cgroup2 mount in mountinfo text, in order. Pure. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split("\n")) {
    if (!line.trim()) continue;
    const f = line.split(" ");
    // id parent maj:min root mountpoint opts [optional...] - fstype source superopts
    const sep = f.indexOf("-", 6);
    if (sep < 0 || f.length < sep + 4) continue;
    const fstype = f[sep + 1];
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    const superOpts = (f[sep + 3] ?? "").split(",");
    const controllers =
      fstype === "cgroup"
        ? superOpts.filter((o) => o !== "" && !NOT_CONTROLLERS.has(o) && (!o.includes("=") || o.startsWith("name=")))
        : [];
    out.push({ fstype, mountpoint: unescapeMountinfo(f[4] ?? ""), root: unescapeMountinfo(f[3] ?? "/"), controllers });
  }
  return out;
}

/** The Hierarchy described by mountinfo text. Pure. */
export function parseHierarchy(mountinfo: string): Hierarchy {
  const mounts = parseCgroupMounts(mountinfo);
  const v2mounts = mounts.filter((m) => m.fstype === "cgroup2");
  const v2 = v2mounts.find((m) => m.mountpoint === "/sys/fs/cgroup") ?? v2mounts[0];

  const v1 = new Map<string, string>();
  for (const m of mounts) {
    if (m.fstype !== "cgroup") continue;
    for (const c of m.controllers) {
      // Named hierarchies other than systemd's are someone else's business
      // (Docker's cgroupfs driver does the same).
      if (c.startsWith("name=") && c !== "name=systemd") continue;
      // The same hierarchy may be mounted twice (bind mounts): first wins.
      if (!v1.has(c)) v1.set(c, m.mountpoint);
    }
  }
  const hasRealController = [...v1.keys()].some((c) => !c.startsWith("name="));
  if (hasRealController) {
    const h: Hierarchy = { version: "v1", mounts: v1 };
    if (v2) h.v2root = v2.mountpoint;
    return h;
  }
  if (v2) return { version: "v2", mounts: new Map([[V2_KEY, v2.mountpoint]]), v2root: v2.mountpoint };
  throw new TsboxError("cgroup: no cgroup or cgroup2 filesystem is mounted (see /proc/self/mountinfo)");
}

/** Detect the host's layout; reads /proc/self/mountinfo when no text is given. */
export function detectHierarchy(mountinfo?: string): Hierarchy {
  return parseHierarchy(mountinfo ?? readMountinfo());
}

export function readMountinfo(): string {
  try {
    return fs.readFileSync("/proc/self/mountinfo", "utf8");
  } catch (e) {
    throw new TsboxError(`cgroup: reading /proc/self/mountinfo: ${(e as Error).message}`, 125, { cause: e });
  }
}

/** The distinct hierarchy dirs tsbox places a container in (v1: one per hierarchy; v2: one). */
export function hierarchyDirs(h: Hierarchy): string[] {
  return [...new Set(h.mounts.values())];
}
