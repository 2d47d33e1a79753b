// Rlimits the host lets tsbox grant. Raising a hard limit needs
// CAP_SYS_RESOURCE, which some sandboxes (and this CI's) withhold: there the
// container gets the host's ceiling instead of failing to start.
import { readFileSync } from "node:fs";
import type { SpecRlimit } from "./spec.js";

const CAP_SYS_RESOURCE = 24n;
const LIMITS_NAME: Record<string, string> = { RLIMIT_NOFILE: "Max open files", RLIMIT_NPROC: "Max processes" };

export function grantableRlimits(wanted: SpecRlimit[], status = readFileSync("/proc/self/status", "utf8"),
  limits = readFileSync("/proc/self/limits", "utf8")): SpecRlimit[] {
  const eff = BigInt("0x" + (/^CapEff:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? "0"));
  if ((eff >> CAP_SYS_RESOURCE) & 1n) return wanted;
  return wanted.map((r) => {
    const line = limits.split("\n").find((l) => l.startsWith(LIMITS_NAME[r.type] ?? "\0"));
    const hard = line?.slice(26).trim().split(/\s+/)[1];
    if (hard === undefined || hard === "unlimited") return r;
    const ceiling = Number(hard);
    return r.hard > ceiling ? { ...r, hard: ceiling, soft: Math.min(r.soft, ceiling) } : r;
  });
}
