// Synthetic guests: demand traces shaped like the workloads the ESX paper and
// the anchors describe, made deterministic by a seeded generator.

import { prng } from "../../util/prng.js";
import type { Demand } from "./scenario.js";

export const WORKLOAD_NAMES = ["idle-cache", "anon-heavy", "identical-os", "bursty", "idle"] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

/** Shape of a workload as fractions of the guest's size. */
interface Shape { anon: number; cache: number; workingSet: number; zero: number; within: number; across: number }

const SHAPES: Record<WorkloadName, Shape> = {
  // a server that read a lot once: big idle page cache, small working set
  "idle-cache": { anon: 0.2, cache: 0.65, workingSet: 0.15, zero: 0.03, within: 0.02, across: 0.15 },
  // a JVM or database: its memory is anonymous and in use
  "anon-heavy": { anon: 0.8, cache: 0.1, workingSet: 0.8, zero: 0.02, within: 0.01, across: 0.05 },
  // guests booted from one OS image (the ESX best case): much identical content
  "identical-os": { anon: 0.35, cache: 0.45, workingSet: 0.25, zero: 0.05, within: 0.03, across: 0.4 },
  // working set alternating between 10 % and 40 % every `period` steps
  bursty: { anon: 0.3, cache: 0.55, workingSet: 0.1, zero: 0.03, within: 0.02, across: 0.1 },
  idle: { anon: 0.15, cache: 0.2, workingSet: 0.05, zero: 0.05, within: 0.02, across: 0.08 },
};

export interface WorkloadOptions {
  /** ± fraction of the guest's size the working set wanders by, step to step */
  jitter?: number;
  /** steps over which memory fills up from nothing (a boot) */
  rampSteps?: number;
  /** bursty: steps per phase */
  period?: number;
  seed?: number;
}

export { prng };

export function workloadTrace(name: WorkloadName, sizePages: number, steps: number, o: WorkloadOptions = {}): Demand[] {
  const shape = SHAPES[name];
  const jitter = o.jitter ?? 0;
  const ramp = o.rampSteps ?? 0;
  const period = Math.max(1, o.period ?? 10);
  const rnd = prng(o.seed ?? 1);
  const trace: Demand[] = [];
  for (let t = 0; t < Math.max(1, steps); t++) {
    const fill = ramp > 0 ? Math.min(1, (t + 1) / ramp) : 1;
    const anon = Math.floor(sizePages * shape.anon * fill);
    const cache = Math.floor(sizePages * shape.cache * fill);
    let ws = name === "bursty" && Math.floor(t / period) % 2 === 1 ? 0.4 : shape.workingSet;
    if (jitter > 0) ws += (rnd() * 2 - 1) * jitter;
    const workingSet = Math.max(0, Math.min(anon + cache, Math.floor(sizePages * ws * fill)));
    const cap = (x: number): number => Math.floor(sizePages * x * fill);
    trace.push({ anon, cache, workingSet, zero: cap(shape.zero), sharableWithin: cap(shape.within), sharableAcross: cap(shape.across) });
  }
  return trace;
}

export function isWorkloadName(s: string): s is WorkloadName {
  return (WORKLOAD_NAMES as readonly string[]).includes(s);
}
