// IPv6 /64s for networks that ask for them (`network create --ipv6`). Pure.

import { isIPv6 } from "node:net";
import { UsageError } from "../errors.js";

/** Where `network create --ipv6` without a v6 --subnet takes a /64 from: a ULA /48 ("tsbo"). */
export const USER_POOL6 = "fd74:7362:6f00::/48";

export function parseIp6(s: string): bigint | undefined {
  if (!isIPv6(s) || s.includes(".")) return undefined;
  const [head, tail] = s.includes("::") ? s.split("::") as [string, string] : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  if (groups.length !== 8) return undefined;
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || "0", 16)), 0n);
}

export function formatIp6(n: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  // The longest run of zero groups (two or more) becomes "::".
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== "0") { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

export interface Subnet6 { base: bigint; prefix: number }

export function parseSubnet6(s: string): Subnet6 | undefined {
  const [addr, len, extra] = s.split("/");
  if (addr === undefined || len === undefined || extra !== undefined || !/^\d{1,3}$/.test(len)) return undefined;
  const ip = parseIp6(addr);
  const prefix = Number(len);
  if (ip === undefined || prefix > 128) return undefined;
  const mask = prefix === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
  return { base: ip & mask, prefix };
}

export function formatSubnet6(n: Subnet6): string {
  return `${formatIp6(n.base)}/${n.prefix}`;
}

export function checkSubnet6(s: string): Subnet6 {
  const n = parseSubnet6(s);
  if (!n) throw new UsageError(`invalid --subnet ${s}: expected an IPv6 CIDR such as fd00:1::/64`);
  if (n.prefix > 120) throw new UsageError(`invalid --subnet ${s}: the subnet has no room for containers (at most /120)`);
  if (formatSubnet6(n) !== formatSubnet6({ base: parseIp6(s.split("/")[0]!)!, prefix: n.prefix })) {
    throw new UsageError(`invalid --subnet ${s}: it has host bits set (the network is ${formatSubnet6(n)})`);
  }
  return n;
}

export function contains6(n: Subnet6, ip: bigint): boolean {
  return (ip >> BigInt(128 - n.prefix)) === (n.base >> BigInt(128 - n.prefix));
}

export function overlaps6(a: Subnet6, b: Subnet6): boolean {
  const p = BigInt(128 - Math.min(a.prefix, b.prefix));
  return (a.base >> p) === (b.base >> p);
}

/** The n-th /64 of the pool. */
export function poolSubnet(pool: Subnet6, n: number): Subnet6 {
  return { base: pool.base + (BigInt(n) << 64n), prefix: 64 };
}
