// The `network` verbs over the network layer: what Docker shows of a network
// (ls, inspect) with the containers on it, and create, rm, prune.

import { createHash } from "node:crypto";
import { TsboxError } from "../errors.js";
import {
  createNetwork, deleteNetworkDef, findNetwork, listNetworks, readAttachment, DEFAULT_NETWORK_NAME,
  type CreateOptions, type NetworkDef,
} from "../network/index.js";
import { containerPaths, readAllStates } from "../state/container-store.js";

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
      MacAddress: e.mac, IPv4Address: `${e.ip}/${e.prefix}`, IPv6Address: "",
    };
  }
  return out;
}

/** `network inspect`'s object for one network, Docker's shape. */
export function inspectNetwork(root: string, n: NetworkEntry): Record<string, unknown> {
  const d = n.def;
  return {
    Name: n.name, Id: n.id, Created: d?.created ?? "1970-01-01T00:00:00Z", Scope: "local", Driver: n.driver, EnableIPv6: false,
    IPAM: { Driver: "default", Options: null, Config: d ? [{ Subnet: d.subnet, Gateway: d.gateway }] : [] },
    Internal: d?.internal ?? false, Attachable: false, Ingress: false, ConfigFrom: { Network: "" }, ConfigOnly: false,
    Containers: d ? containersOn(root, d.id) : {},
    Options: d ? { "com.docker.network.bridge.name": d.bridge } : {},
    Labels: d?.labels ?? {},
  };
}

export function createNetworkVerb(root: string, o: CreateOptions): NetworkDef {
  return createNetwork(root, o);
}

/** `network rm`: refused while a container is on it (Docker's "active endpoints"). */
export function removeNetwork(root: string, ref: string): NetworkEntry {
  const n = findEntry(root, ref);
  if (!n) throw new TsboxError(`network ${ref} not found`, 1);
  if (!n.def || n.name === DEFAULT_NETWORK_NAME) throw new TsboxError(`${n.name} is a pre-defined network and cannot be removed`, 1);
  if (Object.keys(containersOn(root, n.id)).length > 0) {
    throw new TsboxError(`error while removing network: network ${n.name} id ${n.id} has active endpoints`, 1);
  }
  deleteNetworkDef(root, n.def);
  return n;
}

/** `network prune`: the user-defined networks no container is on; their names. */
export function pruneNetworks(root: string): string[] {
  const removed: string[] = [];
  for (const d of listNetworks(root)) {
    if (d.name === DEFAULT_NETWORK_NAME || Object.keys(containersOn(root, d.id)).length > 0) continue;
    deleteNetworkDef(root, d);
    removed.push(d.name);
  }
  return removed;
}
