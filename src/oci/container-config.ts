// The container's own image-level config, as Docker keeps it (Config in
// `inspect`): the image's config with the run's flags over it. `commit` makes
// the new image's config from it; the spec (what the executor reads) is made
// from the same inputs by specconv.ts.
import type { ImageConfigBody } from "../image/config.js";
import type { DeviceMapping, HostDevice, RunFlags } from "./specconv.js";

export interface ContainerConfig {
  Entrypoint: string[] | null;
  Cmd: string[] | null;
  /** the user's -e first, then the image's variables they do not set (moby's merge) */
  Env: string[];
  WorkingDir: string;
  User: string;
  /** the image's labels with --label/--label-file over them */
  Labels?: Record<string, string>;
  /** --stop-signal, else the image's STOPSIGNAL: what stop and restart send first */
  StopSignal?: string;
  /** --stop-timeout: stop's and restart's default wait, in seconds */
  StopTimeout?: number;
}

const key = (e: string): string => e.split("=", 1)[0] ?? "";

/** Pure: image config + flags → the container's Config. `hostEnv` fills a bare `-e NAME`. */
export function containerConfig(image: ImageConfigBody,
  flags: Pick<RunFlags, "cmd" | "entrypoint" | "env" | "workdir" | "user" | "labels" | "stopSignal" | "stopTimeout">,
  hostEnv: Record<string, string | undefined>): ContainerConfig {
  const user: string[] = [];
  for (const e of flags.env) {
    if (e.includes("=")) user.push(e);
    else if (hostEnv[e] !== undefined) user.push(`${e}=${hostEnv[e]}`);
  }
  const env = [...user, ...(image.Env ?? []).filter((e) => !user.some((u) => key(u) === key(e)))];
  let entrypoint: string[] | null;
  let cmd: string[] | null;
  if (flags.entrypoint !== undefined) {
    entrypoint = flags.entrypoint === "" ? null : [flags.entrypoint];
    cmd = flags.cmd.length > 0 ? flags.cmd : null;
  } else {
    entrypoint = image.Entrypoint ?? null;
    cmd = flags.cmd.length > 0 ? flags.cmd : image.Cmd ?? null;
  }
  const stopSignal = flags.stopSignal ?? image.StopSignal;
  return {
    Entrypoint: entrypoint, Cmd: cmd, Env: env, WorkingDir: flags.workdir ?? image.WorkingDir ?? "", User: flags.user ?? image.User ?? "",
    Labels: { ...(image.Labels ?? {}), ...(flags.labels ?? {}) },
    ...(stopSignal !== undefined && stopSignal !== "" ? { StopSignal: stopSignal } : {}),
    ...(flags.stopTimeout !== undefined ? { StopTimeout: flags.stopTimeout } : {}),
  };
}

/** HostConfig fields of the run flags, in Docker's names and shapes (inspect shows them). */
export interface RunHostConfig {
  Devices?: { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[];
  Ulimits?: { Name: string; Hard: number; Soft: number }[];
  ShmSize?: number;
  Sysctls?: Record<string, string>;
  GroupAdd?: string[];
  PidMode?: string;
  IpcMode?: string;
  UTSMode?: string;
}

/** Docker's /dev/shm size when --shm-size is not given (or 0). */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** `--device` flags as given: a directory's nodes are its one flag. */
function shownDevices(devices: readonly (DeviceMapping & HostDevice)[]): DeviceMapping[] {
  const out: DeviceMapping[] = [];
  const seen = new Set<string>();
  for (const d of devices) {
    const flag = d.fromFlag ?? d;
    const key = `${flag.PathOnHost}\0${flag.PathInContainer}\0${flag.CgroupPermissions}`;
    if (d.fromFlag && seen.has(key)) continue;
    seen.add(key);
    out.push({ PathOnHost: flag.PathOnHost, PathInContainer: flag.PathInContainer, CgroupPermissions: flag.CgroupPermissions });
  }
  return out;
}

/** Pure: the flags → what inspect shows of them in HostConfig. */
export function runHostConfig(flags: Pick<RunFlags, "devices" | "ulimits" | "shmSize" | "sysctls" | "groupAdd" | "namespaceModes">): RunHostConfig {
  const modes = flags.namespaceModes ?? { pid: "", ipc: "", uts: "" };
  return {
    Devices: shownDevices(flags.devices ?? []),
    Ulimits: flags.ulimits ?? [],
    ShmSize: flags.shmSize || DEFAULT_SHM_SIZE,
    ...(flags.sysctls && Object.keys(flags.sysctls).length > 0 ? { Sysctls: flags.sysctls } : {}),
    ...(flags.groupAdd?.length ? { GroupAdd: flags.groupAdd } : {}),
    PidMode: modes.pid,
    IpcMode: modes.ipc === "" ? "private" : modes.ipc,
    UTSMode: modes.uts,
  };
}
