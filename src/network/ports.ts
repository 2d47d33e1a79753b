// Published ports as Docker's client parses them (go-connections nat.ParsePortSpec)
// and shows them (`ps`'s PORTS, `port`). Pure.

import { isIP } from "node:net";
import { UsageError } from "../errors.js";

export type Protocol = "tcp" | "udp" | "sctp";

/** One -p, as asked: hostPort 0 means a free one is chosen at start. */
export interface PortRequest {
  hostIp: string;
  /** the host port, or 0 for any free one (of hostRange when set) */
  hostPort: number;
  /** `-p 8000-8010:80`: any free port of this range */
  hostRange?: { start: number; end: number };
  containerPort: number;
  protocol: Protocol;
}

/** One published port as set up (what `port`, `ps` and inspect show). */
export interface PortBinding {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
}

/** `-p [ip:][hostPort:]containerPort[/proto]`, ranges allowed: one request per container port. */
export function parsePortSpec(raw: string): PortRequest[] {
  let [ip, hostPort, containerPort] = splitParts(raw);
  const slash = containerPort.lastIndexOf("/");
  let proto = "tcp";
  if (slash >= 0) {
    proto = containerPort.slice(slash + 1);
    containerPort = containerPort.slice(0, slash);
  }
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  if (ip !== "" && isIP(ip) === 0) throw new UsageError(`invalid IP address: ${ip}`);
  if (containerPort === "") throw new UsageError(`no port specified: ${raw}<empty>`);
  const c = portRange(containerPort);
  if (!c) throw new UsageError(`invalid containerPort: ${containerPort}`);
  const h = hostPort === "" ? undefined : portRange(hostPort);
  if (hostPort !== "" && !h) throw new UsageError(`invalid hostPort: ${hostPort}`);
  const protocol = proto.toLowerCase();
  if (protocol !== "tcp" && protocol !== "udp" && protocol !== "sctp") throw new UsageError(`invalid proto: ${proto}`);
  const count = c.end - c.start;
  if (h && h.end - h.start !== count && count !== 0) {
    throw new UsageError(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  }
  const out: PortRequest[] = [];
  for (let i = 0; i <= count; i++) {
    const base = { hostIp: ip, containerPort: c.start + i, protocol: protocol as Protocol };
    // -p 0:80 asks for a free port too.
    if (!h || (h.start === 0 && h.end === 0)) out.push({ ...base, hostPort: 0 });
    else if (h.end - h.start === count) out.push({ ...base, hostPort: h.start + i });
    // One container port, a host range: any free port of the range.
    else out.push({ ...base, hostPort: 0, hostRange: h });
  }
  return out;
}

/** ip, hostPort, containerPort as Docker splits them (an IPv6 address keeps its colons). */
function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(":");
  const n = parts.length;
  if (n === 1) return ["", "", parts[0]!];
  if (n === 2) return ["", parts[0]!, parts[1]!];
  return [parts.slice(0, n - 2).join(":"), parts[n - 2]!, parts[n - 1]!];
}

function portRange(s: string): { start: number; end: number } | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535 || end < start) return undefined;
  return { start, end };
}

/** `-P`: the image's EXPOSE ("80/tcp", "53/udp", "8000-8002/tcp"), each on a free host port. */
export function exposedPortRequests(exposed: Record<string, unknown> | undefined): PortRequest[] {
  const out: PortRequest[] = [];
  for (const key of Object.keys(exposed ?? {})) out.push(...parsePortSpec(key));
  return out;
}

/** `--expose` and EXPOSE keys from requests, as Docker records them ("80/tcp"). */
export function portKey(p: { containerPort: number; protocol: Protocol }): string {
  return `${p.containerPort}/${p.protocol}`;
}

/**
 * `ps`'s PORTS column, as Docker's client writes it: "0.0.0.0:8080->80/tcp",
 * consecutive ports folded into ranges ("0.0.0.0:8000-8001->80-81/tcp"),
 * sorted, comma-separated.
 */
export function formatPorts(bindings: PortBinding[]): string {
  const sorted = [...bindings].sort((a, b) =>
    a.protocol.localeCompare(b.protocol) || a.hostIp.localeCompare(b.hostIp) || a.containerPort - b.containerPort);
  const out: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const first = sorted[i]!;
    let j = i;
    while (j + 1 < sorted.length) {
      const a = sorted[j]!;
      const b = sorted[j + 1]!;
      if (b.protocol !== a.protocol || b.hostIp !== a.hostIp || b.containerPort !== a.containerPort + 1 || b.hostPort !== a.hostPort + 1) break;
      j++;
    }
    const last = sorted[j]!;
    const host = first.hostPort === last.hostPort ? `${first.hostPort}` : `${first.hostPort}-${last.hostPort}`;
    const ctr = first.containerPort === last.containerPort ? `${first.containerPort}` : `${first.containerPort}-${last.containerPort}`;
    out.push(`${hostAddress(first.hostIp || "0.0.0.0")}:${host}->${ctr}/${first.protocol}`);
    i = j + 1;
  }
  return out.join(", ");
}

/** An address as Docker prints it beside a port: IPv6 in brackets. */
export function hostAddress(ip: string): string {
  return ip.includes(":") ? `[${ip}]` : ip;
}
