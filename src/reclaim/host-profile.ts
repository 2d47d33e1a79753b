// The contract between `tsbox mem calibrate` (src/reclaim/kernel/calibrate*.ts,
// which measures what a page fault costs on this host with the kernel's own
// mechanisms) and the model (src/reclaim/model/host-costs.ts, which charges
// those costs instead of textbook defaults). Stored as JSON under the state
// root and checked field by field when read back: a hand-edited or truncated
// profile is a one-line error, never a wrong prediction.

import { join } from "node:path";
import { TsboxError } from "../errors.js";
import { ShapeError, arrayOf, boolean, integer, number, object, oneOf, optional, parseChecked, readChecked, string, type Check } from "../util/shape.js";

export const HOST_PROFILE_VERSION = 1;

/** Where `mem calibrate` stores the profile and `mem simulate` looks for it. */
export const hostProfileFile = (root: string): string => join(root, "mem", "host-profile.json");

/** One calibrated cost: nanoseconds per page over the repetitions, with the load the host was under. */
export interface Figure {
  /** median over the repetitions, ns per page */
  median: number;
  /** 90th percentile over the repetitions (nearest rank), ns per page */
  p90: number;
  /** each repetition's ns per page, in the order measured */
  samples: number[];
  /** what the time is: CPU time of the thread that took the faults (or of ksmd), or wall-clock time */
  clock: "cpu" | "wall";
  /** 1-minute load average when the figure was measured */
  load1: number;
}

export interface RefaultCalibration {
  /** how the file's pages were taken from its cgroup */
  method: "memory.reclaim" | "memory.force_empty";
  /** pages in the file, re-read per repetition */
  pages: number;
  /** re-reading the file in order (the kernel's readahead applies), wall time over a cached read */
  sequential: Figure;
  /** re-reading it page by page in random order, wall time over a cached read */
  random: Figure;
  /** the file refaults the cgroup counted over all repetitions (workingset_refault_file), when the kernel counts them */
  refaults?: number;
}

export interface SwapCalibration {
  /** "absent": the host has no swap and no zram, nothing could be measured */
  status: "measured" | "absent";
  /** what was measured, or why not */
  note: string;
  /** the swap device: the host's own, or a zram device made for the calibration (and removed) */
  device?: string;
  /** the host swap existed before the calibration (else the device was made for it) */
  hostSwap: boolean;
  /** zram's compressor (the host's default) */
  compressor?: string;
  pages?: number;
  /** a swap-in of a compressible page (fault + read + decompression), CPU time over a resident touch */
  swapIn?: Figure;
  /** a swap-in of a same-filled page (zram stores no data for it: fault + fill) */
  swapInSameFilled?: Figure;
  /** decompression alone: swapIn − swapInSameFilled, per repetition (zram only) */
  decompress?: Figure;
  /** a compressible page swapped out: reclaim and compression, CPU time of the thread that reclaimed (zram only) */
  swapOut?: Figure;
}

export interface KsmCalibration {
  status: "measured" | "absent";
  note: string;
  pagesToScan?: number;
  sleepMillisecs?: number;
  /** where ksmd's CPU time came from: schedstat (ns) or stat (clock ticks) */
  cpuSource?: "schedstat" | "stat";
  /** pages the workload held, half of them copies of the other half */
  pages?: number;
  /** other processes were merging (run=1) when the calibration began */
  otherUsers?: boolean;
  /** ksmd CPU time per page scanned, on passes with nothing new to merge */
  perPageScanned?: Figure;
  /** ksmd CPU time per page merged, beyond scanning it */
  perPageMerged?: Figure;
}

export interface HostProfile {
  version: number;
  measuredAt: string;
  kernel: string;
  cgroup: "v1" | "v2";
  cpus: number;
  quick: boolean;
  /** 1, 5 and 15-minute load averages before and after */
  loadBefore: number[];
  loadAfter: number[];
  fileRefault: RefaultCalibration;
  swap: SwapCalibration;
  ksm: KsmCalibration;
}

const nonNegative: Check<number> = (v, at) => {
  const x = number(v, at);
  if (x < 0) throw new ShapeError(at, "a number ≥ 0");
  return x;
};

const figure: Check<Figure> = (v, at) => {
  const f = object({ median: nonNegative, p90: nonNegative, samples: arrayOf(number), clock: oneOf("cpu", "wall"), load1: nonNegative })(v, at);
  if (f.samples.length === 0) throw new ShapeError(`${at}.samples`, "at least one sample");
  if (f.p90 < f.median) throw new ShapeError(`${at}.p90`, "a p90 no smaller than the median");
  return f;
};

const checkProfile: Check<HostProfile> = (v, at) => {
  const p = object({
    version: integer,
    measuredAt: string,
    kernel: string,
    cgroup: oneOf("v1", "v2"),
    cpus: integer,
    quick: boolean,
    loadBefore: arrayOf(nonNegative),
    loadAfter: arrayOf(nonNegative),
    fileRefault: object({
      method: oneOf("memory.reclaim", "memory.force_empty"), pages: integer, sequential: figure, random: figure, refaults: optional(integer),
    }),
    swap: object({
      status: oneOf("measured", "absent"), note: string, device: optional(string), hostSwap: boolean, compressor: optional(string),
      pages: optional(integer), swapIn: optional(figure), swapInSameFilled: optional(figure), decompress: optional(figure), swapOut: optional(figure),
    }),
    ksm: object({
      status: oneOf("measured", "absent"), note: string, pagesToScan: optional(integer), sleepMillisecs: optional(integer),
      cpuSource: optional(oneOf("schedstat", "stat")), pages: optional(integer), otherUsers: optional(boolean),
      perPageScanned: optional(figure), perPageMerged: optional(figure),
    }),
  })(v, at);
  if (p.version !== HOST_PROFILE_VERSION) throw new ShapeError(`${at}.version`, `version ${HOST_PROFILE_VERSION}`);
  if (p.swap.status === "measured" && p.swap.swapIn === undefined) {
    throw new ShapeError(`${at}.swap`, "swapIn when status is measured");
  }
  if (p.ksm.status === "measured" && (p.ksm.perPageScanned === undefined || p.ksm.perPageMerged === undefined)) {
    throw new ShapeError(`${at}.ksm`, "perPageScanned and perPageMerged when status is measured");
  }
  return p as HostProfile;
};

/** A profile's text checked; the message names the file and the first field that is wrong. */
export class HostProfileError extends TsboxError {}

export function parseHostProfile(text: string, source: string): HostProfile {
  try {
    return parseChecked(text, checkProfile);
  } catch (e) {
    if (e instanceof ShapeError) throw new HostProfileError(`host profile ${source} is invalid: ${e.message} (run \`tsbox mem calibrate\` again)`);
    throw e;
  }
}

/** The profile in `file`; undefined when there is none. */
export function readHostProfile(file: string): HostProfile | undefined {
  try {
    return readChecked(file, checkProfile);
  } catch (e) {
    if (e instanceof ShapeError) throw new HostProfileError(`host profile ${file} is invalid: ${e.message} (run \`tsbox mem calibrate\` again)`);
    throw e;
  }
}

/** Median and nearest-rank p90 of per-repetition figures. */
export function figureOf(samples: readonly number[], clock: Figure["clock"], load1: number): Figure {
  if (samples.length === 0) throw new Error("figureOf: no samples");
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  const p90 = s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)]!;
  const round = (x: number): number => Math.round(x * 10) / 10;
  return { median: round(median), p90: round(Math.max(p90, median)), samples: samples.map(round), clock, load1 };
}
