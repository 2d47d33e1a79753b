// The OCI runtime spec (config.json) subset tsbox uses. This is the internal
// contract: image config + CLI flags become a Spec (specconv.ts), and the
// executor reads only the Spec. Field names follow runtime-spec v1.2.

import type { LinuxResources } from "../cgroupfs/index.js";
// linux.seccomp's types are the input of the seccomp compiler (the layer below).
import type { LinuxSeccomp } from "../native/seccomp-compiler.js";
export type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall } from "../native/seccomp-compiler.js";

export interface SpecUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
  /** the user as given (`-u`), kept for messages and inspect */
  username?: string;
  /** absent: the launcher's umask (`tsbox run`); OCI bundles get runc's 0022 when they name none */
  umask?: number;
}

export interface SpecCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable?: string[];
  ambient?: string[];
}

export interface SpecRlimit {
  type: string;
  soft: number;
  hard: number;
}

export interface SpecProcess {
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: SpecUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities: SpecCapabilities;
  rlimits: SpecRlimit[];
  noNewPrivileges?: boolean;
  /** written to the process's oom_score_adj before anything else */
  oomScoreAdj?: number;
}

export interface SpecMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** A device node created in the container's /dev (config-linux.md "Devices"). */
export interface SpecDevice {
  path: string;
  /** char, block, or a FIFO ("p": no major/minor) */
  type: "c" | "b" | "p";
  major: number;
  minor: number;
  /** permission bits (no file type) */
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** An OCI hook (config.md "POSIX-platform Hooks"): run by the runtime, the container's state on its stdin. */
export interface SpecHook {
  path: string;
  /** argv, argv[0] included (as execve takes it) */
  args?: string[];
  env?: string[];
  /** seconds */
  timeout?: number;
}

export interface SpecHooks {
  prestart?: SpecHook[];
  createRuntime?: SpecHook[];
  createContainer?: SpecHook[];
  startContainer?: SpecHook[];
  poststart?: SpecHook[];
  poststop?: SpecHook[];
}

/** One range of a user namespace's map (config-linux.md "User namespace mappings"). */
export interface SpecIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export type NamespaceType = "pid" | "network" | "mount" | "ipc" | "uts" | "cgroup" | "user" | "time";

export interface Spec {
  ociVersion: string;
  process: SpecProcess;
  root: { path: string; readonly: boolean };
  /** "" (an OCI bundle without one): the UTS namespace keeps the host's */
  hostname: string;
  domainname?: string;
  mounts: SpecMount[];
  linux: {
    namespaces: { type: NamespaceType; path?: string }[];
    /** with a new user namespace (tsbox-runc; `tsbox run` has none): its uid and gid maps */
    uidMappings?: SpecIdMapping[];
    gidMappings?: SpecIdMapping[];
    resources: LinuxResources;
    /** device nodes beyond the defaults (--privileged: the host's) */
    devices?: SpecDevice[];
    cgroupsPath: string;
    /** kernel parameters set in the container's namespaces (key "net.ipv4.ip_forward" → /proc/sys/net/ipv4/ip_forward) */
    sysctl?: Record<string, string>;
    maskedPaths: string[];
    readonlyPaths: string[];
    rootfsPropagation?: string;
    /** absent: no filter (seccomp=unconfined, or privileged without a profile) */
    seccomp?: LinuxSeccomp;
  };
  annotations?: Record<string, string>;
  /** run by tsbox-runc (runtime/bundle/hooks.ts), never by the executor */
  hooks?: SpecHooks;
}

export const OCI_VERSION = "1.2.0";

/** OCI has no field for KSM opt-in: `tsbox run --memory-merge` sets this annotation to "true". */
export const MEMORY_MERGE_ANNOTATION = "org.tsbox.memory-merge";

/** Docker's 14 default capabilities (moby daemon/pkg/oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
] as const;

/** Docker's masked paths (moby daemon/pkg/oci/defaults.go); thermal_throttle per CPU is added at build time. */
export const DEFAULT_MASKED_PATHS = [
  "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
  "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
  "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
];

export const DEFAULT_READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

export const DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Docker's default mounts (moby oci defaults), in mount order. /sys/fs/cgroup
 * is read-only, as Docker mounts it for a container without privileges.
 */
export function defaultMounts(): SpecMount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro", "nosuid", "noexec", "nodev"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
  ];
}
