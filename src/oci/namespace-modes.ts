// `--pid`, `--ipc` and `--uts` as Docker's client and daemon take them: the
// host's namespace (none of the container's own in the spec), another
// container's (joined by path: the executor's setns), or one of its own.

import { FlagError, UsageError } from "../errors.js";

/** --pid / --uts / --ipc as given: "" is the default (a namespace of its own). */
export interface NamespaceModes {
  pid: string;
  ipc: string;
  uts: string;
}

/** The container another one's namespace is taken from (`container:NAME`), or undefined. */
export function containerOf(mode: string): string | undefined {
  return mode.startsWith("container:") ? mode.slice("container:".length) : undefined;
}

/**
 * docker/cli's checks (client side, 125): --pid host|container:NAME, --uts host.
 * Joining another container's PID namespace is refused for now: the launch
 * that forks into a joined PID namespace (the executor's PIDNS) does not yet
 * report that process back to a foreground run or a monitor.
 */
export function checkPidMode(mode: string): string {
  if (mode === "" || mode === "host") return mode;
  if ((containerOf(mode) ?? "") !== "") throw new FlagError("--pid container:NAME is not supported yet (--pid host is)");
  throw new FlagError("--pid: invalid PID mode");
}

export function checkUtsMode(mode: string): string {
  if (mode === "" || mode === "host") return mode;
  throw new FlagError("--uts: invalid UTS mode");
}

/** The daemon's check: private (run's default), shareable, host, none, container:NAME. */
export function checkIpcMode(mode: string): string {
  if (["", "private", "shareable", "host", "none"].includes(mode) || (containerOf(mode) ?? "") !== "") return mode;
  throw new UsageError(`Invalid IPC mode: ${mode}`);
}
