// How many guests fit: the largest N (guests taken from the scenario's list in
// turn) for which the host never runs out and no guest slows down more than
// the budget (lost throughput). Assumes fitting is monotone in N: doubling, then bisection.

import { POLICIES, type Policy, type PolicyName } from "./policies.js";
import type { Guest, Scenario } from "./scenario.js";
import { fits, simulate, type Summary } from "./simulate.js";

/** The scenario with `n` guests, cycling through its guest list. */
export function withGuests(sc: Scenario, n: number): Scenario {
  const src = sc.guests;
  const guests: Guest[] = Array.from({ length: n }, (_, i) => {
    const g = src[i % src.length]!;
    return i < src.length ? g : { ...g, name: `${g.name}#${Math.floor(i / src.length) + 1}` };
  });
  return { ...sc, guests };
}

export interface DensityPoint { guests: number; maxSlowdown: number; maxLostThroughput: number; overcommitted: boolean }

export function densityPoint(sc: Scenario, policy: Policy, n: number): DensityPoint {
  const s: Summary = simulate(withGuests(sc, n), policy).summary;
  return { guests: n, maxSlowdown: s.maxSlowdown, maxLostThroughput: s.maxLostThroughput, overcommitted: s.overcommittedSteps > 0 };
}

const fitsAt = (sc: Scenario, policy: Policy, n: number, budget: number): boolean => fits(simulate(withGuests(sc, n), policy).summary, budget);

/** The largest number of guests that fits under `budget` (a fraction), at most `limit`. */
export function largestFit(sc: Scenario, policy: Policy, budget: number, limit = 100_000): number {
  if (!fitsAt(sc, policy, 1, budget)) return 0;
  let ok = 1;
  let bad = 2;
  while (bad <= limit && fitsAt(sc, policy, bad, budget)) {
    ok = bad;
    bad *= 2;
  }
  if (bad > limit) {
    if (fitsAt(sc, policy, limit, budget)) return limit;
    bad = limit;
  }
  while (bad - ok > 1) {
    const mid = Math.floor((ok + bad) / 2);
    if (fitsAt(sc, policy, mid, budget)) ok = mid;
    else bad = mid;
  }
  return ok;
}

export function densityByPolicy(sc: Scenario, budget: number, names: readonly PolicyName[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of names) out[p] = largestFit(sc, POLICIES[p], budget);
  return out;
}

/** Slowdown against N for one policy, at up to `points` values of N from 1 to `maxN`. */
export function densityCurve(sc: Scenario, policy: Policy, maxN: number, points = 30): DensityPoint[] {
  const ns = new Set<number>();
  for (let k = 0; k < points; k++) ns.add(Math.max(1, Math.round(1 + ((maxN - 1) * k) / Math.max(1, points - 1))));
  return [...ns].sort((a, b) => a - b).map((n) => densityPoint(sc, policy, n));
}
