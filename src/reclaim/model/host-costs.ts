// The fault costs the model charges, from this host's profile (`tsbox mem
// calibrate`) where there is one: a file refault is the profile's re-read of
// reclaimed file pages, a compressed page's fault is a swap-in from zram with
// the host's compressor (fault and decompression), and a swap-in is the
// profile's when it measured the host's own swap, or the profile's zram
// swap-in when the host swaps to zram. A cost the scenario gives
// stays the scenario's; without a profile the defaults stay (a disk access of
// 10 ms per refault, the codec's decompression time). Pure.

import type { HostProfile } from "../host-profile.js";
import type { CostSource, CostSources, Costs } from "./scenario.js";
import { swapInNs } from "./host-memory.js";

export const DEFAULT_SOURCES: CostSources = { fileRefault: "default", swapIn: "default", compressedFault: "default" };

export function withHostProfile(costs: Costs, hp: HostProfile | undefined): Costs {
  const sources: CostSources = { ...(costs.sources ?? DEFAULT_SOURCES) };
  const out: Costs = { ...costs, sources };
  if (hp === undefined) return out;
  if (sources.fileRefault !== "scenario") {
    out.fileRefaultNs = hp.fileRefault.sequential.median;
    sources.fileRefault = "calibrated";
  }
  const swap = hp.swap;
  if (swap.status === "measured" && swap.swapIn !== undefined) {
    // a zram device made for the calibration is not the host's swap: it prices compressed pages,
    // and swap-ins where the host's swap is zram too
    const zramSwap = costs.swapDevice === "zram" && swap.compressor !== undefined;
    if (sources.swapIn !== "scenario" && (swap.hostSwap || zramSwap) && costs.swapDevice !== "none") {
      out.swapInNs = swap.swapIn.median;
      sources.swapIn = "calibrated";
      // measured on zram (CPU): the host's swap-out where its swap is zram too
      if (zramSwap && costs.swapOutNs === undefined && swap.swapOut !== undefined) {
        out.swapOutNs = swap.swapOut.median;
        sources.swapOut = "calibrated";
      }
    }
    if (sources.compressedFault !== "scenario" && swap.compressor !== undefined) {
      out.compressedFaultNs = swap.swapIn.median;
      sources.compressedFault = "calibrated";
    }
  }
  return out;
}

/** One fault cost as the report states it: ns per page (undefined: per guest codec, or no swap) and where it came from. */
export interface StatedCost { ns?: number; source: CostSource }

export interface StatedCosts { fileRefault: StatedCost; swapIn: StatedCost; compressedFault: StatedCost; swapOut?: StatedCost }

/** The fault costs a run charged, for the report. */
export function statedCosts(c: Costs): StatedCosts {
  const src = c.sources ?? DEFAULT_SOURCES;
  // charged even without host swap: a balloon sends a guest's idle anonymous pages to the guest's own swap
  const swapNs = swapInNs(c);
  return {
    fileRefault: { ns: c.fileRefaultNs ?? c.diskNs, source: src.fileRefault },
    swapIn: { ns: swapNs, source: src.swapIn },
    compressedFault: { ...(c.compressedFaultNs !== undefined ? { ns: c.compressedFaultNs } : {}), source: src.compressedFault },
    // charged only where known: calibrated on a host swapping to zram, or given by the scenario
    ...(c.swapOutNs !== undefined ? { swapOut: { ns: c.swapOutNs, source: src.swapOut ?? "scenario" } } : {}),
  };
}
