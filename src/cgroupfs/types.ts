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
  memory?: { limit?: number; swap?: number; reservation?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit?: number };
  devices?: readonly LinuxDeviceCgroup[];
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
