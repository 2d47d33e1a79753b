// Warm namespaces: a container's network namespace on the default bridge,
// kept when the container stops and handed, as it is, to the next container
// that asks for the same thing. netavark's setup of a container costs ~25–40
// ms here, nearly all of it 18 iptables processes re-checking the network's
// rules (netavark 1.4 has no way to skip them), in every `run`: a third of a
// `tsbox run --rm`. A namespace that served a container holds nothing of it
// once its processes are gone, if the container could not change it: so only
// one whose container had no CAP_NET_ADMIN or CAP_SYS_ADMIN (no --privileged,
// no exec --privileged), no net.* sysctl, no published port, DNS name, fixed
// address or MAC, shaping or second network, and that no process is left in,
// is kept — at most MAX_WARM per network, host-wide under /run/tsbox/net/warm.
// A warm namespace holds its address (a lease held by the slot) and its veth
// on the bridge; `system prune` and `network rm` let them go (the veth goes
// with the namespace), and every step here leaves a state the next claim or
// sweep puts right after a crash.

import { existsSync, mkdirSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { log } from "../log.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { randomBytesHex } from "../util/random.js";
import { integer, object, readChecked, recordOf, string, type Check } from "../util/shape.js";
import { LEASE_ROOT, leaseHolder, releaseLease, transferLease, type Holder, type Lease } from "./leases.js";
import type { NetavarkOptions } from "./netavark.js";

export const WARM_DIR = join(LEASE_ROOT, "warm");

/** Warm namespaces kept per network: enough for a few `run`s at once; each is a veth and an address. */
export const MAX_WARM = 4;

export interface WarmHost {
  bindNetns(from: string, to: string): void;
  unmount(path: string): void;
}

/** What a warm namespace is: its network, its address and the netavark input that set it up. */
export interface WarmSlot {
  v: 1;
  networkId: string;
  ip: string;
  mac: string;
  /** the container's endpoint as netavark reported it (network, prefix, gateway, bridge) */
  endpoint: { network: string; prefix: number; gateway: string; bridge: string };
  options: NetavarkOptions;
}

const checkSlot: Check<WarmSlot> = (v, at) => object({
  v: integer, networkId: string, ip: string, mac: string,
  endpoint: object({ network: string, prefix: integer, gateway: string, bridge: string }),
  options: object({ container_id: string, container_name: string, networks: recordOf(object({})), network_info: recordOf(object({})) }),
})(v, at) as unknown as WarmSlot;

const pinOf = (slot: string): string => join(WARM_DIR, slot);
const slotRecord = (slot: string): string => join(WARM_DIR, `${slot}.json`);
const holderOfSlot = (slot: string): Holder => ({ root: WARM_DIR, id: slot });
const isSlot = (h: Holder | undefined, slot: string): boolean => h?.root === WARM_DIR && h.id === slot;

/** The slots on the host, complete or not (a pin and its record). */
function slotNames(): string[] {
  let names: string[];
  try { names = readdirSync(WARM_DIR); } catch { return []; }
  return [...new Set(names.filter((n) => !n.startsWith(".")).map((n) => n.replace(/\.json$/, "")))];
}

function readSlot(slot: string): WarmSlot | undefined {
  try { return readChecked(slotRecord(slot), checkSlot); } catch { return undefined; }
}

/** Lets a slot go: its pin (the namespace and its veth go when nothing else holds them), record and lease. */
function discard(host: WarmHost, slot: string, s: WarmSlot | undefined): void {
  if (existsSync(pinOf(slot))) {
    try { host.unmount(pinOf(slot)); } catch { /* not mounted */ }
    rmSync(pinOf(slot), { force: true });
  }
  rmSync(slotRecord(slot), { force: true });
  if (s) releaseLease("ip", s.networkId, s.ip, holderOfSlot(slot));
}

/**
 * Whether the slot is whole: its pin and record there (the record is written
 * after the pin is bound), its address its own (the lease moves last).
 */
function whole(slot: string, s: WarmSlot | undefined): s is WarmSlot {
  return s !== undefined && existsSync(pinOf(slot)) && isSlot(leaseHolder("ip", s.networkId, s.ip), slot);
}

/**
 * Hands a warm namespace of the network to the container (the caller holds
 * the network lock): pinned at `netns` too, its address leased to `holder`.
 * Undefined if there is none; broken slots met on the way are let go.
 */
export function claimWarm(host: WarmHost, networkId: string, netns: string, holder: Holder): WarmSlot | undefined {
  for (const slot of slotNames()) {
    const s = readSlot(slot);
    if (!whole(slot, s)) {
      discard(host, slot, s);
      continue;
    }
    if (s.networkId !== networkId) continue;
    writeFileSync(netns, "", { mode: 0o444 });
    try {
      host.bindNetns(pinOf(slot), netns);
    } catch (e) {
      log().warn({ slot, err: e }, "a warm namespace that is not one: let go");
      discard(host, slot, s);
      continue;
    }
    transferLease({ kind: "ip", scope: s.networkId, key: s.ip, holder: holderOfSlot(slot) }, holder);
    try { host.unmount(pinOf(slot)); } catch { /* not mounted */ }
    rmSync(pinOf(slot), { force: true });
    rmSync(slotRecord(slot), { force: true });
    return s;
  }
  return undefined;
}

/**
 * Keeps the container's namespace warm instead of letting it go (the caller
 * holds the network lock and has checked the container qualifies); false if
 * the network has its MAX_WARM already or a process is still in it.
 */
export function keepWarm(host: WarmHost, netns: string, s: Omit<WarmSlot, "v">, lease: Lease): boolean {
  // Its address must still be its own to be handed on (transferLease, last, would throw with a slot half-made).
  const h = leaseHolder(lease.kind, lease.scope, lease.key);
  if (h?.root !== lease.holder.root || h.id !== lease.holder.id) return false;
  const slots = slotNames();
  if (slots.map(readSlot).filter((x) => x?.networkId === s.networkId).length >= MAX_WARM) return false;
  if (processesIn(netns)) return false;
  mkdirSync(WARM_DIR, { recursive: true });
  const slot = randomBytesHex(8);
  writeFileSync(pinOf(slot), "", { mode: 0o444 });
  try {
    host.bindNetns(netns, pinOf(slot));
  } catch (e) {
    log().debug({ err: e }, "keeping a warm namespace");
    rmSync(pinOf(slot), { force: true });
    return false;
  }
  writeJsonAtomic(slotRecord(slot), { v: 1, ...s } satisfies WarmSlot, false);
  transferLease(lease, holderOfSlot(slot));
  return true;
}

/**
 * Whether the namespace pinned at `netns` was kept warm already: a release
 * that died after keepWarm's last step (the address moved to the slot) left
 * the container's pin and record, and its lease in a slot that pins this very
 * namespace. Kept again, or torn down, it would be a second slot or a slot
 * without its veth.
 */
export function keptAlready(netns: string, lease: Lease): boolean {
  const h = leaseHolder(lease.kind, lease.scope, lease.key);
  if (h?.root !== WARM_DIR) return false;
  try {
    const pin = statSync(pinOf(h.id));
    const ours = statSync(netns);
    return pin.dev === ours.dev && pin.ino === ours.ino;
  } catch {
    return false;
  }
}

/** Whether any process is in the namespace pinned at `netns` (a `--network container:` peer, an nsenter). */
function processesIn(netns: string): boolean {
  let ino: number;
  try { ino = statSync(netns).ino; } catch { return false; }
  const want = `net:[${ino}]`;
  for (const pid of readdirSync("/proc")) {
    if (pid.charCodeAt(0) < 48 || pid.charCodeAt(0) > 57) continue;
    try { if (readlinkSync(`/proc/${pid}/ns/net`) === want) return true; } catch { /* gone, or a kernel thread */ }
  }
  return false;
}

/** `system prune` and `network rm`: lets every warm namespace of the network go (all of them without one). */
export function drainWarm(host: WarmHost, networkId?: string): number {
  let n = 0;
  for (const slot of slotNames()) {
    const s = readSlot(slot);
    if (networkId !== undefined && s && s.networkId !== networkId) continue;
    discard(host, slot, s);
    n++;
  }
  return n;
}

/** Whether a lease's holder is a warm slot that still exists (the orphan sweep). */
export function warmHolderExists(id: string): boolean {
  return existsSync(slotRecord(id));
}
