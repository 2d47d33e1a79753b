// IPv4 subnets and addresses as numbers. Pure.

import { UsageError } from "../errors.js";

export interface Subnet4 {
  /** network address as an unsigned 32-bit number */
  base: number;
  prefix: number;
}

export function parseIp4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function formatIp4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "10.90.1.0/24" → its network; a host part set is refused, as Docker refuses it. */
export function parseSubnet4(s: string): Subnet4 | undefined {
  const [addr, len, extra] = s.split("/");
  if (addr === undefined || len === undefined || extra !== undefined || !/^\d{1,2}$/.test(len)) return undefined;
  const ip = parseIp4(addr);
  const prefix = Number(len);
  if (ip === undefined || prefix > 32) return undefined;
  return { base: (ip & mask(prefix)) >>> 0, prefix };
}

export function checkSubnet4(s: string, flag = "--subnet"): Subnet4 {
  const n = parseSubnet4(s);
  if (!n) throw new UsageError(`invalid ${flag} ${s}: expected an IPv4 CIDR such as 10.90.1.0/24`);
  if (n.prefix > 30) throw new UsageError(`invalid ${flag} ${s}: the subnet has no room for containers (at most /30)`);
  if (formatSubnet4(n) !== s) throw new UsageError(`invalid ${flag} ${s}: it has host bits set (the network is ${formatSubnet4(n)})`);
  return n;
}

export function formatSubnet4(n: Subnet4): string {
  return `${formatIp4(n.base)}/${n.prefix}`;
}

export function contains(n: Subnet4, ip: number): boolean {
  return ((ip & mask(n.prefix)) >>> 0) === n.base;
}

export function overlaps(a: Subnet4, b: Subnet4): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/** The first and last addresses a container may get (no network or broadcast address). */
export function hostRange(n: Subnet4): { first: number; last: number } {
  const size = 2 ** (32 - n.prefix);
  return { first: n.base + 1, last: n.base + size - 2 };
}

/** The IPv4 routes of the host (/proc/net/route): what a new subnet must not overlap. */
export function parseRoutes(text: string): Subnet4[] {
  const out: Subnet4[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = le32(f[1]!);
    const m = le32(f[7]!);
    if (dest === undefined || m === undefined || m === 0) continue; // the default route overlaps everything
    let prefix = 0;
    while (prefix < 32 && (m & (0x80000000 >>> prefix)) !== 0) prefix++;
    out.push({ base: dest, prefix });
  }
  return out;
}

/** /proc/net/route's little-endian hex. */
function le32(hex: string): number | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
  const b = Buffer.from(hex, "hex");
  return b.readUInt32LE(0);
}

/** A MAC address as netavark and Docker take it. */
export function checkMac(s: string): string {
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(s)) throw new UsageError(`${s} is not a valid mac address`);
  return s.toLowerCase();
}

/**
 * Docker's MAC for an address (GenerateMACFromIP): 02:42 and the IPv4 bytes.
 * An address given to a new container keeps the MAC the host's neighbour
 * cache still holds for it, so the first packets do not go to the last
 * holder's vanished MAC until the entry goes stale (seconds).
 */
export function macFromIp4(ip: string): string {
  const n = parseIp4(ip) ?? 0;
  return ["02", "42", n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]
    .map((b) => (typeof b === "string" ? b : b.toString(16).padStart(2, "0"))).join(":");
}
