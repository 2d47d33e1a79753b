// What `tsbox mem simulate` prints: one simulation of the scenario under the
// chosen policy, and the density (largest number of guests under the slowdown
// budget) of every policy. JSON numbers are rounded so that the same input
// gives byte-identical output.

import { PAGE_SIZE } from "../profile.js";
import { formatBytes } from "../../format.js";
import { densityByPolicy, densityCurve, type DensityPoint } from "./density.js";
import { onlySwaps, POLICIES, POLICY_NAMES, type PolicyName } from "./policies.js";
import { statedCosts, type StatedCost, type StatedCosts } from "./host-costs.js";
import type { Scenario } from "./scenario.js";
import { simulate, type GuestResult, type HostStep, type Summary } from "./simulate.js";
import { DEFAULT_KSM_RATE, type KsmRate } from "./ksm-time.js";
import { ksmTransient, type KsmTransient } from "./ksm-transient.js";

export interface SimulationReport {
  hostBytes: number;
  hostPages: number;
  steps: number;
  stepSeconds: number;
  policy: PolicyName;
  budget: number;
  summary: Summary;
  guests: (GuestResult & { sizePages: number })[];
  density: { budget: number; guestsThatFit: Record<string, number> };
  /** the host has no swap: policies are modelled without their swap tier, and a policy that only swaps is left out */
  noSwap?: true;
  /** the fault costs charged, ns per page, and where each came from (calibrated, scenario, default) */
  costs: StatedCosts & { hostProfile?: string };
  /** a policy that shares: how long ksmd takes to reach the saving, and what the host holds before it (ksm-transient.ts) */
  ksm?: KsmTransient;
  timeline: HostStep[];
}

export interface ReportOptions {
  perGuestSteps?: boolean;
  /** the host profile the costs were calibrated from (its path), for the report */
  hostProfile?: string;
  /** skip the density search (it simulates every policy many times) */
  density?: boolean;
  /** ksmd's rate for the sharing transient (default: the kernel's default rate) */
  ksmRate?: KsmRate;
}

/** The policies worth comparing on this host: without swap, one that only swaps would be `none` again. */
export function comparablePolicies(sc: Scenario): PolicyName[] {
  return sc.costs.swapDevice === "none" ? POLICY_NAMES.filter((p) => !onlySwaps(POLICIES[p])) : [...POLICY_NAMES];
}

export function buildReport(sc: Scenario, policy: PolicyName, budget: number, o: ReportOptions = {}): SimulationReport {
  const sim = simulate(sc, POLICIES[policy], { perGuestSteps: o.perGuestSteps === true });
  const report: SimulationReport = {
    hostBytes: sc.hostPages * PAGE_SIZE,
    hostPages: sc.hostPages,
    steps: sc.steps,
    stepSeconds: sc.stepSeconds,
    policy,
    budget,
    summary: sim.summary,
    guests: sim.guests.map((g, i) => ({ ...g, sizePages: sc.guests[i]!.sizePages })),
    density: { budget, guestsThatFit: o.density === false ? {} : densityByPolicy(sc, budget, comparablePolicies(sc)) },
    timeline: sim.steps,
    costs: { ...statedCosts(sc.costs), ...(o.hostProfile !== undefined ? { hostProfile: o.hostProfile } : {}) },
    ...(sc.costs.swapDevice === "none" ? { noSwap: true as const } : {}),
    ...(POLICIES[policy].sharing ? { ksm: ksmTransient(sc, o.ksmRate ?? DEFAULT_KSM_RATE) } : {}),
  };
  return rounded(report);
}

/** Slowdown against the number of guests, per policy, for the chart. */
export function densityCurves(sc: Scenario, fit: Record<string, number>, points = 24): Record<string, DensityPoint[]> {
  const top = Math.max(2, Math.ceil(Math.max(0, ...Object.values(fit)) * 1.3) + 1);
  const out: Record<string, DensityPoint[]> = {};
  for (const p of comparablePolicies(sc)) out[p] = densityCurve(sc, POLICIES[p], top, points);
  return out;
}

function rounded<T>(v: T): T {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === "number" && !Number.isInteger(x) ? Number(x.toPrecision(6)) : x))) as T;
}

export function toJson(r: SimulationReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

const bytes = (pages: number): string => formatBytes(Math.round(pages) * PAGE_SIZE);
const pct = (x: number): string => `${(x * 100).toFixed(x < 0.1 ? 2 : 1)}%`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]! + 3))).join("").trimEnd()).join("\n");
}

/** 850ns, 2.31µs, 10.00ms */
function ns(x: number): string {
  if (x < 1_000) return `${Math.round(x)}ns`;
  return x < 1_000_000 ? `${(x / 1_000).toFixed(2)}µs` : `${(x / 1_000_000).toFixed(2)}ms`;
}

function cost(c: StatedCost, unset: string): string {
  return `${c.ns === undefined ? unset : ns(c.ns)} (${c.source})`;
}

/** Which fault costs the run charged, and whether they were calibrated on this host. */
export function costLine(c: SimulationReport["costs"]): string {
  const from = c.hostProfile !== undefined ? `calibrated: host profile ${c.hostProfile}` : "no host profile used: `tsbox mem calibrate` measures this host's";
  const out = c.swapOut !== undefined ? `, swap-out ${cost(c.swapOut, "-")}` : "";
  return `fault costs per page: file refault ${cost(c.fileRefault, "-")}, swap-in ${cost(c.swapIn, "-")}${out},`
    + ` compressed page ${cost(c.compressedFault, "each codec's decompression")} [${from}]`;
}

const seconds = (x: number): string => (x < 10 ? `${x.toFixed(2)}s` : `${x.toFixed(0)}s`);

/** The sharing transient: guests started together are merged after two passes of ksmd, and must fit unmerged first. */
export function ksmLine(k: KsmTransient): string {
  return `KSM at ${k.pagesToScan} pages / ${k.sleepMillisecs} ms: a pass takes ${seconds(k.passSeconds)}, 90 % of the sharing ${bytes(k.steadySavedPages)}`
    + ` after ${seconds(k.secondsTo90)}, all after ${seconds(k.secondsToSteady)} (ksmd ${pct(k.ksmdCpu)} of a CPU);`
    + ` at the first step's demand, guests started together need ${bytes(k.peakPages)} before merging, ${bytes(k.steadyPages)} after`;
}

export function toTable(r: SimulationReport): string {
  const s = r.summary;
  const out: string[] = [];
  out.push(`host ${formatBytes(r.hostBytes)}, ${s.guests} guests, ${r.steps} steps of ${r.stepSeconds}s, policy ${r.policy}: ${POLICIES[r.policy].description}`);
  out.push("");
  out.push(table([
    ["GUEST", "SIZE", "RESIDENT", "BALLOONED", "SHARED", "COMPRESSED", "SWAPPED", "TMEM", "FAULTS", "SLOWDOWN", "LOST THROUGHPUT"],
    ...r.guests.map((g) => [
      g.name, bytes(g.sizePages), bytes(g.mean.resident), bytes(g.mean.ballooned), bytes(g.mean.shared),
      bytes(g.mean.compressed), bytes(g.mean.swapped), bytes(g.mean.tmem), String(g.faults),
      pct(g.slowdown), s.overcommittedSteps > 0 ? `${pct(g.lostThroughput)} (host ran out)` : pct(g.lostThroughput),
    ]),
  ]));
  out.push("(memory columns: mean over the steps; FAULTS: pages faulted back in over the run, copy-on-write breaks included;"
    + " SLOWDOWN: time lost / time run; LOST THROUGHPUT: time lost / (time run + time lost))");
  out.push("");
  const sv = s.savedPages;
  out.push(`saved per step:  sharing ${bytes(sv.sharing)}   balloon ${bytes(sv.balloon)}   compression ${bytes(sv.compression)}   swap ${bytes(sv.swap)}   (tmem pools held ${bytes(sv.tmemPool)})`);
  out.push(`guests touched ${bytes(s.touchedPages)} on a ${formatBytes(r.hostBytes)} host; least free ${bytes(s.minFreePages)}; steps the host ran out: ${s.overcommittedSteps}`);
  out.push(`lost throughput: worst guest ${pct(s.maxLostThroughput)}, mean ${pct(s.meanLostThroughput)} (budget ${pct(r.budget)});`
    + ` slowdown: worst ${pct(s.maxSlowdown)}, mean ${pct(s.meanSlowdown)}`);
  out.push(costLine(r.costs));
  if (r.ksm) out.push(ksmLine(r.ksm));
  if (r.noSwap) out.push("no swap on the host: every policy is modelled without its swap tier (policy swap left out)");
  const fit = Object.entries(r.density.guestsThatFit);
  if (fit.length > 0) {
    out.push("");
    out.push(`guests that fit under ${pct(r.budget)} lost throughput (the scenario's guests repeated in turn):`);
    out.push(table([["POLICY", "GUESTS", "DESCRIPTION"], ...fit.map(([p, n]) => [p, String(n), POLICIES[p as PolicyName].description])]));
  }
  return `${out.join("\n")}\n`;
}
