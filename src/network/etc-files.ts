// The container's /etc/hosts and /etc/resolv.conf as Docker writes them. Pure.

import { isIP } from "node:net";
import { UsageError } from "../errors.js";

export const BASE_HOSTS = [
  "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet",
  "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes", "ff02::2\tip6-allrouters",
];

/** `--add-host NAME:IP` (Docker also takes NAME=IP); "host-gateway" is the bridge's gateway. */
export function parseAddHost(v: string, hostGateway?: string): { name: string; ip: string } {
  const sep = v.includes("=") ? v.indexOf("=") : v.indexOf(":");
  if (sep <= 0) throw new UsageError(`invalid argument "${v}" for "--add-host" flag: bad format for add-host: "${v}"`);
  const name = v.slice(0, sep);
  let ip = v.slice(sep + 1);
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  if (ip === "host-gateway") {
    if (!hostGateway) throw new UsageError(`--add-host ${v}: host-gateway needs a bridge network`);
    ip = hostGateway;
  }
  if (isIP(ip) === 0) throw new UsageError(`invalid argument "${v}" for "--add-host" flag: invalid IP address in add-host: "${ip}"`);
  return { name, ip };
}

/** /etc/hosts: the base lines, --add-host's, then the container's own address and name (Docker's order). */
export function hostsFile(extra: { name: string; ip: string }[], self?: { ip: string; names: string[] }): string {
  const lines = [...BASE_HOSTS, ...extra.map((h) => `${h.ip}\t${h.name}`)];
  if (self) lines.push(`${self.ip}\t${self.names.join(" ")}`);
  return `${lines.join("\n")}\n`;
}

export interface ResolvOptions {
  /** --dns: replaces the nameservers */
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
}

/**
 * resolv.conf: on a network with DNS, its server (aardvark-dns, which
 * forwards what it does not know to the host's); otherwise the host's
 * nameservers without loopback ones (they mean nothing in the container's
 * network namespace); --dns, --dns-search and --dns-option replace theirs.
 */
export function resolvConf(hostText: string, o: ResolvOptions, networkDns: string[] = []): string {
  const lines = hostText.split("\n");
  const hostServers = lines.map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((s): s is string => s !== undefined)
    .filter((s) => !/^(127\.|::1$)/.test(s));
  const hostSearch = lines.map((l) => /^\s*(?:search|domain)\s+(.*)$/.exec(l)?.[1]?.trim()).filter((s): s is string => !!s)
    .flatMap((s) => s.split(/\s+/));
  const hostOptions = lines.map((l) => /^\s*options\s+(.*)$/.exec(l)?.[1]?.trim()).filter((s): s is string => !!s)
    .flatMap((s) => s.split(/\s+/));
  for (const d of o.dns) if (isIP(d) === 0) throw new UsageError(`${d} is not an ip address`);
  const servers = o.dns.length ? o.dns : networkDns.length ? networkDns : hostServers;
  const search = o.dnsSearch.length ? o.dnsSearch.filter((s) => s !== ".") : hostSearch;
  const options = o.dnsOptions.length ? o.dnsOptions : hostOptions;
  const out = [
    ...(search.length ? [`search ${search.join(" ")}`] : []),
    ...servers.map((s) => `nameserver ${s}`),
    ...(options.length ? [`options ${options.join(" ")}`] : []),
  ];
  return `${out.join("\n")}\n`;
}
