// OCI spec → launch plan: the ordered steps the shim's child performs. Pure, so
// every security-relevant step (mount order, masks, caps, user) is unit-tested
// without root; test/run.test.ts then checks the real result inside containers.

import { join } from "node:path";
import { fitLowerdirs } from "./overlay-lowerdirs.js";
import { MEMORY_MERGE_ANNOTATION, type Spec, type SpecIdMapping, type SpecMount } from "./spec.js";
import { UsageError } from "../errors.js";
import { capMask } from "../native/capabilities.js";
import { MS, mountFlags, recursiveAttrs } from "./mount-options.js";
import type { Op, Plan, StdinMode } from "../native/launch-plan.js";
import { SECCOMP_FILTER_FLAG_NEW_LISTENER, type SeccompProgram } from "../native/seccomp-compiler.js";

export const CLONE = {
  NEWNS: 0x00020000, NEWCGROUP: 0x02000000, NEWUTS: 0x04000000, NEWIPC: 0x08000000,
  NEWUSER: 0x10000000, NEWPID: 0x20000000, NEWNET: 0x40000000,
} as const;

const NS_FLAG: Record<string, number> = {
  pid: CLONE.NEWPID, network: CLONE.NEWNET, ipc: CLONE.NEWIPC, uts: CLONE.NEWUTS, mount: CLONE.NEWNS,
};

export const RLIMIT: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** The shim's OPENPATH slots (native-shims/PLAN.md). */
const MAX_SLOTS = 64;

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

/** Docker's /dev: the spec's required devices and symlinks (config-linux.md). */
const DEVICES: [string, number, number][] = [
  ["/dev/null", 1, 3], ["/dev/zero", 1, 5], ["/dev/full", 1, 7],
  ["/dev/random", 1, 8], ["/dev/urandom", 1, 9], ["/dev/tty", 5, 0],
];
const DEV_LINKS: [string, string][] = [
  ["/proc/self/fd", "/dev/fd"], ["/proc/self/fd/0", "/dev/stdin"], ["/proc/self/fd/1", "/dev/stdout"],
  ["/proc/self/fd/2", "/dev/stderr"], ["pts/ptmx", "/dev/ptmx"], ["/proc/kcore", "/dev/core"],
];

export interface CgroupMountInfo {
  version: "v1" | "v2";
  /** v1 only: hierarchy dir name under /sys/fs/cgroup → mount data (e.g. "cpu,cpuacct" → "cpu,cpuacct", "systemd" → "name=systemd") */
  v1?: { dir: string; data: string }[];
  /** v1 only: symlinks co-mounted controllers get (e.g. cpu → cpu,cpuacct) */
  v1Links?: { name: string; target: string }[];
  /**
   * The container's cgroup in each hierarchy (e.g. "/tsbox/docker/<id>"). Without a
   * cgroup namespace a mounted hierarchy shows the host's whole tree: the
   * container's own directory is then bound over it, as runc does.
   */
  path?: string;
  /**
   * The host's directory holding the v1 hierarchies (`<host>/<dir>`) or the
   * cgroup2 mount (default /sys/fs/cgroup): with a user namespace and no cgroup
   * namespace the kernel refuses a cgroup mount, and the container's own cgroup
   * directories are bound from there instead, as runc does.
   */
  host?: string;
}

export interface PlanContext {
  /** the container's id: its session keyring is `_ses.<id>` */
  id: string;
  /** runc's --preserve-fds: the caller's fds 3 .. 3+N-1 reach the command */
  preserveFds?: number;
  /** host directory that becomes the container's root (inside the child's mount namespace only) */
  rootfs: string;
  /**
   * `tsbox run`: the image's layers, mounted as an overlay on rootfs. Absent
   * (an OCI bundle's root.path): rootfs is used as it is, bind-mounted on
   * itself before PIVOT, as runc does.
   */
  overlay?: { linkDir: string; lowers: string[]; upper: string; work: string };
  /**
   * Without an overlay: the propagation "/" gets first (runc's rootfsPropagation,
   * default MS_SLAVE|MS_REC), and the mount rootfs is on when that left it
   * shared (pivot_root refuses a shared parent; runc's rootfsParentMountPrivate).
   */
  rootPropagation?: number;
  privateParent?: string;
  /** false: no session keyring of its own (`--no-new-keyring`) */
  newKeyring?: boolean;
  /** `tsbox-runc create`: the exec fifo the process waits on before exec (FIFO, FIFOWAIT) */
  execFifo?: string;
  /** stop before PIVOT until the launcher has run the spec's prestart/createRuntime hooks (PAUSE) */
  pauseForHooks?: boolean;
  /** give the spec's device nodes their uid/gid (tsbox-runc; `tsbox run` leaves them root's) */
  deviceOwners?: boolean;
  cgroup: CgroupMountInfo;
  stdin: StdinMode;
  /** --init: host path of a static tini, read by the shim and run from a sealed memfd as PID 1 */
  init?: string;
  /** whether a bind source is a directory (the destination is made to match) */
  bindIsDir: (source: string) => boolean;
  /** whether a bind source is a procfs (runc lets one be bound over /proc: a container sharing the host's PID namespace) */
  bindIsProcfs?: (source: string) => boolean;
  /** mount the root nodev: where device rules are not enforced, no node in the image may be opened */
  rootNodev?: boolean;
  /** the compiled spec.linux.seccomp, if the spec has one */
  seccomp?: SeccompProgram;
  /** SCMP_ACT_NOTIFY rules: where the launcher sends the filter's listener (see seccompAgentOps) */
  seccompAgent?: SeccompAgent;
  /**
   * tsbox-runc: the OCI state its createContainer / startContainer hooks read
   * on stdin, split where the process's own pid goes (it knows it, the
   * launcher does not yet: runc's getpid())
   */
  hookStates?: Partial<Record<ContainerHookKind, { prefix: string; suffix: string }>>;
}

export type ContainerHookKind = "createContainer" | "startContainer";

/** The spec's seccomp agent: its socket, and the container process's state sent with the listener (\x01: the pid). */
export interface SeccompAgent { path: string; message: string }

/** The spec's hooks of this kind as HOOK ops (runc's error text names each "<kind> hook #i"). */
function hookOps(spec: Spec, kind: ContainerHookKind, ctx: PlanContext): Op[] {
  const state = ctx.hookStates?.[kind];
  return (spec.hooks?.[kind] ?? []).map((h, i) => ({
    op: "HOOK", label: `${kind} hook #${i}`, timeout: h.timeout ?? 0, path: h.path, argv: h.args ?? [h.path],
    env: h.env ?? [], statePrefix: state?.prefix ?? "", stateSuffix: state?.suffix ?? "",
  }));
}

/** RLIM_INFINITY as JSON carries it (2^64-1 reads back as 2^64, past a u64): anything from there up is unlimited. */
const rlimitValue = (v: number): bigint => (v >= 2 ** 64 - 1 ? 0xffffffffffffffffn : BigInt(v));

export function buildPlan(spec: Spec, ctx: PlanContext): Plan {
  let cloneFlags = 0;
  let cgroupNs: Op | undefined;
  let mountNs: Op | undefined;
  let pidNs: Op | undefined;
  let userPath: string | undefined;
  const joins: Op[] = [];
  for (const ns of spec.linux.namespaces) {
    if (ns.type === "user") {
      if (ns.path) userPath = ns.path;
      else cloneFlags |= CLONE.NEWUSER;
      continue;
    }
    const flag = ns.type === "cgroup" ? CLONE.NEWCGROUP : NS_FLAG[ns.type];
    if (flag === undefined) continue;
    // An existing namespace (a pod's network namespace) is joined, not created.
    const op: Op | undefined = ns.path ? { op: "SETNS", path: ns.path, flag } : undefined;
    if (ns.type === "cgroup") cgroupNs = op ?? { op: "UNSHARE", flags: CLONE.NEWCGROUP };
    else if (op && ns.type === "pid") pidNs = { op: "PIDNS", path: ns.path! };
    else if (op && ns.type === "mount") mountNs = op;
    else if (op) joins.push(op);
    else cloneFlags |= flag;
  }
  // The namespaces made for the container (by clone, or by unshare inside a joined user namespace).
  const own = cloneFlags;
  const userns = (own & CLONE.NEWUSER) !== 0 || userPath !== undefined;
  // Right after STDIO (the first op): before any step closes the fds that are not to reach the container.
  const ops: Op[] = [{ op: "STDIO", stdin: ctx.stdin }, ...preserveFdsOps(ctx.preserveFds), ...seccompAgentOps(ctx.seccomp, ctx.seccompAgent)];
  // A new user namespace: the launcher maps it while the child waits (PROCWRITE).
  if (own & CLONE.NEWUSER) {
    ops.push({ op: "PROCWRITE", file: "uid_map", value: idMap(spec.linux.uidMappings ?? []) },
      { op: "PROCWRITE", file: "gid_map", value: idMap(spec.linux.gidMappings ?? []) });
  }
  // Lowering it takes CAP_SYS_RESOURCE in the host's user namespace, which a
  // process in a user namespace of its own lacks: the launcher writes it then.
  const oom = spec.process.oomScoreAdj;
  if (userns && oom !== undefined) ops.push({ op: "PROCWRITE", file: "oom_score_adj", value: String(oom) });
  if (userPath !== undefined) {
    // Joined first: the other namespaces are then made inside it, owned by it
    // (runc's order); the PID namespace by a fork (PIDNS), as for one by path.
    ops.push({ op: "SETNS", path: userPath, flag: CLONE.NEWUSER });
    const unshare = cloneFlags & ~CLONE.NEWPID;
    if (unshare) ops.push({ op: "UNSHARE", flags: unshare });
    if (cloneFlags & CLONE.NEWPID) pidNs = { op: "PIDNS", path: "" };
    cloneFlags = 0;
  }
  // The PID namespace last: the process forked into it inherits the others.
  ops.push(...joins, ...(pidNs ? [pidNs] : []));
  if (!userns && oom !== undefined) {
    ops.push({ op: "WRITEFILE", path: "/proc/self/oom_score_adj", value: String(oom) });
  }
  // Host paths (the exec fifo, bind sources) must be opened before the host's
  // root goes away, and before a mount namespace given by path is joined.
  const binds = spec.mounts.filter((m) => m.type === "bind");
  const hostOpens: Op[] = binds.map((m, slot) => ({ op: "OPENPATH", slot, path: m.source ?? "" }));
  const fifo: Op[] = ctx.execFifo !== undefined ? [{ op: "FIFO", path: ctx.execFifo }] : [];
  // Where the host paths are opened in a user namespace: see below.
  let nsRootAt = -1;
  if (userns) {
    // The exec fifo is in the runtime's own state directory (runc opens it in
    // its parent); everything after is done as the namespace's root, the
    // bundle reached with the mapped ids, as runc reaches it.
    ops.push(...fifo);
    nsRootAt = ops.length;
    ops.push({ op: "NSROOT" });
  } else {
    hostOpens.unshift(...fifo);
  }
  if (ctx.newKeyring !== false) ops.push(sessionKeyring(ctx.id));
  // The cgroup namespace is entered only after the parent placed the child in its
  // cgroup, so that the container sees its own cgroup as the root.
  if (cgroupNs) ops.push(cgroupNs);

  // After PIVOT every path is inside the container: a symlink in the image
  // cannot point a mount outside it. Planned first: in a user namespace, what
  // cannot be made there (device nodes, sysfs without a network namespace of
  // its own, cgroup hierarchies without a cgroup namespace) is bound from the
  // host, and those host paths are opened with the bind sources, before PIVOT.
  const slots = hostSlots(binds.length, hostOpens);
  const fromHost: FromHost | undefined = userns
    ? { ...slots, sysfs: (own & CLONE.NEWNET) === 0, cgroup: cgroupNs === undefined }
    : undefined;
  const mounts: Op[] = [];
  // A read-only /dev (runc's finalizeRootfs): mounted writable, so that its
  // devices and links can be made, and remounted read-only at the end.
  let devReadonly: Op | undefined;
  for (const specMount of spec.mounts) {
    let m = specMount;
    if (m.destination === "/dev" && m.type !== "bind" && (mountFlags(m.options).flags & MS.RDONLY) !== 0) {
      m = { ...m, options: (m.options ?? []).filter((o) => o !== "ro") };
      devReadonly = { op: "REMOUNT", path: "/dev", flags: mountFlags(m.options).flags | MS.RDONLY };
    }
    if (m.type === "bind") mounts.push(...bindOps(m, binds.indexOf(m), ctx));
    else mounts.push(...mountOps(m, ctx, spec, fromHost));
    if (m.destination === "/dev") mounts.push(...devOps(spec, ctx.deviceOwners === true, fromHost?.open));
  }

  // No mount namespace at all (runc's chroot()): nothing is done to the
  // host's "/"; the spec's mounts land in the host's mount namespace, below the
  // root, where `delete` unmounts them.
  const hostMountNs = !(own & CLONE.NEWNS) && mountNs === undefined;
  // In a user namespace the host paths (bind sources, the host's device nodes)
  // are opened before NSROOT, with the host's ids: a source only root may
  // enter (mode 700) is then still reached, as runc 1.1 opens them in its
  // parent (its mount fds). The detached new mounts (FSMOUNT) stay after it.
  if (nsRootAt >= 0) {
    const opens = hostOpens.filter((o) => o.op === "OPENPATH");
    ops.splice(nsRootAt, 0, ...opens);
    hostOpens.splice(0, hostOpens.length, ...hostOpens.filter((o) => o.op !== "OPENPATH"));
  }
  if (ctx.overlay) ops.push(...overlayRootOps(ctx, ctx.overlay), ...hostOpens);
  else if (hostMountNs) ops.push(...hostOpens);
  else ops.push(...hostOpens, ...(mountNs ? [mountNs] : []), ...boundRootOps(ctx));

  // The namespaces exist, the old root is still there: runc's point for the runtime's hooks.
  if (ctx.pauseForHooks) ops.push({ op: "PAUSE" });
  // createContainer: in the container's namespaces, cwd the rootfs, before
  // pivot_root (runc's place); the spec's mounts come after PIVOT here.
  ops.push({ op: "CHDIR", path: ctx.rootfs }, ...hookOps(spec, "createContainer", ctx), { op: hostMountNs ? "CHROOT" : "PIVOT" }, ...mounts);

  // In the container's procfs and namespaces, before /proc/sys is made read-only.
  for (const [key, value] of Object.entries(spec.linux.sysctl ?? {})) {
    ops.push({ op: "WRITEFILE", path: `/proc/sys/${key.replaceAll(".", "/")}`, value });
  }
  for (const p of spec.linux.maskedPaths) ops.push({ op: "MASK", path: p });
  for (const p of spec.linux.readonlyPaths) ops.push({ op: "READONLY", path: p });
  // A missing cwd is made before the root turns read-only (runc and Docker do; `-w /new --read-only` works).
  if (spec.root.readonly) ops.push({ op: "MKDIR", path: spec.process.cwd, mode: 0o755 }, { op: "REMOUNT", path: "/", flags: MS.BIND | MS.RDONLY });

  // Only in a UTS namespace of its own: otherwise these would be the host's names.
  if (own & CLONE.NEWUTS) {
    if (spec.hostname !== "") ops.push({ op: "HOSTNAME", name: spec.hostname });
    if (spec.domainname !== undefined && spec.domainname !== "") ops.push({ op: "DOMAINNAME", name: spec.domainname });
  }
  if (own & CLONE.NEWNET) ops.push({ op: "LOUP" });
  for (const r of spec.process.rlimits) {
    const resource = RLIMIT[r.type];
    if (resource === undefined) throw new Error(`unknown rlimit ${r.type}`);
    ops.push({ op: "RLIMIT", resource, soft: rlimitValue(r.soft), hard: rlimitValue(r.hard) });
  }
  if (spec.process.terminal) {
    const size = spec.process.consoleSize;
    ops.push({ op: "PTY", rows: size?.height ?? 0, cols: size?.width ?? 0, owner: spec.process.user.uid });
  }
  // After PTY, which binds the terminal over /dev/console.
  if (devReadonly) ops.push(devReadonly);
  if (!spec.root.readonly) ops.push({ op: "MKDIR", path: spec.process.cwd, mode: 0o755 });
  // Before the capability drop: the prctl is made while the child is still fully privileged.
  if (spec.annotations?.[MEMORY_MERGE_ANNOTATION] === "true") ops.push({ op: "MEMMERGE" });

  const caps = spec.process.capabilities;
  const u = spec.process.user;
  const nnp = spec.process.noNewPrivileges === true;
  const seccomp = seccompOp(ctx.seccomp);
  // As runc: without no_new_privs loading a filter needs CAP_SYS_ADMIN, so it
  // comes before the capability drop; with it, as late as possible.
  // The cwd as runc reaches it: as root first, then (if that was refused) as the user.
  ops.push({ op: "CWD", path: spec.process.cwd, late: false });
  if (seccomp && !nnp) ops.push(seccomp);
  ops.push(
    { op: "CAPBSET", keep: capMask(caps.bounding) },
    { op: "USER", uid: u.uid, gid: u.gid, groups: u.additionalGids ?? [] },
    { op: "CAPS", effective: capMask(caps.effective), permitted: capMask(caps.permitted),
      inheritable: capMask(caps.inheritable), ambient: capMask(caps.ambient) },
  );
  if (nnp) ops.push({ op: "NONEWPRIVS" });
  if (u.umask !== undefined) ops.push({ op: "UMASK", mask: u.umask });
  ops.push({ op: "CWD", path: spec.process.cwd, late: true });
  // A filter with a listener is loaded while `create` is there to hand the
  // listener to the agent (runc 1.1 loads it before its fifo wait too).
  const listens = ((ctx.seccomp?.flags ?? 0) & SECCOMP_FILTER_FLAG_NEW_LISTENER) !== 0;
  if (seccomp && nnp && listens) ops.push(seccomp);
  // Set up, waiting for `start`; the late filter after it, as close to exec as runc puts it.
  if (ctx.execFifo !== undefined) ops.push({ op: "FIFOWAIT" });
  // Before the startContainer hooks, as runc 1.1 loads it: they run filtered
  // (the container's process runs them); before INIT: tini, the container's PID 1, is filtered too.
  if (seccomp && nnp && !listens) ops.push(seccomp);
  // startContainer: after start, before the command (the last one lets `start` return).
  ops.push(...hookOps(spec, "startContainer", ctx));
  if (ctx.init !== undefined) ops.push({ op: "INIT", path: ctx.init });
  ops.push({ op: "EXEC", path: spec.process.args[0]!, argv: spec.process.args, env: spec.process.env });
  return { cloneFlags, ops };
}

/** A uid_map / gid_map as the kernel reads it: one "inside outside count" line per range. */
function idMap(maps: SpecIdMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join("\n");
}

/**
 * Slots after the bind mounts' for what a user namespace's container gets from
 * before PIVOT: host paths to bind (OPENPATH) and detached new mounts (FSMOUNT).
 */
function hostSlots(first: number, opens: Op[]): Pick<FromHost, "open" | "mount"> {
  let next = first;
  const take = (): number => {
    if (next >= MAX_SLOTS) throw new UsageError(`a container with a user namespace can have at most ${MAX_SLOTS} bind mounts, devices and proc/sysfs mounts`, 1);
    return next++;
  };
  return {
    open: (path) => {
      const slot = take();
      opens.push({ op: "OPENPATH", slot, path });
      return slot;
    },
    mount: (m) => {
      const slot = take();
      const { flags, data } = mountFlags(m.options);
      opens.push({ op: "FSMOUNT", slot, fstype: m.type ?? "", source: m.source ?? m.type ?? "", flags, data });
      return slot;
    },
  };
}

/**
 * `tsbox run`: the image's layers as an overlay on rootfs, in a mount tree made
 * private. Overlay lowerdirs are short names relative to the link dir, so that
 * many layers fit in the one page the mount data may take; deeper images mount
 * runs of bottom layers as read-only overlays first (see overlay-lowerdirs.ts).
 */
function overlayRootOps(ctx: PlanContext, overlay: NonNullable<PlanContext["overlay"]>): Op[] {
  const { linkDir, upper, work } = overlay;
  const rest = `,upperdir=${upper},workdir=${work}`;
  const { lowers, stacks } = fitLowerdirs(overlay.lowers, rest);
  const ops: Op[] = [{ op: "PRIVATE" }, { op: "CHDIR", path: linkDir }];
  for (const s of stacks) {
    ops.push({ op: "MOUNT", source: "overlay", target: join(linkDir, s.target), fstype: "overlay", flags: MS.RDONLY,
      data: `lowerdir=${s.lowers.join(":")}` });
  }
  ops.push({ op: "MOUNT", source: "overlay", target: ctx.rootfs, fstype: "overlay", flags: ctx.rootNodev ? MS.NODEV : 0,
    data: `lowerdir=${lowers.join(":")}${rest}` });
  return ops;
}

/**
 * An OCI bundle's root as it is (runc's prepareRoot): "/" gets the root
 * propagation, the mount rootfs is on is made private if that left it shared,
 * and rootfs is bound on itself, so that it is a mount PIVOT can make the root.
 */
function boundRootOps(ctx: PlanContext): Op[] {
  const ops: Op[] = [{ op: "MOUNT", source: "", target: "/", fstype: "", flags: ctx.rootPropagation ?? (MS.SLAVE | MS.REC), data: "" }];
  if (ctx.privateParent !== undefined) {
    ops.push({ op: "MOUNT", source: "", target: ctx.privateParent, fstype: "", flags: MS.PRIVATE, data: "" });
  }
  ops.push({ op: "MOUNT", source: ctx.rootfs, target: ctx.rootfs, fstype: "", flags: MS.BIND | MS.REC, data: "" });
  return ops;
}

/**
 * A plan about to be launched, with its process placed in its cgroup without
 * the launcher writing the pid to cgroup.procs (~15 ms: see PLAN.md). v1: the
 * process joins itself (CGOPEN the `tasks` files, CGJOIN) first thing after
 * the stdio steps, or, in an exec plan, opened before JOIN and joined by the
 * process JOIN forks inside. v2 (`cloneInto`): the launcher clones the child
 * into it (CLONEINTO). Unchanged (joined: false) otherwise, with a PID
 * namespace by path, on v1 with a new user namespace, on v2 for an exec:
 * the launcher places the process then.
 */
export function withCgroupJoin(plan: Plan, tasksFiles: readonly string[], cloneInto?: string): { plan: Plan; joined: boolean } {
  const forks = plan.ops.some((o) => o.op === "PIDNS");
  const stdioEnd = (): number => {
    let at = 0;
    while (at < plan.ops.length && (plan.ops[at]!.op === "STDIO" || plan.ops[at]!.op === "PRESERVEFDS")) at++;
    return at;
  };
  if (cloneInto !== undefined) {
    if (forks || plan.ops.some((o) => o.op === "JOIN")) return { plan, joined: false };
    const at = stdioEnd();
    return { plan: { ...plan, ops: [...plan.ops.slice(0, at), { op: "CLONEINTO", path: cloneInto }, ...plan.ops.slice(at)] }, joined: true };
  }
  if (tasksFiles.length === 0 || (plan.cloneFlags & CLONE.NEWUSER) !== 0 || forks) return { plan, joined: false };
  const opens: Op[] = tasksFiles.map((path) => ({ op: "CGOPEN", path }));
  const join = plan.ops.findIndex((o) => o.op === "JOIN");
  const at = join < 0 ? stdioEnd() : join;
  const after = join < 0 ? at : join + 1;
  const ops = [...plan.ops.slice(0, at), ...opens, ...plan.ops.slice(at, after), { op: "CGJOIN" } as const, ...plan.ops.slice(after)];
  return { plan: { ...plan, ops }, joined: true };
}

export function preserveFdsOps(count: number | undefined): Op[] {
  return count !== undefined && count > 0 ? [{ op: "PRESERVEFDS", count }] : [];
}

/**
 * The launcher's note of where a filter's listener goes: a filter loaded with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER needs it (runc: "listenerPath is not set").
 */
export function seccompAgentOps(p: SeccompProgram | undefined, agent: SeccompAgent | undefined): Op[] {
  if (!p || (p.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) === 0) return [];
  if (!agent || agent.path === "") throw new UsageError("linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath (the agent's socket)", 1);
  return [{ op: "SECCOMPAGENT", path: agent.path, message: agent.message }];
}

export function seccompOp(p: SeccompProgram | undefined): Op | undefined {
  return p ? { op: "SECCOMP", flags: p.flags, bpf: p.bpf } : undefined;
}

/**
 * A session keyring of the container's own (as runc: `_ses.<id>`), so that the
 * host's session keys are out of reach; exec joins the same one by name.
 */
export function sessionKeyring(id: string): Op {
  return { op: "KEYRING", name: `_ses.${id}` };
}

// TARGET resolves each destination inside the root first (a symlink in the
// image is followed there, never out of it) and refuses the root, /proc and,
// for binds, /sys; the ops after it create and mount the resolved path.
function bindOps(m: SpecMount, slot: number, ctx: PlanContext): Op[] {
  const { flags } = mountFlags(m.options);
  const make: Op = ctx.bindIsDir(m.source ?? "")
    ? { op: "MKDIR", path: m.destination, mode: 0o755 }
    : { op: "ENSUREFILE", path: m.destination };
  const kind = m.destination === "/proc" && ctx.bindIsProcfs?.(m.source ?? "") === true ? "procfs-bind" : "bind";
  return [{ op: "TARGET", path: m.destination, kind }, make,
    { op: "BINDFD", slot, target: m.destination, flags: flags & ~MS.BIND }, ...setAttrOps(m)];
}

/** rro, rnosuid…: the mount's recursive attributes, once it and what is below it are there. */
function setAttrOps(m: SpecMount): Op[] {
  const attrs = recursiveAttrs(m.options);
  return attrs ? [{ op: "SETATTR", path: m.destination, set: attrs.set, clear: attrs.clear }] : [];
}

function cgroupNamespace(spec: Spec): boolean {
  return spec.linux.namespaces.some((n) => n.type === "cgroup");
}

/** In a user namespace: what is bound from the host instead of made (see buildPlan). */
interface FromHost {
  /** the slot of a host path, opened before PIVOT */
  open: (hostPath: string) => number;
  /** the slot of a new mount of m made before PIVOT (proc, sysfs: see FSMOUNT in native-shims/PLAN.md) */
  mount: (m: SpecMount) => number;
  /** no network namespace of the container's own: the kernel refuses a sysfs mount */
  sysfs: boolean;
  /** no cgroup namespace of its own: the kernel refuses a cgroup mount */
  cgroup: boolean;
}

function mountOps(m: SpecMount, ctx: PlanContext, spec: Spec, fromHost?: FromHost): Op[] {
  return [...placeMount(m, ctx, spec, fromHost), ...setAttrOps(m)];
}

function placeMount(m: SpecMount, ctx: PlanContext, spec: Spec, fromHost?: FromHost): Op[] {
  const { flags, data } = mountFlags(m.options);
  const ops: Op[] = [{ op: "TARGET", path: m.destination, kind: m.type ?? "" }, { op: "MKDIR", path: m.destination, mode: 0o755 }];
  if (m.type === "proc" || m.type === "sysfs") ops.push({ op: "CHECKDIR", path: m.destination });
  if (m.type === "cgroup") {
    const bindFrom = fromHost?.cgroup ? fromHost.open : undefined;
    return [...ops, ...cgroupOps(m.destination, flags, ctx.cgroup, !cgroupNamespace(spec), bindFrom)];
  }
  if (m.type === "sysfs" && fromHost?.sysfs) {
    // runc's fallback: the host's /sys, recursively, with the mount's flags.
    ops.push({ op: "BINDFD", slot: fromHost.open("/sys"), target: m.destination, flags: flags | MS.REC });
    return ops;
  }
  if ((m.type === "proc" || m.type === "sysfs") && fromHost) {
    ops.push({ op: "BINDFD", slot: fromHost.mount(m), target: m.destination, flags });
    return ops;
  }
  ops.push({ op: "MOUNT", source: m.source ?? m.type ?? "none", target: m.destination, fstype: m.type ?? "", flags, data });
  return ops;
}

function cgroupOps(dest: string, flags: number, cg: CgroupMountInfo, hostView: boolean,
  bindFrom?: (hostPath: string) => number): Op[] {
  // Without a cgroup namespace: the container's own cgroup bound over the hierarchy's root.
  const own = (target: string): Op[] => (hostView && cg.path !== undefined && cg.path !== "/"
    ? [{ op: "MOUNT", source: `${target}${cg.path}`, target, fstype: "", flags: MS.BIND | flags, data: "" }]
    : []);
  // In a user namespace without a cgroup namespace: the container's own cgroup
  // directory bound from the host's hierarchy (runc's v1 layout).
  const host = cg.host ?? "/sys/fs/cgroup";
  const mountOrBind = (target: string, fstype: string, data: string, hostDir: string): Op[] => (bindFrom
    ? [{ op: "BINDFD", slot: bindFrom(`${hostDir}${cg.path === "/" ? "" : cg.path ?? ""}`), target, flags }]
    : [{ op: "MOUNT", source: "cgroup", target, fstype, flags, data }, ...own(target)]);
  if (cg.version === "v2") return mountOrBind(dest, "cgroup2", "", host);
  // v1: a tmpfs holding one mount per hierarchy, as Docker lays it out; for a
  // read-only cgroup mount (all but --privileged) the hierarchies are mounted
  // read-only and the tmpfs itself is made read-only once populated (runc's mountCgroupV1).
  const rw = flags & ~MS.RDONLY;
  const ops: Op[] = [{ op: "MOUNT", source: "tmpfs", target: dest, fstype: "tmpfs", flags: rw, data: "mode=755" }];
  for (const h of cg.v1 ?? []) {
    const target = `${dest}/${h.dir}`;
    ops.push({ op: "MKDIR", path: target, mode: 0o755 }, ...mountOrBind(target, "cgroup", h.data, `${host}/${h.dir}`));
  }
  for (const l of cg.v1Links ?? []) ops.push({ op: "SYMLINK", target: l.target, path: `${dest}/${l.name}` });
  if (flags & MS.RDONLY) ops.push({ op: "REMOUNT", path: dest, flags });
  return ops;
}

const S_IFIFO = 0o010000;
const S_IFMT = 0o170000;

/**
 * Docker's /dev nodes, then the spec's. In a user namespace mknod is refused:
 * each char or block device is the host's node of the same path bound on an
 * empty file (runc's bindMountDeviceNode), keeping the host's owner and mode.
 */
function devOps(spec: Spec, owners: boolean, bindFrom?: (hostPath: string) => number): Op[] {
  const node = (path: string, mode: number, major: number, minor: number): Op[] => (bindFrom && (mode & S_IFMT) !== S_IFIFO
    ? [{ op: "ENSUREFILE", path }, { op: "BINDFD", slot: bindFrom(path), target: path, flags: 0 }]
    : [{ op: "MKNOD", path, mode, major, minor }]);
  const ops: Op[] = DEVICES.flatMap(([path, major, minor]) => node(path, S_IFCHR | 0o666, major, minor));
  // The spec's own devices (--privileged: the host's), after the defaults (the
  // host's mode wins for the same node); not where /dev's symlinks go (the
  // host's /dev/ptmx gives way to pts/ptmx, as runc's setupPtmx does).
  const links = new Set(DEV_LINKS.map(([, path]) => path));
  const dirs = new Set<string>(["/dev"]);
  const bound = new Set<string>(bindFrom ? DEVICES.map(([path]) => path) : []);
  for (const d of spec.linux.devices ?? []) {
    // The nodes are made in the container's /dev tmpfs: one elsewhere (Docker and runc make it in the root
    // filesystem) is refused by name rather than left out.
    if (!d.path.startsWith("/dev/")) throw new UsageError(`device ${d.path}: a device node outside /dev is not supported`);
    if (links.has(d.path) || d.path === "/dev/console") continue;
    const dir = d.path.slice(0, d.path.lastIndexOf("/"));
    if (!dirs.has(dir)) {
      dirs.add(dir);
      ops.push({ op: "MKDIR", path: dir, mode: 0o755 });
    }
    const kind = d.type === "b" ? S_IFBLK : d.type === "p" ? S_IFIFO : S_IFCHR;
    // Bound already (a default device listed again): the host's node is there.
    if (bindFrom && kind !== S_IFIFO && bound.has(d.path)) continue;
    bound.add(d.path);
    ops.push(...node(d.path, kind | ((d.fileMode ?? 0o666) & 0o7777),
      d.type === "p" ? 0 : d.major, d.type === "p" ? 0 : d.minor));
    // A bound node is the host's: never chowned from inside.
    if (owners && !(bindFrom && kind !== S_IFIFO) && ((d.uid ?? 0) !== 0 || (d.gid ?? 0) !== 0)) {
      ops.push({ op: "CHOWN", path: d.path, uid: d.uid ?? 0, gid: d.gid ?? 0 });
    }
  }
  for (const [target, path] of DEV_LINKS) ops.push({ op: "SYMLINK", target, path });
  if (spec.process.terminal) ops.push({ op: "ENSUREFILE", path: "/dev/console" });
  return ops;
}
