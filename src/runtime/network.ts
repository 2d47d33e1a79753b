// A container's network as `run`, `start` and removal need it: --network's
// mode resolved before anything is made, the namespace the spec names, the
// attachment (netavark) made before the process starts and released when it
// is gone, and the /etc files that follow from it.

import { readFileSync, writeFileSync } from "node:fs";
import { TsboxError, UsageError } from "../errors.js";
import {
  attachNetwork, getNetwork, hostsFile, netnsPath, parseAddHost, readAttachment, readNetworkConfig, releaseNetwork,
  resolvConf, writeNetworkConfig, exposedPortRequests, DEFAULT_NETWORK_NAME,
  type Attachment, type ContainerNetworkConfig, type NetnsHost, type PortRequest, type NetworkDef,
} from "../network/index.js";
import { containerPaths, findContainer, ownerAlive, readState, type ContainerPaths } from "../state/container-store.js";
import { shimLauncher } from "../native/launcher.js";
import type { Spec } from "../oci/spec.js";

/** The network flags of `run`, as given. */
export interface NetworkFlags {
  /** --network (default "bridge") */
  network: string;
  publish: PortRequest[];
  publishAll: boolean;
  /** --expose: what -P publishes besides the image's EXPOSE */
  expose?: PortRequest[];
  aliases: string[];
  ip?: string;
  ip6?: string;
  mac?: string;
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  addHosts: string[];
  /** --network-weight, --network-rate (bits/s) */
  weight?: number;
  rate?: number;
}

/** What attaching and releasing use of the host; real by default, a recording fake in the unit tests. */
export interface NetworkHost {
  attach: typeof attachNetwork;
  release: typeof releaseNetwork;
}

export const realNetwork: NetworkHost = { attach: attachNetwork, release: releaseNetwork };

/**
 * --network and its companions checked and resolved (before anything is
 * created): the mode, the networks by id, the other container for container:.
 */
export function resolveNetworkConfig(root: string, f: NetworkFlags, exposed: Record<string, unknown> | undefined): ContainerNetworkConfig {
  const mode = f.network === "default" ? DEFAULT_NETWORK_NAME : f.network;
  const dns = { dns: f.dns, dnsSearch: f.dnsSearch, dnsOptions: f.dnsOptions };
  const common = { dns, publishAll: f.publishAll };
  const own = (kind: "none" | "host"): ContainerNetworkConfig => {
    if (f.publish.length || f.publishAll) {
      // Docker drops published ports on these modes (a warning for host); tsbox says so once.
      process.stderr.write(`WARNING: Published ports are discarded when using ${kind} network mode\n`);
    }
    if (f.ip !== undefined || f.aliases.length) throw new UsageError("network-scoped aliases and --ip are only supported for user-defined networks");
    return { mode, kind, addHosts: f.addHosts.map((h) => parseAddHost(h)), ...common };
  };
  if (mode === "none") return own("none");
  if (mode === "host") return own("host");
  if (mode.startsWith("container:")) {
    const ref = mode.slice("container:".length);
    if (f.publish.length || f.publishAll) throw new UsageError("conflicting options: port publishing and the container type network mode");
    if (f.dns.length || f.dnsSearch.length || f.dnsOptions.length) throw new UsageError("conflicting options: dns and the network mode");
    if (f.addHosts.length) throw new UsageError("conflicting options: custom host-to-IP mapping and the network mode");
    const other = findContainer(root, ref);
    if (other.status !== "running") throw new TsboxError(`cannot join network of a non running container: ${other.id}`);
    return { mode: `container:${other.id}`, kind: "container", container: other.id, addHosts: [], ...common };
  }
  const net = getNetwork(root, mode);
  if (net.name === DEFAULT_NETWORK_NAME && (f.ip !== undefined || f.ip6 !== undefined || f.aliases.length)) {
    throw new UsageError(f.ip !== undefined || f.ip6 !== undefined
      ? "user specified IP address is supported on user defined networks only"
      : "network-scoped alias is supported only for containers in user defined networks");
  }
  // -P adds the exposed ports that no -p publishes already.
  const exposedToo = f.publishAll ? [...exposedPortRequests(exposed), ...(f.expose ?? [])] : [];
  const key = (p: PortRequest): string => `${p.containerPort}/${p.protocol}`;
  const given = new Set(f.publish.map(key));
  const ports = [...f.publish, ...exposedToo.filter((p) => !given.has(key(p)) && given.add(key(p)))];
  return {
    mode: net.name === DEFAULT_NETWORK_NAME ? "bridge" : net.name, kind: "bridge",
    request: {
      networks: [net.id], aliases: f.aliases, ports,
      ...(f.ip !== undefined ? { ip: f.ip } : {}), ...(f.ip6 !== undefined ? { ip6: f.ip6 } : {}), ...(f.mac !== undefined ? { mac: f.mac } : {}),
      ...(f.weight !== undefined ? { weight: f.weight } : {}), ...(f.rate !== undefined ? { rate: f.rate } : {}),
    },
    addHosts: f.addHosts.map((h) => parseAddHost(h, net.gateway)), ...common,
  };
}

/**
 * The network namespace the spec names: undefined for the host's (none of
 * its own), "new" for --network none, else the path to join: the container's
 * own pinned one, or the other container's (its pinned one if it has one,
 * which outlives its restarts; else its process's).
 */
export function networkNamespace(root: string, c: ContainerNetworkConfig, paths: ContainerPaths): string | "new" | undefined {
  if (c.kind === "host") return undefined;
  if (c.kind === "none") return "new";
  if (c.kind === "bridge") return netnsPath(paths.dir);
  const other = findContainer(root, c.container!);
  const otherPaths = containerPaths(root, other.id);
  if (readAttachment(otherPaths.dir)) return netnsPath(otherPaths.dir);
  const otherConfig = readNetworkConfig(otherPaths.dir);
  if (otherConfig?.kind === "host") return undefined;
  if (!other.pid) throw new TsboxError(`cannot join network of a non running container: ${other.id}`);
  return `/proc/${other.pid}/ns/net`;
}

/** Writes the config and the /etc files a container starts with (before its network is attached). */
export function writeContainerNetworkFiles(root: string, c: ContainerNetworkConfig, paths: ContainerPaths): void {
  writeNetworkConfig(paths.dir, c);
  const host = hostFile("/etc/resolv.conf") ?? "";
  if (c.kind === "host") {
    // As Docker: the host's own files.
    writeFileSync(paths.hosts, hostFile("/etc/hosts") ?? hostsFile(c.addHosts));
    writeFileSync(paths.resolvConf, host);
  } else if (c.kind === "container") {
    const other = containerPaths(root, c.container!);
    writeFileSync(paths.hosts, hostFile(other.hosts) ?? hostsFile([]));
    writeFileSync(paths.resolvConf, hostFile(other.resolvConf) ?? resolvConf(host, c.dns));
  } else {
    writeFileSync(paths.hosts, hostsFile(c.addHosts));
    writeFileSync(paths.resolvConf, resolvConf(host, c.dns));
  }
}

/**
 * Puts a bridge-mode container on its networks and writes its hosts entry and
 * resolvers; nothing for the other modes. Released by disconnect.
 */
export async function connect(net: NetworkHost, native: NetnsHost, root: string, who: { id: string; name: string; hostname: string },
  paths: ContainerPaths, c: ContainerNetworkConfig, spec: Pick<Spec, "process" | "linux">): Promise<Attachment | undefined> {
  if (c.kind !== "bridge" || !c.request) return undefined;
  const networks: NetworkDef[] = c.request.networks.map((id) => getNetwork(root, id));
  const a = net.attach(native, {
    root, id: who.id, name: who.name, dir: paths.dir, request: c.request, networks, mayShareWarm: cannotChangeNetns(spec),
  });
  const first = a.endpoints[0];
  writeFileSync(paths.hosts, hostsFile(c.addHosts, first ? { ip: first.ip, names: [who.hostname] } : undefined)
    + (first?.ip6 ? `${first.ip6}\t${who.hostname}\n` : ""));
  writeFileSync(paths.resolvConf, resolvConf(hostFile("/etc/resolv.conf") ?? "", c.dns, first?.dnsServers ?? []));
  return a;
}

/**
 * Whether the container's processes cannot change their network namespace:
 * without CAP_NET_ADMIN or CAP_SYS_ADMIN in any set (--privileged has them)
 * no address, route, rule, qdisc or namespace-wide sysctl can be set, and
 * tsbox sets no net.* sysctl for it. Such a namespace may be kept warm.
 */
export function cannotChangeNetns(spec: Pick<Spec, "process" | "linux">): boolean {
  const caps = spec.process.capabilities;
  const sets = [caps.bounding, caps.effective, caps.permitted, caps.inheritable, caps.ambient];
  const mighty = sets.some((set) => (set ?? []).some((c) => c === "CAP_NET_ADMIN" || c === "CAP_SYS_ADMIN"));
  const netSysctl = Object.keys(spec.linux.sysctl ?? {}).some((k) => k.startsWith("net."));
  return !mighty && !netSysctl;
}

/**
 * Releases what connect made (a no-op for a container without an
 * attachment); `when`, checked under the network lock, may still say no.
 */
export async function disconnect(net: NetworkHost, native: NetnsHost, root: string, id: string, when?: () => boolean): Promise<void> {
  const dir = containerPaths(root, id).dir;
  await net.release(native, root, id, dir, when);
}

function hostFile(path: string): string | undefined {
  try { return readFileSync(path, "utf8"); } catch { return undefined; /* none */ }
}

/**
 * Releases the network of a container that has stopped (its process and its
 * owner gone), checked again under the network lock: a `start` that claimed
 * it meanwhile keeps what it attached. Stopped containers hold no address or
 * port, as Docker's; the verbs that see one stop (stop, the crash recovery
 * every command runs) call this.
 */
export async function releaseStopped(root: string, id: string, net: NetworkHost = realNetwork, native: NetnsHost = shimLauncher): Promise<void> {
  const dir = containerPaths(root, id).dir;
  if (!readAttachment(dir)) return;
  await net.release(native, root, id, dir, () => {
    let s;
    try { s = readState(root, id); } catch { return true; /* unreadable: rm -f removes it */ }
    return !s || !ownerAlive(s.owner);
  });
}
