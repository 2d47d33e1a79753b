// A container on its networks, and off them again. Attach: a network
// namespace of its own pinned in the container's directory (made by the shim),
// its addresses and host ports leased host-wide, then netavark sets up the
// veth, the bridge, NAT and the published ports, and aardvark-dns's names.
// What was set up is recorded (network.json) so that release undoes exactly
// that, from any tsbox process, after any crash. Both are idempotent enough to
// run again: release of a released container does nothing.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TsboxError, UsageError } from "../errors.js";
import { log } from "../log.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { randomBelow } from "../util/random.js";
import { ShapeError, arrayOf, boolean, integer, object, oneOf, optional, readChecked, recordOf, string, type Check } from "../util/shape.js";
import { Undo } from "../util/undo.js";
import { crashPoint } from "../util/crash.js";
import { ephemeralRange, hostPortsInUse } from "./host-ports.js";
import { contains, formatIp4, hostRange, macFromIp4, parseIp4, parseSubnet4 } from "./ipv4.js";
import { contains6, formatIp6, parseIp6, parseSubnet6 } from "./ipv6.js";
import { sleepSync, withLock } from "../util/lock.js";
import {
  LEASE_ROOT, NETWORK_LOCK, allLeases, dropLease, leaseScopes, portLeaseKey, releaseLease, removeEmptyScope, removeTransferLeftovers, tryLease,
  type Holder, type Lease,
} from "./leases.js";
import { netavarkSetup, netavarkTeardown, NetworkError, type NetavarkOptions, type NetavarkPort } from "./netavark.js";
import type { NetworkDef } from "./networks.js";
import { attachmentPath, netnsPath } from "./container-files.js";
import { ensurePublishedPortsForwarded } from "./forward.js";
import { anchorExists, ensureAnchor, removeAnchor } from "./anchor.js";
import { addLinkClass, capEgress, ensureLinkShaper, removeLinkClass, removeLinkShaper, type LinkClass } from "./shaping.js";
import { hostAddress, type PortBinding, type PortRequest, type Protocol } from "./ports.js";
import { claimWarm, drainWarm, keepWarm, keptAlready } from "./warm.js";

/** What a container asks of the network, kept with it for every start. */
export interface NetworkRequest {
  /** the networks' ids; the first is where its ports are published and its hosts entry points */
  networks: string[];
  aliases: string[];
  ports: PortRequest[];
  ip?: string;
  /** --ip6, on a network with IPv6 */
  ip6?: string;
  mac?: string;
  /** --network-weight: its share of a shaped link (default 1) */
  weight?: number;
  /** --network-rate: its egress cap, bits per second */
  rate?: number;
}

/** One network as the container is on it. */
export interface Endpoint {
  network: string;
  networkId: string;
  ip: string;
  prefix: number;
  gateway: string;
  mac: string;
  bridge: string;
  aliases: string[];
  dnsServers: string[];
  /** on a network with IPv6 */
  ip6?: string;
  prefix6?: number;
  gateway6?: string;
}

/** What attach set up (network.json): what release undoes. */
export interface Attachment {
  v: 1;
  netns: string;
  configDir: string;
  options: NetavarkOptions;
  /** networks joined later (`network connect`), each its own netavark setup */
  connected?: { networkId: string; options: NetavarkOptions }[];
  endpoints: Endpoint[];
  ports: PortBinding[];
  leases: Lease[];
  /** its classes on shaped links (--network-weight) */
  linkClasses?: LinkClass[];
  /** its namespace may be kept warm for the next container when it stops (see warm.ts) */
  warm?: boolean;
}

/** The host side: the shim's netns pin and unmount (recorded by the fakes). */
export interface NetnsHost {
  pinNetns(path: string): void;
  bindNetns(from: string, to: string): void;
  unmount(path: string): void;
}

export interface AttachArgs {
  root: string;
  id: string;
  name: string;
  /** the container's directory: its netns and network.json go there */
  dir: string;
  request: NetworkRequest;
  /** the request's networks, resolved */
  networks: NetworkDef[];
  /** the container cannot change its namespace (no CAP_NET_ADMIN or CAP_SYS_ADMIN, no net.* sysctl): it may take and leave a warm one */
  mayShareWarm?: boolean;
}

/** netavark's config directory (aardvark-dns's per-network name files) for a root. */
export function netavarkConfigDir(root: string): string {
  return join(root, "netavark");
}

/**
 * Host-wide: netavark's bridge, chains and aardvark-dns are shared by every
 * container; attach and release of one container never overlap; and an
 * address is never leased in a directory being removed.
 */
const LOCK = NETWORK_LOCK;

export function attachNetwork(host: NetnsHost, a: AttachArgs): Attachment {
  mkdirSync(LEASE_ROOT, { recursive: true });
  return withLock(LOCK, () => attachLocked(host, a));
}

function attachLocked(host: NetnsHost, a: AttachArgs): Attachment {
  const holder: Holder = { root: a.root, id: a.id };
  const warm = warmable(a);
  if (warm) {
    const claimed = attachWarm(host, a, holder);
    if (claimed) return claimed;
  }
  const undo = new Undo();
  const leases: Lease[] = [];
  const netns = netnsPath(a.dir);
  try {
    writeFileSync(netns, "", { mode: 0o444 });
    undo.push(() => rmSync(netns, { force: true }));
    host.pinNetns(netns);
    undo.push(() => host.unmount(netns));
    undo.push(() => { for (const l of leases) releaseLease(l.kind, l.scope, l.key, holder); });

    // The bridge first, kept by its anchor: this container's teardown will not delete it.
    for (const n of a.networks) ensureAnchor(host, n);
    const ips = a.networks.map((n, i) => leaseAddress(n, i === 0 ? a.request.ip : undefined, holder, leases));
    const ips6 = a.networks.map((n, i) => (n.subnet6 ? leaseAddress6(n, i === 0 ? a.request.ip6 : undefined, holder, leases) : undefined));
    const ports = leasePorts(a.request.ports, a, holder, leases);
    const configDir = netavarkConfigDir(a.root);
    mkdirSync(configDir, { recursive: true });
    const options = netavarkOptions(a, ips, ports, ips6);
    // Recorded before netavark runs: whatever happens next, release knows what to tear down.
    writeJsonAtomic(attachmentPath(a.dir), { v: 1, netns, configDir, options, endpoints: [], ports, leases } satisfies Attachment, false);
    undo.push(() => rmSync(attachmentPath(a.dir), { force: true }));
    if (ports.length) ensurePublishedPortsForwarded();
    let status;
    const t0 = performance.now();
    try {
      status = netavarkSetup(configDir, netns, options);
      log().debug({ id: a.id, ms: Math.round(performance.now() - t0) }, "netavark setup");
    } catch (e) {
      // netavark does not roll back a half-done setup: a teardown does.
      netavarkTeardown(configDir, netns, options);
      throw e;
    }
    undo.push(() => { netavarkTeardown(configDir, netns, options); });
    for (const n of a.networks) if (n.dns) awaitDnsListening(n.gateway);
    const linkClasses = shape(a, ips, netns, holder, leases, undo);
    const endpoints: Endpoint[] = a.networks.map((n, i) => {
      const iface = status[n.name]?.interfaces?.[`eth${i}`];
      return {
        network: n.name, networkId: n.id, ip: ips[i]!, prefix: parseSubnet4(n.subnet)!.prefix, gateway: n.gateway,
        ...v6Endpoint(n, ips6[i]),
        mac: iface?.mac_address ?? "", bridge: n.bridge, aliases: n.dns ? aliasesOf(a) : [],
        dnsServers: status[n.name]?.dns_server_ips ?? [],
      };
    });
    const attachment: Attachment = {
      v: 1, netns, configDir, options, endpoints, ports, leases, ...(linkClasses.length ? { linkClasses } : {}), ...(warm ? { warm } : {}),
    };
    writeJsonAtomic(attachmentPath(a.dir), attachment, false);
    return attachment;
  } catch (e) {
    undo.runSync();
    throw e;
  }
}

/** Undoes attach: netavark's teardown, the netns, the leases, the record. Safe to call again. */
export function releaseNetwork(host: NetnsHost, root: string, id: string, dir: string, when: () => boolean = () => true): void {
  if (!existsSync(LEASE_ROOT)) return; // nothing was ever attached on this host since boot
  // Attach makes the netns file before it takes any lease, and release
  // removes it and the record last: with neither, there is nothing to free
  // (--network none, host, container:), and no lock or lease scan to pay.
  if (!existsSync(netnsPath(dir)) && !existsSync(attachmentPath(dir))) return;
  withLock(LOCK, () => { if (when()) releaseLocked(host, root, id, dir); });
}

function releaseLocked(host: NetnsHost, root: string, id: string, dir: string): void {
  const netns = netnsPath(dir);
  let record: Attachment | undefined;
  try {
    record = readChecked(attachmentPath(dir), checkAttachment);
  } catch (e) {
    log().warn({ id, err: e }, "unreadable network.json: freeing what can be found");
  }
  if (record && keptWarm(host, record, id, holderOf(root, id))) {
    log().debug({ id }, "namespace kept warm");
    crashPoint("kept-warm");
  } else if (record && !teardownNeeded(record)) {
    log().debug({ id }, "no netavark teardown: the veth goes with the namespace");
  } else if (record) {
    for (const c of record.linkClasses ?? []) removeLinkClass(c, classComment(id));
    for (const o of [...(record.connected ?? []).map((c) => c.options).reverse(), record.options]) {
      let failed: string | undefined;
      const t0 = performance.now();
      try { failed = netavarkTeardown(record.configDir, netns, o); } catch (e) { failed = String(e); }
      log().debug({ id, ms: Math.round(performance.now() - t0) }, "netavark teardown");
      if (failed) log().warn({ id, failed }, "network teardown");
    }
  }
  // Every lease of the container, recorded or not (a crash between a lease and
  // the record); a warm-eligible record lists them all (it took none after
  // its first write, and connect clears `warm` before it leases).
  const held = record?.warm ? record.leases : allLeases().filter((l) => l.holder.root === root && l.holder.id === id);
  for (const l of held) releaseLease(l.kind, l.scope, l.key, { root, id });
  if (existsSync(netns)) {
    try { host.unmount(netns); } catch { /* not mounted */ }
    rmSync(netns, { force: true });
  }
  rmSync(attachmentPath(dir), { force: true });
}

const holderOf = (root: string, id: string): Holder => ({ root, id });

/**
 * Whether the container's namespace can be one of the warm ones: one network
 * without DNS names, IPv6 or a shaped link, nothing of its own on it (ports,
 * address, MAC, rate, weight), and a container that cannot change it.
 */
function warmable(a: AttachArgs): boolean {
  const n = a.networks[0];
  const r = a.request;
  return a.mayShareWarm === true && a.networks.length === 1 && n !== undefined && !n.dns && !n.subnet6 && !n.link
    && r.ports.length === 0 && r.ip === undefined && r.ip6 === undefined && r.mac === undefined
    && r.weight === undefined && r.rate === undefined;
}

/** Attach from a warm namespace of the network, if there is one: no netavark. */
function attachWarm(host: NetnsHost, a: AttachArgs, holder: Holder): Attachment | undefined {
  const netns = netnsPath(a.dir);
  const n = a.networks[0]!;
  const s = claimWarm(host, n.id, netns, holder);
  if (!s) return undefined;
  // This root's netavark directory, not the one of the root that made the namespace (which may be gone): a later connect sets up there.
  const configDir = netavarkConfigDir(a.root);
  mkdirSync(configDir, { recursive: true });
  const attachment: Attachment = {
    v: 1, netns, configDir, options: s.options, warm: true,
    endpoints: [{ ...s.endpoint, networkId: n.id, ip: s.ip, mac: s.mac, aliases: [], dnsServers: [] }],
    ports: [], leases: [{ kind: "ip", scope: n.id, key: s.ip, holder }],
  };
  writeJsonAtomic(attachmentPath(a.dir), attachment, false);
  log().debug({ id: a.id, ip: s.ip }, "warm namespace");
  return attachment;
}

/** At release: keeps the namespace warm if it still qualifies (exec --privileged, network connect or a process in it say no). */
function keptWarm(host: NetnsHost, r: Attachment, id: string, holder: Holder): boolean {
  const e = r.endpoints[0];
  if (!r.warm || !e || r.endpoints.length !== 1 || r.ports.length || r.connected?.length || r.linkClasses?.length) return false;
  const lease = r.leases.find((l) => l.kind === "ip" && l.scope === e.networkId && l.key === e.ip);
  if (!lease || lease.holder.id !== id) return false;
  if (keptAlready(r.netns, { ...lease, holder })) return true;
  if (!anchorExists(e.networkId)) return false;
  const kept = keepWarm(host, r.netns, {
    networkId: e.networkId, ip: e.ip, mac: e.mac, options: r.options,
    endpoint: { network: e.network, prefix: e.prefix, gateway: e.gateway, bridge: e.bridge },
  }, { ...lease, holder });
  return kept;
}

/** `system prune`: the warm namespaces go (their veths with them, their addresses free). */
export function drainWarmNamespaces(host: NetnsHost): number {
  if (!existsSync(LEASE_ROOT)) return 0;
  return withLock(LOCK, () => drainWarm(host));
}

/** exec --privileged: the container could now change its namespace, which is then never kept warm. */
export function forgoWarm(dir: string): void {
  if (!existsSync(LEASE_ROOT)) return;
  withLock(LOCK, () => {
    const r = readAttachment(dir);
    if (r?.warm) writeJsonAtomic(attachmentPath(dir), { ...r, warm: false }, false);
  });
}

/** The container's recorded attachment, if it is on a network now. */
export function readAttachment(dir: string): Attachment | undefined {
  try {
    return readChecked(attachmentPath(dir), checkAttachment);
  } catch {
    return undefined;
  }
}

function aliasesOf(a: AttachArgs): string[] {
  // As Docker's embedded DNS: the name, the short id and every --network-alias.
  return [...new Set([a.name, a.id.slice(0, 12), ...a.request.aliases])];
}

function leaseAddress(n: NetworkDef, wanted: string | undefined, holder: Holder, leases: Lease[]): string {
  const subnet = parseSubnet4(n.subnet)!;
  const gateway = parseIp4(n.gateway);
  if (wanted !== undefined) {
    const ip = parseIp4(wanted);
    if (ip === undefined || !contains(subnet, ip)) {
      throw new UsageError(`invalid --ip ${wanted}: not an address of network ${n.name} (${n.subnet})`);
    }
    if (ip === gateway || !tryLease("ip", n.id, wanted, holder)) {
      throw new TsboxError(`Address already in use: ${wanted} on network ${n.name}`);
    }
    leases.push({ kind: "ip", scope: n.id, key: wanted, holder });
    return wanted;
  }
  const { first, last } = hostRange(subnet);
  for (let ip = first; ip <= last; ip++) {
    if (ip === gateway) continue;
    const s = formatIp4(ip);
    if (tryLease("ip", n.id, s, holder)) {
      leases.push({ kind: "ip", scope: n.id, key: s, holder });
      return s;
    }
  }
  throw new TsboxError(`no available IPv4 addresses on this network's address pools: ${n.name} (${n.id.slice(0, 12)})`);
}

/** Each -p's host port: the one asked for if free, else Docker's error; or a free one of the range. */
function leasePorts(requests: PortRequest[], a: AttachArgs, holder: Holder, leases: Lease[]): PortBinding[] {
  const out: PortBinding[] = [];
  const inUse = new Map<Protocol, Set<number>>();
  const busy = (p: Protocol): Set<number> => {
    let s = inUse.get(p);
    if (!s) inUse.set(p, s = hostPortsInUse(p));
    return s;
  };
  for (const r of requests) {
    const where = hostAddress(r.hostIp || "0.0.0.0");
    const take = (port: number): boolean => {
      if (!tryLease("port", "", portLeaseKey(r.protocol, port), holder)) return false;
      leases.push({ kind: "port", scope: "", key: portLeaseKey(r.protocol, port), holder });
      return true;
    };
    if (r.hostPort !== 0) {
      if (!take(r.hostPort)) throw new TsboxError(`Bind for ${where}:${r.hostPort} failed: port is already allocated`);
      if (busy(r.protocol).has(r.hostPort)) {
        throw new TsboxError(`driver failed programming external connectivity on endpoint ${a.name} (${a.id}): `
          + `Error starting userland proxy: listen ${r.protocol}4 ${where}:${r.hostPort}: bind: address already in use`);
      }
      out.push({ hostIp: r.hostIp, hostPort: r.hostPort, containerPort: r.containerPort, protocol: r.protocol });
      continue;
    }
    const range = r.hostRange ?? ephemeralRange();
    const size = range.end - range.start + 1;
    const offset = randomBelow(size);
    let chosen: number | undefined;
    for (let i = 0; i < size && chosen === undefined; i++) {
      const port = range.start + ((offset + i) % size);
      if (!busy(r.protocol).has(port) && take(port)) chosen = port;
    }
    if (chosen === undefined) {
      throw new TsboxError(r.hostRange
        ? `Bind for ${where}:${r.hostRange.start}-${r.hostRange.end} failed: port is already allocated`
        : `no free host port for ${r.containerPort}/${r.protocol}`);
    }
    out.push({ hostIp: r.hostIp, hostPort: chosen, containerPort: r.containerPort, protocol: r.protocol });
  }
  return out;
}

function netavarkOptions(a: AttachArgs, ips: string[], ports: PortBinding[], ips6: (string | undefined)[]): NetavarkOptions {
  const networks: NetavarkOptions["networks"] = {};
  const info: NetavarkOptions["network_info"] = {};
  a.networks.forEach((n, i) => {
    networks[n.name] = {
      interface_name: `eth${i}`, static_ips: [ips[i]!, ...(ips6[i] ? [ips6[i]!] : [])],
      static_mac: i === 0 && a.request.mac ? a.request.mac : macFromIp4(ips[i]!),
      ...(n.dns ? { aliases: aliasesOf(a) } : {}),
    };
    info[n.name] = networkInfo(n);
  });
  const port_mappings: NetavarkPort[] = ports.map((p) => ({
    host_ip: p.hostIp, container_port: p.containerPort, host_port: p.hostPort, range: 1, protocol: p.protocol,
  }));
  return {
    container_id: a.id, container_name: a.name, networks, network_info: info,
    ...(port_mappings.length ? { port_mappings } : {}),
  };
}

const checkLease: Check<Lease> = object({
  kind: oneOf("ip", "port", "subnet", "class"), scope: string, key: string, holder: object({ root: string, id: string }),
});

// The options are netavark's own input, handed back to it as they were written.
const netavarkInput = object({ container_id: string, container_name: string, networks: recordOf(object({})), network_info: recordOf(object({})) });
const checkAttachment: Check<Attachment> = (v, at) => {
  const o = object({
    netns: string, configDir: string,
    endpoints: arrayOf(object({
      network: string, networkId: string, ip: string, prefix: integer, gateway: string, mac: string, bridge: string,
      aliases: arrayOf(string), dnsServers: arrayOf(string), ip6: optional(string), prefix6: optional(integer), gateway6: optional(string),
    })),
    ports: arrayOf(object({ hostIp: string, hostPort: integer, containerPort: integer, protocol: oneOf("tcp", "udp", "sctp") })),
    leases: arrayOf(checkLease),
    linkClasses: optional(arrayOf(object({ device: string, minor: integer, ip: string }))),
    warm: optional(boolean),
    options: netavarkInput,
    connected: optional(arrayOf(object({ networkId: string, options: netavarkInput }))),
    v: (x: unknown, where: string) => { if (x !== 1) throw new ShapeError(where, "version 1"); return 1 as const; },
  })(v, at);
  return o as unknown as Attachment;
};

export { NetworkError, dropLease };

/**
 * aardvark-dns daemonizes and may not listen yet when netavark returns (seen
 * in 8 of 260 cold starts): the container's first lookup would fail. Waits
 * (at most a second) for its UDP socket on the gateway's port 53.
 */
function awaitDnsListening(gateway: string): void {
  const ip = parseIp4(gateway);
  if (ip === undefined) return;
  const le = Buffer.alloc(4);
  le.writeUInt32LE(ip);
  const local = `${le.toString("hex").toUpperCase()}:0035`;
  const deadline = Date.now() + 1000;
  while (Date.now() < deadline) {
    let table = "";
    try { table = readFileSync("/proc/net/udp", "utf8"); } catch { return; }
    if (table.includes(` ${local} `)) return;
    sleepSync(5);
  }
}

/** Waits (at most 2 s) until the bridge has at most `n` ports. */
function awaitBridgePorts(bridge: string, n: number): void {
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    let ports: string[];
    try { ports = readdirSync(`/sys/class/net/${bridge}/brif`); } catch { return; }
    if (ports.length <= n) return;
    sleepSync(10);
  }
}

/** network rm: the network's bridge goes with its anchor. */
export function releaseNetworkBridge(host: NetnsHost, def: NetworkDef): void {
  if (!existsSync(LEASE_ROOT)) return;
  withLock(LOCK, () => {
    // The kernel deletes a drained namespace's veth in its own time: the
    // anchor's teardown deletes the bridge only once it is its last port.
    if (drainWarm(host, def.id) > 0) awaitBridgePorts(def.bridge, 1);
    removeAnchor(host, def);
    // Its addresses' directory, if no container still holds one there (one a crash left, freed by the sweep:
    // then `system prune` removes the directory).
    removeEmptyScope("ip", def.id);
    // The link's shaper goes with the last network that used it (no container's class is left on it).
    if (def.link && !allLeases().some((l) => l.kind === "class" && l.scope === def.link!.device)) {
      removeLinkShaper(def.link);
      removeEmptyScope("class", def.link.device);
    }
  });
}

/**
 * `system prune`: what crashed transfers of an address left (temporary files),
 * and the address directories of networks that are not `defined`, when
 * empty; how many directories went. Emptiness under the lock is what makes
 * the removal safe (see removeEmptyScope); `defined` only spares the
 * directories of networks that exist, which their next container would make again.
 */
export function sweepLeaseScopes(defined: ReadonlySet<string>): number {
  if (!existsSync(LEASE_ROOT)) return 0;
  return withLock(LOCK, () => leaseScopes("ip").filter((id) => {
    removeTransferLeftovers("ip", id);
    return !defined.has(id) && removeEmptyScope("ip", id);
  }).length);
}

/**
 * `network connect` of a running container: one more interface (eth1, …) on
 * the network, its own netavark setup, recorded beside the first.
 */
export function connectNetwork(host: NetnsHost, a: AttachArgs): Attachment {
  mkdirSync(LEASE_ROOT, { recursive: true });
  return withLock(LOCK, () => {
    const record = readChecked(attachmentPath(a.dir), checkAttachment);
    const n = a.networks[0]!;
    if (!record) throw new TsboxError(`container ${a.name} is not on a network it can add to (its network mode has none)`);
    if (record.endpoints.some((e) => e.networkId === n.id)) {
      throw new TsboxError(`endpoint with name ${a.name} already exists in network ${n.name}`);
    }
    const holder: Holder = { root: a.root, id: a.id };
    const leases: Lease[] = [];
    // Not kept warm with a second network; and said before leasing, so that release scans for what a crash leaves.
    if (record.warm) writeJsonAtomic(attachmentPath(a.dir), { ...record, warm: false }, false);
    ensureAnchor(host, n);
    const ip = leaseAddress(n, a.request.ip, holder, leases);
    const ip6 = n.subnet6 ? leaseAddress6(n, a.request.ip6, holder, leases) : undefined;
    const iface = `eth${record.endpoints.length}`;
    const options: NetavarkOptions = {
      container_id: a.id, container_name: a.name,
      networks: { [n.name]: { interface_name: iface, static_ips: [ip, ...(ip6 ? [ip6] : [])], static_mac: macFromIp4(ip), ...(n.dns ? { aliases: aliasesOf(a) } : {}) } },
      network_info: { [n.name]: networkInfo(n) },
    };
    const pending: Attachment = {
      ...record, ...(record.warm ? { warm: false } : {}),
      connected: [...(record.connected ?? []), { networkId: n.id, options }], leases: [...record.leases, ...leases],
    };
    writeJsonAtomic(attachmentPath(a.dir), pending, false);
    let status;
    try {
      status = netavarkSetup(record.configDir, record.netns, options);
    } catch (e) {
      netavarkTeardown(record.configDir, record.netns, options);
      for (const l of leases) releaseLease(l.kind, l.scope, l.key, holder);
      writeJsonAtomic(attachmentPath(a.dir), record, false);
      throw e;
    }
    if (n.dns) awaitDnsListening(n.gateway);
    const endpoint: Endpoint = {
      network: n.name, networkId: n.id, ip, prefix: parseSubnet4(n.subnet)!.prefix, gateway: n.gateway, ...v6Endpoint(n, ip6),
      mac: status[n.name]?.interfaces?.[iface]?.mac_address ?? "", bridge: n.bridge, aliases: n.dns ? aliasesOf(a) : [],
      dnsServers: status[n.name]?.dns_server_ips ?? [],
    };
    const done: Attachment = { ...pending, endpoints: [...record.endpoints, endpoint] };
    writeJsonAtomic(attachmentPath(a.dir), done, false);
    return done;
  });
}

/** `network disconnect` of a running container from a network it was connected to. */
export function disconnectNetwork(root: string, id: string, dir: string, networkId: string, networkName: string): void {
  withLock(LOCK, () => {
    const record = readChecked(attachmentPath(dir), checkAttachment);
    const i = record?.connected?.findIndex((c) => c.networkId === networkId) ?? -1;
    if (!record || i < 0) {
      if (record?.endpoints[0]?.networkId === networkId) {
        throw new TsboxError(`container ${id.slice(0, 12)} is running on ${networkName} as its first network: stop it to disconnect it`);
      }
      throw new TsboxError(`container ${id.slice(0, 12)} is not connected to network ${networkName}`);
    }
    const c = record.connected![i]!;
    const failed = netavarkTeardown(record.configDir, record.netns, c.options);
    if (failed) log().warn({ id, failed }, "network teardown");
    const ip = record.endpoints.find((e) => e.networkId === networkId)?.ip;
    const lease = record.leases.find((l) => l.kind === "ip" && l.scope === networkId && l.key === ip);
    if (lease) releaseLease(lease.kind, lease.scope, lease.key, { root, id });
    writeJsonAtomic(attachmentPath(dir), {
      ...record, connected: record.connected!.filter((_, j) => j !== i),
      endpoints: record.endpoints.filter((e) => e.networkId !== networkId), leases: record.leases.filter((l) => l !== lease),
    } satisfies Attachment, false);
  });
}

function networkInfo(n: NetworkDef): NetavarkOptions["network_info"][string] {
  return {
    name: n.name, id: n.id, driver: "bridge", network_interface: n.bridge,
    subnets: [{ subnet: n.subnet, gateway: n.gateway }, ...(n.subnet6 ? [{ subnet: n.subnet6, gateway: n.gateway6! }] : [])],
    ipv6_enabled: n.subnet6 !== undefined, internal: n.internal, dns_enabled: n.dns,
  };
}

function v6Endpoint(n: NetworkDef, ip6: string | undefined): Partial<Endpoint> {
  return ip6 && n.subnet6 ? { ip6, prefix6: parseSubnet6(n.subnet6)!.prefix, gateway6: n.gateway6! } : {};
}

/** The lowest free IPv6 address of the network (after its gateway), or the one asked for. */
function leaseAddress6(n: NetworkDef, wanted: string | undefined, holder: Holder, leases: Lease[]): string {
  const subnet = parseSubnet6(n.subnet6!)!;
  const gateway = parseIp6(n.gateway6!);
  const take = (s: string): boolean => {
    if (!tryLease("ip", n.id, s, holder)) return false;
    leases.push({ kind: "ip", scope: n.id, key: s, holder });
    return true;
  };
  if (wanted !== undefined) {
    const ip = parseIp6(wanted);
    if (ip === undefined || !contains6(subnet, ip)) throw new UsageError(`invalid --ip6 ${wanted}: not an address of network ${n.name} (${n.subnet6})`);
    if (ip === gateway || !take(formatIp6(ip))) throw new TsboxError(`Address already in use: ${wanted} on network ${n.name}`);
    return formatIp6(ip);
  }
  for (let ip = subnet.base + 1n; ip < subnet.base + 65536n; ip++) {
    if (ip !== gateway && take(formatIp6(ip))) return formatIp6(ip);
  }
  throw new TsboxError(`no available IPv6 addresses on this network's address pools: ${n.name} (${n.id.slice(0, 12)})`);
}

function classComment(id: string): string {
  return `tsbox ${id.slice(0, 12)}`;
}

/**
 * --network-rate (a tbf on each of its interfaces) and, on networks with a
 * shaped link, its weighted class there. The classes are recorded (with their
 * leases) before they exist, so that a failure half-way is undone by release.
 */
function shape(a: AttachArgs, ips: string[], netns: string, holder: Holder, leases: Lease[], undo: Undo): LinkClass[] {
  const classes: LinkClass[] = [];
  a.networks.forEach((n, i) => {
    if (a.request.rate !== undefined) capEgress(netns, `eth${i}`, a.request.rate);
    if (!n.link) return;
    ensureLinkShaper(n.link);
    let minor: number | undefined;
    for (let m = 2; m < 0xfff0 && minor === undefined; m++) {
      if (tryLease("class", n.link.device, m.toString(16), holder)) minor = m;
    }
    if (minor === undefined) throw new TsboxError(`no free class on link ${n.link.device}`);
    leases.push({ kind: "class", scope: n.link.device, key: minor.toString(16), holder });
    const c: LinkClass = { device: n.link.device, minor, ip: ips[i]! };
    classes.push(c);
    writeJsonAtomic(attachmentPath(a.dir), { ...readChecked(attachmentPath(a.dir), checkAttachment)!, leases, linkClasses: classes }, false);
    undo.push(() => removeLinkClass(c, classComment(a.id)));
    addLinkClass(n.link, c, a.request.weight ?? 1, a.request.rate, classComment(a.id));
  });
  return classes;
}

/**
 * Whether netavark has anything of this container to undo beyond its veth:
 * published ports (rules), names in aardvark-dns, link classes, a network
 * joined later, or a bridge without its anchor (the last container's teardown
 * deletes the bridge and the network's rules). Otherwise the teardown would
 * only delete the veth, which the kernel deletes with the namespace once it
 * is unmounted, in its own time: netavark's deletion waits for it (25–50 ms
 * of every `run --rm` here).
 */
function teardownNeeded(r: Attachment): boolean {
  return r.ports.length > 0 || (r.linkClasses?.length ?? 0) > 0 || (r.connected?.length ?? 0) > 0
    || Object.values(r.options.network_info).some((n) => n.dns_enabled || !anchorExists(n.id));
}
