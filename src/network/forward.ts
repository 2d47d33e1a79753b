// netavark 1.4 accepts in FORWARD only what its containers send and the
// replies to it (NETAVARK_FORWARD): a connection DNAT'ed to a published port
// from another host is left to the chain's policy, which Docker sets to DROP.
// So, where netavark stops short, tsbox accepts new connections DNAT'ed to a
// container on its bridges (and nothing else), once per host, in the kernel's
// table as netavark writes it (the iptables command).

import { spawnSync } from "node:child_process";
import { DEFAULT_BRIDGE } from "./networks.js";

const RULE = (bridge: string) => ["FORWARD", "-o", bridge, "-m", "conntrack", "--ctstate", "DNAT",
  "-m", "comment", "--comment", "tsbox published ports", "-j", "ACCEPT"];

/** The bridges tsbox makes: tsbox0 and the user-defined networks' tsbr-* (iptables' + wildcard). */
export const TSBOX_BRIDGES = [DEFAULT_BRIDGE, "tsbr-+"];

function iptables(args: string[]): number {
  const r = spawnSync("iptables", ["-w", ...args], { stdio: "ignore", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
  return r.status ?? 1;
}

/** Inserts the accept rules unless they are there (the caller holds the network lock). */
export function ensurePublishedPortsForwarded(): void {
  for (const b of TSBOX_BRIDGES) {
    if (iptables(["-C", ...RULE(b)]) !== 0) iptables(["-I", ...RULE(b)]);
  }
}
