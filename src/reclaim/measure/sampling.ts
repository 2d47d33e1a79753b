// Seeded random sampling of pages, and the confidence interval of a
// proportion estimated from the sample.

import { prng } from "../../util/prng.js";

/** Seeded and uniform in [0, 1): plenty for picking pages. */
export const rng = prng;

/** k distinct indices of [0, n), ascending (Floyd's algorithm: O(k), no array of n). */
export function chooseIndices(n: number, k: number, random: () => number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  const picked = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = Math.floor(random() * (j + 1));
    picked.add(picked.has(t) ? j : t);
  }
  return [...picked].sort((a, b) => a - b);
}

/**
 * 95 % half-width of a proportion p seen in a simple random sample of n out
 * of a population of N (normal approximation with the finite-population
 * correction; 0 when the whole population was read).
 */
export function ci95(p: number, n: number, N: number): number {
  if (n <= 0) return 1;
  if (n >= N) return 0;
  const fpc = N > 1 ? Math.sqrt((N - n) / (N - 1)) : 0;
  return 1.96 * Math.sqrt((p * (1 - p)) / n) * fpc;
}
