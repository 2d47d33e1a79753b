// Whether the host can swap: /proc/swaps lists the active swap devices (what
// `swapon --show` prints). TSBOX_HOST_SWAPS names another file in the same
// format: the seam the tests use to model a host with and without swap.

import { readFileSync } from "node:fs";
import { errnoCode } from "../../errors.js";

export const SWAPS_FILE = "/proc/swaps";

/** A swap device that is zram (its node zramN, in /dev or wherever the device's node was made). */
export const isZramSwap = (name: string): boolean => /(^|\/)zram\d+$/.test(name);

/** The active swap devices (files or partitions), by name; none on a host without swap. */
export function hostSwapDevices(file = process.env.TSBOX_HOST_SWAPS ?? SWAPS_FILE): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return []; // a kernel without CONFIG_SWAP has no /proc/swaps
    throw e;
  }
  // a header line ("Filename Type Size Used Priority"), then one line per device
  return text.split("\n").slice(1).map((l) => l.trim().split(/\s+/)[0] ?? "").filter((name) => name !== "");
}
