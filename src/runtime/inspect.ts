// `tsbox inspect` of a container: Docker's shape (the fields users script
// against), from the state, the spec (config.json) and the container dirs.

import { join } from "node:path";
import { CorruptContainerError } from "../errors.js";
import { containerPaths, readSpec, type ContainerState } from "../state/container-store.js";
import { stateWord } from "./ps.js";
import type { Spec } from "../oci/spec.js";

const ZERO_TIME = "0001-01-01T00:00:00Z";

export function inspectContainer(root: string, s: ContainerState): Record<string, unknown> {
  const paths = containerPaths(root, s.id);
  let spec: Spec | undefined;
  try {
    spec = readSpec(root, s.id); // absent while being created
  } catch (e) {
    if (!(e instanceof CorruptContainerError)) throw e; // the state alone still says most
  }
  const word = stateWord(s);
  const r = spec?.linux.resources;
  const cpu = r?.cpu;
  return {
    Id: s.id,
    Created: s.created,
    Path: spec?.process.args[0] ?? "",
    Args: spec?.process.args.slice(1) ?? [],
    State: {
      Status: word,
      Running: word === "running" || word === "restarting" || word === "paused",
      Paused: word === "paused",
      Restarting: word === "restarting",
      OOMKilled: Boolean(s.oomKilled),
      Dead: false,
      Pid: word === "running" || word === "paused" ? s.pid ?? 0 : 0,
      ExitCode: word === "exited" ? s.exitCode ?? 137 : 0,
      Error: "",
      StartedAt: s.startedAt ?? ZERO_TIME,
      FinishedAt: s.finishedAt ?? ZERO_TIME,
    },
    Image: `sha256:${s.imageId.replace(/^sha256:/, "")}`,
    ResolvConfPath: paths.resolvConf,
    HostnamePath: paths.hostname,
    HostsPath: paths.hosts,
    LogPath: s.detached ? paths.log : "",
    Name: `/${s.name}`,
    RestartCount: s.restartCount ?? 0,
    Driver: "overlay2",
    Platform: "linux",
    HostConfig: {
      // The spec says it: no network namespace of its own is the host's.
      NetworkMode: spec && !spec.linux.namespaces.some((n) => n.type === "network") ? "host" : "none",
      AutoRemove: s.autoRemove,
      RestartPolicy: { Name: s.restartPolicy?.name ?? "no", MaximumRetryCount: s.restartPolicy?.maximumRetryCount ?? 0 },
      LogConfig: {
        Type: "json-file",
        Config: {
          ...(s.logConfig?.maxSize ? { "max-size": String(s.logConfig.maxSize) } : {}),
          ...(s.logConfig?.maxFile ? { "max-file": String(s.logConfig.maxFile) } : {}),
        },
      },
      ReadonlyRootfs: spec?.root.readonly ?? false,
      Memory: r?.memory?.limit ?? 0,
      MemorySwap: r?.memory?.swap ?? 0,
      MemoryReservation: r?.memory?.reservation ?? 0,
      CpuShares: cpu?.shares ?? 0,
      CpuPeriod: cpu?.period ?? 0,
      CpuQuota: cpu?.quota ?? 0,
      NanoCpus: cpu?.quota && cpu.period ? Math.round((cpu.quota / cpu.period) * 1e9) : 0,
      CpusetCpus: cpu?.cpus ?? "",
      CpusetMems: cpu?.mems ?? "",
      PidsLimit: r?.pids?.limit ?? null,
      CapAdd: stringList(s.capAdd),
      CapDrop: stringList(s.capDrop),
      Privileged: s.privileged === true,
      SecurityOpt: Array.isArray(s.securityOpt) && s.securityOpt.every((o) => typeof o === "string") ? s.securityOpt : null,
    },
    GraphDriver: {
      Name: "overlay2",
      Data: { UpperDir: paths.upper, WorkDir: paths.work, MergedDir: paths.rootfs },
    },
    Mounts: (spec?.mounts ?? []).filter((m) => m.type === "bind" && m.source && !m.source.startsWith(paths.dir))
      .map((m) => ({
        Type: "bind", Source: m.source, Destination: m.destination, Mode: "",
        RW: !(m.options ?? []).includes("ro"), Propagation: "rprivate",
      })),
    Config: {
      Hostname: spec?.hostname ?? "",
      Tty: Boolean(s.tty),
      Env: spec?.process.env ?? [],
      Cmd: spec?.process.args ?? [],
      Image: s.image,
      WorkingDir: spec?.process.cwd ?? "",
      User: spec ? `${spec.process.user.uid}:${spec.process.user.gid}` : "",
    },
    ResolvedConfigPath: join(paths.dir, "config.json"),
  };
}

/** A list from the state as Docker prints it: null when empty (Go's nil slice). */
function stringList(v: unknown): string[] | null {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string") ? v : null;
}
