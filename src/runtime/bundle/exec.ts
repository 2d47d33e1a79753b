// `tsbox-runc exec`: a new process in a bundle's running container, with the
// exec plan `tsbox exec` uses (oci/exec-plan.ts: join the namespaces, the
// container's session keyring, rlimits, seccomp filter, user, capabilities).
// As runc's, the process is the engine's: the shim's process outside the
// container hands it off (HANDOFF) instead of reaping it, so it is reparented
// to this process (a subreaper while it waits, in the foreground) or, with
// --detach, to the engine's shim once this process exits. Its stdio is this
// process's own, untouched.

import { closeSync } from "node:fs";
import { join } from "node:path";
import { CorruptContainerError, LaunchError, TsboxError, UsageError } from "../../errors.js";
import { log } from "../../log.js";
import { buildExecPlan, type ExecProcess } from "../../oci/exec-plan.js";
import { withCgroupJoin } from "../../oci/build-plan.js";
import { seccompAgent } from "./seccomp-agent.js";
import { seccompProgram } from "../../native/seccomp-compiler.js";
import type { SpecProcess } from "../../oci/spec.js";
import { bundleCacheDir, bundleContainerPaths, readBundleSpec } from "../../state/bundle-containers.js";
import { realHost, type Host } from "../host.js";
import { attachTerminal, forwardSignals, type Terminal } from "../stdio.js";
import { writePidFile } from "./pid-file.js";
import { bundleCgroup, bundleContainer, bundleStatus } from "./status.js";

/** runc exec's flags for a process given on the command line (no --process). */
export interface ExecFlags {
  args: string[];
  /** appended to the container's environment */
  env: string[];
  cwd?: string;
  /** "UID[:GID]", numbers only (runc does not read the container's /etc/passwd) */
  user?: string;
  additionalGids: number[];
  /** added to the bounding, effective, permitted and ambient sets */
  caps: string[];
  noNewPrivs: boolean;
  tty: boolean;
}

export interface BundleExecRequest {
  root: string;
  id: string;
  /** `--process FILE`'s process object, as parsed; otherwise the container's with `flags` over it */
  process?: SpecProcess;
  flags?: ExecFlags;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  /** runc's --preserve-fds: this process's fds 3 .. 3+N-1 reach the exec'd process */
  preserveFds?: number;
  /** runc's --ignore-paused: the process joins the frozen cgroup and runs once it is thawed */
  ignorePaused?: boolean;
}

/** The container's process with exec's flags over it, as runc's newProcess builds it. */
export function processFromFlags(base: SpecProcess, f: ExecFlags): SpecProcess {
  if (f.args.length === 0) throw new UsageError("exec args cannot be empty", 1);
  let { uid, gid } = base.user;
  if (f.user !== undefined) {
    const m = /^(\d+)(?::(\d+))?$/.exec(f.user);
    if (!m) throw new UsageError(`invalid --user ${JSON.stringify(f.user)}: expected UID[:GID] as numbers`, 1);
    uid = Number(m[1]);
    if (m[2] !== undefined) gid = Number(m[2]);
  }
  const cwd = f.cwd ?? base.cwd;
  if (!cwd.startsWith("/")) throw new UsageError(`cwd ${JSON.stringify(cwd)} is not an absolute path`, 1);
  const c = base.capabilities;
  const add = (set: string[] | undefined): string[] => [...(set ?? []), ...f.caps.filter((x) => !(set ?? []).includes(x))];
  return {
    ...base,
    terminal: f.tty,
    args: f.args,
    env: [...base.env, ...f.env],
    cwd,
    user: { ...base.user, uid, gid, additionalGids: [...(base.user.additionalGids ?? []), ...f.additionalGids] },
    capabilities: f.caps.length === 0 ? c : {
      bounding: add(c.bounding), effective: add(c.effective), permitted: add(c.permitted),
      inheritable: c.inheritable ?? [], ambient: add(c.ambient),
    },
    ...(f.noNewPrivs ? { noNewPrivileges: true } : {}),
  };
}

/** Resolves with the process's exit code (128+N for signal N); 0 at once with --detach. */
export async function execInBundleContainer(req: BundleExecRequest, host: Host = realHost): Promise<number> {
  const s = bundleContainer(req.root, req.id);
  const cgroup = bundleCgroup(host.cgroups.hierarchy(), s, host.cgroups);
  const status = bundleStatus(req.root, s, () => cgroup);
  if (status === "stopped") throw new TsboxError("cannot exec in a stopped container", 1);
  if (status === "paused" && req.ignorePaused !== true) {
    throw new TsboxError("cannot exec in a paused container (use --ignore-paused to override)", 1);
  }
  if (status === "creating") throw new TsboxError("cannot exec in a container that is being created", 1);
  const spec = readBundleSpec(req.root, req.id);
  if (!spec) throw new CorruptContainerError(req.id, bundleContainerPaths(req.root, req.id).config, "missing");
  const p = req.process ?? processFromFlags(spec.process, req.flags ?? {
    args: [], env: [], additionalGids: [], caps: [], noNewPrivs: false, tty: false,
  });
  if (p.terminal && req.consoleSocket === undefined && req.detach) {
    throw new UsageError("cannot allocate tty if runc will detach without setting console socket", 1);
  }
  if (!p.terminal && req.consoleSocket !== undefined) {
    throw new UsageError("cannot use console socket if runc will not detach or allocate tty", 1);
  }
  const proc: ExecProcess = {
    args: p.args, env: p.env, cwd: p.cwd, capabilities: p.capabilities, rlimits: p.rlimits,
    user: { uid: p.user.uid, gid: p.user.gid, additionalGids: p.user.additionalGids ?? [],
      ...(p.user.umask !== undefined ? { umask: p.user.umask } : {}) },
    ...(p.noNewPrivileges !== undefined ? { noNewPrivileges: p.noNewPrivileges } : {}),
  };
  const seccomp = spec.linux.seccomp ? seccompProgram(req.root, spec.linux.seccomp, join(bundleCacheDir(req.root), "seccomp")) : undefined;
  const agent = seccompAgent(spec, req.id, s.bundle, "running");
  const tty = p.terminal ? { rows: p.consoleSize?.height ?? 0, cols: p.consoleSize?.width ?? 0 } : undefined;
  const { plan, joined } = withCgroupJoin(buildExecPlan(spec, proc, {
    id: req.id, pid: s.pid, detach: false, stdin: "inherit", handoff: true,
    ...(req.preserveFds ? { preserveFds: req.preserveFds } : {}),
    ...(tty ? { tty } : {}), ...(seccomp ? { seccomp } : {}),
    ...(agent ? { seccompAgent: agent } : {}),
  }), cgroup.selfJoinFiles());

  const { native } = host;
  // In the foreground the handed-off process must come back to this process, to be waited for.
  if (!req.detach) native.setSubreaper(true);
  const child = native.spawn(plan);
  let inside: number | undefined;
  try {
    inside = native.startJoin(child);
    if (inside !== undefined && !joined) cgroup.addProcess(inside);
    const started = native.start(child);
    if (!started.ok) throw new LaunchError(started.message, started.code);
  } catch (e) {
    native.abort(child);
    throw e;
  }
  // The process outside exits at once (HANDOFF); reaping it reparents the exec'd one.
  await native.wait(child);
  if (inside === undefined) throw new LaunchError("exec: the process did not start");
  log().debug({ id: req.id, pid: inside }, "exec started");
  // Its terminal's master: to the engine's console socket, or this process's own terminal.
  let terminal: Terminal | undefined;
  if (tty) {
    const master = native.ptyMaster(child);
    if (req.consoleSocket === undefined) {
      terminal = attachTerminal(native, master, true);
    } else {
      try { native.sendFd(req.consoleSocket, master, "/dev/ptmx"); } finally { closeSync(master); }
    }
  }
  if (req.pidFile !== undefined) writePidFile(req.pidFile, inside);
  if (req.detach) return 0;
  const stopForwarding = forwardSignals(inside);
  try {
    return await native.wait(inside);
  } finally {
    stopForwarding();
    await terminal?.close();
  }
}
