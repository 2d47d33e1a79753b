// Shared types of the cgroupfs module (kept apart from index.ts so the
// per-controller modules can import them without a cycle).

export type CgroupVersion = "v1" | "v2";

export interface Hierarchy {
  version: CgroupVersion;
  /**
   * v1: controller name → mount dir (e.g. memory → /sys/fs/cgroup/memory;
   * co-mounted controllers share a dir; the named systemd hierarchy is keyed
   * "name=systemd"). v2: the single mount, keyed "cgroup2".
   */
  mounts: Map<string, string>;
  /**
   * The cgroup2 mount: on v2 the same dir as mounts.get("cgroup2"); on a v1
   * hybrid host the "unified" mount (informational only — tsbox does not place
   * containers there); absent on a pure v1 host.
   */
  v2root?: string;
}

/** OCI linux.resources subset (same field names as the OCI runtime spec). */
export interface LinuxResources {
  memory?: {
    limit?: number;
    swap?: number;
    reservation?: number;
    /** v1 memory.swappiness (0–100); v2 has no equivalent (specconv drops it with Docker's warning) */
    swappiness?: number;
    /** v1 memory.oom_control 1; v2 has no equivalent (specconv drops it with Docker's warning) */
    disableOOMKiller?: boolean;
    /** v1 memory.kmem.tcp.limit_in_bytes (OCI kernelTCP); v2 has no equivalent (refused there) */
    kernelTCP?: number;
  };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit?: number };
  devices?: readonly LinuxDeviceCgroup[];
  blockIO?: LinuxBlockIO;
}

/** OCI linux.resources.blockIO. Weights are blkio weights (10–1000); rates are bytes/s or ops/s. */
export interface LinuxBlockIO {
  weight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxWeightDevice {
  major: number;
  minor: number;
  weight?: number;
}

export interface LinuxThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface LinuxDeviceCgroup {
  allow: boolean;
  type?: "a" | "c" | "b";
  major?: number;
  minor?: number;
  access?: string;
}

/** The key of the single v2 mount in Hierarchy.mounts. */
export const V2_KEY = "cgroup2";

/**
 * One reading of a container cgroup's accounting, the same shape on v1 and
 * v2. Byte counts are bytes, times are nanoseconds. A field is absent when
 * the host does not account it (no such controller or file), never 0 for
 * "unknown".
 */
export interface CgroupStats {
  /** when the reading was taken (ms since the epoch), for rates */
  readAt: number;
  memory?: MemoryStats;
  cpu?: CpuStats;
  pids?: PidsStats;
  io?: IoStats;
}

export interface MemoryStats {
  /** v1 memory.usage_in_bytes / v2 memory.current */
  usage: number;
  /** undefined = unlimited */
  limit?: number;
  /** v1 memory.max_usage_in_bytes / v2 memory.peak */
  maxUsage?: number;
  anon?: number;
  file?: number;
  activeFile?: number;
  inactiveFile?: number;
  shmem?: number;
  slab?: number;
  /** swap in use by the cgroup (v1: memsw.usage − usage; v2: memory.swap.current) */
  swap?: number;
  /**
   * max(0, usage − inactive file): what `docker stats` shows as MEM USAGE
   * (Docker CLI / cAdvisor formula; v1 subtracts total_inactive_file, v2 inactive_file)
   */
  workingSet: number;
  /** refaults of evicted file pages (v2 workingset_refault_file / workingset_refault) */
  refaults?: number;
  /** OOM kills in the cgroup (v1 memory.oom_control oom_kill / v2 memory.events oom_kill) */
  oomKills?: number;
  /** PSI "some"/"full" avg10 from memory.pressure (v2, kernels with PSI) */
  pressure?: { someAvg10: number; fullAvg10: number; someTotalUs: number; fullTotalUs: number };
  /**
   * the raw memory.stat, key → value, for whoever needs more. On v1 the named
   * fields above come from the hierarchical total_* keys (rss → anon, cache →
   * file); slab is memory.kmem.usage_in_bytes there (v1 has no slab line).
   */
  stat: Record<string, number>;
}

export interface CpuStats {
  /** total CPU time (v1 cpuacct.usage / v2 cpu.stat usage_usec × 1000) */
  usageNs: number;
  userNs?: number;
  systemNs?: number;
  /** CFS bandwidth: periods, throttled periods, throttled time */
  periods?: number;
  throttledPeriods?: number;
  throttledNs?: number;
}

export interface PidsStats {
  current: number;
  /** undefined = unlimited */
  limit?: number;
}

/** Block I/O summed over devices (what `docker stats` shows as BLOCK I/O), and per device. */
export interface IoStats {
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
  devices?: IoDeviceStats[];
}

export interface IoDeviceStats {
  major: number;
  minor: number;
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
}
