// Random identifiers (container IDs, temp-file suffixes) straight from the
// kernel: loading node:crypto for a few random bytes costs ~4 ms of start-up.
import { closeSync, openSync, readSync } from "node:fs";

export function randomBytesHex(n: number): string {
  const buf = Buffer.alloc(n);
  const fd = openSync("/dev/urandom", "r");
  try {
    readSync(fd, buf, 0, n, null);
  } finally {
    closeSync(fd);
  }
  return buf.toString("hex");
}

/** An integer in [0, max), max ≤ 2^16; the modulo bias is irrelevant for names. */
export function randomBelow(max: number): number {
  return Number.parseInt(randomBytesHex(2), 16) % max;
}
