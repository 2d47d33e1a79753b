// Capability names → bit numbers (linux/capability.h), and masks for the shim.
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";

const NAMES = [
  "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
  "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
  "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
  "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
  "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
  "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
] as const;

/** Every capability tsbox can name, as CAP_ names in bit order (containerd's cap.Known()). */
export const KNOWN_CAPABILITIES: readonly string[] = NAMES.map((n) => `CAP_${n}`);

export function capNumber(name: string): number {
  const bare = name.toUpperCase().replace(/^CAP_/, "");
  const n = (NAMES as readonly string[]).indexOf(bare);
  if (n < 0) throw new UsageError(`unknown capability: "${name}"`);
  return n;
}

export function capMask(names: readonly string[] = []): bigint {
  let m = 0n;
  for (const n of names) m |= 1n << BigInt(capNumber(n));
  return m;
}

/** Decodes a CapEff-style hex mask into CAP_ names (used by tests and inspect). */
export function capNames(mask: bigint): string[] {
  return NAMES.filter((_, i) => (mask >> BigInt(i)) & 1n).map((n) => `CAP_${n}`);
}

/** The CapEff mask of a /proc/PID/status text; undefined when the line is missing or malformed. */
export function parseCapEff(status: string): bigint | undefined {
  const hex = /^CapEff:\s*([0-9a-fA-F]{1,16})\s*$/m.exec(status)?.[1];
  return hex === undefined ? undefined : BigInt(`0x${hex}`);
}

/**
 * The capabilities tsbox itself holds (its effective set), by name: what a
 * privileged container can get, as moby's GetAllCapabilities takes them from
 * the daemon's own process. All known names where the set cannot be read.
 */
export function currentCapabilities(status?: string): string[] {
  let text = status;
  if (text === undefined) {
    try { text = readFileSync("/proc/self/status", "utf8"); } catch { return [...KNOWN_CAPABILITIES]; }
  }
  const eff = parseCapEff(text);
  return eff === undefined ? [...KNOWN_CAPABILITIES] : capNames(eff);
}
