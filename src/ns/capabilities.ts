// Capability names → bit numbers (linux/capability.h), and masks for the shim.
import { UsageError } from "../errors.js";

const NAMES = [
  "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
  "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
  "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
  "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
  "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
  "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
] as const;

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
