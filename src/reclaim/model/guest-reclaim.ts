// What a guest gives up when its balloon grows: free pages first, then clean
// cache it is not using (dropped), then anonymous pages it is not using (to
// its own swap), and only then its working set, cache before anon. Pages
// taken from the working set come back as refaults every step.

import type { Demand } from "./scenario.js";

export interface GuestSqueeze {
  /** working-set pages that are anonymous / cache */
  activeAnon: number;
  activeCache: number;
  /** pages the guest had to give up to make room for the balloon */
  evictedIdleCache: number;
  evictedActiveCache: number;
  evictedIdleAnon: number;
  evictedActiveAnon: number;
  /** anon + cache still in guest memory */
  content: number;
}

/** Splits the working set between anon and cache in proportion to their sizes. */
export function workingSetSplit(d: Demand): { activeAnon: number; activeCache: number } {
  const total = d.anon + d.cache;
  const activeCache = total === 0 ? 0 : Math.min(d.cache, Math.floor((d.workingSet * d.cache) / total));
  return { activeAnon: Math.min(d.anon, d.workingSet - activeCache), activeCache };
}

export function squeeze(d: Demand, sizePages: number, balloonPages: number): GuestSqueeze {
  const { activeAnon, activeCache } = workingSetSplit(d);
  const free = sizePages - d.anon - d.cache;
  let over = Math.max(0, balloonPages - free);
  const take = (avail: number): number => {
    const t = Math.min(avail, over);
    over -= t;
    return t;
  };
  const evictedIdleCache = take(d.cache - activeCache);
  const evictedIdleAnon = take(d.anon - activeAnon);
  const evictedActiveCache = take(activeCache);
  const evictedActiveAnon = take(activeAnon);
  const evicted = evictedIdleCache + evictedActiveCache + evictedIdleAnon + evictedActiveAnon;
  return { activeAnon, activeCache, evictedIdleCache, evictedActiveCache, evictedIdleAnon, evictedActiveAnon, content: d.anon + d.cache - evicted };
}

/** Moves a balloon toward its target by at most `rate` pages, within [0, max]. */
export function inflateToward(current: number, target: number, rate: number, max: number): number {
  const t = Math.max(0, Math.min(max, target));
  if (t > current) return Math.min(t, current + rate);
  return Math.max(t, current - rate);
}
