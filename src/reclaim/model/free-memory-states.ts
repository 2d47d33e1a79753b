// ESX's free-memory state machine (Waldspurger, OSDI'02 §6). Falling below a
// state's threshold enters it: soft (4 %) balloons, hard (2 %) also compresses
// and swaps, low (1 %) also blocks guests above their target. The way back up
// needs the next state's threshold to be reached (soft → high at 6 %, hard →
// soft at 4 %, low → hard at 2 %): that gap is the hysteresis that stops the
// state from flapping.

import type { Thresholds } from "./scenario.js";

export type FreeState = "high" | "soft" | "hard" | "low";

const ORDER: readonly FreeState[] = ["high", "soft", "hard", "low"];

/** The state after observing `free` (a fraction of host memory) in state `prev`. */
export function nextFreeState(prev: FreeState, free: number, th: Thresholds): FreeState {
  const fell: FreeState = free < th.low ? "low" : free < th.hard ? "hard" : free < th.soft ? "soft" : "high";
  let s = ORDER.indexOf(fell) > ORDER.indexOf(prev) ? fell : prev;
  const upAt: Record<FreeState, number> = { high: Infinity, soft: th.high, hard: th.soft, low: th.hard };
  while (s !== "high" && free >= upAt[s]) s = ORDER[ORDER.indexOf(s) - 1]!;
  return s;
}

export interface StateActions { balloon: boolean; compress: boolean; swap: boolean; block: boolean }

export function actionsIn(s: FreeState): StateActions {
  return {
    balloon: s !== "high",
    compress: s === "hard" || s === "low",
    swap: s === "hard" || s === "low",
    block: s === "low",
  };
}
