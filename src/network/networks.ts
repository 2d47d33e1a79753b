// Networks: Docker's default `bridge` (tsbox0, built in) and the user-defined
// ones `network create` makes, one JSON file each under <root>/networks/.
// A network is only a definition until a container joins it: netavark makes
// its bridge at the first container and removes it after the last.

import { mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { NotFoundError, TsboxError, UsageError } from "../errors.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { randomBytesHex } from "../util/random.js";
import { boolean, integer, matching, object, oneOf, optional, readChecked, recordOf, string, type Check } from "../util/shape.js";
import type { Link } from "./shaping.js";
import { USER_POOL6, checkSubnet6, contains6, formatIp6, formatSubnet6, overlaps6, parseIp6, parseSubnet6, poolSubnet, type Subnet6 } from "./ipv6.js";
import {
  checkSubnet4, contains, formatIp4, formatSubnet4, hostRange, overlaps, parseIp4, parseRoutes, parseSubnet4, type Subnet4,
} from "./ipv4.js";
import { releaseLease, tryLease } from "./leases.js";

export interface NetworkDef {
  id: string;
  name: string;
  driver: "bridge";
  /** the bridge interface on the host */
  bridge: string;
  subnet: string;
  gateway: string;
  /** --ipv6: its IPv6 subnet and gateway too */
  subnet6?: string;
  gateway6?: string;
  /** no route out (Docker's --internal) */
  internal: boolean;
  /** containers resolve each other by name (aardvark-dns): user-defined networks, as Docker's embedded DNS */
  dns: boolean;
  created: string;
  labels?: Record<string, string>;
  /** the link its containers share by --network-weight (`-o tsbox.link=DEV -o tsbox.link-rate=RATE`) */
  link?: Link;
}

const checkNetwork: Check<NetworkDef> = object({
  id: matching(/^[0-9a-f]{64}$/, "a 64-digit hex network id"),
  name: string,
  driver: oneOf("bridge"),
  bridge: matching(/^[A-Za-z0-9_.-]{1,15}$/, "an interface name"),
  subnet: string,
  gateway: string,
  subnet6: optional(string),
  gateway6: optional(string),
  internal: boolean,
  dns: boolean,
  created: string,
  labels: optional(recordOf(string)),
  link: optional(object({ device: string, rate: integer })),
});

/** Docker's name for its default network; tsbox's bridge and subnet. */
export const DEFAULT_NETWORK_NAME = "bridge";
export const DEFAULT_BRIDGE = "tsbox0";
export const DEFAULT_SUBNET = "172.29.0.0/16";
/** Where `network create` without --subnet takes a /24 from. */
export const USER_POOL = "10.90.0.0/16";
/** Docker's predefined networks: none and host are modes, not networks one joins. */
const RESERVED = new Set(["bridge", "none", "host", "default"]);

/**
 * The default network's id: sha256("tsbox default bridge network"), written out because hashing
 * it on every `run` loaded node:crypto (~6 ms of start-up) for a constant. A unit test re-hashes it.
 */
export const DEFAULT_NETWORK_ID = "fc2ea26c6a76db0a3d5b024a4a336f31506c549f3975e19e119ff23524d5ce01";

export function defaultNetwork(): NetworkDef {
  return {
    id: DEFAULT_NETWORK_ID,
    name: DEFAULT_NETWORK_NAME, driver: "bridge", bridge: DEFAULT_BRIDGE,
    subnet: DEFAULT_SUBNET, gateway: "172.29.0.1", internal: false, dns: false, created: "1970-01-01T00:00:00.000Z",
  };
}

function networksDir(root: string): string {
  return join(root, "networks");
}

/** The default network, then the user-defined ones by name. */
export function listNetworks(root: string): NetworkDef[] {
  let files: string[];
  try {
    files = readdirSync(networksDir(root)).filter((f) => f.endsWith(".json"));
  } catch {
    files = [];
  }
  const user: NetworkDef[] = [];
  for (const f of files) {
    try {
      const n = readChecked(join(networksDir(root), f), checkNetwork);
      if (n) user.push(n);
    } catch (e) {
      throw new TsboxError(`network ${f.slice(0, -5)}: corrupt definition: ${(e as Error).message}`);
    }
  }
  return [defaultNetwork(), ...user.sort((a, b) => a.name.localeCompare(b.name))];
}

/**
 * The ids of the networks defined in the root, the default one's too, by
 * their files' names: a corrupt definition still names its network.
 */
export function definedNetworkIds(root: string): string[] {
  let files: string[];
  try {
    files = readdirSync(networksDir(root));
  } catch {
    files = [];
  }
  return [DEFAULT_NETWORK_ID, ...files.filter((f) => /^[0-9a-f]{64}\.json$/.test(f)).map((f) => f.slice(0, -5))];
}

/** By name, full id or unique id prefix (Docker's lookup); undefined if none. */
export function findNetwork(root: string, ref: string): NetworkDef | undefined {
  const all = listNetworks(root);
  const byName = all.find((n) => n.name === ref);
  if (byName) return byName;
  const byId = all.filter((n) => n.id.startsWith(ref));
  if (byId.length > 1) throw new UsageError(`network ${ref} is ambiguous (${byId.length} matches found based on ID prefix)`);
  return byId[0];
}

export function getNetwork(root: string, ref: string): NetworkDef {
  const n = findNetwork(root, ref);
  if (!n) throw new NotFoundError(`network ${ref} not found`);
  return n;
}

export interface CreateOptions {
  name: string;
  subnet?: string;
  gateway?: string;
  /** --ipv6, with an IPv6 --subnet (and --gateway) or a /64 of USER_POOL6 */
  ipv6?: { subnet?: string; gateway?: string };
  internal: boolean;
  labels?: Record<string, string>;
  link?: Link;
  /** the host's IPv4 routes (/proc/net/route's text): a chosen subnet must not overlap them */
  routes?: string;
}

/**
 * Defines a network: its subnet (given, or the first free /24 of USER_POOL)
 * leased host-wide, so two tsbox roots never pick the same one.
 */
export function createNetwork(root: string, o: CreateOptions): NetworkDef {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(o.name)) {
    throw new UsageError(`invalid network name "${o.name}": must match [a-zA-Z0-9][a-zA-Z0-9_.-]`);
  }
  if (RESERVED.has(o.name)) {
    throw new UsageError(`operation is not permitted on predefined ${o.name} network`);
  }
  const existing = listNetworks(root);
  if (existing.some((n) => n.name === o.name)) throw new TsboxError(`network with name ${o.name} already exists`, 1);
  const id = randomBytesHex(32);
  const taken = [...existing.map((n) => parseSubnet4(n.subnet)!), ...parseRoutes(o.routes ?? readRoutes())];
  let subnet: Subnet4;
  if (o.subnet !== undefined) {
    subnet = checkSubnet4(o.subnet);
    const clash = existing.find((n) => overlaps(parseSubnet4(n.subnet)!, subnet));
    if (clash) throw new TsboxError(`invalid pool request: Pool overlaps with other one on this address space (network ${clash.name})`, 1);
    if (!tryLease("subnet", "", subnetKey(subnet), { root, id })) {
      throw new TsboxError(`invalid pool request: Pool overlaps with other one on this address space (${formatSubnet4(subnet)} is in use on this host)`, 1);
    }
  } else {
    subnet = pickSubnet(taken, { root, id });
  }
  let gateway: string;
  if (o.gateway !== undefined) {
    const g = parseIp4(o.gateway);
    const r = hostRange(subnet);
    if (g === undefined || !contains(subnet, g) || g < r.first || g > r.last) {
      releaseLease("subnet", "", subnetKey(subnet), { root, id });
      throw new UsageError(`invalid --gateway ${o.gateway}: not an address of ${formatSubnet4(subnet)}`);
    }
    gateway = o.gateway;
  } else {
    gateway = formatIp4(hostRange(subnet).first);
  }
  const v6 = o.ipv6 ? ipv6Subnet(root, id, existing, o.ipv6, () => releaseLease("subnet", "", subnetKey(subnet), { root, id })) : undefined;
  const def: NetworkDef = {
    ...(v6 ? { subnet6: v6.subnet, gateway6: v6.gateway } : {}),
    id, name: o.name, driver: "bridge", bridge: `tsbr-${id.slice(0, 10)}`, subnet: formatSubnet4(subnet), gateway,
    internal: o.internal, dns: true, created: new Date().toISOString(), ...(o.labels ? { labels: o.labels } : {}),
    ...(o.link ? { link: o.link } : {}),
  };
  mkdirSync(networksDir(root), { recursive: true });
  writeJsonAtomic(join(networksDir(root), `${id}.json`), def);
  return def;
}

export function deleteNetworkDef(root: string, def: NetworkDef): void {
  if (def.name === DEFAULT_NETWORK_NAME) throw new UsageError(`${def.name} is a pre-defined network and cannot be removed`);
  rmSync(join(networksDir(root), `${def.id}.json`), { force: true });
  const s = parseSubnet4(def.subnet);
  if (s) releaseLease("subnet", "", subnetKey(s), { root, id: def.id });
  if (def.subnet6) releaseLease("subnet", "", def.subnet6.replace(/\//g, "-"), { root, id: def.id });
}

function subnetKey(s: Subnet4): string {
  return formatSubnet4(s).replace("/", "-");
}

function pickSubnet(taken: Subnet4[], holder: { root: string; id: string }): Subnet4 {
  const pool = parseSubnet4(USER_POOL)!;
  for (let i = 1; i < 256; i++) {
    const candidate: Subnet4 = { base: pool.base + i * 256, prefix: 24 };
    if (taken.some((t) => overlaps(t, candidate))) continue;
    if (tryLease("subnet", "", subnetKey(candidate), holder)) return candidate;
  }
  throw new TsboxError(`could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network`, 1);
}

function readRoutes(): string {
  try { return readFileSync("/proc/net/route", "utf8"); } catch { return ""; }
}

/** The network's IPv6 subnet (given, or the first free /64 of USER_POOL6), leased host-wide; and its gateway. */
function ipv6Subnet(root: string, id: string, existing: NetworkDef[], o: { subnet?: string; gateway?: string },
  undoV4: () => void): { subnet: string; gateway: string } {
  const holder = { root, id };
  const taken = existing.map((n) => (n.subnet6 ? parseSubnet6(n.subnet6) : undefined)).filter((n): n is Subnet6 => n !== undefined);
  let subnet: Subnet6 | undefined;
  try {
    if (o.subnet !== undefined) {
      subnet = checkSubnet6(o.subnet);
      const s = subnet;
      if (taken.some((t) => overlaps6(t, s)) || !tryLease("subnet", "", formatSubnet6(s).replace(/\//g, "-"), holder)) {
        throw new TsboxError(`invalid pool request: Pool overlaps with other one on this address space (${formatSubnet6(s)})`, 1);
      }
    } else {
      const pool = parseSubnet6(USER_POOL6)!;
      for (let i = 1; i < 65536 && !subnet; i++) {
        const c = poolSubnet(pool, i);
        if (!taken.some((t) => overlaps6(t, c)) && tryLease("subnet", "", formatSubnet6(c).replace(/\//g, "-"), holder)) subnet = c;
      }
      if (!subnet) throw new TsboxError("could not find an available, non-overlapping IPv6 address pool to assign to the network", 1);
    }
    const s = subnet;
    let gateway = formatIp6(s.base + 1n);
    if (o.gateway !== undefined) {
      const g = parseIp6(o.gateway);
      if (g === undefined || !contains6(s, g) || g === s.base) {
        releaseLease("subnet", "", formatSubnet6(s).replace(/\//g, "-"), holder);
        throw new UsageError(`invalid --gateway ${o.gateway}: not an address of ${formatSubnet6(s)}`);
      }
      gateway = formatIp6(g);
    }
    return { subnet: formatSubnet6(s), gateway };
  } catch (e) {
    undoV4();
    throw e;
  }
}
