// What the runtime's verbs (run, start, exec) use of the C shim, as one
// interface: the real binding (shim.ts) by default, a recording fake in the
// unit tests (test/fakes/native.ts), so that the verbs' sequencing (the plan
// handed over, the cgroup placement between spawn and start, the undo after a
// failed start) can be tested without root or a kernel.

import * as shim from "./shim.js";
import type { Plan } from "./launch-plan.js";
import type { LogTarget, OutputFds, StartResult, StdioPipes } from "./shim.js";

export type { LogTarget, OutputFds, StartResult, StdioPipes } from "./shim.js";

export interface NativeLauncher {
  /**
   * Clones the container's first process with this process's own fds 0-2
   * (shim.spawn): `tsbox-runc`, whose caller's stdio goes to the container untouched.
   */
  spawn(plan: Plan): number;
  /** Clones the container's first process with fresh stdio pipes (shim.spawnWithPipes); it waits for start or abort. */
  spawnWithPipes(plan: Plan, opts?: { splitOutput?: boolean }): { pid: number; pipes: StdioPipes };
  /** JOIN plans: releases the child into the container; the host pid of the process inside, to place in the cgroup. */
  startJoin(pid: number): number | undefined;
  /** Releases the child; waits until it exec'd or failed (125/126/127). */
  start(pid: number): StartResult;
  /** Kills and reaps a child that will not be started. */
  abort(pid: number): void;
  /** The exit code (128+N when killed by signal N). */
  wait(pid: number): Promise<number>;
  /** The pty master of a started child whose plan had PTY. */
  ptyMaster(pid: number): number;
  /** Starts the copier thread on the pipes (takes the fds), output to fds 1 and 2 or `output`, and to `log`; a handle for finishCopy. */
  copyStdio(pipes: StdioPipes, idleMs: number, output?: OutputFds, log?: LogTarget): number;
  /** Drains the outputs and ends the copier thread. */
  finishCopy(handle: number): Promise<void>;
  /** A -t container's json-file log, fed by the CLI's terminal pump: open, append each chunk read, close. */
  openLog(log: LogTarget): number;
  appendLog(handle: number, chunk: Buffer): void;
  closeLog(handle: number): void;
  setWinsize(fd: number, rows: number, cols: number): void;
  /** v2: loads (dir "") or loads and attaches a cgroup device filter program. */
  attachDeviceFilter(cgroupDir: string, program: Buffer): void;
  /** Detaches a mount (a container without a mount namespace made it in the host's). */
  unmount(path: string): void;
  /** A tmpfs for /dev/shm on path (`--ipc shareable`: mounted on the host, bound into the container and its joiners). */
  mountShm(path: string, options: string): void;
  /** A new network namespace with `lo` up, bind-mounted on path (an existing empty file). */
  pinNetns(path: string): void;
  /** A second pin of the network namespace pinned at `from`, on `to` (an existing empty file). */
  bindNetns(from: string, to: string): void;
  /** A FIFO with exactly this mode (tsbox-runc's exec fifo). */
  mkfifo(path: string, mode: number): void;
  /** Orphaned descendants (a HANDOFF exec'd process) become this process's children. */
  setSubreaper(on: boolean): void;
  /** Sends an fd (a pty master) to the AF_UNIX socket at path by SCM_RIGHTS (--console-socket). */
  sendFd(path: string, fd: number, name: string): void;
}

/** The C shim (build/libtsbox_shim.so). */
export const shimLauncher: NativeLauncher = {
  spawn: shim.spawn,
  spawnWithPipes: shim.spawnWithPipes,
  startJoin: shim.startJoin,
  start: shim.start,
  abort: shim.abort,
  wait: shim.wait,
  ptyMaster: shim.ptyMaster,
  copyStdio: shim.copyStdio,
  finishCopy: shim.finishCopy,
  openLog: shim.openLog,
  appendLog: shim.appendLog,
  closeLog: shim.closeLog,
  setWinsize: shim.setWinsize,
  attachDeviceFilter: shim.attachDeviceFilter,
  unmount: shim.unmount,
  mountShm: shim.mountShm,
  pinNetns: shim.pinNetns,
  bindNetns: shim.bindNetns,
  mkfifo: shim.mkfifo,
  setSubreaper: shim.setSubreaper,
  sendFd: shim.sendFd,
};
