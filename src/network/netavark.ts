// Podman's netavark (and its aardvark-dns), driven as Podman drives it:
// `netavark --config DIR setup|teardown NETNS` with the options JSON on stdin,
// the status JSON on stdout. tsbox hands it everything (addresses included:
// netavark does no allocation) and keeps only the glue: see attach.ts.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { TsboxError } from "../errors.js";

/** netavark's NetworkOptions (types.rs), as it reads them. */
export interface NetavarkOptions {
  container_id: string;
  container_name: string;
  port_mappings?: NetavarkPort[];
  networks: Record<string, { interface_name: string; static_ips: string[]; static_mac?: string; aliases?: string[] }>;
  network_info: Record<string, NetavarkNetwork>;
  dns_servers?: string[];
}

export interface NetavarkNetwork {
  name: string;
  id: string;
  driver: "bridge";
  network_interface: string;
  subnets: { subnet: string; gateway: string }[];
  ipv6_enabled: boolean;
  internal: boolean;
  dns_enabled: boolean;
}

export interface NetavarkPort {
  host_ip: string;
  container_port: number;
  host_port: number;
  range: number;
  protocol: string;
}

/** What setup reports per network. */
export interface NetavarkStatus {
  dns_search_domains?: string[];
  dns_server_ips?: string[];
  interfaces?: Record<string, { mac_address: string; subnets?: { ipnet: string; gateway?: string }[] }>;
}

/** The error users see when netavark is missing: what to install. */
export class NetworkError extends TsboxError {}

const SEARCH = ["/usr/lib/podman", "/usr/libexec/podman", "/usr/local/libexec/podman", "/usr/local/lib/podman"];

/** netavark's and aardvark-dns's paths: $TSBOX_NETAVARK (its directory holds aardvark-dns), else Podman's places. */
export function netavarkBinaries(env: Record<string, string | undefined> = process.env): { netavark: string; aardvark: string } {
  const given = env.TSBOX_NETAVARK;
  if (given) return { netavark: given, aardvark: given.replace(/netavark$/, "aardvark-dns") };
  for (const dir of SEARCH) {
    if (existsSync(`${dir}/netavark`)) return { netavark: `${dir}/netavark`, aardvark: `${dir}/aardvark-dns` };
  }
  throw new NetworkError("networking needs netavark and aardvark-dns (Debian and Ubuntu: apt-get install netavark aardvark-dns); "
    + "or use --network none or --network host");
}

/** Runs netavark to its end (the callers hold the host-wide network lock meanwhile). */
function run(args: string[], input: string): { code: number; stdout: string; stderr: string } {
  const bins = netavarkBinaries();
  const r = spawnSync(bins.netavark, ["--aardvark-binary", bins.aardvark, ...args], {
    input, encoding: "utf8", maxBuffer: 16 << 20,
    // netavark logs through env_logger; its errors are JSON on stdout.
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", RUST_LOG: "error" },
  });
  if (r.error) throw new NetworkError(`cannot run ${bins.netavark}: ${r.error.message}`);
  return { code: r.status ?? 128 + 9, stdout: r.stdout, stderr: r.stderr };
}

/** netavark's error as one line: its JSON {"error": …} or its last line of output. */
export function netavarkMessage(stdout: string, stderr: string): string {
  for (const text of [stdout, stderr]) {
    const t = text.trim();
    if (!t.startsWith("{")) continue;
    try {
      const v = JSON.parse(t) as { error?: unknown };
      if (typeof v.error === "string") return v.error.split("\n")[0]!;
    } catch { /* not JSON */ }
  }
  const lines = `${stderr}\n${stdout}`.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("failed to connect to syslog"));
  return lines.at(-1) ?? "netavark failed";
}

export function netavarkSetup(configDir: string, netns: string, options: NetavarkOptions): Record<string, NetavarkStatus> {
  const r = run(["--config", configDir, "setup", netns], JSON.stringify(options));
  if (r.code !== 0) throw new NetworkError(`network setup failed: ${netavarkMessage(r.stdout, r.stderr)}`);
  try {
    return JSON.parse(r.stdout) as Record<string, NetavarkStatus>;
  } catch {
    throw new NetworkError(`network setup: netavark's answer is not JSON: ${r.stdout.slice(0, 200)}`);
  }
}

/** Tears down what setup made; the message if it failed (the caller frees the rest anyway). */
export function netavarkTeardown(configDir: string, netns: string, options: NetavarkOptions): string | undefined {
  const r = run(["--config", configDir, "teardown", netns], JSON.stringify(options));
  return r.code === 0 ? undefined : netavarkMessage(r.stdout, r.stderr);
}
