// Image config + `run` flags → OCI spec, the way Docker builds it (moby's
// daemon/oci_linux.go and container env rules, runc's specconv for the shape).
// Pure: everything read from disk (passwd, group, CPU list) comes in `ctx`.

import { release as osRelease } from "node:os";
import { UsageError } from "../errors.js";
import { checkMountDestination } from "./mount-destination.js";
import { specMount, type MountPoint } from "./mount-points.js";
import {
  DEFAULT_PARENT, DOCKER_DEFAULT_DEVICES, cpusToNanoCpus, nanoCpusToQuota, type CgroupSupport, type LinuxBlockIO, type LinuxResources,
} from "../cgroupfs/index.js";
import { checkMemorySwap } from "./units.js";
import type { ImageConfigBody } from "../image/index.js";
import {
  DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_PATH_ENV, DEFAULT_READONLY_PATHS,
  MEMORY_MERGE_ANNOTATION, OCI_VERSION, defaultMounts, type Spec, type SpecDevice, type SpecMount, type SpecRlimit,
} from "./spec.js";
import { parseGroup, resolveUser } from "./user.js";
import { containerCapabilities } from "./capabilities.js";
import { KNOWN_CAPABILITIES } from "../native/capabilities.js";
import { hostPlatform, type SeccompPlatform } from "./seccomp/docker-profile.js";
import { containerSeccomp, parseSecurityOpts } from "./seccomp/security-opt.js";
import { ulimitRlimit, type Ulimit } from "./ulimits.js";
import { checkSysctlNamespaces } from "./sysctls.js";
import { containerOf, type NamespaceModes } from "./namespace-modes.js";

export interface RunFlags {
  cmd: string[];
  entrypoint?: string;
  env: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  /**
   * --network: "host" (the host's, no namespace of its own), else a network
   * namespace: new with only lo ("none"), or the one at SpecContext.networkPath
   * (a bridge or user-defined network's, another container's)
   */
  network?: string;
  interactive: boolean;
  tty: boolean;
  init: boolean;
  readOnly: boolean;
  volumes: string[];
  /** --mount, as given */
  mounts?: string[];
  /** --volumes-from, as given */
  volumesFrom?: string[];
  tmpfs: string[];
  memory?: number;
  /** memory + swap; -1 unlimited (Docker's --memory-swap) */
  memorySwap?: number;
  memoryReservation?: number;
  cpus?: number;
  cpuShares?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: number;
  /** opt the container's processes in to KSM (tsbox's own flag; an annotation in the spec) */
  memoryMerge?: boolean;
  /** 0–100; -1 or undefined: not set (Docker's default -1) */
  memorySwappiness?: number;
  oomKillDisable?: boolean;
  /** 10–1000, 0 = not set */
  blkioWeight?: number;
  blkioWeightDevice?: (BlockDevice & { weight: number })[];
  deviceReadBps?: ThrottleFlag[];
  deviceWriteBps?: ThrottleFlag[];
  deviceReadIops?: ThrottleFlag[];
  deviceWriteIops?: ThrottleFlag[];
  /** cgroup parent under each hierarchy root (default "tsbox") */
  cgroupParent?: string;
  /** --cap-add / --cap-drop, as given (names with or without CAP_, any case, or ALL) */
  capAdd?: string[];
  capDrop?: string[];
  /** --privileged: every capability, every device, no masked or read-only paths, writable /sys and cgroupfs */
  privileged: boolean;
  /** --security-opt, as Docker's client sends them (a seccomp profile file replaced by its JSON) */
  securityOpt?: string[];
  /** --device, as given and with the host node's numbers (stat'ed by the CLI) */
  devices?: (DeviceMapping & HostDevice)[];
  /** --ulimit, one per name */
  ulimits?: Ulimit[];
  /** --shm-size in bytes (absent or 0: Docker's 64 MiB) */
  shmSize?: number;
  /** --sysctl, checked against Docker's list */
  sysctls?: Record<string, string>;
  /** --group-add: group names (looked up in the image's /etc/group) or numbers */
  groupAdd?: string[];
  /** --pid, --ipc, --uts as given; another container's namespace comes by path in SpecContext */
  namespaceModes?: NamespaceModes;
  /** --domainname: the NIS domain name in the container's UTS namespace */
  domainname?: string;
  /** --oom-score-adj, -1000…1000 */
  oomScoreAdj?: number;
  /** --label / --label-file (Config.Labels, over the image's) */
  labels?: Record<string, string>;
  /** --stop-signal (checked by the CLI) and --stop-timeout, recorded for stop and restart */
  stopSignal?: string;
  stopTimeout?: number;
}

/** A block device named on the command line, stat'ed by the CLI for its numbers. */
export interface BlockDevice {
  path: string;
  major: number;
  minor: number;
}

export type ThrottleFlag = BlockDevice & { rate: number };

/** `--device HOST[:CONTAINER][:PERMISSIONS]`, as inspect's HostConfig.Devices shows it. */
export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

/** A device node of the host (stat'ed by the CLI), with what the container's node and its cgroup rule need. */
export interface HostDevice {
  /** the flag as given, when it named a directory this node was found under (inspect shows the flag) */
  fromFlag?: DeviceMapping;
  type: "c" | "b";
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface SpecContext {
  id: string;
  /** host files bind-mounted at /etc/hostname, /etc/hosts, /etc/resolv.conf */
  etcFiles: { hostname: string; hosts: string; resolvConf: string };
  /** the network namespace to join (its pinned one on a network, another container's) */
  networkPath?: string;
  /** the host's own name: the container's with --network host (and no -h) */
  hostHostname?: string;
  passwd?: string;
  group?: string;
  /** for `-e NAME` without a value, as Docker takes it from the client's environment */
  hostEnv: Record<string, string | undefined>;
  /** existing /sys/devices/system/cpu/cpuN/thermal_throttle dirs (Docker masks them) */
  thermalThrottle: string[];
  /**
   * Whether the device cgroup enforces Docker's allow list (v1; v2 needs a BPF
   * program tsbox does not load yet). Without it CAP_MKNOD is withheld: with
   * it, a container could make a block device node and read the host's disk.
   */
  devicesEnforced?: boolean;
  /** what the host's cgroups enforce; flags it lacks are dropped with Docker's warning (absent: all supported) */
  cgroupSupport?: CgroupSupport;
  /** Docker's "WARNING: …" lines for the user, appended to by buildSpec */
  warnings?: string[];
  /** the capabilities tsbox holds (absent: every known one): what --privileged and --cap-add ALL grant */
  availableCaps?: readonly string[];
  /** --privileged: the host's device nodes (see host-devices.ts), created in the container's /dev */
  hostDevices?: SpecDevice[];
  /** the host the seccomp filter is for (default: this one) */
  platform?: SeccompPlatform;
  /** -v, --mount, --volumes-from and the image's VOLUMEs resolved (volumes named, their directories known); absent: -v as binds only */
  mountPoints?: MountPoint[];
  /** --pid container:NAME, --ipc container:NAME: that container's namespaces, joined by path */
  pidPath?: string;
  ipcPath?: string;
  /** the host directory bound at /dev/shm: --ipc shareable's own tmpfs, container:NAME's donor's (see runtime/shm.ts) */
  shmSource?: string;
}

export const DEFAULT_NOFILE = { soft: 1024, hard: 524288 };
/**
 * Records `--cpus` (as Docker's NanoCPUs) in the spec: quota/period alone
 * cannot tell it from --cpu-quota/--cpu-period, and `update` refuses to mix them as Docker does.
 */
export const NANO_CPUS_ANNOTATION = "io.tsbox.nano-cpus";


export function buildSpec(image: ImageConfigBody, flags: RunFlags, ctx: SpecContext): Spec {
  const hostNetwork = flags.network === "host";
  const modes = flags.namespaceModes ?? { pid: "", ipc: "", uts: "" };
  if (modes.uts === "host" && flags.hostname !== undefined) throw new UsageError("conflicting options: hostname and the UTS mode");
  // As Docker: on the host's network (or UTS namespace) the container is named as the host is.
  const hostname = flags.hostname ?? (hostNetwork || modes.uts === "host" ? ctx.hostHostname ?? ctx.id.slice(0, 12) : ctx.id.slice(0, 12));
  const security = parseSecurityOpts(flags.securityOpt ?? []);
  const args = commandArgs(image, flags);
  const user = resolveUser(flags.user ?? image.User ?? "", ctx.passwd, ctx.group);
  const additionalGids = [...user.additionalGids];
  for (const g of groupAddGids(flags.groupAdd ?? [], ctx.group)) if (!additionalGids.includes(g)) additionalGids.push(g);

  const cwd = flags.workdir ?? (image.WorkingDir || "/");
  if (!cwd.startsWith("/")) {
    throw new UsageError(`the working directory '${cwd}' is invalid, it needs to be an absolute path`);
  }

  const env = containerEnv(image.Env ?? [], flags, hostname, ctx.hostEnv);
  if (!env.some((e) => e.startsWith("HOME="))) env.push(`HOME=${user.home}`);

  const caps = capabilitySet(flags, ctx);
  // Docker gives a non-root user only the bounding set; exec would clear the rest anyway.
  const granted = user.uid === 0 ? caps : [];

  const mounts: SpecMount[] = [
    ...shmMount(flags.privileged ? privilegedMounts(defaultMounts()) : defaultMounts(), modes.ipc, flags.shmSize, ctx.shmSource),
    // Parents before children, as moby sorts them: a volume at /etc is mounted before /etc/hosts goes over it.
    ...byDepth([
      { destination: "/etc/resolv.conf", type: "bind", source: ctx.etcFiles.resolvConf, options: ["rbind", "rprivate"] },
      { destination: "/etc/hostname", type: "bind", source: ctx.etcFiles.hostname, options: ["rbind", "rprivate"] },
      { destination: "/etc/hosts", type: "bind", source: ctx.etcFiles.hosts, options: ["rbind", "rprivate"] },
      ...(ctx.mountPoints ? ctx.mountPoints.map(specMount) : flags.volumes.map(parseVolume)),
      ...flags.tmpfs.map(parseTmpfs),
    ]),
  ];
  checkDuplicateDestinations(mounts);
  const limits = resources(flags, ctx.cgroupSupport, ctx.warnings);
  // One object for every annotation: two spreads of `annotations` would let the last one win.
  const annotations: Record<string, string> = {
    ...(flags.memoryMerge ? { [MEMORY_MERGE_ANNOTATION]: "true" } : {}),
    ...(flags.cpus !== undefined ? { [NANO_CPUS_ANNOTATION]: String(cpusToNanoCpus(flags.cpus)) } : {}),
  };

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: flags.tty,
      user: { uid: user.uid, gid: user.gid, additionalGids, ...(flags.user ?? image.User ? { username: flags.user ?? image.User } : {}) },
      args,
      env,
      cwd,
      capabilities: { bounding: caps, effective: granted, permitted: granted, inheritable: [], ambient: [] },
      rlimits: rlimits(flags.ulimits ?? []),
      ...(flags.oomScoreAdj !== undefined ? { oomScoreAdj: flags.oomScoreAdj } : {}),
    },
    root: { path: "rootfs", readonly: flags.readOnly },
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    hostname,
    ...(flags.domainname !== undefined && flags.domainname !== "" ? { domainname: flags.domainname } : {}),
    mounts,
    linux: {
      namespaces: [
        ...namespace("pid", modes.pid, ctx.pidPath),
        ...(hostNetwork ? [] : [{ type: "network", ...(ctx.networkPath ? { path: ctx.networkPath } : {}) } as const]),
        ...namespace("ipc", modes.ipc, ctx.ipcPath), ...namespace("uts", modes.uts, undefined),
        { type: "mount" }, { type: "cgroup" },
      ],
      resources: { ...limits, devices: [...(flags.privileged ? ALLOW_ALL_DEVICES : limits.devices ?? []), ...deviceRules(flags.devices ?? [])] },
      ...(flags.privileged || flags.devices?.length ? { devices: [...(flags.privileged ? ctx.hostDevices ?? [] : []), ...deviceNodes(flags.devices ?? [])] } : {}),
      ...(flags.sysctls && Object.keys(flags.sysctls).length > 0 ? { sysctl: { ...flags.sysctls } } : {}),
      cgroupsPath: `/${cgroupParentSegments(flags.cgroupParent).join("/")}/${ctx.id}`,
      // As moby's WithMounts for a privileged container: nothing masked, nothing made read-only.
      maskedPaths: flags.privileged ? [] : [...DEFAULT_MASKED_PATHS, ...ctx.thermalThrottle],
      readonlyPaths: flags.privileged ? [] : [...DEFAULT_READONLY_PATHS],
      rootfsPropagation: "rprivate",
    },
  };
  if (spec.linux.sysctl) {
    checkSysctlNamespaces(spec.linux.sysctl, {
      network: spec.linux.namespaces.some((n) => n.type === "network"),
      ipc: spec.linux.namespaces.some((n) => n.type === "ipc"),
    });
  }
  // Last: the filter depends on the final bounding set, whatever set it.
  if (security.noNewPrivileges) spec.process.noNewPrivileges = true;
  const seccomp = containerSeccomp(security, flags.privileged === true, spec.process.capabilities.bounding,
    ctx.platform ?? hostPlatform(process.arch, osRelease()));
  if (seccomp) spec.linux.seccomp = seccomp;
  return spec;
}

/** A namespace of the container's own, another container's by path, or none (the host's). */
function namespace(type: "pid" | "ipc" | "uts", mode: string, path: string | undefined): { type: "pid" | "ipc" | "uts"; path?: string }[] {
  if (mode === "host") return [];
  if (containerOf(mode) !== undefined) {
    if (path === undefined) throw new Error(`${type} namespace of ${mode}: no path given`);
    return [{ type, path }];
  }
  return [{ type }];
}

/** RLIMIT_NOFILE's default unless --ulimit nofile sets it, then the --ulimit ones. */
function rlimits(ulimits: Ulimit[]): SpecRlimit[] {
  const given = ulimits.map(ulimitRlimit);
  return [...(given.some((r) => r.type === "RLIMIT_NOFILE") ? [] : [{ type: "RLIMIT_NOFILE", ...DEFAULT_NOFILE }]), ...given];
}

/**
 * /dev/shm as --ipc has it (moby's setupIpcDirs and IpcMounts): a tmpfs of
 * --shm-size bytes of the container's own (private); a host directory bound
 * with `shareable` (its own tmpfs on the host) and `container:NAME` (the
 * donor's), given as `source`; the host's with `host`; none with `none`.
 */
function shmMount(mounts: SpecMount[], ipc: string, size: number | undefined, source: string | undefined): SpecMount[] {
  return mounts.flatMap((m): SpecMount[] => {
    if (m.destination !== "/dev/shm") return [m];
    if (ipc === "none") return [];
    if (ipc === "host" || source !== undefined) {
      return [{ destination: "/dev/shm", type: "bind", source: ipc === "host" ? "/dev/shm" : source, options: ["rbind", "rprivate"] }];
    }
    return size ? [{ ...m, options: [...(m.options ?? []).filter((o) => !o.startsWith("size=")), `size=${size}`] }] : [m];
  });
}

/** --group-add: numbers as they are, names through the image's /etc/group (moby's getAdditionalGroups). */
function groupAddGids(groups: string[], groupText: string | undefined): number[] {
  const entries = parseGroup(groupText);
  return groups.map((g) => {
    if (/^[0-9]+$/.test(g)) return Number(g);
    const e = entries.find((x) => x.name === g);
    if (!e) throw new UsageError(`Unable to find group ${g}: no matching entries in group file`);
    return e.gid;
  });
}

/** --device's cgroup rules (moby's DeviceRule from the mapping's permissions). */
function deviceRules(devices: (DeviceMapping & HostDevice)[]): { allow: boolean; type: "c" | "b"; major: number; minor: number; access: string }[] {
  return devices.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.CgroupPermissions }));
}

/** --device's nodes in the container's /dev, the host node's numbers, mode and owner. */
function deviceNodes(devices: (DeviceMapping & HostDevice)[]): SpecDevice[] {
  return devices.map((d) => ({
    path: d.PathInContainer, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid,
  }));
}

/** --privileged's device rule (moby WithDevices): every device, read, write and mknod. */
const ALLOW_ALL_DEVICES = [{ allow: true, access: "rwm" }];

/**
 * The container's bounding set: Docker's defaults tweaked by the flags. Where
 * device rules are not enforced (v2 without the BPF program) CAP_MKNOD is
 * withheld, even when asked for, unless --privileged gives every device anyway.
 */
function capabilitySet(flags: RunFlags, ctx: SpecContext): string[] {
  const caps = containerCapabilities(DEFAULT_CAPABILITIES, flags, ctx.availableCaps ?? KNOWN_CAPABILITIES);
  if (ctx.devicesEnforced !== false || flags.privileged) return caps;
  const asked = [...(flags.capAdd ?? [])].some((c) => /^(cap_)?(mknod|all)$/i.test(c));
  if (asked && caps.includes("CAP_MKNOD")) {
    ctx.warnings?.push("Device rules are not enforced on this host (cgroup v2 without a BPF device program, see tsbox info). CAP_MKNOD discarded.");
  }
  return caps.filter((c) => c !== "CAP_MKNOD");
}

/** Stable sort by the destination's number of components (moby's sortMounts). */
function byDepth(mounts: SpecMount[]): SpecMount[] {
  const depth = (m: SpecMount): number => m.destination.split("/").filter(Boolean).length;
  return mounts.map((m, i) => ({ m, i })).sort((a, b) => depth(a.m) - depth(b.m) || a.i - b.i).map((x) => x.m);
}

/** moby's WithMounts for --privileged: /sys and the cgroup filesystem read-write. */
function privilegedMounts(mounts: SpecMount[]): SpecMount[] {
  return mounts.map((m) => (m.destination === "/sys" || m.type === "cgroup"
    ? { ...m, options: (m.options ?? []).filter((o) => o !== "ro") }
    : m));
}

/** Docker's Entrypoint/Cmd rules: --entrypoint resets the image's Cmd; CLI args replace Cmd. */
export function commandArgs(image: ImageConfigBody, flags: Pick<RunFlags, "cmd" | "entrypoint">): string[] {
  let entrypoint: string[];
  let cmd: string[];
  if (flags.entrypoint !== undefined) {
    entrypoint = flags.entrypoint === "" ? [] : [flags.entrypoint];
    cmd = flags.cmd;
  } else {
    entrypoint = image.Entrypoint ?? [];
    cmd = flags.cmd.length > 0 ? flags.cmd : image.Cmd ?? [];
  }
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new UsageError("no command specified");
  return args;
}

/** PATH, HOSTNAME, TERM first; image Env then `-e` replace by key (moby CreateDaemonEnvironment). */
export function containerEnv(imageEnv: string[], flags: Pick<RunFlags, "env" | "tty">, hostname: string,
  hostEnv: Record<string, string | undefined>): string[] {
  const env: string[] = [DEFAULT_PATH_ENV, `HOSTNAME=${hostname}`];
  if (flags.tty) env.push("TERM=xterm");
  const user: string[] = [];
  for (const e of flags.env) {
    // Docker's ValidateEnv: a variable needs a name (`-e ''` and `-e =x` are refused).
    if (e === "" || e.startsWith("=")) throw new UsageError(`invalid argument "${e}" for "-e, --env" flag: invalid environment variable: ${e}`);
    if (e.includes("=")) user.push(e);
    else if (hostEnv[e] !== undefined) user.push(`${e}=${hostEnv[e]}`);
  }
  for (const e of [...imageEnv, ...user]) {
    const key = e.split("=", 1)[0];
    const i = env.findIndex((x) => x.split("=", 1)[0] === key);
    if (i >= 0) env[i] = e;
    else env.push(e);
  }
  return env;
}

/** `--env-file` content: KEY=VALUE lines, `#` comments, bare KEY taken from the host. */
export function parseEnvFile(text: string, file: string): string[] {
  const out: string[] = [];
  for (const [n, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/^\s+/, "");
    if (line === "" || line.startsWith("#")) continue;
    const key = line.split("=", 1)[0]!;
    if (/\s/.test(key)) throw new UsageError(`${file}:${n + 1}: variable '${key}' contains whitespaces`);
    // A C string cannot carry it: the kernel's environment would silently cut the value there.
    if (line.includes("\0")) throw new UsageError(`${file}:${n + 1}: variable '${key}' contains a NUL byte`);
    out.push(line);
  }
  return out;
}

/** `-v HOST:CTR[:ro|rw]` as a bind mount; named volumes are not supported yet. */
export function parseVolume(spec: string): SpecMount {
  const parts = spec.split(":");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) {
    throw new UsageError(`invalid volume specification: '${spec}'`);
  }
  const [source, destination, mode = "rw"] = parts as [string, string, string?];
  if (!source.startsWith("/")) throw new UsageError(`invalid volume specification: '${spec}': named volumes are not supported, use an absolute host path`);
  if (!destination.startsWith("/")) throw new UsageError(`invalid volume specification: '${spec}': invalid mount path: '${destination}' mount path must be absolute`);
  const opts = mode.split(",");
  for (const o of opts) {
    if (!["ro", "rw", "z", "Z", "private", "rprivate", "slave", "rslave", "shared", "rshared"].includes(o)) {
      throw new UsageError(`invalid mode: ${mode}`);
    }
  }
  const dest = normalizeDest(destination);
  checkMountDestination("bind", dest);
  return { destination: dest, type: "bind", source, options: ["rbind", "rprivate", opts.includes("ro") ? "ro" : "rw"] };
}

/** `--tmpfs PATH[:OPTIONS]`, Docker's defaults noexec,nosuid,nodev. */
export function parseTmpfs(spec: string): SpecMount {
  const i = spec.indexOf(":");
  const destination = i < 0 ? spec : spec.slice(0, i);
  const extra = i < 0 ? [] : spec.slice(i + 1).split(",").filter(Boolean);
  if (!destination.startsWith("/")) throw new UsageError(`invalid mount path: '${destination}' mount path must be absolute`);
  const dest = normalizeDest(destination);
  checkMountDestination("tmpfs", dest);
  return { destination: dest, type: "tmpfs", source: "tmpfs", options: ["noexec", "nosuid", "nodev", ...extra] };
}

function normalizeDest(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return "/" + parts.join("/");
}

function checkDuplicateDestinations(mounts: SpecMount[]): void {
  const seen = new Set<string>();
  for (const m of mounts) {
    if (seen.has(m.destination)) throw new UsageError(`duplicate mount point: ${m.destination}`);
    seen.add(m.destination);
  }
}

/**
 * `--cgroup-parent` → its path segments, relative to each hierarchy root
 * ("/a/b" and "a/b" alike). Every segment a plain name: no "..", nothing that
 * could leave the hierarchy.
 */
export function cgroupParentSegments(parent: string | undefined): string[] {
  const p = parent ?? DEFAULT_PARENT;
  const segs = p.split("/").filter(Boolean);
  if (segs.length === 0 || segs.some((s) => !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(s) || s.length > 255)) {
    throw new UsageError(`invalid --cgroup-parent "${p}": want a path of names (letters, digits, '_', '.', '-') under the cgroup root`);
  }
  return segs;
}

/**
 * Flags → linux.resources, with Docker's validation and warnings (docker/cli
 * container opts; moby daemon/daemon_unix.go verifyPlatformContainerResources).
 * A flag the host cannot enforce (`support`) is dropped with Docker's warning,
 * pushed to `warnings`.
 */
export function resources(flags: RunFlags, support?: CgroupSupport, warnings: string[] = []): LinuxResources {
  const r: LinuxResources = { devices: DOCKER_DEFAULT_DEVICES };
  const { memory, memorySwap, memoryReservation } = flags;
  const swappiness = flags.memorySwappiness ?? -1;
  if (swappiness !== -1 && (!Number.isInteger(swappiness) || swappiness < 0 || swappiness > 100)) {
    throw new UsageError(`invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);
  }
  checkMemorySwap(memory, memorySwap);
  if (memory !== undefined && memoryReservation !== undefined && memory < memoryReservation) {
    throw new UsageError("Minimum memory limit can not be less than memory reservation limit, see usage");
  }
  const mem: NonNullable<LinuxResources["memory"]> = {};
  if (memory !== undefined) {
    mem.limit = memory;
    // Docker's default --memory-swap is twice --memory.
    mem.swap = memorySwap ?? memory * 2;
  }
  if (memoryReservation !== undefined) mem.reservation = memoryReservation;
  if (swappiness !== -1) {
    if (support && !support.swappiness) {
      warnings.push("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.");
    } else {
      mem.swappiness = swappiness;
    }
  }
  if (flags.oomKillDisable) {
    if (support && !support.oomKillDisable) {
      warnings.push("Your kernel does not support OomKillDisable. OomKillDisable discarded.");
    } else {
      mem.disableOOMKiller = true;
      if (memory === undefined) {
        warnings.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.");
      }
    }
  }
  if (Object.keys(mem).length > 0) r.memory = mem;

  if (flags.cpus !== undefined && (flags.cpuPeriod !== undefined || flags.cpuQuota !== undefined)) {
    throw new UsageError(`Conflicting options: Nano CPUs and CPU ${flags.cpuPeriod !== undefined ? "Period" : "Quota"} cannot both be set`);
  }
  if (flags.cpuQuota !== undefined && flags.cpuQuota > 0 && flags.cpuQuota < 1000) {
    throw new UsageError("CPU cfs quota can not be less than 1ms (i.e. 1000)");
  }
  if (flags.cpuPeriod !== undefined && flags.cpuPeriod !== 0 && (flags.cpuPeriod < 1000 || flags.cpuPeriod > 1_000_000)) {
    throw new UsageError("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  }
  const cpu: NonNullable<LinuxResources["cpu"]> = {};
  if (flags.cpus !== undefined) Object.assign(cpu, nanoCpusToQuota(cpusToNanoCpus(flags.cpus)));
  if (flags.cpuQuota) cpu.quota = flags.cpuQuota;
  if (flags.cpuPeriod) cpu.period = flags.cpuPeriod;
  if (flags.cpuShares) cpu.shares = flags.cpuShares;
  if (flags.cpusetCpus !== undefined) cpu.cpus = flags.cpusetCpus;
  if (flags.cpusetMems !== undefined) cpu.mems = flags.cpusetMems;
  if (Object.keys(cpu).length > 0) r.cpu = cpu;

  if (flags.pidsLimit !== undefined) r.pids = { limit: flags.pidsLimit <= 0 ? -1 : flags.pidsLimit };

  const blockIO = blockIOResources(flags, support, warnings);
  if (blockIO) r.blockIO = blockIO;
  return r;
}

/** The blkio flags, Docker's checks in Docker's order (unsupported → warning and dropped, before the range check). */
function blockIOResources(flags: RunFlags, support: CgroupSupport | undefined, warnings: string[]): LinuxBlockIO | undefined {
  const b: LinuxBlockIO = {};
  let weight = flags.blkioWeight ?? 0;
  if (weight > 0 && support && !support.blkioWeight) {
    warnings.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.");
    weight = 0;
  }
  if (weight > 0 && (weight < 10 || weight > 1000)) throw new UsageError("Range of blkio weight is from 10 to 1000");
  if (weight > 0) b.weight = weight;
  const dev = ({ major, minor }: BlockDevice) => ({ major, minor });
  const lists: [keyof RunFlags, keyof LinuxBlockIO, keyof CgroupSupport, string][] = [
    ["deviceReadBps", "throttleReadBpsDevice", "blkioThrottle", "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded."],
    ["deviceWriteBps", "throttleWriteBpsDevice", "blkioThrottle", "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded."],
    ["deviceReadIops", "throttleReadIOPSDevice", "blkioThrottle", "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded."],
    ["deviceWriteIops", "throttleWriteIOPSDevice", "blkioThrottle", "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded."],
  ];
  const wd = flags.blkioWeightDevice ?? [];
  if (wd.length > 0) {
    if (support && !support.blkioWeightDevice) {
      warnings.push("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.");
    } else {
      b.weightDevice = wd.map((d) => ({ ...dev(d), weight: d.weight }));
    }
  }
  for (const [flag, field, feature, warning] of lists) {
    const list = (flags[flag] as ThrottleFlag[] | undefined) ?? [];
    if (list.length === 0) continue;
    if (support && !support[feature]) {
      warnings.push(warning);
      continue;
    }
    (b as Record<string, unknown>)[field] = list.map((d) => ({ ...dev(d), rate: d.rate }));
  }
  return Object.keys(b).length > 0 ? b : undefined;
}
