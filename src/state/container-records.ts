// The shapes of the JSON files in a container's directory (state.json,
// monitor.json, config.json), checked when read back: these files outlive the
// process that wrote them and can be truncated by a full disk or edited by
// hand, and one broken container must not take the commands about the others
// down with it.

import { readFileSync } from "node:fs";
import type { LinuxResources } from "../cgroupfs/index.js";
import { CorruptContainerError, errnoCode } from "../errors.js";
import {
  ShapeError, arrayOf, boolean, integer, matching, number, object, oneOf, optional, parseChecked, recordOf, string, type Check,
} from "../util/shape.js";
import type { ContainerConfig, RunHostConfig } from "../oci/container-config.js";
import type { Healthcheck } from "../oci/healthcheck.js";
import type { Spec } from "../oci/spec.js";
import type { MountPoint } from "../oci/mount-points.js";

export type ContainerStatus = "created" | "running" | "restarting" | "exited";

export type RestartPolicyName = "no" | "on-failure" | "always" | "unless-stopped";
export interface RestartPolicy { name: RestartPolicyName; maximumRetryCount: number }
/** --log-driver (absent: json-file, Docker's default) and json-file's --log-opt max-size, max-file. */
export interface LogConfig { driver?: LogDriver; maxSize?: number; maxFile?: number }
export type LogDriver = "json-file" | "none";

export interface Owner { pid: number; startTime: string }

export interface ContainerState {
  id: string;
  name: string;
  image: string;
  imageId: string;
  created: string;
  status: ContainerStatus;
  pid?: number;
  /** the tsbox process responsible for this container while it runs */
  owner?: Owner;
  exitCode?: number;
  /** the kernel's OOM killer killed a process of the container */
  oomKilled?: boolean;
  startedAt?: string;
  finishedAt?: string;
  autoRemove: boolean;
  /** kept by a tsbox-monitor (run -d, start): it owns the process and writes monitor.json */
  detached?: boolean;
  tty?: boolean;
  restartPolicy?: RestartPolicy;
  logConfig?: LogConfig;
  restartCount?: number;
  /** --cgroup-parent, as given (segments joined by "/"); absent = the default "tsbox" */
  cgroupParent?: string;
  /** --cap-add / --cap-drop as given, and --privileged, for inspect (the spec holds the resulting sets) */
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  /** --security-opt as Docker's client sent them (inspect's HostConfig.SecurityOpt) */
  securityOpt?: string[];
  /** the image's config with the run's flags over it (inspect's Config; what commit starts from) */
  config?: ContainerConfig;
  /** -v, --mount, --volumes-from and the image's VOLUMEs as mounted (inspect's Mounts; which volumes the container uses) */
  mounts?: MountPoint[];
  /** the health check (the image's HEALTHCHECK with --health-* over it); absent: none */
  healthcheck?: Healthcheck;
  /** what inspect's HostConfig shows of --device, --ulimit, --shm-size, --sysctl, --group-add, --pid, --ipc, --uts */
  hostConfig?: RunHostConfig;
}

export type HealthStatus = "starting" | "healthy" | "unhealthy";
export interface HealthProbe { Start: string; End: string; ExitCode: number; Output: string }
/** health.json, written by the health checker after each probe (runtime/health.ts). */
export interface HealthRecord {
  /** the run it is about (the container's startedAt then): a later run starts again from "starting" */
  startedAt: string;
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthProbe[];
}

export const checkHealthRecord: Check<HealthRecord> = object({
  startedAt: string,
  Status: oneOf("starting", "healthy", "unhealthy"),
  FailingStreak: integer,
  Log: arrayOf(object({ Start: string, End: string, ExitCode: integer, Output: string })),
});

/** What a monitor reports (monitor.json): its wire format is the monitor protocol's. */
export type { MonitorStatus } from "../native/monitor-protocol.js";
export { checkMonitorStatus } from "../native/monitor-protocol.js";

const owner = object({ pid: integer, startTime: string });
const nullableStrings: Check<string[] | null> = (v, at) => (v === null || v === undefined ? null : arrayOf(string)(v, at));

export const checkContainerState: Check<ContainerState> = object({
  id: matching(/^[0-9a-f]{64}$/, "a 64-digit hex container id"),
  name: string,
  image: string,
  imageId: string,
  created: string,
  status: oneOf("created", "running", "restarting", "exited"),
  pid: optional(integer),
  owner: optional(owner),
  exitCode: optional(integer),
  oomKilled: optional(boolean),
  startedAt: optional(string),
  finishedAt: optional(string),
  autoRemove: boolean,
  detached: optional(boolean),
  tty: optional(boolean),
  restartPolicy: optional(object({ name: oneOf("no", "on-failure", "always", "unless-stopped"), maximumRetryCount: integer })),
  logConfig: optional(object({ driver: optional(oneOf("json-file", "none")), maxSize: optional(number), maxFile: optional(integer) })),
  restartCount: optional(integer),
  cgroupParent: optional(string),
  capAdd: optional(arrayOf(string)),
  capDrop: optional(arrayOf(string)),
  privileged: optional(boolean),
  config: optional(object({
    Entrypoint: nullableStrings, Cmd: nullableStrings, Env: arrayOf(string), WorkingDir: string, User: string,
    Labels: optional(recordOf(string)), StopSignal: optional(string), StopTimeout: optional(integer),
  })),
  hostConfig: optional(object({
    Devices: optional(arrayOf(object({ PathOnHost: string, PathInContainer: string, CgroupPermissions: string }))),
    Ulimits: optional(arrayOf(object({ Name: string, Hard: integer, Soft: integer }))),
    ShmSize: optional(integer), Sysctls: optional(recordOf(string)), GroupAdd: optional(arrayOf(string)),
    PidMode: optional(string), IpcMode: optional(string), UTSMode: optional(string),
  })),
  mounts: optional(arrayOf(object({
    type: oneOf("bind", "volume", "tmpfs"), name: optional(string), source: string, destination: string, mode: string,
    rw: boolean, propagation: string, anonymous: optional(boolean), tmpfsData: optional(string),
    device: optional(object({ type: string, source: string, options: string })),
  }))),
  healthcheck: optional(object({
    Test: arrayOf(string), Interval: optional(number), Timeout: optional(number), StartPeriod: optional(number), Retries: optional(integer),
  })),
});


const throttle = arrayOf(object({ major: integer, minor: integer, rate: number }));

const checkResources: Check<LinuxResources> = object({
  memory: optional(object({
    limit: optional(number), swap: optional(number), reservation: optional(number),
    swappiness: optional(number), disableOOMKiller: optional(boolean), kernelTCP: optional(number),
  })),
  cpu: optional(object({
    shares: optional(number), quota: optional(number), period: optional(number), cpus: optional(string), mems: optional(string),
  })),
  pids: optional(object({ limit: optional(number) })),
  devices: optional(arrayOf(object({
    allow: boolean, type: optional(oneOf("a", "c", "b")), major: optional(integer), minor: optional(integer), access: optional(string),
  }))),
  blockIO: optional(object({
    weight: optional(number),
    weightDevice: optional(arrayOf(object({ major: integer, minor: integer, weight: optional(number) }))),
    throttleReadBpsDevice: optional(throttle),
    throttleWriteBpsDevice: optional(throttle),
    throttleReadIOPSDevice: optional(throttle),
    throttleWriteIOPSDevice: optional(throttle),
  })),
});

const strings = arrayOf(string);

export const checkSpec: Check<Spec> = object({
  ociVersion: string,
  process: object({
    terminal: boolean,
    consoleSize: optional(object({ height: integer, width: integer })),
    user: object({
      uid: integer, gid: integer, additionalGids: optional(arrayOf(integer)), username: optional(string), umask: optional(integer),
    }),
    args: strings,
    env: strings,
    cwd: string,
    capabilities: object({
      bounding: strings, effective: strings, permitted: strings, inheritable: optional(strings), ambient: optional(strings),
    }),
    rlimits: arrayOf(object({ type: string, soft: number, hard: number })),
    noNewPrivileges: optional(boolean),
    oomScoreAdj: optional(integer),
  }),
  root: object({ path: string, readonly: boolean }),
  hostname: string,
  domainname: optional(string),
  mounts: arrayOf(object({ destination: string, type: optional(string), source: optional(string), options: optional(strings) })),
  linux: object({
    namespaces: arrayOf(object({
      type: oneOf("pid", "network", "mount", "ipc", "uts", "cgroup", "user", "time"), path: optional(string),
    })),
    resources: checkResources,
    devices: optional(arrayOf(object({
      path: string, type: oneOf("c", "b", "p"), major: integer, minor: integer,
      fileMode: optional(integer), uid: optional(integer), gid: optional(integer),
    }))),
    cgroupsPath: string,
    sysctl: optional(recordOf(string)),
    maskedPaths: strings,
    readonlyPaths: strings,
    rootfsPropagation: optional(string),
  }),
  annotations: optional(recordOf(string)),
  hooks: optional(recordOf(arrayOf(object({ path: string, args: optional(strings), env: optional(strings), timeout: optional(integer) })))),
});

/**
 * A record of container `id` read back and checked: undefined when the file is
 * absent (errno codes in `absent`), CorruptContainerError when it cannot be
 * read or is not what `check` wants.
 */
export function readRecord<T>(id: string, file: string, check: Check<T>, absent: readonly string[] = ["ENOENT"]): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if (absent.includes(errnoCode(e) ?? "")) return undefined;
    throw new CorruptContainerError(id, file, (e as Error).message);
  }
  try {
    return parseChecked(text, check);
  } catch (e) {
    if (e instanceof ShapeError) throw new CorruptContainerError(id, file, e.message);
    throw e;
  }
}
