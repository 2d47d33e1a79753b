// What this host's cgroups can enforce, read from the hierarchy roots (like
// moby's pkg/sysinfo): which limit flags are honoured, which are dropped
// with Docker's warning, and for `tsbox info`. Reads only.

import * as os from "node:os";
import * as path from "node:path";
import { nodeCgroupFs, type CgroupFs } from "./fs.js";
import { readOptional } from "./parse.js";
import { V2_KEY, type Hierarchy } from "./types.js";

export interface CgroupSupport {
  version: Hierarchy["version"];
  memory: boolean;
  /** memory+swap (v1 memsw / v2 memory.swap.max) */
  swapLimit: boolean;
  memoryReservation: boolean;
  /** v1 only */
  swappiness: boolean;
  /** v1 only */
  oomKillDisable: boolean;
  cpuShares: boolean;
  cpuCfs: boolean;
  cpuset: boolean;
  pids: boolean;
  blkioWeight: boolean;
  blkioWeightDevice: boolean;
  blkioThrottle: boolean;
  freezer: boolean;
}

/** Host controller support, from the root of each hierarchy. `root` re-bases the mounts (tests). */
export function cgroupSupport(h: Hierarchy, opts?: { root?: string; fs?: CgroupFs; kernelRelease?: string }): CgroupSupport {
  const fs = opts?.fs ?? nodeCgroupFs;
  const at = (dir: string) => (opts?.root ? path.join(opts.root, dir) : dir);
  if (h.version === "v2") {
    const mount = at(h.mounts.get(V2_KEY) ?? h.v2root ?? "/sys/fs/cgroup");
    const ctl = new Set((readOptional(fs, mount, "cgroup.controllers") ?? "").split(/\s+/).filter(Boolean));
    const io = ctl.has("io");
    return {
      version: "v2",
      memory: ctl.has("memory"),
      swapLimit: ctl.has("memory") && v2SwapAccounting(mount, fs),
      memoryReservation: ctl.has("memory"),
      swappiness: false,
      oomKillDisable: false,
      cpuShares: ctl.has("cpu"),
      cpuCfs: ctl.has("cpu"),
      cpuset: ctl.has("cpuset"),
      pids: ctl.has("pids"),
      blkioWeight: io,
      blkioWeightDevice: io,
      blkioThrottle: io,
      // the v2 freezer is core: cgroup.freeze in every non-root cgroup since Linux 5.2
      freezer: kernelAtLeast(opts?.kernelRelease ?? os.release(), 5, 2),
    };
  }
  const dir = (c: string) => (h.mounts.has(c) ? at(h.mounts.get(c)!) : undefined);
  const has = (c: string, file: string) => {
    const d = dir(c);
    return d !== undefined && fs.exists(path.join(d, file));
  };
  const blkio = dir("blkio");
  // BFQ's weight files are not shown on the root cgroup (CFTYPE_NOT_ON_ROOT), but its stats files are.
  const bfq = blkio !== undefined && fs.exists(path.join(blkio, "blkio.bfq.io_service_bytes"));
  return {
    version: "v1",
    memory: has("memory", "memory.limit_in_bytes"),
    swapLimit: has("memory", "memory.memsw.limit_in_bytes"),
    memoryReservation: has("memory", "memory.soft_limit_in_bytes"),
    swappiness: has("memory", "memory.swappiness"),
    oomKillDisable: has("memory", "memory.oom_control"),
    cpuShares: has("cpu", "cpu.shares"),
    cpuCfs: has("cpu", "cpu.cfs_quota_us"),
    cpuset: has("cpuset", "cpuset.cpus"),
    pids: dir("pids") !== undefined,
    blkioWeight: has("blkio", "blkio.weight") || bfq,
    // Docker's check. blkio.bfq.weight_device only works for devices whose scheduler is BFQ (EOPNOTSUPP otherwise).
    blkioWeightDevice: has("blkio", "blkio.weight_device"),
    blkioThrottle: has("blkio", "blkio.throttle.read_bps_device"),
    freezer: dir("freezer") !== undefined,
  };
}

/** memory.swap.max exists in non-root cgroups when the kernel accounts swap; look at the root's children. */
function v2SwapAccounting(mount: string, fs: CgroupFs): boolean {
  let children: string[] = [];
  try {
    children = fs.listDirs(mount);
  } catch {
    return true;
  }
  for (const c of children) {
    if (fs.exists(path.join(mount, c, "memory.current"))) return fs.exists(path.join(mount, c, "memory.swap.max"));
  }
  return true; // nothing to look at: assume the usual CONFIG_MEMCG_SWAP kernel
}

/** "6.1.0-56-amd64" ≥ 5.2? */
export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}
