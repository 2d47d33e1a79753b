// `tsbox exec`: a new process in a running container. The shim's child (a fork
// of this process, no JavaScript) is placed in the container's cgroup, made
// non-dumpable, joins the container's namespaces and forks into its PID
// namespace; that grandchild takes the container's rlimits, user, capabilities
// and cwd and execs. Contract: native-shims/PLAN.md (JOIN, DETACH).

import { randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { CorruptContainerError, LaunchError, TsboxError, UsageError, errnoCode } from "../errors.js";
import { buildExecPlan, execEnv, type ExecProcess } from "../oci/exec-plan.js";
import { withCgroupJoin } from "../oci/build-plan.js";
import { seccompProgram } from "../native/seccomp-compiler.js";
import { log } from "../log.js";
import { containerPaths, readSpec } from "../state/container-store.js";
import { containerAttributes, recordEvent } from "../state/events.js";
import { runningContainer } from "./running.js";
import type { Spec, SpecCapabilities } from "../oci/spec.js";
import { currentCapabilities } from "../native/capabilities.js";
import { attachPipes, attachTerminal, closePipes, forwardSignals, type AttachedPipes } from "./stdio.js";
import { realHost, type Host } from "./host.js";
import type { OutputFds } from "../native/launcher.js";
import { resolveUser } from "../oci/user.js";
import { forgoWarm } from "../network/index.js";

export interface ExecRequest {
  root: string;
  container: string;
  cmd: string[];
  interactive: boolean;
  tty: boolean;
  detach: boolean;
  /** -e / --env-file, in order; NAME without a value takes the CLI's */
  env: string[];
  workdir?: string;
  user?: string;
  /** --privileged: every capability tsbox holds, for this process only (as moby's exec) */
  privileged?: boolean;
  /** where the output goes (default: this process's 1 and 2): a health probe's capture */
  output?: OutputFds;
  /** aborted: the process is killed (SIGKILL), as moby kills a health probe past its timeout */
  signal?: AbortSignal;
}

const MAX_ETC_FILE = 4 << 20;

/**
 * /etc/<name> as the container sees it, read through /proc/PID/root without
 * following a symlink the container may have planted (an absolute one would
 * resolve against the host's root). undefined when absent or not a file.
 */
export function readContainerEtc(pid: number, name: "passwd" | "group"): string | undefined {
  let dir = -1;
  let fd = -1;
  try {
    dir = openSync(`/proc/${pid}/root/etc`, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    // O_NONBLOCK: a FIFO planted as /etc/passwd must not hang the CLI.
    fd = openSync(`/proc/self/fd/${dir}/${name}`, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_ETC_FILE) return undefined;
    return readFileSync(fd, "utf8");
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ELOOP" || code === "ENOTDIR") return undefined;
    throw e;
  } finally {
    if (fd >= 0) closeSync(fd);
    if (dir >= 0) closeSync(dir);
  }
}

/** What the exec'd process runs as: the container's process, with exec's flags over it. */
export function execProcess(spec: Spec, req: ExecRequest, hostEnv: Record<string, string | undefined>,
  etc: (name: "passwd" | "group") => string | undefined): ExecProcess {
  if (req.cmd.length === 0) throw new UsageError("exec requires at least 2 arguments");
  const cwd = req.workdir ?? spec.process.cwd;
  if (!cwd.startsWith("/")) {
    throw new UsageError(`the working directory '${cwd}' is invalid, it needs to be an absolute path`);
  }
  const env: string[] = [];
  for (const e of req.env) {
    if (e.startsWith("=")) throw new UsageError(`invalid environment variable: ${e}`);
    if (e.includes("=")) env.push(e);
    else if (hostEnv[e] !== undefined) env.push(`${e}=${hostEnv[e]}`);
  }
  const caps = req.privileged ? allCapabilities() : spec.process.capabilities;
  if (req.user === undefined) {
    const u = spec.process.user;
    return {
      args: req.cmd, cwd, capabilities: caps,
      env: execEnv(spec.process.env, { env, tty: req.tty }),
      user: { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids ?? [] },
    };
  }
  const user = resolveUser(req.user, etc("passwd"), etc("group"));
  // As run grants them: a non-root user keeps only the bounding set (moby's
  // exec --privileged gives the sets whatever the user).
  const granted = user.uid === 0 || req.privileged ? caps.bounding : [];
  return {
    args: req.cmd, cwd,
    capabilities: { bounding: caps.bounding, effective: granted, permitted: granted, inheritable: [], ambient: [] },
    env: execEnv(spec.process.env, { env, tty: req.tty, home: user.home }),
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
  };
}

function allCapabilities(): SpecCapabilities {
  const all = currentCapabilities();
  return { bounding: all, effective: all, permitted: all, inheritable: [], ambient: [] };
}

/** Runs the command in the container; resolves with its exit code (0 at once with -d). */
export async function execInContainer(req: ExecRequest, host: Pick<Host, "native" | "cgroups"> = realHost): Promise<number> {
  const { native } = host;
  const { state, pid, cgroup } = runningContainer(req.root, req.container, host.cgroups);
  // A frozen container would hold the exec'd process in uninterruptible sleep until unpaused.
  if (cgroup.frozen()) throw new TsboxError(`Container ${state.id} is paused, unpause the container before exec`, 1);
  const spec = readSpec(req.root, state.id);
  if (!spec) throw new CorruptContainerError(state.id, containerPaths(req.root, state.id).config, "missing");
  const proc = execProcess(spec, req, process.env, (name) => readContainerEtc(pid, name));
  // Its capabilities could change the network namespace: it is not handed to another container after this one.
  if (req.privileged) forgoWarm(containerPaths(req.root, state.id).dir);
  const tty = req.tty && !req.detach
    ? { rows: process.stdout.isTTY ? process.stdout.rows : 0, cols: process.stdout.isTTY ? process.stdout.columns : 0 }
    : undefined;
  // The container's own filter (a spec written by an older tsbox has none).
  const seccomp = spec.linux.seccomp ? seccompProgram(req.root, spec.linux.seccomp) : undefined;
  const { plan, joined } = withCgroupJoin(buildExecPlan(spec, proc, {
    id: state.id, pid, detach: req.detach, stdin: req.interactive && !req.tty ? "inherit" : "null",
    ...(tty ? { tty } : {}),
    ...(seccomp ? { seccomp } : {}),
  }), cgroup.selfJoinFiles());

  // Docker's exec events: exec_create and exec_start name the command (its first word, a space, the
  // rest: "true " for a lone word); exec_die carries the exit code. A start that fails has no die.
  const execID = randomBytes(32).toString("hex");
  const event = (action: string, extra: Record<string, string> = {}): void =>
    recordEvent(req.root, "container", action, state.id, containerAttributes(state, { execID, ...extra }));
  const described = `${proc.args[0] ?? ""} ${proc.args.slice(1).join(" ")}`;
  event(`exec_create: ${described}`);

  // Pipes (or the pty) that tsbox copies, never its own stdio (see stdio.ts).
  const { pid: child, pipes } = native.spawnWithPipes(plan);
  let stopForwarding = (): void => {};
  let copy: AttachedPipes | undefined;
  let inside: number | undefined;
  try {
    if (!req.detach) stopForwarding = forwardSignals(child);
    // The child joins the namespaces and forks into the PID namespace; that
    // process waits until it is in the container's cgroup (the child, which
    // stays outside as its reaper, never enters it).
    inside = native.startJoin(child);
    if (inside !== undefined && !joined) cgroup.addProcess(inside);
    event(`exec_start: ${described}`);
    const started = native.start(child);
    // Docker gives 126 for an exec that fails to start ("OCI runtime exec failed"), e.g. -w /missing.
    if (!started.ok) throw new LaunchError(started.message, started.code === 125 ? 126 : started.code);
    // Last: once copying, the fds are the copier's.
    if (!tty && !req.detach) copy = attachPipes(native, pipes, req.output);
  } catch (e) {
    stopForwarding();
    native.abort(child);
    closePipes(pipes);
    throw e;
  }
  log().debug({ id: state.id, child }, "exec started");
  const target = inside ?? child;
  req.signal?.addEventListener("abort", () => {
    // Its reaper (child) holds its pid until it has reaped it: not another process's yet.
    try { process.kill(target, "SIGKILL"); } catch { /* already gone */ }
  }, { once: true });
  if (req.detach) {
    await native.wait(child);  // the intermediate, which exits once the process is handed over
    return 0;
  }
  const terminal = copy ?? attachTerminal(native, native.ptyMaster(child), req.interactive);
  const code = await native.wait(child);
  event("exec_die", { exitCode: String(code) });
  stopForwarding();
  // Drains the output; a background process the command left holding the pipe is given up on (stdio.ts).
  await terminal.close();
  return code;
}
