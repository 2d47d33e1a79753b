// A network's bridge for as long as the network exists, as Docker keeps
// docker0 and a user-defined network's bridge: netavark makes a bridge with
// its first container and deletes it, with the network's NAT rules, after the
// last (about 150–250 ms of iptables deletions on this kind of host, on every
// `run --rm` of a lone container). An anchor is one more endpoint on the
// bridge that no container uses: a namespace the shim pins under
// /run/tsbox/net/anchor/, with the subnet's last address, attached by
// netavark without DNS. The default network's stays (docker0's does);
// `network rm` releases a user-defined network's.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { log } from "../log.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { readChecked, object, string, recordOf, type Check } from "../util/shape.js";
import { formatIp4, hostRange, macFromIp4, parseSubnet4 } from "./ipv4.js";
import { formatIp6, parseSubnet6 } from "./ipv6.js";
import { LEASE_ROOT, releaseLease, tryLease, type Holder } from "./leases.js";
import { netavarkSetup, netavarkTeardown, type NetavarkOptions } from "./netavark.js";
import type { NetworkDef } from "./networks.js";

export interface AnchorHost {
  pinNetns(path: string): void;
  unmount(path: string): void;
}

export const ANCHOR_DIR = join(LEASE_ROOT, "anchor");
const DIR = ANCHOR_DIR;

function paths(def: NetworkDef): { netns: string; record: string; config: string } {
  return { netns: join(DIR, def.id), record: join(DIR, `${def.id}.json`), config: join(DIR, "netavark") };
}

const holderOf = (def: NetworkDef): Holder => ({ root: DIR, id: def.id });

/** The anchor's address: the subnet's last one (containers are given the lowest free ones). */
export function anchorAddress(def: NetworkDef): string {
  return formatIp4(hostRange(parseSubnet4(def.subnet)!).last);
}

function options(def: NetworkDef): NetavarkOptions {
  const id = createHash("sha256").update(`tsbox anchor ${def.id}`).digest("hex");
  return {
    container_id: id, container_name: `tsbox-anchor-${def.id.slice(0, 12)}`,
    networks: {
      [def.name]: {
        interface_name: "eth0", static_mac: macFromIp4(anchorAddress(def)),
        static_ips: [anchorAddress(def), ...(def.subnet6 ? [anchorAddress6(def.subnet6)] : [])],
      },
    },
    network_info: {
      [def.name]: {
        name: def.name, id: def.id, driver: "bridge", network_interface: def.bridge,
        subnets: [{ subnet: def.subnet, gateway: def.gateway }, ...(def.subnet6 ? [{ subnet: def.subnet6, gateway: def.gateway6! }] : [])],
        ipv6_enabled: def.subnet6 !== undefined, internal: def.internal, dns_enabled: false,
      },
    },
  };
}

const checkRecord: Check<{ options: NetavarkOptions }> = (v, at) =>
  object({ options: object({ container_id: string, container_name: string, networks: recordOf(object({})), network_info: recordOf(object({})) }) })(v, at) as unknown as { options: NetavarkOptions };

/** The anchor's IPv6 address: the /64's last but one (containers count up from the gateway). */
function anchorAddress6(subnet6: string): string {
  const s = parseSubnet6(subnet6)!;
  return formatIp6(s.base + (1n << BigInt(128 - s.prefix)) - 2n);
}

/**
 * The bridge's MAC, set once: a bridge without one of its own takes the lowest
 * of its ports' MACs, so it changes when that container leaves, and the other
 * containers' packets to the gateway go to the old MAC (their neighbour entry
 * still says REACHABLE) and are dropped for tens of seconds. netavark sets it
 * from 1.9 on (containers/netavark#833); 1.4 does not. Docker's MAC scheme on
 * the gateway's address, which no container has.
 */
export function pinBridgeMac(def: NetworkDef): void {
  let assigned = "";
  try { assigned = readFileSync(`/sys/class/net/${def.bridge}/addr_assign_type`, "utf8").trim(); } catch { return; /* no bridge yet */ }
  if (assigned === "3") return; // NET_ADDR_SET: someone (we) set it
  const r = spawnSync("ip", ["link", "set", "dev", def.bridge, "address", macFromIp4(def.gateway)],
    { encoding: "utf8", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
  if (r.status !== 0) log().warn({ bridge: def.bridge, err: String(r.stderr).trim() }, "pinning the bridge's MAC");
}

/** Makes the network's anchor unless it is there (the caller holds the network lock). */
export function ensureAnchor(host: AnchorHost, def: NetworkDef): void {
  const p = paths(def);
  if (existsSync(p.record) && existsSync(p.netns)) {
    pinBridgeMac(def);
    return;
  }
  mkdirSync(p.config, { recursive: true });
  const o = options(def);
  if (!existsSync(p.netns)) {
    writeFileSync(p.netns, "", { mode: 0o444 });
    host.pinNetns(p.netns);
  }
  // A leftover lease of a half-made anchor is ours to take again.
  const address = anchorAddress(def);
  releaseLease("ip", def.id, address, holderOf(def));
  if (!tryLease("ip", def.id, address, holderOf(def))) {
    log().warn({ network: def.name, address }, "the anchor's address is taken: the bridge goes with its last container");
    return;
  }
  writeJsonAtomic(p.record, { options: o }, false);
  try {
    netavarkSetup(p.config, p.netns, o);
    pinBridgeMac(def);
  } catch (e) {
    log().warn({ network: def.name, err: e }, "anchor setup failed: the bridge goes with its last container");
    removeAnchor(host, def);
  }
}

/** Removes the anchor (network rm, or a failed setup); nothing if there is none. */
export function removeAnchor(host: AnchorHost, def: NetworkDef): void {
  const p = paths(def);
  let record: { options: NetavarkOptions } | undefined;
  try { record = readChecked(p.record, checkRecord); } catch { record = undefined; }
  if (record && existsSync(p.netns)) {
    const failed = netavarkTeardown(p.config, p.netns, record.options);
    if (failed) log().warn({ network: def.name, failed }, "anchor teardown");
  }
  if (existsSync(p.netns)) {
    try { host.unmount(p.netns); } catch { /* not mounted */ }
    rmSync(p.netns, { force: true });
  }
  rmSync(p.record, { force: true });
  releaseLease("ip", def.id, anchorAddress(def), holderOf(def));
}

/** Whether the network with this id has its anchor (its bridge outlives its containers). */
export function anchorExists(networkId: string): boolean {
  return existsSync(join(DIR, `${networkId}.json`)) && existsSync(join(DIR, networkId));
}
