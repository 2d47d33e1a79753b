// What swapped pages cost when the host reclaims as Linux does, coldest
// first, and a page's touches are measured: pages outside the working set go
// first and cost nothing; beyond them the working set's coldest band goes,
// then the next. A swapped working-set page is not touched once a step but
// at its own rate, and every touch finds it out: the fault brings it back,
// and the host, still short, sends the next coldest page out. So a band with
// s pages out takes s × rate faults a second for as long as they are out,
// which is why density falls off a cliff once the hot band is reached. Pure.

import type { TouchBand } from "./scenario.js";

/**
 * Faults in one step of `stepSeconds` from `swapped` pages of a guest holding
 * `idle` pages outside its working set and `workingSet` pages in it, whose
 * touch rates are distributed as `bands` (hottest first; scaled to the
 * working set, since the bands count the anonymous pages measured and the
 * working set may hold other pages touched alike).
 */
export function touchedSwapFaults(swapped: number, idle: number, workingSet: number, bands: readonly TouchBand[], stepSeconds: number): number {
  let out = Math.max(0, swapped - Math.max(0, idle));
  const measured = bands.reduce((s, b) => s + b.pages, 0);
  if (out === 0 || measured <= 0 || workingSet <= 0) return 0;
  const scale = workingSet / measured;
  let faults = 0;
  for (let j = bands.length - 1; j >= 0 && out > 0; j--) {
    const b = bands[j]!;
    const taken = Math.min(out, b.pages * scale);
    faults += taken * b.perSecond * stepSeconds;
    out -= taken;
  }
  return Math.round(faults);
}
