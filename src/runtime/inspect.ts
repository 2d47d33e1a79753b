// `tsbox inspect` of a container: Docker's shape (the fields users script
// against), from the state, the spec (config.json) and the container dirs.

import { containerHealth } from "./health.js";
import { join } from "node:path";
import { CorruptContainerError } from "../errors.js";
import { containerPaths, readSpec, type ContainerState } from "../state/container-store.js";
import { stateWord } from "./ps.js";
import { containerSize } from "./container-size.js";
import type { Spec } from "../oci/spec.js";
import type { MountPoint } from "../oci/mount-points.js";
import { DEFAULT_SHM_SIZE } from "../oci/container-config.js";
import { readAttachment, readNetworkConfig, type Attachment, type ContainerNetworkConfig } from "../network/index.js";

function sizeFields(root: string, s: ContainerState): { SizeRw: number; SizeRootFs: number } {
  const z = containerSize(root, s);
  return { SizeRw: z.rw, SizeRootFs: z.rootFs };
}

const ZERO_TIME = "0001-01-01T00:00:00Z";

/** size: SizeRw and SizeRootFs, which Docker computes (and shows) only when asked (`inspect --size`). */
export function inspectContainer(root: string, s: ContainerState, opts: { size?: boolean } = {}): Record<string, unknown> {
  const paths = containerPaths(root, s.id);
  const health = containerHealth(root, s);
  let spec: Spec | undefined;
  try {
    spec = readSpec(root, s.id); // absent while being created
  } catch (e) {
    if (!(e instanceof CorruptContainerError)) throw e; // the state alone still says most
  }
  const word = stateWord(s);
  let net: ContainerNetworkConfig | undefined;
  try { net = readNetworkConfig(paths.dir); } catch { /* unreadable: the spec still says the mode */ }
  const attached = readAttachment(paths.dir);
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
      ...(health ? { Health: health } : {}),
    },
    Image: `sha256:${s.imageId.replace(/^sha256:/, "")}`,
    ResolvConfPath: paths.resolvConf,
    HostnamePath: paths.hostname,
    HostsPath: paths.hosts,
    LogPath: s.logConfig?.driver === "none" ? "" : paths.log,
    Name: `/${s.name}`,
    RestartCount: s.restartCount ?? 0,
    Driver: "overlay2",
    Platform: "linux",
    // No SELinux or AppArmor labels, and exec sessions are not kept: Docker's empty values.
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: null,
    HostConfig: {
      NetworkMode: net?.mode ?? (spec && !spec.linux.namespaces.some((n) => n.type === "network") ? "host" : "none"),
      PortBindings: portBindings(net),
      PublishAllPorts: net?.publishAll ?? false,
      Dns: net?.dns.dns ?? [],
      DnsSearch: net?.dns.dnsSearch ?? [],
      DnsOptions: net?.dns.dnsOptions ?? [],
      ExtraHosts: net?.addHosts.length ? net.addHosts.map((h) => `${h.name}:${h.ip}`) : null,
      AutoRemove: s.autoRemove,
      RestartPolicy: { Name: s.restartPolicy?.name ?? "no", MaximumRetryCount: s.restartPolicy?.maximumRetryCount ?? 0 },
      LogConfig: {
        Type: s.logConfig?.driver ?? "json-file",
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
      ...runHostConfig(s),
    },
    GraphDriver: {
      Name: "overlay2",
      Data: { UpperDir: paths.upper, WorkDir: paths.work, MergedDir: paths.rootfs },
    },
    ...(opts.size ? sizeFields(root, s) : {}),
    Mounts: s.mounts ? s.mounts.map(mountEntry) : (spec?.mounts ?? [])
      .filter((m) => m.type === "bind" && m.source && !m.source.startsWith(paths.dir))
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
      ...(s.healthcheck ? { Healthcheck: s.healthcheck } : {}),
      Labels: s.config?.Labels ?? {},
      ...(s.config?.StopSignal !== undefined ? { StopSignal: s.config.StopSignal } : {}),
      ...(s.config?.StopTimeout !== undefined ? { StopTimeout: s.config.StopTimeout } : {}),
    },
    NetworkSettings: networkSettings(net, attached),
    ResolvedConfigPath: join(paths.dir, "config.json"),
  };
}

/** One of Docker's `Mounts` entries (moby's types.MountPoint): a volume with its name and driver. */
function mountEntry(m: MountPoint): Record<string, unknown> {
  return {
    Type: m.type, ...(m.type === "volume" ? { Name: m.name ?? "" } : {}), Source: m.source, Destination: m.destination,
    ...(m.type === "volume" ? { Driver: "local" } : {}), Mode: m.mode, RW: m.rw, Propagation: m.propagation,
  };
}

/** HostConfig.PortBindings: the -p requests, host port "" when any. */
function portBindings(net: ContainerNetworkConfig | undefined): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of net?.request?.ports ?? []) {
    (out[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp, HostPort: p.hostPort ? String(p.hostPort) : "" });
  }
  return out;
}

/** Docker's NetworkSettings: the ports and the first network's address at top level, each network under Networks. */
function networkSettings(net: ContainerNetworkConfig | undefined, a: Attachment | undefined): Record<string, unknown> {
  const ports: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const p of net?.request?.ports ?? []) ports[`${p.containerPort}/${p.protocol}`] ??= null;
  for (const p of a?.ports ?? []) {
    const key = `${p.containerPort}/${p.protocol}`;
    (ports[key] ??= [])!.push({ HostIp: p.hostIp || "0.0.0.0", HostPort: String(p.hostPort) });
  }
  const first = a?.endpoints[0];
  const networks: Record<string, unknown> = {};
  for (const e of a?.endpoints ?? []) {
    networks[e.network] = {
      Aliases: e.aliases.length ? e.aliases : null, NetworkID: e.networkId, EndpointID: "", Gateway: e.gateway,
      IPAddress: e.ip, IPPrefixLen: e.prefix, IPv6Gateway: e.gateway6 ?? "", GlobalIPv6Address: e.ip6 ?? "",
      GlobalIPv6PrefixLen: e.prefix6 ?? 0, MacAddress: e.mac,
    };
  }
  if (!a && net && net.kind !== "container") {
    networks[net.mode] = { Aliases: null, NetworkID: "", EndpointID: "", Gateway: "", IPAddress: "", IPPrefixLen: 0, MacAddress: "" };
  }
  return {
    Bridge: "", SandboxKey: a?.netns ?? "", Ports: ports,
    Gateway: first?.gateway ?? "", IPAddress: first?.ip ?? "", IPPrefixLen: first?.prefix ?? 0, MacAddress: first?.mac ?? "",
    GlobalIPv6Address: first?.ip6 ?? "", GlobalIPv6PrefixLen: first?.prefix6 ?? 0, IPv6Gateway: first?.gateway6 ?? "",
    Networks: networks,
  };
}

/** HostConfig's fields of the run flags as Docker shows them (a container made before they were recorded: the defaults). */
function runHostConfig(s: ContainerState): Record<string, unknown> {
  const h = s.hostConfig ?? {};
  return {
    Devices: h.Devices ?? [], Ulimits: h.Ulimits ?? [], ShmSize: h.ShmSize ?? DEFAULT_SHM_SIZE,
    ...(h.Sysctls ? { Sysctls: h.Sysctls } : {}), GroupAdd: h.GroupAdd ?? null,
    PidMode: h.PidMode ?? "", IpcMode: h.IpcMode ?? "private", UTSMode: h.UTSMode ?? "",
  };
}

/** A list from the state as Docker prints it: null when empty (Go's nil slice). */
function stringList(v: unknown): string[] | null {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string") ? v : null;
}
