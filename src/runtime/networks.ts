// The `network` verbs over the network layer: what Docker shows of a network
// (ls, inspect) with the containers on it, and create, rm, prune.

import { createHash } from "node:crypto";
import { TsboxError } from "../errors.js";
import {
  createNetwork, deleteNetworkDef, releaseNetworkBridge, connectNetwork, disconnectNetwork, getNetwork, readNetworkConfig, writeNetworkConfig, findNetwork, listNetworks, readAttachment, DEFAULT_NETWORK_NAME,
  type CreateOptions, type NetworkDef,
} from "../network/index.js";
import { containerPaths, findContainer, readAllStates } from "../state/container-store.js";
import { recordEvent } from "../state/events.js";
import { shimLauncher } from "../native/launcher.js";

/** Docker's predefined `host` and `none` are listed beside the networks. */
export interface NetworkEntry {
  id: string;
  name: string;
  driver: string;
  def?: NetworkDef;
}

function modeEntry(name: "host" | "none"): NetworkEntry {
  return { id: createHash("sha256").update(`tsbox ${name} network`).digest("hex"), name, driver: name === "none" ? "null" : "host" };
}

export function networkEntries(root: string): NetworkEntry[] {
  const defs = listNetworks(root).map((d) => ({ id: d.id, name: d.name, driver: d.driver, def: d }));
  return [...defs, modeEntry("host"), modeEntry("none")].sort((a, b) => a.name.localeCompare(b.name));
}

export function findEntry(root: string, ref: string): NetworkEntry | undefined {
  if (ref === "host" || ref === "none") return modeEntry(ref);
  const d = findNetwork(root, ref);
  return d ? { id: d.id, name: d.name, driver: d.driver, def: d } : undefined;
}

/** The running containers on a network, as inspect's "Containers" lists them. */
export function containersOn(root: string, networkId: string): Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }> {
  const out: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }> = {};
  for (const s of readAllStates(root)) {
    const a = readAttachment(containerPaths(root, s.id).dir);
    const e = a?.endpoints.find((x) => x.networkId === networkId);
    if (!e) continue;
    out[s.id] = {
      Name: s.name, EndpointID: createHash("sha256").update(`${s.id}/${networkId}`).digest("hex"),
      MacAddress: e.mac, IPv4Address: `${e.ip}/${e.prefix}`, IPv6Address: e.ip6 ? `${e.ip6}/${e.prefix6}` : "",
    };
  }
  return out;
}

/** `network inspect`'s object for one network, Docker's shape. */
export function inspectNetwork(root: string, n: NetworkEntry): Record<string, unknown> {
  const d = n.def;
  return {
    Name: n.name, Id: n.id, Created: d?.created ?? "1970-01-01T00:00:00Z", Scope: "local", Driver: n.driver, EnableIPv6: d?.subnet6 !== undefined,
    IPAM: {
      Driver: "default", Options: null,
      Config: d ? [{ Subnet: d.subnet, Gateway: d.gateway }, ...(d.subnet6 ? [{ Subnet: d.subnet6, Gateway: d.gateway6 }] : [])] : [],
    },
    Internal: d?.internal ?? false, Attachable: false, Ingress: false, ConfigFrom: { Network: "" }, ConfigOnly: false,
    Containers: d ? containersOn(root, d.id) : {},
    Options: d ? {
      "com.docker.network.bridge.name": d.bridge,
      ...(d.link ? { "tsbox.link": d.link.device, "tsbox.link-rate": String(d.link.rate) } : {}),
    } : {},
    Labels: d?.labels ?? {},
  };
}

export function createNetworkVerb(root: string, o: CreateOptions): NetworkDef {
  const d = createNetwork(root, o);
  recordEvent(root, "network", "create", d.id, { name: d.name, type: "bridge" });
  return d;
}

/** `network rm`: refused while a container is on it (Docker's "active endpoints"). */
export function removeNetwork(root: string, ref: string): NetworkEntry {
  const n = findEntry(root, ref);
  if (!n) throw new TsboxError(`network ${ref} not found`, 1);
  if (!n.def || n.name === DEFAULT_NETWORK_NAME) throw new TsboxError(`${n.name} is a pre-defined network and cannot be removed`, 1);
  if (Object.keys(containersOn(root, n.id)).length > 0) {
    throw new TsboxError(`error while removing network: network ${n.name} id ${n.id} has active endpoints`, 1);
  }
  releaseNetworkBridge(shimLauncher, n.def);
  deleteNetworkDef(root, n.def);
  recordEvent(root, "network", "destroy", n.id, { name: n.name, type: "bridge" });
  return n;
}

/**
 * `network ls --filter`, as Docker's daemon matches networks: driver, id
 * (prefix), label (KEY or KEY=VALUE), name (a regular expression, so a part of
 * the name matches), scope, type (custom or builtin), dangling (a user-defined
 * network no container is on). Several values of one key match any of them;
 * different keys all must match.
 */
export function filterNetworks(root: string, entries: NetworkEntry[], filters: readonly string[]): NetworkEntry[] {
  const byKey = new Map<string, string[]>();
  for (const f of filters) {
    const eq = f.indexOf("=");
    if (eq <= 0) throw new TsboxError(`bad format of filter (expected name=value)`, 1);
    const key = f.slice(0, eq);
    if (!["driver", "id", "label", "name", "scope", "type", "dangling"].includes(key)) throw new TsboxError(`Invalid filter '${key}'`, 1);
    byKey.set(key, [...(byKey.get(key) ?? []), f.slice(eq + 1)]);
  }
  const dangling = byKey.get("dangling");
  for (const v of dangling ?? []) {
    if (!["true", "false", "1", "0"].includes(v)) throw new TsboxError('invalid value for filter \'dangling\', must be "true" (or "1"), or "false" (or "0")', 1);
  }
  for (const v of byKey.get("type") ?? []) {
    if (v !== "custom" && v !== "builtin") throw new TsboxError(`invalid filter: 'type'='${v}'`, 1);
  }
  const names = (byKey.get("name") ?? []).map((v) => {
    try {
      return new RegExp(v);
    } catch {
      throw new TsboxError(`Invalid filter: 'name'='${v}'`, 1);
    }
  });
  return entries.filter((n) => {
    const custom = n.def !== undefined && n.name !== DEFAULT_NETWORK_NAME;
    const labels = n.def?.labels ?? {};
    const any = (key: string, test: (v: string) => boolean): boolean => {
      const values = byKey.get(key);
      return values === undefined || values.some(test);
    };
    return any("driver", (v) => v === n.driver)
      && any("id", (v) => n.id.startsWith(v))
      && (names.length === 0 || names.some((re) => re.test(n.name)))
      && any("scope", (v) => v === "local")
      && any("type", (v) => (v === "custom") === custom)
      && (byKey.get("label") ?? []).every((v) => {
        const eq = v.indexOf("=");
        return eq < 0 ? Object.hasOwn(labels, v) : labels[v.slice(0, eq)] === v.slice(eq + 1);
      })
      && any("dangling", (v) => (v === "true" || v === "1") === (custom && Object.keys(containersOn(root, n.id)).length === 0));
  });
}

/** `network prune`: the user-defined networks no container is on (and `keep` does not keep); their names. */
export function pruneNetworks(root: string, may: (n: { created: number; labels: Readonly<Record<string, string>> }) => boolean = () => true): string[] {
  const removed: string[] = [];
  for (const d of listNetworks(root)) {
    if (d.name === DEFAULT_NETWORK_NAME || Object.keys(containersOn(root, d.id)).length > 0) continue;
    if (!may({ created: Date.parse(d.created) || 0, labels: d.labels ?? {} })) continue;
    releaseNetworkBridge(shimLauncher, d);
    deleteNetworkDef(root, d);
    recordEvent(root, "network", "destroy", d.id, { name: d.name, type: "bridge" });
    removed.push(d.name);
  }
  return removed;
}

/**
 * `network connect`: the network is added to the container's networks; a
 * running container gets its interface now, a stopped one at its next start.
 */
export function connectContainer(root: string, netRef: string, ctrRef: string, o: { aliases: string[]; ip?: string }): void {
  const net = getNetwork(root, netRef);
  const c = findContainer(root, ctrRef);
  const dir = containerPaths(root, c.id).dir;
  const config = readNetworkConfig(dir);
  if (!config || config.kind !== "bridge" || !config.request) {
    throw new TsboxError("container sharing network namespace with another container or host cannot be connected to any other network");
  }
  if (config.request.networks.includes(net.id)) {
    throw new TsboxError(`endpoint with name ${c.name} already exists in network ${net.name}`);
  }
  if (net.name === DEFAULT_NETWORK_NAME && (o.ip !== undefined || o.aliases.length)) {
    throw new TsboxError("network-scoped aliases and --ip are only supported for user-defined networks");
  }
  const request = { ...config.request, networks: [...config.request.networks, net.id], aliases: [...new Set([...config.request.aliases, ...o.aliases])] };
  if (readAttachment(dir)) {
    connectNetwork(shimLauncher, {
      root, id: c.id, name: c.name, dir, networks: [net],
      request: { networks: [net.id], aliases: request.aliases, ports: [], ...(o.ip !== undefined ? { ip: o.ip } : {}) },
    });
  }
  writeNetworkConfig(dir, { ...config, request });
  recordEvent(root, "network", "connect", net.id, { container: c.id, name: net.name, type: "bridge" });
}

/** `network disconnect`: off the network now if it runs, and at its next starts. */
export function disconnectContainer(root: string, netRef: string, ctrRef: string): void {
  const net = getNetwork(root, netRef);
  const c = findContainer(root, ctrRef);
  const dir = containerPaths(root, c.id).dir;
  const config = readNetworkConfig(dir);
  if (!config?.request?.networks.includes(net.id)) {
    throw new TsboxError(`container ${c.id.slice(0, 12)} is not connected to network ${net.name}`);
  }
  const a = readAttachment(dir);
  if (a?.endpoints.some((e) => e.networkId === net.id)) disconnectNetwork(root, c.id, dir, net.id, net.name);
  writeNetworkConfig(dir, { ...config, request: { ...config.request, networks: config.request.networks.filter((n) => n !== net.id) } });
  recordEvent(root, "network", "disconnect", net.id, { container: c.id, name: net.name, type: "bridge" });
}
