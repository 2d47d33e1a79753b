// Where a user's mount (-v, --tmpfs) may not go, decided from the destination
// alone: the root, inside /proc (runc's checkProcMount), and for bind mounts
// inside /sys. A destination that reaches these through a symlink in the image
// is refused by the shim's TARGET op, which resolves it inside the root.

import { UsageError } from "../errors.js";

/** The files under /proc that lxcfs emulates, the only ones runc lets a mount cover. */
export const PROC_MOUNT_ALLOWED = [
  "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps", "/proc/uptime",
  "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
];

const under = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);

/** Throws a one-line UsageError for a (normalized, absolute) destination no user mount may have. */
export function checkMountDestination(type: string, destination: string): void {
  const refuse = (why: string): never => {
    throw new UsageError(`invalid mount config for type "${type}": ${why}`);
  };
  // Docker's wording (volume/mounts linux_parser.go).
  if (destination === "/") refuse("invalid specification: destination can't be '/'");
  if (destination === "/proc") refuse(`"${destination}" cannot be mounted because it is not of type proc`);
  if (under(destination, "/proc") && !PROC_MOUNT_ALLOWED.includes(destination)) {
    refuse(`"${destination}" cannot be mounted because it is inside /proc`);
  }
  if (type === "bind" && under(destination, "/sys")) refuse(`"${destination}" cannot be mounted because it is inside /sys`);
}
