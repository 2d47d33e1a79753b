// `exec`: the running container's OCI spec + exec flags → the plan the shim's
// child follows to enter the container. Pure, so what an exec'd process gets
// (namespaces, caps, user, rlimits, env) is unit-tested without root; the
// kernel tests check it against the container's own PID 1.

import type { Spec, SpecCapabilities, SpecRlimit } from "./spec.js";
import { CLONE, RLIMIT, preserveFdsOps, seccompAgentOps, seccompOp, sessionKeyring, type SeccompAgent } from "./build-plan.js";
import type { SeccompProgram } from "../native/seccomp-compiler.js";
import { capMask } from "../native/capabilities.js";
import type { Op, Plan } from "../native/launch-plan.js";

const NS_FLAG: Record<string, number> = {
  pid: CLONE.NEWPID, network: CLONE.NEWNET, ipc: CLONE.NEWIPC, uts: CLONE.NEWUTS, mount: CLONE.NEWNS,
  cgroup: CLONE.NEWCGROUP, user: CLONE.NEWUSER,
};

export interface ExecProcess {
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[]; umask?: number };
  capabilities: SpecCapabilities;
  /** tsbox-runc exec --process: the process's own; absent, the container's */
  rlimits?: SpecRlimit[];
  noNewPrivileges?: boolean;
}

export interface ExecPlanContext {
  /** the container's id (its session keyring, which the exec joins) */
  id: string;
  /** the container's init as the host sees it */
  pid: number;
  /** "inherit" (-i): a pipe the CLI copies its stdin to (the exec is launched with spawnWithPipes) */
  stdin: "inherit" | "null";
  /** -t: a pty from the container's devpts, of this size (0 = leave it) */
  tty?: { rows: number; cols: number };
  /** -d: handed to the container's PID 1; no stdio */
  detach: boolean;
  /** the container's spec.linux.seccomp, compiled */
  seccomp?: SeccompProgram;
  /** SCMP_ACT_NOTIFY rules: where the exec's listener goes */
  seccompAgent?: SeccompAgent;
  /** runc's --preserve-fds: the caller's fds 3 .. 3+N-1 reach the process */
  preserveFds?: number;
  /** tsbox-runc exec: the process is handed off to the nearest subreaper, no reaper of tsbox's (HANDOFF) */
  handoff?: boolean;
}

/** The namespaces of the spec an exec joins, as CLONE_NEW* bits (the user namespace, if any, first: JOIN's order). */
export function joinedNamespaces(spec: Spec): number {
  let mask = 0;
  for (const ns of spec.linux.namespaces) mask |= NS_FLAG[ns.type] ?? 0;
  return mask;
}

export function buildExecPlan(spec: Spec, proc: ExecProcess, ctx: ExecPlanContext): Plan {
  const ops: Op[] = [
    { op: "STDIO", stdin: ctx.detach ? "detached" : ctx.stdin },
    ...preserveFdsOps(ctx.preserveFds),
    ...seccompAgentOps(ctx.seccomp, ctx.seccompAgent),
    ...(ctx.handoff ? [{ op: "HANDOFF" } as const] : []),
    { op: "JOIN", pid: ctx.pid, namespaces: joinedNamespaces(spec) },
    sessionKeyring(ctx.id),
  ];
  // A container without a mount namespace is chrooted (CHROOT), not pivoted:
  // joining its namespaces leaves the host's root, so the exec takes its init's.
  if ((joinedNamespaces(spec) & CLONE.NEWNS) === 0) {
    ops.push({ op: "CHDIR", path: `/proc/${ctx.pid}/root` }, { op: "CHROOT" });
  }
  // The container's limits, not the CLI's: an exec must not escape them.
  for (const r of proc.rlimits ?? spec.process.rlimits) {
    const resource = RLIMIT[r.type];
    if (resource === undefined) throw new Error(`unknown rlimit ${r.type}`);
    ops.push({ op: "RLIMIT", resource, soft: BigInt(r.soft), hard: BigInt(r.hard) });
  }
  if (ctx.tty && !ctx.detach) ops.push({ op: "PTY", rows: ctx.tty.rows, cols: ctx.tty.cols, owner: proc.user.uid });
  const caps = proc.capabilities;
  const u = proc.user;
  const nnp = (proc.noNewPrivileges ?? spec.process.noNewPrivileges) === true;
  // The container's filter, placed as in run's plan (after JOIN: the reaper
  // left outside the container is not filtered).
  const seccomp = seccompOp(ctx.seccomp);
  // The cwd as runc reaches it: as root first, then (if that was refused) as the user.
  ops.push({ op: "CWD", path: proc.cwd, late: false });
  if (seccomp && !nnp) ops.push(seccomp);
  ops.push(
    { op: "CAPBSET", keep: capMask(caps.bounding) },
    { op: "USER", uid: u.uid, gid: u.gid, groups: u.additionalGids },
    { op: "CAPS", effective: capMask(caps.effective), permitted: capMask(caps.permitted),
      inheritable: capMask(caps.inheritable), ambient: capMask(caps.ambient) },
  );
  if (nnp) ops.push({ op: "NONEWPRIVS" });
  const umask = u.umask ?? spec.process.user.umask;
  if (umask !== undefined) ops.push({ op: "UMASK", mask: umask });
  ops.push({ op: "CWD", path: proc.cwd, late: true });
  if (seccomp && nnp) ops.push(seccomp);
  if (ctx.detach) ops.push({ op: "DETACH" });
  ops.push({ op: "EXEC", path: proc.args[0]!, argv: proc.args, env: proc.env });
  // No clone flags: the shim's child is a plain fork that joins (JOIN) rather than creates.
  return { cloneFlags: 0, ops };
}

/**
 * The exec'd process's environment, as moby builds it: the container's (which
 * already holds PATH, HOSTNAME, the image's and run's -e), TERM=xterm with -t,
 * then exec's own -e replacing by key. `home` (set with -u) replaces HOME
 * unless -e gives one.
 */
export function execEnv(containerEnv: string[], execFlags: { env: string[]; tty: boolean; home?: string }): string[] {
  const env = new Map<string, string>();
  const key = (e: string): string => (e.includes("=") ? e.slice(0, e.indexOf("=")) : e);
  for (const e of containerEnv) env.set(key(e), e);
  if (execFlags.tty && !env.has("TERM")) env.set("TERM", "TERM=xterm");
  if (execFlags.home !== undefined) env.set("HOME", `HOME=${execFlags.home}`);
  for (const e of execFlags.env) env.set(key(e), e);
  return [...env.values()];
}
