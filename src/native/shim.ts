// Typed binding to build/libtsbox_shim.so (native-shims/shim.c, contract in
// native-shims/PLAN.md). Only `wait` may run off the main thread: the child's
// parent-death signal is tied to the thread that cloned it.

import { getSystemErrorMessage, getSystemErrorName } from "node:util";
import { DataType, load } from "./ffi.js";
import { LaunchError } from "../errors.js";
import { encodePlan, type Plan } from "./launch-plan.js";
import { lib } from "./library.js";

function callInt(funcName: string, paramsType: DataType[], paramsValue: unknown[]): number {
  return load({ library: lib(), funcName, retType: DataType.I32, paramsType, paramsValue });
}

/** A blocking call, made in a thread of its own so the event loop goes on. */
function callIntInThread(funcName: string, arg: number): Promise<number> {
  return load({
    library: lib(), funcName, retType: DataType.I32, paramsType: [DataType.I32], paramsValue: [arg], runInNewThread: true,
  });
}

function callString(funcName: string, paramsType: DataType[], paramsValue: unknown[]): string {
  return load({ library: lib(), funcName, retType: DataType.String, paramsType, paramsValue });
}

/** An Error shaped like Node's system errors (code, errno, syscall, path). */
export interface ShimErrnoError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

function errnoError(negErrno: number, syscall: string, path?: string): ShimErrnoError {
  const code = getSystemErrorName(negErrno);
  const where = path === undefined ? syscall : `${syscall} '${path}'`;
  const err = new Error(`${code}: ${getSystemErrorMessage(negErrno).toLowerCase()}, ${where}`) as ShimErrnoError;
  err.code = code;
  err.errno = negErrno;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

function check(rc: number, syscall: string, path?: string): number {
  if (rc < 0) throw errnoError(rc, syscall, path);
  return rc;
}

/**
 * Clones the container's first process; it waits for `start` (or `abort`).
 * Must be called on the main thread. Throws LaunchError for a bad plan or a
 * failed clone.
 */
export function spawn(plan: Plan): number {
  const strings = encodePlan(plan);
  const pid = callInt("tsbox_spawn", [DataType.I32, DataType.StringArray], [strings.length, strings]);
  if (pid < 0) {
    const message = callString("tsbox_last_error", [], []);
    throw new LaunchError(message || `launch failed: ${getSystemErrorName(pid)}`);
  }
  return pid;
}

/** The launcher's ends of a container's stdio pipes (absent: none was made, e.g. stdin without -i, or -t). */
export interface StdioPipes {
  /** write end of the container's stdin */
  stdin?: number;
  /** read ends of its stdout and stderr */
  stdout?: number;
  stderr?: number;
}

/**
 * As `spawn`, but the child's fds 0-2 are fresh pipes (stdin only with STDIO
 * "inherit"; none with PTY or "detached"; /dev/null where there is none), never
 * this process's own stdio: the caller copies. When this process's stdout and
 * stderr are one file (a terminal, `2>&1`) the container's stdout and stderr
 * share one pipe (order kept; no `stderr` then), unless `splitOutput`. The returned fds are the
 * caller's to close (O_CLOEXEC, blocking).
 */
export function spawnWithPipes(plan: Plan, opts: { splitOutput?: boolean } = {}): { pid: number; pipes: StdioPipes } {
  const strings = encodePlan(plan);
  const fn = opts.splitOutput ? "tsbox_spawn_stdio_split" : "tsbox_spawn_stdio";
  const pid = callInt(fn, [DataType.I32, DataType.StringArray], [strings.length, strings]);
  if (pid < 0) {
    const message = callString("tsbox_last_error", [], []);
    throw new LaunchError(message || `launch failed: ${getSystemErrorName(pid)}`);
  }
  const pipes: StdioPipes = {};
  const names = ["stdin", "stdout", "stderr"] as const;
  names.forEach((name, fd) => {
    const r = callInt("tsbox_stdio_fd", [DataType.I32, DataType.I32], [pid, fd]);
    if (r >= 0) pipes[name] = r;
  });
  return { pid, pipes };
}

/** Where a container's stdout and stderr are copied to: this process's descriptors (1 and 2 by default; they stay open). */
export interface OutputFds { stdout: number; stderr: number }

/** A container's json-file log: its path and --log-opt's rotation (maxSize 0 or absent: never rotated). */
export interface LogTarget { path: string; maxSize?: number; maxFile?: number }

/**
 * Starts the shim's copier thread (native-shims/stdio_copy.c): this process's
 * stdin to the container's (with -i), the container's stdout/stderr to this
 * process's `output` (fds 1 and 2 unless given) and, with `log`, to that
 * json-file log too. Takes the fds (on success). Returns the handle for
 * `finishCopy`.
 */
export function copyStdio(pipes: StdioPipes, idleMs: number, output: OutputFds = { stdout: 1, stderr: 2 }, log?: LogTarget): number {
  const r = callInt("tsbox_copy_start_logged",
    [DataType.I32, DataType.I32, DataType.I32, DataType.I32, DataType.I32, DataType.I32, DataType.String, DataType.Double, DataType.I32],
    [pipes.stdin ?? -1, pipes.stdout ?? -1, pipes.stderr ?? -1, output.stdout, output.stderr, idleMs,
      log?.path ?? "", log?.maxSize ?? 0, log?.maxFile ?? 1]);
  if (r < 0) throw new LaunchError(`copying the container's stdio: ${getSystemErrorMessage(r).toLowerCase()}`);
  return r;
}

/**
 * After the container's process exited: stops copying stdin, copies the rest
 * of its output (until EOF, or until the pipes stay silent for the copy's
 * idleMs) and ends the copier thread.
 */
export async function finishCopy(handle: number): Promise<void> {
  check(await callIntInThread("tsbox_copy_finish", handle), "tsbox_copy_finish");
}

/** Opens a json-file log for a -t container's terminal output (appendLog, closeLog); a handle. */
export function openLog(log: LogTarget): number {
  return check(callInt("tsbox_log_open", [DataType.String, DataType.Double, DataType.I32],
    [log.path, log.maxSize ?? 0, log.maxFile ?? 1]), "open", log.path);
}

/** Appends terminal output, as read, to the log (as stdout: a terminal has one stream). */
export function appendLog(handle: number, chunk: Buffer): void {
  check(callInt("tsbox_log_write", [DataType.I32, DataType.U8Array, DataType.I32], [handle, chunk, chunk.length]), "tsbox_log_write");
}

/** Logs the unfinished last line and closes the log. */
export function closeLog(handle: number): void {
  check(callInt("tsbox_log_close", [DataType.I32], [handle]), "tsbox_log_close");
}

/**
 * For a plan with JOIN: releases the child, which joins the container and
 * forks into it; returns that process's host pid (it then waits for `start`,
 * so the caller can place it in the container's cgroup first), or undefined
 * if the child failed before (`start` then reports why).
 */
export function startJoin(pid: number): number | undefined {
  const r = callInt("tsbox_start_join", [DataType.I32], [pid]);
  if (r === -3 /* ESRCH */) throw new LaunchError(`start: no pending exec for pid ${pid}`);
  return r > 0 ? r : undefined;
}

export type StartResult = { ok: true } | { ok: false; code: number; message: string };

/**
 * Releases the child and blocks until it has exec'd or failed. On failure the
 * child has been reaped; `code` is 125, 126 or 127 (Docker's conventions).
 */
export function start(pid: number): StartResult {
  const r = callString("tsbox_start", [DataType.I32], [pid]);
  if (r === "") return { ok: true };
  const tab = r.indexOf("\t");
  const code = Number.parseInt(r.slice(0, tab), 10);
  return { ok: false, code: Number.isFinite(code) ? code : 125, message: r.slice(tab + 1) };
}

/** Kills and reaps a child; a child already reaped (a failed start) is fine. */
export function abort(pid: number): void {
  const r = callInt("tsbox_abort", [DataType.I32], [pid]);
  if (r !== -3 /* ESRCH */) check(r, "tsbox_abort");
}

/** The pty master received from a started child whose plan had PTY (once per child). */
export function ptyMaster(pid: number): number {
  return check(callInt("tsbox_pty_master", [DataType.I32], [pid]), "tsbox_pty_master");
}

/** Resolves with the container's exit code: its status, or 128+N if killed by signal N. */
export async function wait(pid: number): Promise<number> {
  return check(await callIntInThread("tsbox_wait", pid), "waitpid");
}

export function setWinsize(fd: number, rows: number, cols: number): void {
  check(callInt("tsbox_set_winsize", [DataType.I32, DataType.I32, DataType.I32], [fd, rows, cols]), "ioctl");
}

/** Sends fd over the AF_UNIX stream socket at path (SCM_RIGHTS, `name` as the message): --console-socket. */
export function sendFd(path: string, fd: number, name: string): void {
  check(callInt("tsbox_send_fd", [DataType.String, DataType.I32, DataType.String], [path, fd, name]), "sendmsg", path);
}

/** PR_SET_CHILD_SUBREAPER on this process: orphans below it (a HANDOFF exec'd process) become its children. */
export function setSubreaper(on: boolean): void {
  check(callInt("tsbox_set_subreaper", [DataType.I32], [on ? 1 : 0]), "prctl(PR_SET_CHILD_SUBREAPER)");
}

/** A FIFO at path with exactly this mode (the exec fifo of `tsbox-runc create`). */
/** umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW). */
export function unmount(path: string): void {
  check(callInt("tsbox_unmount", [DataType.String], [path]), "umount", path);
}

/** A tmpfs named shm (nosuid, nodev, noexec) on path, with these options: a shareable /dev/shm on the host. */
export function mountShm(path: string, options: string): void {
  check(callInt("tsbox_mount_shm", [DataType.String, DataType.String], [path, options]), "mount shm", path);
}

/**
 * A new network namespace, bind-mounted on `path` (an existing empty file):
 * cloned by the shim (no JavaScript runs in it), `lo` up, kept by the mount.
 */
export function pinNetns(path: string): void {
  const rc = callInt("tsbox_netns_pin", [DataType.String], [path]);
  if (rc >= 0) return;
  const step = Math.floor(-rc / 1000);
  throw errnoError(-(-rc % 1000), step === 1 ? "clone(CLONE_NEWNET)" : step === 2 ? "bring up lo" : "mount", path);
}

/** A second pin of the network namespace pinned at `from`, on `to` (an existing empty file). */
export function bindNetns(from: string, to: string): void {
  check(callInt("tsbox_netns_bind", [DataType.String, DataType.String], [from, to]), "mount", `${from} on ${to}`);
}

export function mkfifo(path: string, mode: number): void {
  check(callInt("tsbox_mkfifo", [DataType.String, DataType.I32], [path, mode]), "mkfifo", path);
}

export function mknod(path: string, mode: number, major: number, minor: number): void {
  check(
    callInt("tsbox_mknod", [DataType.String, DataType.I32, DataType.I32, DataType.I32], [path, mode, major, minor]),
    "mknod",
    path,
  );
}

/** Sets an xattr; the value is bytes (security.capability values contain NULs). */
export function lsetxattr(path: string, name: string, value: string | Buffer): void {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  check(
    callInt("tsbox_lsetxattr", [DataType.String, DataType.String, DataType.U8Array, DataType.I32], [path, name, bytes, bytes.length]),
    "lsetxattr",
    path,
  );
}

/**
 * mknod of `name` in `dir`, a directory below `root` ("" = root itself) reached
 * without following any symlink and without leaving `root` (openat2
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS): layer unpacking.
 */
export function mknodBeneath(root: string, dir: string, name: string, mode: number, major: number, minor: number): void {
  check(
    callInt("tsbox_mknod_beneath", [DataType.String, DataType.String, DataType.String, DataType.I32, DataType.I32, DataType.I32],
      [root, dir, name, mode, major, minor]),
    "mknod",
    [root, dir, name].filter((c) => c !== "").join("/"),
  );
}

/**
 * Sets an xattr on `name` in `dir` (not following `name` if it is a symlink),
 * or on `dir` itself when `name` is "", `dir` reached as in mknodBeneath.
 */
export function setxattrBeneath(root: string, dir: string, name: string, xattr: string, value: string | Buffer): void {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  check(
    callInt("tsbox_setxattr_beneath",
      [DataType.String, DataType.String, DataType.String, DataType.String, DataType.U8Array, DataType.I32],
      [root, dir, name, xattr, bytes, bytes.length]),
    "setxattr",
    [root, dir, name].filter((c) => c !== "").join("/"),
  );
}

/**
 * Opens `path` as seen from the directory `root`, every symlink resolved
 * inside it (openat2 RESOLVE_IN_ROOT; no magic links). `flags` as open(2)'s
 * (O_PATH allowed: 0o10000000). The fd is the caller's to close.
 */
export function openInRoot(root: string, path: string, flags: number, mode = 0): number {
  return check(callInt("tsbox_open_in_root", [DataType.String, DataType.String, DataType.I32, DataType.I32], [root, path, flags, mode]),
    "openat2", path);
}

export function lgetxattrLen(path: string, name: string): number {
  return check(callInt("tsbox_lgetxattr_len", [DataType.String, DataType.String], [path, name]), "lgetxattr", path);
}

/** Sets FS_TOPDIR_FL on a directory (ext4: its subdirectories are spread over block groups). */
export function setTopdir(path: string): void {
  check(callInt("tsbox_set_topdir", [DataType.String], [path]), "ioctl(FS_IOC_SETFLAGS)", path);
}

/**
 * Loads a BPF_PROG_TYPE_CGROUP_DEVICE program (struct bpf_insn bytes) and
 * attaches it to the cgroup dir (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI); with
 * an empty dir it only loads it (a probe). Throws the kernel's errno with the
 * verifier's log when loading fails (native-shims/devices_bpf.c).
 */
export function attachDeviceFilter(cgroupDir: string, program: Buffer): void {
  const r = callString("tsbox_devices_bpf_attach", [DataType.String, DataType.U8Array, DataType.I32], [cgroupDir, program, program.length]);
  if (r === "") return;
  const tab = r.indexOf("\t");
  const errno = Number.parseInt(r.slice(0, tab), 10);
  const err = new LaunchError(`device filter: ${r.slice(tab + 1)}`) as LaunchError & { code?: string };
  if (Number.isFinite(errno) && errno > 0) err.code = getSystemErrorName(-errno);
  throw err;
}
