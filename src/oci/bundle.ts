// An OCI bundle (`tsbox-runc create --bundle DIR`): its config.json, checked
// field by field and turned into the Spec the executor reads, as runc reads
// it — root.path relative to the bundle, bind mounts by type or by option,
// runc's defaults (umask 0022, its always-allowed devices). What tsbox cannot
// honour is refused here, by name, before anything is created: a container
// never starts with part of its configuration silently dropped.

import { readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { UsageError, errnoCode } from "../errors.js";
import { log } from "../log.js";
import {
  ShapeError, arrayOf, boolean, integer, number, object, optional, parseChecked, recordOf, string,
} from "../util/shape.js";
import type { LinuxDeviceCgroup, LinuxResources } from "../cgroupfs/index.js";
import { KNOWN_CAPABILITIES } from "../native/capabilities.js";
import { RLIMIT } from "./build-plan.js";
import type {
  LinuxSeccomp, NamespaceType, Spec, SpecDevice, SpecHooks, SpecIdMapping, SpecMount, SpecProcess,
} from "./spec.js";

/** A config.json that cannot be used as written: exits 1, as runc's errors do. */
export class BundleError extends UsageError {
  constructor(message: string) { super(message, 1); }
}

export interface Bundle {
  /** the bundle directory, absolute */
  dir: string;
  /** the container's root, absolute (root.path resolved against the bundle) */
  rootfs: string;
  spec: Spec;
}

/** The OCI versions tsbox reads (runtime-spec 1.x). */
export const OCI_VERSION_MIN = "1.0.0";

const int = integer;
const strings = arrayOf(string);
const idMapping = object({ containerID: int, hostID: int, size: int });

/** The spec's process object (config.json's, and `exec --process`'s file). */
const checkProcess = object({
  terminal: optional(boolean),
  consoleSize: optional(object({ height: int, width: int })),
  // Absent: root, as runc reads it (Go's zero values); exec's process.json often leaves it out.
  user: optional(object({ uid: int, gid: int, umask: optional(int), additionalGids: optional(arrayOf(int)), username: optional(string) })),
  args: optional(strings),
  commandLine: optional(string),
  env: optional(strings),
  cwd: string,
  capabilities: optional(object({
    bounding: optional(strings), effective: optional(strings), permitted: optional(strings),
    inheritable: optional(strings), ambient: optional(strings),
  })),
  rlimits: optional(arrayOf(object({ type: string, soft: number, hard: number }))),
  noNewPrivileges: optional(boolean),
  apparmorProfile: optional(string),
  oomScoreAdj: optional(int),
  selinuxLabel: optional(string),
});

/** linux.resources (config.json's, and `update --resources`'s). */
const checkResources = object({
  devices: optional(arrayOf(object({
    allow: boolean, type: optional(string), major: optional(int), minor: optional(int), access: optional(string),
  }))),
  memory: optional(object({
    limit: optional(int), reservation: optional(int), swap: optional(int), kernel: optional(int),
    kernelTCP: optional(int), swappiness: optional(int), disableOOMKiller: optional(boolean),
    useHierarchy: optional(boolean), checkBeforeUpdate: optional(boolean),
  })),
  cpu: optional(object({
    shares: optional(int), quota: optional(int), burst: optional(int), period: optional(int),
    realtimeRuntime: optional(int), realtimePeriod: optional(int), cpus: optional(string), mems: optional(string),
    idle: optional(int),
  })),
  pids: optional(object({ limit: int })),
  blockIO: optional(object({
    weight: optional(int), leafWeight: optional(int),
    weightDevice: optional(arrayOf(object({ major: int, minor: int, weight: optional(int), leafWeight: optional(int) }))),
    throttleReadBpsDevice: optional(arrayOf(object({ major: int, minor: int, rate: int }))),
    throttleWriteBpsDevice: optional(arrayOf(object({ major: int, minor: int, rate: int }))),
    throttleReadIOPSDevice: optional(arrayOf(object({ major: int, minor: int, rate: int }))),
    throttleWriteIOPSDevice: optional(arrayOf(object({ major: int, minor: int, rate: int }))),
  })),
  hugepageLimits: optional(arrayOf(object({ pageSize: string, limit: int }))),
  network: optional(object({ classID: optional(int), priorities: optional(arrayOf(object({ name: string, priority: int }))) })),
  rdma: optional(recordOf(object({}))),
  unified: optional(recordOf(string)),
});

/** config.json as the runtime spec writes it: almost every field optional. */
const checkConfig = object({
  ociVersion: string,
  root: optional(object({ path: string, readonly: optional(boolean) })),
  process: optional(checkProcess),
  hostname: optional(string),
  domainname: optional(string),
  mounts: optional(arrayOf(object({
    destination: string, type: optional(string), source: optional(string), options: optional(strings),
    uidMappings: optional(arrayOf(idMapping)), gidMappings: optional(arrayOf(idMapping)),
  }))),
  hooks: optional(recordOf(arrayOf(object({ path: string, args: optional(strings), env: optional(strings), timeout: optional(int) })))),
  annotations: optional(recordOf(string)),
  linux: optional(object({
    namespaces: optional(arrayOf(object({ type: string, path: optional(string) }))),
    uidMappings: optional(arrayOf(idMapping)),
    gidMappings: optional(arrayOf(idMapping)),
    devices: optional(arrayOf(object({
      path: string, type: string, major: optional(int), minor: optional(int),
      fileMode: optional(int), uid: optional(int), gid: optional(int),
    }))),
    cgroupsPath: optional(string),
    resources: optional(checkResources),
    sysctl: optional(recordOf(string)),
    rootfsPropagation: optional(string),
    seccomp: optional(object({
      defaultAction: string,
      defaultErrnoRet: optional(int),
      architectures: optional(strings),
      flags: optional(strings),
      listenerPath: optional(string),
      listenerMetadata: optional(string),
      syscalls: optional(arrayOf(object({
        names: strings, action: string, errnoRet: optional(int),
        args: optional(arrayOf(object({ index: int, value: number, valueTwo: optional(number), op: string }))),
      }))),
    })),
    maskedPaths: optional(strings),
    readonlyPaths: optional(strings),
    mountLabel: optional(string),
    intelRdt: optional(object({})),
    personality: optional(object({ domain: string })),
    timeOffsets: optional(recordOf(object({}))),
  })),
});

type Config = ReturnType<typeof checkConfig>;
type ConfigLinux = NonNullable<Config["linux"]>;
type ConfigCapabilities = NonNullable<NonNullable<Config["process"]>["capabilities"]>;

const NAMESPACES: readonly NamespaceType[] = ["pid", "network", "mount", "ipc", "uts", "cgroup", "user", "time"];

/** runc's propagation names for rootfsPropagation (MS_* values). */
const PROPAGATION: Record<string, number> = {
  private: 0x40000, rprivate: 0x40000 | 0x4000, slave: 0x80000, rslave: 0x80000 | 0x4000,
  shared: 0x100000, rshared: 0x100000 | 0x4000, unbindable: 0x20000, runbindable: 0x20000 | 0x4000,
};

/**
 * runc's AllowedDevices (libcontainer/specconv): the device cgroup rules it
 * appends to every container's, so that a bundle denying all devices (as
 * `runc spec` writes) still has /dev/null and the ptys.
 */
const RUNC_ALLOWED_DEVICES: readonly LinuxDeviceCgroup[] = [
  { allow: true, type: "c", access: "m" }, { allow: true, type: "b", access: "m" },
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 8, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" }, { allow: true, type: "c", major: 5, minor: 0, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 9, access: "rwm" },
  { allow: true, type: "c", major: 136, access: "rwm" }, { allow: true, type: "c", major: 5, minor: 2, access: "rwm" },
  { allow: true, type: "c", major: 10, minor: 200, access: "rwm" },
];

/** Reads and checks DIR/config.json; BundleError naming the field for anything unusable. */
export function readBundle(bundleDir: string): Bundle {
  const dir = resolve(bundleDir);
  const file = join(dir, "config.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = errnoCode(e);
    throw new BundleError(code === "ENOENT" ? `JSON specification file ${file} not found` : `reading ${file}: ${(e as Error).message}`);
  }
  let config: Config;
  try {
    config = parseChecked(text, checkConfig);
  } catch (e) {
    if (e instanceof ShapeError) throw new BundleError(`invalid ${file}: ${e.message}`);
    throw new BundleError(`invalid ${file}: ${(e as Error).message}`);
  }
  return bundleSpec(dir, config);
}

/** The Spec of a checked config (pure but for the rootfs check): exported for the unit tests. */
export function bundleSpec(dir: string, c: Config): Bundle {
  if (!/^1\.\d+\.\d+/.test(c.ociVersion)) {
    throw new BundleError(`unsupported ociVersion ${JSON.stringify(c.ociVersion)}: tsbox-runc reads runtime-spec 1.x`);
  }
  refuseUnsupported(c);
  if (!c.root) throw new BundleError("root must be specified");
  const rootfs = isAbsolute(c.root.path) ? c.root.path : join(dir, c.root.path);
  let isDir = false;
  try { isDir = statSync(rootfs).isDirectory(); } catch { /* reported below */ }
  if (!isDir) throw new BundleError(`rootfs (${rootfs}) does not exist`);
  if (!c.process) throw new BundleError("process must be specified");
  const process = processSpec(c.process);
  const linux: Partial<ConfigLinux> = c.linux ?? {};
  const namespaces = checkNamespaces(linux.namespaces ?? []);
  const has = (t: NamespaceType): boolean => namespaces.some((n) => n.type === t);
  if (c.hostname !== undefined && c.hostname !== "" && !has("uts")) {
    throw new BundleError("unable to set hostname without a private UTS namespace");
  }
  if (c.domainname !== undefined && c.domainname !== "" && !has("uts")) {
    throw new BundleError("unable to set domainname without a private UTS namespace");
  }
  checkSysctl(linux.sysctl ?? {}, has);
  if (!has("mount")) refuseWithoutMountNamespace(c.root.readonly === true, linux);
  const idMaps = userNamespaceMaps(namespaces, linux.uidMappings ?? [], linux.gidMappings ?? [], process);
  const spec: Spec = {
    ociVersion: c.ociVersion,
    process,
    root: { path: rootfs, readonly: c.root.readonly ?? false },
    hostname: c.hostname ?? "",
    ...(c.domainname !== undefined ? { domainname: c.domainname } : {}),
    mounts: (c.mounts ?? []).map((m, i) => bundleMount(dir, m, i)),
    linux: {
      namespaces,
      ...idMaps,
      resources: resources(linux.resources ?? {}),
      devices: (linux.devices ?? []).map(device),
      cgroupsPath: linux.cgroupsPath ?? "",
      ...(linux.sysctl ? { sysctl: linux.sysctl } : {}),
      maskedPaths: linux.maskedPaths ?? [],
      readonlyPaths: linux.readonlyPaths ?? [],
      ...(linux.rootfsPropagation ? { rootfsPropagation: linux.rootfsPropagation } : {}),
      ...(linux.seccomp ? { seccomp: linux.seccomp as LinuxSeccomp } : {}),
    },
    ...(c.annotations ? { annotations: c.annotations } : {}),
    ...(c.hooks && Object.keys(hooksSpec(c.hooks)).length > 0 ? { hooks: hooksSpec(c.hooks) } : {}),
  };
  return { dir, rootfs, spec };
}

type ConfigProcess = ReturnType<typeof checkProcess>;

/** A checked process object as the Spec's, with runc's defaults and checks. */
function processSpec(p: ConfigProcess): SpecProcess {
  if (!p.args || p.args.length === 0) throw new BundleError("args must not be empty");
  if (!p.cwd.startsWith("/")) throw new BundleError(`cwd ${JSON.stringify(p.cwd)} is not an absolute path`);
  for (const r of p.rlimits ?? []) {
    if (RLIMIT[r.type] === undefined) throw new BundleError(`rlimit ${JSON.stringify(r.type)} is unknown`);
    if (r.soft > r.hard) throw new BundleError(`rlimit ${r.type}: soft limit ${r.soft} is above hard limit ${r.hard}`);
  }
  // Neither is on this host's kernel; running without the confinement asked for would be silent.
  if (p.apparmorProfile) throw new BundleError("process.apparmorProfile (AppArmor) is not supported by tsbox-runc");
  if (p.selinuxLabel) throw new BundleError("process.selinuxLabel (SELinux) is not supported by tsbox-runc");
  const caps = knownCapabilities(p.capabilities ?? {});
  return {
    terminal: p.terminal ?? false,
    ...(p.consoleSize ? { consoleSize: p.consoleSize } : {}),
    user: {
      uid: p.user?.uid ?? 0, gid: p.user?.gid ?? 0, additionalGids: p.user?.additionalGids ?? [],
      umask: p.user?.umask ?? 0o022,
    },
    args: p.args,
    env: p.env ?? [],
    cwd: p.cwd,
    capabilities: {
      bounding: caps.bounding ?? [], effective: caps.effective ?? [], permitted: caps.permitted ?? [],
      inheritable: caps.inheritable ?? [],
      // The kernel raises an ambient capability only if it is permitted and
      // inheritable; runc ignores the others (`runc spec` itself lists
      // ambient capabilities without inheritable ones), so does tsbox-runc.
      ambient: (caps.ambient ?? []).filter((a) => caps.permitted?.includes(a) && caps.inheritable?.includes(a)),
    },
    rlimits: p.rlimits ?? [],
    ...(p.noNewPrivileges !== undefined ? { noNewPrivileges: p.noNewPrivileges } : {}),
    ...(p.oomScoreAdj !== undefined ? { oomScoreAdj: p.oomScoreAdj } : {}),
  };
}

/**
 * The capability sets without the names this kernel interface does not know.
 * runc warns about an unknown capability and goes on (a newer profile may name
 * capabilities an older kernel lacks); so does tsbox-runc, in its log.
 */
function knownCapabilities(caps: Partial<ConfigCapabilities>): Partial<ConfigCapabilities> {
  const known = (set: string, names: string[] | undefined): string[] | undefined => names?.filter((n) => {
    if (KNOWN_CAPABILITIES.includes(n.toUpperCase())) return true;
    log().warn(`process.capabilities.${set}: unknown capability "${n}" is ignored`);
    return false;
  });
  return Object.fromEntries(Object.entries(caps).map(([set, names]) => [set, known(set, names)]));
}

/** `exec --process FILE` (or "-"): the process object, checked as config.json's is. */
export function parseProcess(text: string, what: string): SpecProcess {
  let p: ConfigProcess;
  try {
    p = parseChecked(text, checkProcess);
  } catch (e) {
    throw new BundleError(`invalid ${what}: ${e instanceof ShapeError ? e.message : (e as Error).message}`);
  }
  return processSpec(p);
}

/**
 * `update --resources FILE|-`: linux.resources, checked as config.json's are.
 * Without runc's always-allowed devices: an update does not touch the device
 * rules (runc's update ignores them too).
 */
export function parseResources(text: string, what: string): LinuxResources {
  let r: ConfigResources;
  try {
    r = parseChecked(text, checkResources);
  } catch (e) {
    throw new BundleError(`invalid ${what}: ${e instanceof ShapeError ? e.message : (e as Error).message}`);
  }
  refuseUnsupportedResources(r);
  const { devices: _ignored, ...rest } = resources(r);
  return rest;
}

/** rootfsPropagation as mount(2) flags (runc's default: rslave). */
export function rootPropagationFlags(spec: Spec): number {
  const name = spec.linux.rootfsPropagation;
  if (name === undefined || name === "") return PROPAGATION.rslave!;
  const f = PROPAGATION[name];
  if (f === undefined) throw new BundleError(`rootfsPropagation ${JSON.stringify(name)} is not one of ${Object.keys(PROPAGATION).join(", ")}`);
  return f;
}

/**
 * The hooks tsbox-runc runs: prestart, createRuntime, poststart and poststop
 * itself, in the runtime's namespaces; createContainer and startContainer by
 * the container's process, in its namespaces (the HOOK op of the launch plan).
 */
const RUNTIME_HOOKS = new Set(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]);

function hooksSpec(h: NonNullable<Config["hooks"]>): SpecHooks {
  const out: SpecHooks = {};
  for (const kind of RUNTIME_HOOKS) {
    const list = h[kind];
    if (!list || list.length === 0) continue;
    out[kind as keyof SpecHooks] = list.map((x, i) => {
      if (!isAbsolute(x.path)) throw new BundleError(`hooks.${kind}[${i}].path ${JSON.stringify(x.path)} is not absolute`);
      if (x.timeout !== undefined && x.timeout <= 0) throw new BundleError(`hooks.${kind}[${i}].timeout must be positive`);
      return { path: x.path, ...(x.args ? { args: x.args } : {}), ...(x.env ? { env: x.env } : {}),
        ...(x.timeout !== undefined ? { timeout: x.timeout } : {}) };
    });
  }
  return out;
}

/** What tsbox does not do yet (or cannot here), refused by name rather than ignored. */
function refuseUnsupported(c: Config): void {
  const refuse = (what: string): never => {
    throw new BundleError(`${what} is not supported by tsbox-runc`);
  };
  for (const [kind, hooks] of Object.entries(c.hooks ?? {})) {
    if (!RUNTIME_HOOKS.has(kind) && hooks.length > 0) refuse(`hooks.${kind}`);
  }
  const l = c.linux;
  if (l?.resources) refuseUnsupportedResources(l.resources);
  if (l?.seccomp?.syscalls?.some((c) => c.action === "SCMP_ACT_NOTIFY") && !l.seccomp.listenerPath) {
    throw new BundleError("linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath (the agent's socket)");
  }
  if (l?.intelRdt) refuse("linux.intelRdt");
  if (l?.personality) refuse("linux.personality");
  if (l?.timeOffsets && Object.keys(l.timeOffsets).length > 0) refuse("linux.timeOffsets");
  if (c.mounts?.some((m) => m.uidMappings?.length || m.gidMappings?.length)) refuse("idmapped mounts (mounts[].uidMappings)");
}

/** Namespaces an existing one of may be joined by path (setns before anything else happens in it). */
const JOINABLE = new Set(["network", "ipc", "uts", "cgroup", "pid", "mount", "user"]);

function refuseUnsupportedResources(r: Partial<ConfigResources>): void {
  const refuse = (what: string): never => {
    throw new BundleError(`linux.resources.${what} is not supported by tsbox-runc`);
  };
  if (r.hugepageLimits?.length) refuse("hugepageLimits");
  if (r.network && (r.network.classID !== undefined || r.network.priorities?.length)) refuse("network");
  if (r.rdma && Object.keys(r.rdma).length > 0) refuse("rdma");
  if (r.unified && Object.keys(r.unified).length > 0) refuse("unified");
  if (r.cpu?.realtimeRuntime || r.cpu?.realtimePeriod) refuse("cpu realtime limits");
  if (r.cpu?.burst !== undefined) refuse("cpu.burst");
  if (r.cpu?.idle !== undefined) refuse("cpu.idle");
  if (r.blockIO?.leafWeight !== undefined) refuse("blockIO.leafWeight");
}

function checkNamespaces(list: { type: string; path?: string }[]): { type: NamespaceType; path?: string }[] {
  const seen = new Set<string>();
  const out: { type: NamespaceType; path?: string }[] = [];
  for (const ns of list) {
    if (!(NAMESPACES as readonly string[]).includes(ns.type)) throw new BundleError(`namespace type ${JSON.stringify(ns.type)} is unknown`);
    if (seen.has(ns.type)) throw new BundleError(`malformed spec file: duplicated ns ${JSON.stringify(ns.type)}`);
    seen.add(ns.type);
    if (ns.type === "time") throw new BundleError("a time namespace is not supported by tsbox-runc");
    const path = ns.path ?? "";
    if (path !== "" && !JOINABLE.has(ns.type)) {
      throw new BundleError(`joining an existing ${ns.type} namespace (path ${path}) is not supported by tsbox-runc`);
    }
    if (path !== "" && !path.startsWith("/")) throw new BundleError(`namespace ${ns.type}: path ${JSON.stringify(path)} is not absolute`);
    out.push({ type: ns.type as NamespaceType, ...(path !== "" ? { path } : {}) });
  }
  return out;
}

/**
 * A container without a mount namespace is chrooted into its root and its
 * mounts are made in the host's mount namespace (runc's chroot()); what would
 * act on the host's own mounts there is refused, as runc refuses masked and
 * read-only paths (runc ignores the rest silently).
 */
function refuseWithoutMountNamespace(readonlyRoot: boolean, linux: Partial<ConfigLinux>): void {
  if (linux.maskedPaths?.length || linux.readonlyPaths?.length) {
    throw new BundleError("unable to restrict sys entries without a private MNT namespace");
  }
  if (readonlyRoot) throw new BundleError("root.readonly needs a private MNT namespace");
  if (linux.rootfsPropagation) throw new BundleError("linux.rootfsPropagation needs a private MNT namespace");
  if ((linux.namespaces ?? []).some((n) => n.type === "user")) {
    throw new BundleError("a user namespace without a private MNT namespace is not supported by tsbox-runc");
  }
}

/**
 * The maps of a new user namespace, checked as runc checks them: both given,
 * the container's root mapped (the process becomes it before the mounts), and
 * the process's own ids mapped. A user namespace joined by path keeps the maps
 * it has; the other namespaces are then created inside it. A new one cannot be
 * combined with namespaces joined by path: the child is cloned into the new user
 * namespace and has no privilege over namespaces the host's user namespace owns.
 */
function userNamespaceMaps(namespaces: { type: NamespaceType; path?: string }[], uid: SpecIdMapping[],
  gid: SpecIdMapping[], process: SpecProcess): Pick<Spec["linux"], "uidMappings" | "gidMappings"> {
  const user = namespaces.find((n) => n.type === "user");
  if (!user) {
    if (uid.length || gid.length) throw new BundleError("linux.uidMappings/gidMappings are set but there is no user namespace in linux.namespaces");
    return {};
  }
  if (user.path !== undefined) {
    if (uid.length || gid.length) throw new BundleError(`linux.uidMappings/gidMappings cannot be applied to an existing user namespace (path ${user.path})`);
    return {};
  }
  if (uid.length === 0) throw new BundleError("user namespaces enabled, but no uid mappings found (linux.uidMappings)");
  if (gid.length === 0) throw new BundleError("user namespaces enabled, but no gid mappings found (linux.gidMappings)");
  const joined = namespaces.find((n) => n.path !== undefined);
  if (joined) {
    throw new BundleError(`joining an existing ${joined.type} namespace (path ${joined.path}) with a new user namespace is not supported by tsbox-runc`);
  }
  for (const [what, maps] of [["uidMappings", uid], ["gidMappings", gid]] as const) {
    maps.forEach((m, i) => {
      if (m.size <= 0) throw new BundleError(`linux.${what}[${i}].size must be positive`);
      if (m.containerID < 0 || m.hostID < 0 || m.containerID + m.size > 2 ** 32 - 1 || m.hostID + m.size > 2 ** 32 - 1) {
        throw new BundleError(`linux.${what}[${i}] is out of the 32-bit id range`);
      }
    });
  }
  const mapped = (maps: SpecIdMapping[], id: number): boolean => maps.some((m) => id >= m.containerID && id < m.containerID + m.size);
  if (!mapped(uid, 0) || !mapped(gid, 0)) throw new BundleError("user namespaces enabled, but no root user mapping found (containerID 0)");
  const u = process.user;
  if (!mapped(uid, u.uid)) throw new BundleError(`process.user.uid ${u.uid} is not mapped by linux.uidMappings`);
  for (const g of [u.gid, ...(u.additionalGids ?? [])]) {
    if (!mapped(gid, g)) throw new BundleError(`process.user gid ${g} is not mapped by linux.gidMappings`);
  }
  return { uidMappings: uid, gidMappings: gid };
}

/** runc's sysctl validation: namespaced keys only, each with its namespace. */
function checkSysctl(sysctl: Record<string, string>, has: (t: NamespaceType) => boolean): void {
  const ipc = new Set(["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
    "kernel.shmmni", "kernel.shm_rmid_forced"]);
  for (const key of Object.keys(sysctl)) {
    if (!/^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/.test(key) || key.includes("..")) throw new BundleError(`sysctl ${JSON.stringify(key)} is not a valid name`);
    if (ipc.has(key) || key.startsWith("fs.mqueue.")) {
      if (!has("ipc")) throw new BundleError(`sysctl ${JSON.stringify(key)} is not allowed as it conflicts with the OCI "ipc" namespace`);
    } else if (key.startsWith("net.")) {
      if (!has("network")) throw new BundleError(`sysctl ${JSON.stringify(key)} is not allowed as it conflicts with the OCI "network" namespace`);
    } else if (key === "kernel.hostname" || key === "kernel.domainname") {
      throw new BundleError(`sysctl ${JSON.stringify(key)} is not allowed as it conflicts with the OCI "uts" namespace`);
    } else {
      throw new BundleError(`sysctl ${JSON.stringify(key)} is not in a separate kernel namespace`);
    }
  }
}

/** A mount of the bundle: a bind by type or by option, a relative source taken from the bundle (runc chdirs there). */
function bundleMount(dir: string, m: { destination: string; type?: string; source?: string; options?: string[] }, i: number): SpecMount {
  const options = m.options ?? [];
  const bind = m.type === "bind" || options.includes("bind") || options.includes("rbind");
  if (m.destination === "") throw new BundleError(`mounts[${i}].destination must not be empty`);
  const destination = m.destination.startsWith("/") ? m.destination : `/${m.destination}`;
  if (bind) {
    if (!m.source) throw new BundleError(`mounts[${i}] (${destination}): a bind mount needs a source`);
    return { destination, type: "bind", source: isAbsolute(m.source) ? m.source : join(dir, m.source), options };
  }
  if (!m.type) throw new BundleError(`mounts[${i}] (${destination}): the mount type must be given`);
  return { destination, type: m.type, ...(m.source !== undefined ? { source: m.source } : {}), options };
}

function device(d: { path: string; type: string; major?: number; minor?: number; fileMode?: number; uid?: number; gid?: number },
  i: number): SpecDevice {
  const at = `linux.devices[${i}] (${d.path})`;
  if (!d.path.startsWith("/dev/")) throw new BundleError(`${at}: the path must be under /dev`);
  if (d.type !== "c" && d.type !== "b" && d.type !== "u" && d.type !== "p") {
    throw new BundleError(`${at}: invalid device type ${JSON.stringify(d.type)} (c, b, u or p)`);
  }
  if (d.type !== "p" && (d.major === undefined || d.minor === undefined)) throw new BundleError(`${at}: major and minor are required`);
  return {
    path: d.path, type: d.type === "u" ? "c" : d.type, major: d.major ?? 0, minor: d.minor ?? 0,
    ...(d.fileMode !== undefined ? { fileMode: d.fileMode & 0o7777 } : {}),
    ...(d.uid !== undefined ? { uid: d.uid } : {}), ...(d.gid !== undefined ? { gid: d.gid } : {}),
  };
}

type ConfigResources = ReturnType<typeof checkResources>;

function resources(r: Partial<ConfigResources>): LinuxResources {
  const devices: LinuxDeviceCgroup[] = (r.devices ?? []).map((d, i) => {
    if (d.access === undefined || d.access === "") throw new BundleError(`device access at ${i} field cannot be empty`);
    if (d.type !== undefined && d.type !== "a" && d.type !== "b" && d.type !== "c") {
      throw new BundleError(`linux.resources.devices[${i}]: invalid device type ${JSON.stringify(d.type)}`);
    }
    return {
      allow: d.allow, type: (d.type ?? "a") as "a" | "b" | "c", access: d.access,
      ...(d.major !== undefined && d.major >= 0 ? { major: d.major } : {}),
      ...(d.minor !== undefined && d.minor >= 0 ? { minor: d.minor } : {}),
    };
  });
  const out: LinuxResources = { devices: [...devices, ...RUNC_ALLOWED_DEVICES] };
  const m = r.memory;
  // Linux 5.16 and later accept memory.kmem.limit_in_bytes and ignore it: nothing
  // can enforce this field, and runc too warns and goes on.
  if (m?.kernel !== undefined && m.kernel !== 0) log().warn("linux.resources.memory.kernel is ignored: the kernel no longer enforces kernel memory limits");
  if (m) {
    out.memory = {
      ...(m.limit !== undefined ? { limit: m.limit } : {}), ...(m.swap !== undefined ? { swap: m.swap } : {}),
      ...(m.reservation !== undefined ? { reservation: m.reservation } : {}),
      ...(m.swappiness !== undefined ? { swappiness: m.swappiness } : {}),
      ...(m.disableOOMKiller !== undefined ? { disableOOMKiller: m.disableOOMKiller } : {}),
      ...(m.kernelTCP !== undefined ? { kernelTCP: m.kernelTCP } : {}),
    };
  }
  const cpu = r.cpu;
  if (cpu) {
    out.cpu = {
      ...(cpu.shares !== undefined ? { shares: cpu.shares } : {}), ...(cpu.quota !== undefined ? { quota: cpu.quota } : {}),
      ...(cpu.period !== undefined ? { period: cpu.period } : {}), ...(cpu.cpus ? { cpus: cpu.cpus } : {}),
      ...(cpu.mems ? { mems: cpu.mems } : {}),
    };
  }
  if (r.pids) out.pids = { limit: r.pids.limit };
  if (r.blockIO) {
    const { leafWeight: _unused, ...blockIO } = r.blockIO;
    out.blockIO = {
      ...blockIO,
      ...(blockIO.weightDevice ? { weightDevice: blockIO.weightDevice.map(({ major, minor, weight }) => ({ major, minor, ...(weight !== undefined ? { weight } : {}) })) } : {}),
    };
  }
  return out;
}

/** Checks that a container id is one runc accepts (and not one of tsbox-runc's own hidden names). */
export function checkContainerId(id: string): string {
  if (!/^[\w+.-]+$/.test(id) || id === "." || id === ".." || id.startsWith(".") || id.length > 1024) {
    throw new BundleError(`invalid container id format: ${id}`);
  }
  return id;
}

