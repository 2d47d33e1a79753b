// ESX's compression cache: a page already chosen for eviction is kept
// compressed only if it fits in 2 KiB (a half-page slot), or 1 KiB (a quarter
// slot); otherwise it goes to swap. The cache of a guest is capped at a share
// of its memory.

import type { CodecProfile } from "../profile.js";

/** Average slot size of a compressible page, as a fraction of a page. */
export function slotFraction(c: CodecProfile): number {
  if (c.le2k <= 0) return 0.5;
  const quarter = Math.min(c.le1k, c.le2k) / c.le2k;
  return quarter * 0.25 + (1 - quarter) * 0.5;
}

/** Host pages a cache of `pages` compressed pages occupies. */
export function cachePoolPages(pages: number, c: CodecProfile): number {
  return Math.ceil(pages * slotFraction(c));
}

export interface CompressOutcome {
  /** victims kept compressed */
  compressed: number;
  /** victims that did not fit in 2 KiB or in the cache */
  rejected: number;
}

/** Of `victims` pages chosen for eviction, how many the cache keeps (room = pages it may still hold). */
export function compressVictims(victims: number, c: CodecProfile, room: number): CompressOutcome {
  const fits = Math.floor(victims * c.le2k);
  const compressed = Math.max(0, Math.min(fits, room));
  return { compressed, rejected: victims - compressed };
}

/**
 * Pages freed per victim on average: compressible ones free (1 − slot), the others what a
 * swapped page frees if they can be swapped (1 on a disk; 1 − 1 / ratio on zram).
 */
export function freedPerVictim(c: CodecProfile, canSwap: boolean, swapFrees = 1): number {
  return c.le2k * (1 - slotFraction(c)) + (canSwap ? (1 - c.le2k) * swapFrees : 0);
}
