// Which host ports something already listens on (/proc/net/tcp, tcp6, udp,
// udp6 of the host's network namespace), and the range free ports come from.

import { readFileSync } from "node:fs";
import type { Protocol } from "./ports.js";

/** Local ports in use: TCP sockets in LISTEN, any bound UDP socket. Pure over the files' text. */
export function listeningPorts(tables: string[], protocol: Protocol): Set<number> {
  const out = new Set<number>();
  for (const text of tables) {
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4) continue;
      const port = parseInt(f[1]!.split(":")[1] ?? "", 16);
      if (!Number.isInteger(port)) continue;
      if (protocol === "tcp" ? f[3] === "0A" : true) out.add(port);
    }
  }
  return out;
}

export function hostPortsInUse(protocol: Protocol): Set<number> {
  const names = protocol === "udp" ? ["udp", "udp6"] : protocol === "tcp" ? ["tcp", "tcp6"] : [];
  const tables: string[] = [];
  for (const n of names) {
    try { tables.push(readFileSync(`/proc/net/${n}`, "utf8")); } catch { /* no IPv6 */ }
  }
  return listeningPorts(tables, protocol);
}

/** The kernel's ephemeral range, where Docker also takes free ports from (default 32768–60999). */
export function ephemeralRange(): { start: number; end: number } {
  try {
    const [a, b] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (a && b && a <= b) return { start: a, end: b };
  } catch { /* default */ }
  return { start: 32768, end: 60999 };
}
