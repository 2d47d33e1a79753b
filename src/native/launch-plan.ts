// A launch plan: the exact sequence of steps the native shim's cloned child
// performs between clone() and execve(). Policy (which mounts, which caps, which
// user) is decided in TypeScript from the OCI spec; the C side only interprets
// these ops, so the child never runs JavaScript and the plan is unit-testable
// without root. Wire format: native-shims/PLAN.md.

import { UsageError } from "../errors.js";

export const PLAN_MAGIC = "tsbox-plan/1";

/**
 * Whether the container gets a stdin: "inherit" (-i) a pipe the CLI feeds
 * (launched with spawnWithPipes; the monitor's plan hands over its own fds),
 * "null" /dev/null; "detached": stdin, stdout and stderr all /dev/null (exec -d).
 * The CLI's own fds never reach a container (native-shims/PLAN.md, STDIO).
 */
export type StdinMode = "inherit" | "null" | "detached";

export type Op =
  | { op: "STDIO"; stdin: StdinMode }
  | { op: "UNSHARE"; flags: number }
  | { op: "PRIVATE" }
  | { op: "MOUNT"; source: string; target: string; fstype: string; flags: number; data: string }
  | { op: "MKDIR"; path: string; mode: number }
  | { op: "ENSUREFILE"; path: string }
  | { op: "CHDIR"; path: string }
  | { op: "OPENPATH"; slot: number; path: string }
  | { op: "BINDFD"; slot: number; target: string; flags: number }
  | { op: "PIVOT" }
  /** a container without a mount namespace: chroot(".") instead of PIVOT (runc's chroot()) */
  | { op: "CHROOT" }
  /** the launcher's (no-op in the child): a v2 cgroup the child is cloned into (clone3 CLONE_INTO_CGROUP) */
  | { op: "CLONEINTO"; path: string }
  /** a v1 cgroup's `tasks` file, opened for CGJOIN (see withCgroupJoin) */
  | { op: "CGOPEN"; path: string }
  /** the process joins its cgroup itself: "0" to each CGOPEN'd file */
  | { op: "CGJOIN" }
  /**
   * the launcher's (no-op in the child): where SECCOMP's listener goes (the
   * spec's listenerPath) and the message sent with it, \x01 where the pid goes
   */
  | { op: "SECCOMPAGENT"; path: string; message: string }
  | { op: "CHECKDIR"; path: string }
  | { op: "MASK"; path: string }
  | { op: "READONLY"; path: string }
  | { op: "MKNOD"; path: string; mode: number; major: number; minor: number }
  | { op: "SYMLINK"; target: string; path: string }
  | { op: "CHOWN"; path: string; uid: number; gid: number }
  | { op: "REMOUNT"; path: string; flags: number }
  | { op: "HOSTNAME"; name: string }
  | { op: "LOUP" }
  | { op: "RLIMIT"; resource: number; soft: bigint; hard: bigint }
  | { op: "CWD"; path: string; /** false: as root, before the user switch, a permission error left to the late one */ late: boolean }
  | { op: "PRESERVEFDS"; count: number }
  | { op: "SETATTR"; path: string; set: number; clear: number }
  | { op: "PTY"; rows: number; cols: number; /** uid to own the terminal; absent: left as made */ owner?: number }
  | { op: "CAPBSET"; keep: bigint }
  | { op: "USER"; uid: number; gid: number; groups: number[] }
  | { op: "CAPS"; effective: bigint; permitted: bigint; inheritable: bigint; ambient: bigint }
  | { op: "INIT"; path: string }
  | { op: "KEYRING"; name: string }
  | { op: "TARGET"; path: string; kind: string }
  | { op: "MEMMERGE" }
  | { op: "JOIN"; pid: number; namespaces: number }
  /** before JOIN: its process outside exits instead of reaping (the exec'd process is the engine's to reap) */
  | { op: "HANDOFF" }
  /** report "paused" and wait for a second tsbox_start: the launcher runs hooks on the child's namespaces meanwhile */
  | { op: "PAUSE" }
  | { op: "DETACH" }
  | { op: "NONEWPRIVS" }
  /** a classic BPF program (struct sock_filter[]) for seccomp(SECCOMP_SET_MODE_FILTER, flags) */
  | { op: "SECCOMP"; flags: number; bpf: Buffer }
  /** tsbox-runc create: the exec fifo, opened (O_PATH) before PIVOT */
  | { op: "FIFO"; path: string }
  /** tsbox-runc create: report "created", then wait until `start` reads the fifo (runc's exec fifo) */
  | { op: "FIFOWAIT" }
  /** writes value to an existing file: a sysctl under /proc/sys, /proc/self/oom_score_adj */
  | { op: "WRITEFILE"; path: string; value: string }
  | { op: "DOMAINNAME"; name: string }
  | { op: "UMASK"; mask: number }
  /** joins an existing namespace (CLONE_NEW* flag) by path */
  | { op: "SETNS"; path: string; flag: number }
  /** joins a PID namespace by path: forks into it (the launcher learns the pid from startJoin) */
  | { op: "PIDNS"; path: string }
  /**
   * a spec hook run by the container's process (createContainer before PIVOT,
   * startContainer after FIFOWAIT): the state on its stdin is
   * statePrefix + the process's pid + stateSuffix; timeout in seconds, 0 none
   */
  | { op: "HOOK"; label: string; timeout: number; path: string; argv: string[]; env: string[]; statePrefix: string; stateSuffix: string }
  /**
   * done by the launcher, not the child: /proc/<child>/<file> written after clone,
   * before the child is released (uid_map, gid_map; oom_score_adj in a user namespace)
   */
  | { op: "PROCWRITE"; file: "uid_map" | "gid_map" | "oom_score_adj"; value: string }
  /** a new mount made detached into a slot (fsopen/fsmount), before PIVOT; BINDFD attaches it */
  | { op: "FSMOUNT"; slot: number; fstype: string; source: string; flags: number; data: string }
  /** setgroups([]), setresgid(0), setresuid(0): root of the (mapped or joined) user namespace */
  | { op: "NSROOT" }
  | { op: "EXEC"; path: string; argv: string[]; env: string[] };

export interface Plan {
  /** clone(2) flags (namespaces); SIGCHLD is added by the shim. */
  cloneFlags: number;
  ops: Op[];
}

const u64 = (v: bigint): string => v.toString(10);

/** Flattens a plan into the string array the shim parses (see PLAN.md). */
export function encodePlan(plan: Plan): string[] {
  const out: string[] = [PLAN_MAGIC, String(plan.cloneFlags)];
  for (const o of plan.ops) {
    out.push(o.op);
    switch (o.op) {
      case "STDIO": out.push(o.stdin); break;
      case "UNSHARE": out.push(String(o.flags)); break;
      case "PRIVATE": case "PIVOT": case "CHROOT": case "CGJOIN": case "LOUP": case "DETACH": case "NONEWPRIVS": case "MEMMERGE": case "FIFOWAIT": case "HANDOFF": case "PAUSE": case "NSROOT": break;
      case "JOIN": out.push(String(o.pid), String(o.namespaces)); break;
      case "PRESERVEFDS": out.push(String(o.count)); break;
      case "SETATTR": out.push(o.path, String(o.set), String(o.clear)); break;
      case "CWD": out.push(o.path, o.late ? "1" : "0"); break;
      case "PTY": out.push(String(o.rows), String(o.cols), String(o.owner ?? 0xffffffff)); break;
      case "MOUNT": out.push(o.source, o.target, o.fstype, String(o.flags), o.data); break;
      case "MKDIR": out.push(o.path, String(o.mode)); break;
      case "CGOPEN": case "CLONEINTO": case "ENSUREFILE": case "CHDIR": case "CHECKDIR": case "MASK": case "READONLY": out.push(o.path); break;
      case "OPENPATH": out.push(String(o.slot), o.path); break;
      case "BINDFD": out.push(String(o.slot), o.target, String(o.flags)); break;
      case "MKNOD": out.push(o.path, String(o.mode), String(o.major), String(o.minor)); break;
      case "SYMLINK": out.push(o.target, o.path); break;
      case "CHOWN": out.push(o.path, String(o.uid), String(o.gid)); break;
      case "REMOUNT": out.push(o.path, String(o.flags)); break;
      case "HOSTNAME": case "KEYRING": case "DOMAINNAME": out.push(o.name); break;
      case "WRITEFILE": out.push(o.path, o.value); break;
      case "SECCOMPAGENT": out.push(o.path, o.message); break;
      case "PROCWRITE": out.push(o.file, o.value); break;
      case "FSMOUNT": out.push(String(o.slot), o.fstype, o.source, String(o.flags), o.data); break;
      case "UMASK": out.push(String(o.mask)); break;
      case "SETNS": out.push(o.path, String(o.flag)); break;
      case "INIT": case "FIFO": case "PIDNS": out.push(o.path); break;
      case "TARGET": out.push(o.path, o.kind); break;
      case "RLIMIT": out.push(String(o.resource), u64(o.soft), u64(o.hard)); break;
      case "CAPBSET": out.push(u64(o.keep)); break;
      case "SECCOMP": out.push(String(o.flags), o.bpf.toString("hex")); break;
      case "USER": out.push(String(o.uid), String(o.gid), o.groups.join(",")); break;
      case "CAPS": out.push(u64(o.effective), u64(o.permitted), u64(o.inheritable), u64(o.ambient)); break;
      case "EXEC": out.push(o.path, String(o.argv.length), ...o.argv, String(o.env.length), ...o.env); break;
      case "HOOK":
        out.push(o.label, String(o.timeout), o.path, String(o.argv.length), ...o.argv, String(o.env.length), ...o.env,
          o.statePrefix, o.stateSuffix);
        break;
    }
  }
  for (const s of out) {
    // Each string becomes a C string: a NUL would cut it short. Values come from
    // flags, files and image configs, so this is the user's error, not an internal one.
    if (s.includes("\0")) throw new UsageError(`a value for the container contains a NUL byte: ${JSON.stringify(s)}`);
  }
  return out;
}
