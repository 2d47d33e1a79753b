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

/** docker/cli's checks (client side, 125): --pid host|container:NAME, --uts host. */
export function checkPidMode(mode: string): string {
  if (mode === "" || mode === "host" || (containerOf(mode) ?? "") !== "") return mode;
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
