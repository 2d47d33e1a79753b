// `tsbox info`: what this host gives tsbox — cgroup hierarchy and driver,
// which controllers are there and which tsbox enforces (devices included, and
// how), kernel, storage driver, state root — like `docker info`'s server part.

import * as os from "node:os";
import {
  DEFAULT_PARENT, cgroupSupport, detectHierarchy, devicesEnforced, hierarchyDirs, type DeviceFilterLoader, type Hierarchy,
} from "../cgroupfs/index.js";
import { readOptional } from "../cgroupfs/parse.js";
import { nodeCgroupFs } from "../cgroupfs/fs.js";
import { packageVersion } from "../util/package.js";
import { listContainerIds, ownerAlive, readAllStates } from "../state/container-store.js";
import { listImages } from "../image/images.js";
import { stateWord } from "./ps.js";

export interface ControllerInfo {
  name: string;
  /** the kernel offers it (v1: mounted; v2: in the root's cgroup.controllers) */
  available: boolean;
  /** tsbox applies limits with it (or, for freezer/devices, uses it) */
  enforced: boolean;
  /** how, or what is missing */
  detail: string;
}

export interface SystemInfo {
  ServerVersion: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  /** images in the store (intermediate ones too), as Docker counts them */
  Images: number;
  Driver: "overlay2";
  CgroupDriver: "cgroupfs";
  CgroupVersion: "1" | "2";
  CgroupParent: string;
  CgroupMounts: string[];
  Controllers: ControllerInfo[];
  KernelVersion: string;
  OperatingSystem: string;
  /** Docker's names for what templates ask (`{{.OSType}}`, `{{.Name}}`, `{{.DockerRootDir}}`) */
  OSType: "linux";
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  Name: string;
  DockerRootDir: string;
  TsboxRootDir: string;
  Warnings: string[];
}

function osName(): string {
  const text = readOptional(nodeCgroupFs, "/etc", "os-release") ?? "";
  return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? os.type();
}

function v2Controllers(h: Hierarchy): Set<string> {
  const mount = h.mounts.get("cgroup2") ?? "/sys/fs/cgroup";
  return new Set((readOptional(nodeCgroupFs, mount, "cgroup.controllers") ?? "").split(/\s+/).filter(Boolean));
}

export function systemInfo(root: string, loader?: DeviceFilterLoader): SystemInfo {
  const h = detectHierarchy();
  const s = cgroupSupport(h);
  const v2 = h.version === "v2";
  const has = (c: string) => (v2 ? v2Controllers(h).has(c) : h.mounts.has(c));
  const yesNo = (b: boolean) => (b ? "yes" : "no");
  const devices = devicesEnforced(h, loader);
  const controllers: ControllerInfo[] = [
    {
      name: "memory", available: s.memory, enforced: s.memory,
      detail: v2
        ? `memory.max, memory.low, memory.swap.max (swap limit: ${yesNo(s.swapLimit)}); --memory-swappiness and --oom-kill-disable: not on v2`
        : `memory.limit_in_bytes, memory.soft_limit_in_bytes, memsw (swap limit: ${yesNo(s.swapLimit)}), memory.swappiness (${yesNo(s.swappiness)}), memory.oom_control (${yesNo(s.oomKillDisable)})`,
    },
    {
      name: "cpu", available: has("cpu"), enforced: s.cpuShares || s.cpuCfs,
      detail: v2 ? "cpu.weight, cpu.max" : `cpu.shares (${yesNo(s.cpuShares)}), cpu.cfs_quota_us (${yesNo(s.cpuCfs)}); accounting: cpuacct (${yesNo(h.mounts.has("cpuacct"))})`,
    },
    { name: "cpuset", available: has("cpuset"), enforced: s.cpuset, detail: "cpuset.cpus, cpuset.mems" },
    { name: "pids", available: has("pids"), enforced: s.pids, detail: "pids.max" },
    {
      name: v2 ? "io" : "blkio", available: has(v2 ? "io" : "blkio"), enforced: s.blkioWeight || s.blkioThrottle,
      detail: v2
        ? "io.bfq.weight or io.weight, io.max"
        : `weight (${yesNo(s.blkioWeight)}), weight_device (${yesNo(s.blkioWeightDevice)}), throttle (${yesNo(s.blkioThrottle)})`,
    },
    {
      name: "freezer", available: s.freezer, enforced: s.freezer,
      detail: v2 ? "cgroup.freeze / cgroup.events" : "freezer.state",
    },
    {
      name: "devices", available: v2 ? true : h.mounts.has("devices"), enforced: devices,
      detail: v2
        ? devices
          ? "BPF_PROG_TYPE_CGROUP_DEVICE program attached to each container's cgroup"
          : "not enforced: the kernel refused the BPF device program; CAP_MKNOD is withheld and the root is mounted nodev instead"
        : "devices.allow / devices.deny",
    },
  ];
  const warnings: string[] = [];
  if (s.memory && !s.swapLimit) warnings.push("No swap limit support");
  if (!s.blkioWeight) warnings.push("No blkio weight support");
  if (!s.blkioWeightDevice) warnings.push("No blkio weight_device support");
  if (!s.blkioThrottle) warnings.push("No blkio throttle support");
  if (!s.cpuCfs) warnings.push("No cpu cfs quota support");
  if (!devices) warnings.push("Device access rules are not enforced (see Controllers: devices)");

  let running = 0;
  let paused = 0;
  const ids = listContainerIds(root);
  for (const st of readAllStates(root)) {
    if (st.status !== "exited" && ownerAlive(st.owner)) {
      if (stateWord(st) === "paused") paused++;
      else running++;
    }
  }
  return {
    ServerVersion: packageVersion(),
    Containers: ids.length,
    ContainersRunning: running,
    ContainersPaused: paused,
    ContainersStopped: ids.length - running - paused,
    Images: new Set(listImages(root, { all: true }).map((i) => i.id)).size,
    Driver: "overlay2", // as inspect says, and Docker on overlayfs
    CgroupDriver: "cgroupfs",
    CgroupVersion: v2 ? "2" : "1",
    CgroupParent: DEFAULT_PARENT,
    CgroupMounts: hierarchyDirs(h),
    Controllers: controllers,
    KernelVersion: os.release(),
    OperatingSystem: osName(),
    OSType: "linux",
    Architecture: os.machine(),
    NCPU: os.cpus().length,
    MemTotal: os.totalmem(),
    Name: os.hostname(),
    DockerRootDir: root,
    TsboxRootDir: root,
    Warnings: warnings,
  };
}

/** `docker info`-style text (the warnings go to stderr, as docker prints them). */
export function formatInfo(i: SystemInfo): string {
  const lines = [
    `Server Version: ${i.ServerVersion}`,
    `Containers: ${i.Containers}`,
    ` Running: ${i.ContainersRunning}`,
    ` Paused: ${i.ContainersPaused}`,
    ` Stopped: ${i.ContainersStopped}`,
    `Images: ${i.Images}`,
    `Storage Driver: ${i.Driver}`,
    `Cgroup Driver: ${i.CgroupDriver}`,
    `Cgroup Version: ${i.CgroupVersion}`,
    `Cgroup Parent: ${i.CgroupParent}`,
    `Cgroup Controllers:`,
    ...i.Controllers.map((c) => ` ${c.name}: ${c.enforced ? "enforced" : c.available ? "available, not enforced" : "not available"} (${c.detail})`),
    `Kernel Version: ${i.KernelVersion}`,
    `Operating System: ${i.OperatingSystem}`,
    `Architecture: ${i.Architecture}`,
    `CPUs: ${i.NCPU}`,
    `Total Memory: ${(i.MemTotal / 1024 ** 3).toFixed(2)}GiB`,
    `Tsbox Root Dir: ${i.TsboxRootDir}`,
  ];
  return lines.join("\n") + "\n";
}
