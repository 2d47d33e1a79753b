// The scenario file (JSON): parsed and checked field by field; every error
// names the JSON path and what was wrong. Schema in README ("Memory model").

import { UsageError } from "../../errors.js";
import { KSM_DEFAULTS, PAGE_SIZE, type CodecProfile, type KsmSettings, type MemoryProfile, type MergeablePages, type ScanReport, type ZramProfile } from "../profile.js";
import { guestFromProfile, guestsFromScanReport, type MemStatNumbers } from "./from-profile.js";
import {
  DEFAULT_CODEC, DEFAULT_COSTS, ZSTD_CODEC, defaultTunables,
  type CostSources, type Costs, type Demand, type Guest, type Scenario, type Tunables,
} from "./scenario.js";
import { WORKLOAD_NAMES, isWorkloadName, workloadTrace } from "./workloads.js";

export class ScenarioError extends UsageError {}

type Json = unknown;
type Obj = Record<string, Json>;

const UNIT: Record<string, number> = { b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };
const MAX_BYTES = 1024 ** 5; // 1 PiB: beyond it a size is a typo

/** "16GiB", "512m", "1048576" → bytes (binary units); undefined if malformed. */
export function parseSize(s: string): number | undefined {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$/i.exec(s);
  if (!m) return undefined;
  const unit = m[2]!.toLowerCase();
  const mult = unit === "" ? 1 : UNIT[unit];
  if (mult === undefined) return undefined;
  return Math.floor(Number(m[1]) * mult);
}

class Reader {
  constructor(readonly source: string) {}
  fail(path: string, what: string): never {
    throw new ScenarioError(`${this.source}: ${path}: ${what}`);
  }
  obj(v: Json, path: string): Obj {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(path, `expected an object, got ${show(v)}`);
    return v as Obj;
  }
  only(o: Obj, path: string, keys: readonly string[]): void {
    for (const k of Object.keys(o)) if (!keys.includes(k)) this.fail(`${path}.${k}`, `unknown field (expected one of: ${keys.join(", ")})`);
  }
  num(v: Json, path: string, min: number, max: number, integer = false): number {
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(path, `expected a number, got ${show(v)}`);
    if (integer && !Number.isInteger(v)) this.fail(path, `expected a whole number, got ${v}`);
    if (v < min || v > max) this.fail(path, `must be between ${min} and ${max}, got ${v}`);
    return v;
  }
  fraction(v: Json, path: string): number {
    return this.num(v, path, 0, 1);
  }
  /** bytes: a string with a unit ("2GiB") or a whole number of bytes */
  bytes(v: Json, path: string): number {
    const b = typeof v === "string" ? parseSize(v) : typeof v === "number" && Number.isInteger(v) ? v : undefined;
    if (b === undefined) this.fail(path, `expected a size such as "2GiB" or a whole number of bytes, got ${show(v)}`);
    if (b < PAGE_SIZE) this.fail(path, `must be at least one page (4KiB), got ${show(v)}`);
    if (b > MAX_BYTES) this.fail(path, `must be at most 1PiB, got ${show(v)}`);
    return b;
  }
  str(v: Json, path: string): string {
    if (typeof v !== "string" || v === "") this.fail(path, `expected a non-empty string, got ${show(v)}`);
    return v;
  }
}

function show(v: Json): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

export interface ParseOptions {
  /** --host-memory in bytes: wins over the file's hostMemory */
  hostBytes?: number;
  /**
   * whether the host has swap: a scenario that does not name its swap device
   * (costs.swapDevice) models this host, so false makes it "none"
   */
  hostHasSwap?: boolean;
  /** the host swaps to zram: a scenario that does not name its swap device is then "zram" */
  hostSwapIsZram?: boolean;
  /** name used in error messages (the file path) */
  source?: string;
}

/** Parses and validates a scenario file's text. */
export function parseScenario(text: string, o: ParseOptions = {}): Scenario {
  const r: Reader = new Reader(o.source ?? "scenario");
  let doc: Json;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    r.fail("$", `not valid JSON (${(e as Error).message})`);
  }
  return scenarioFrom(doc, r, o.hostBytes, hostSwapDevice(o));
}

const TOP = ["version", "hostMemory", "steps", "stepSeconds", "seed", "costs", "tunables", "guests"] as const;
const GUEST = ["name", "count", "size", "shares", "contentGroup", "codec", "workload", "demand", "trace", "profile", "stat"] as const;

/** The swap device that models this host, where a scenario names none (undefined: the default). */
function hostSwapDevice(o: { hostHasSwap?: boolean; hostSwapIsZram?: boolean }): Costs["swapDevice"] | undefined {
  return o.hostHasSwap === false ? "none" : o.hostSwapIsZram ? "zram" : undefined;
}

function scenarioFrom(doc: Json, r: Reader, hostBytes?: number, hostSwap?: Costs["swapDevice"]): Scenario {
  const top = r.obj(doc, "$");
  r.only(top, "$", TOP);
  if (top.version !== undefined && top.version !== 1) r.fail("$.version", `unsupported version ${show(top.version)} (this tsbox reads version 1)`);
  let host = hostBytes;
  if (host === undefined) {
    if (top.hostMemory === undefined) r.fail("$.hostMemory", "missing: give it here or with --host-memory");
    host = r.bytes(top.hostMemory, "$.hostMemory");
  }
  const steps = top.steps === undefined ? 60 : r.num(top.steps, "$.steps", 1, 1_000_000, true);
  const stepSeconds = top.stepSeconds === undefined ? 60 : r.num(top.stepSeconds, "$.stepSeconds", 0.001, 86_400);
  const seed = top.seed === undefined ? 1 : r.num(top.seed, "$.seed", 0, 2 ** 32 - 1, true);
  const costs = costsFrom(top.costs, r, hostSwap);
  const tunables = tunablesFrom(top.tunables, r, stepSeconds);
  if (!Array.isArray(top.guests)) r.fail("$.guests", `expected an array of guests, got ${show(top.guests)}`);
  if (top.guests.length === 0) r.fail("$.guests", "no guests: give at least one");
  const guests: Guest[] = [];
  top.guests.forEach((g, i) => guests.push(...guestsFrom(g, `$.guests[${i}]`, r, steps, seed + i)));
  const hostPages = Math.floor(host / PAGE_SIZE);
  guests.forEach((g) => {
    if (g.sizePages > hostPages) r.fail("$.guests", `guest ${g.name} (${g.sizePages * 4}KiB) is larger than the host (${hostPages * 4}KiB)`);
  });
  return { hostPages, steps, stepSeconds, guests, costs, tunables };
}

function costsFrom(v: Json, r: Reader, hostSwap?: Costs["swapDevice"]): Costs {
  const c: Costs = { ...DEFAULT_COSTS, ...(hostSwap !== undefined ? { swapDevice: hostSwap } : {}) };
  if (v === undefined) return c;
  const o = r.obj(v, "$.costs");
  r.only(o, "$.costs", ["dramNs", "flashNs", "diskNs", "copyNs", "fileRefaultNs", "swapInNs", "swapOutNs", "compressedFaultNs", "swapDevice"]);
  for (const k of ["dramNs", "flashNs", "diskNs", "copyNs"] as const) if (o[k] !== undefined) c[k] = r.num(o[k], `$.costs.${k}`, 0, 1e12);
  // a fault cost the scenario gives (or implies, through the device it is read from) is the scenario's: a host profile does not replace it
  const sources: CostSources = { fileRefault: "default", swapIn: "default", compressedFault: "default" };
  if (o.fileRefaultNs !== undefined) c.fileRefaultNs = r.num(o.fileRefaultNs, "$.costs.fileRefaultNs", 0, 1e12);
  if (o.swapInNs !== undefined) c.swapInNs = r.num(o.swapInNs, "$.costs.swapInNs", 0, 1e12);
  if (o.swapOutNs !== undefined) c.swapOutNs = r.num(o.swapOutNs, "$.costs.swapOutNs", 0, 1e12);
  if (o.compressedFaultNs !== undefined) c.compressedFaultNs = r.num(o.compressedFaultNs, "$.costs.compressedFaultNs", 0, 1e12);
  if (o.fileRefaultNs !== undefined || o.diskNs !== undefined) sources.fileRefault = "scenario";
  // zram's swap-in is a compressed page's fault: naming it leaves the cost to the calibration
  if (o.swapInNs !== undefined || o.diskNs !== undefined || o.flashNs !== undefined || (o.swapDevice !== undefined && o.swapDevice !== "zram")) sources.swapIn = "scenario";
  if (o.compressedFaultNs !== undefined) sources.compressedFault = "scenario";
  if (o.swapOutNs !== undefined) sources.swapOut = "scenario";
  c.sources = sources;
  if (o.swapDevice !== undefined) {
    if (o.swapDevice !== "disk" && o.swapDevice !== "flash" && o.swapDevice !== "zram" && o.swapDevice !== "none") r.fail("$.costs.swapDevice", `expected "disk", "flash", "zram" or "none", got ${show(o.swapDevice)}`);
    c.swapDevice = o.swapDevice;
  }
  return c;
}

function tunablesFrom(v: Json, r: Reader, stepSeconds: number): Tunables {
  const t = defaultTunables(stepSeconds);
  if (v === undefined) return t;
  const p = "$.tunables";
  const o = r.obj(v, p);
  r.only(o, p, ["writeBreakRate", "balloonRate", "balloonMaxFraction", "compressionCacheFraction", "idleTax", "thresholds", "selfBalloonHeadroom", "useZeroPages", "maxPageSharing"]);
  if (o.maxPageSharing !== undefined) t.maxPageSharing = r.num(o.maxPageSharing, `${p}.maxPageSharing`, 2, 2 ** 31, true);
  if (o.useZeroPages !== undefined) {
    if (typeof o.useZeroPages !== "boolean") r.fail(`${p}.useZeroPages`, `expected true or false, got ${show(o.useZeroPages)}`);
    t.useZeroPages = o.useZeroPages;
  }
  if (o.writeBreakRate !== undefined) t.writeBreakRate = r.fraction(o.writeBreakRate, `${p}.writeBreakRate`);
  if (o.balloonRate !== undefined) t.balloonRatePages = Math.floor(r.bytes(o.balloonRate, `${p}.balloonRate`) / PAGE_SIZE);
  if (o.balloonMaxFraction !== undefined) t.balloonMaxFraction = r.fraction(o.balloonMaxFraction, `${p}.balloonMaxFraction`);
  if (o.compressionCacheFraction !== undefined) t.compressionCacheFraction = r.fraction(o.compressionCacheFraction, `${p}.compressionCacheFraction`);
  if (o.idleTax !== undefined) t.idleTax = r.num(o.idleTax, `${p}.idleTax`, 0, 0.99);
  if (o.selfBalloonHeadroom !== undefined) t.selfBalloonHeadroom = r.fraction(o.selfBalloonHeadroom, `${p}.selfBalloonHeadroom`);
  if (o.thresholds !== undefined) {
    const q = `${p}.thresholds`;
    const th = r.obj(o.thresholds, q);
    r.only(th, q, ["high", "soft", "hard", "low"]);
    for (const k of ["high", "soft", "hard", "low"] as const) if (th[k] !== undefined) t.thresholds[k] = r.num(th[k], `${q}.${k}`, 0, 0.5);
    const { high, soft, hard, low } = t.thresholds;
    if (!(high > soft && soft > hard && hard > low && low > 0)) r.fail(q, `must satisfy high > soft > hard > low > 0, got ${high}, ${soft}, ${hard}, ${low}`);
  }
  return t;
}

function codecFrom(v: Json, path: string, r: Reader): CodecProfile {
  if (v === undefined || v === "lz4") return { ...DEFAULT_CODEC };
  if (v === "zstd") return { ...ZSTD_CODEC };
  if (typeof v === "string") r.fail(path, `unknown codec ${show(v)} (expected "lz4", "zstd" or an object)`);
  const o = r.obj(v, path);
  r.only(o, path, ["codec", "ratio", "le2k", "le1k", "incompressible", "decompressNs"]);
  const codec = o.codec ?? "lz4";
  if (codec !== "lz4" && codec !== "zstd") r.fail(`${path}.codec`, `expected "lz4" or "zstd", got ${show(codec)}`);
  const base = codec === "zstd" ? ZSTD_CODEC : DEFAULT_CODEC;
  const c: CodecProfile = {
    codec,
    ratio: o.ratio === undefined ? base.ratio : r.num(o.ratio, `${path}.ratio`, 1, 1e6),
    le2k: o.le2k === undefined ? base.le2k : r.fraction(o.le2k, `${path}.le2k`),
    le1k: o.le1k === undefined ? base.le1k : r.fraction(o.le1k, `${path}.le1k`),
    incompressible: o.incompressible === undefined ? base.incompressible : r.fraction(o.incompressible, `${path}.incompressible`),
    decompressNs: o.decompressNs === undefined ? base.decompressNs : r.num(o.decompressNs, `${path}.decompressNs`, 0, 1e9),
  };
  if (c.le1k > c.le2k) r.fail(`${path}.le1k`, `the share ≤ 1 KiB (${c.le1k}) cannot exceed the share ≤ 2 KiB (${c.le2k})`);
  return c;
}

/** a demand quantity: a fraction of the guest's size (0..1) or a size string ("300MiB") */
function pagesOf(v: Json, path: string, r: Reader, sizePages: number): number {
  if (typeof v === "number") return Math.floor(r.fraction(v, path) * sizePages);
  if (typeof v === "string") {
    const b = parseSize(v);
    if (b === undefined) r.fail(path, `expected a fraction of the guest's size (0..1) or a size such as "300MiB", got ${show(v)}`);
    return Math.floor(b / PAGE_SIZE);
  }
  return r.fail(path, `expected a fraction of the guest's size (0..1) or a size such as "300MiB", got ${show(v)}`);
}

const DEMAND = ["anon", "cache", "workingSet", "zero", "sharableWithin", "sharableAcross"] as const;

function demandFrom(v: Json, path: string, r: Reader, sizePages: number): Demand {
  const o = r.obj(v, path);
  r.only(o, path, DEMAND);
  for (const k of ["anon", "cache", "workingSet"] as const) if (o[k] === undefined) r.fail(`${path}.${k}`, "missing");
  const q = (k: (typeof DEMAND)[number]): number => (o[k] === undefined ? 0 : pagesOf(o[k], `${path}.${k}`, r, sizePages));
  const d: Demand = { anon: q("anon"), cache: q("cache"), workingSet: q("workingSet"), zero: q("zero"), sharableWithin: q("sharableWithin"), sharableAcross: q("sharableAcross") };
  checkDemand(d, sizePages, path, r);
  return d;
}

function checkDemand(d: Demand, sizePages: number, path: string, r: Reader): void {
  const content = d.anon + d.cache;
  if (content > sizePages) r.fail(path, `anon + cache (${content} pages) exceed the guest's size (${sizePages} pages)`);
  if (d.workingSet > content) r.fail(`${path}.workingSet`, `${d.workingSet} pages exceed anon + cache (${content} pages)`);
  const same = d.zero + d.sharableWithin + d.sharableAcross;
  if (same > content) r.fail(path, `zero + sharableWithin + sharableAcross (${same} pages) exceed anon + cache (${content} pages)`);
}

function guestsFrom(v: Json, path: string, r: Reader, steps: number, seed: number): Guest[] {
  const o = r.obj(v, path);
  r.only(o, path, GUEST);
  const sources = (["workload", "demand", "trace", "profile"] as const).filter((k) => o[k] !== undefined);
  if (sources.length !== 1) r.fail(path, `give exactly one of workload, demand, trace or profile (got ${sources.length === 0 ? "none" : sources.join(", ")})`);
  const count = o.count === undefined ? 1 : r.num(o.count, `${path}.count`, 1, 100_000, true);
  const name = o.name === undefined ? `guest${path.replace(/\D+/g, "")}` : r.str(o.name, `${path}.name`);
  const shares = o.shares === undefined ? 1000 : r.num(o.shares, `${path}.shares`, 1, 1e9);
  const contentGroup = o.contentGroup === undefined ? "default" : r.str(o.contentGroup, `${path}.contentGroup`);
  let guest: Guest;
  if (o.profile !== undefined) {
    const stat = o.stat === undefined ? undefined : statFrom(o.stat, `${path}.stat`, r);
    const p = profileFrom(o.profile, `${path}.profile`, r);
    guest = guestFromProfile(p, stat, {
      ...(o.size !== undefined ? { sizePages: Math.floor(r.bytes(o.size, `${path}.size`) / PAGE_SIZE) } : {}),
      contentGroup, shares,
    });
    if (o.name !== undefined) guest.name = name;
    if (o.codec !== undefined) guest.codec = codecFrom(o.codec, `${path}.codec`, r);
  } else {
    if (o.stat !== undefined) r.fail(`${path}.stat`, "only meaningful with a profile");
    if (o.size === undefined) r.fail(`${path}.size`, "missing");
    const sizePages = Math.floor(r.bytes(o.size, `${path}.size`) / PAGE_SIZE);
    let trace: Demand[];
    if (o.workload !== undefined) trace = workloadFrom(o.workload, `${path}.workload`, r, sizePages, steps, seed);
    else if (o.demand !== undefined) trace = [demandFrom(o.demand, `${path}.demand`, r, sizePages)];
    else {
      if (!Array.isArray(o.trace) || o.trace.length === 0) r.fail(`${path}.trace`, `expected a non-empty array of demands, got ${show(o.trace)}`);
      trace = o.trace.map((d, j) => demandFrom(d, `${path}.trace[${j}]`, r, sizePages));
    }
    guest = { name, sizePages, shares, contentGroup, codec: codecFrom(o.codec, `${path}.codec`, r), trace };
  }
  if (count === 1) return [guest];
  return Array.from({ length: count }, (_, k) => ({ ...guest, name: `${guest.name}-${k + 1}` }));
}

function workloadFrom(v: Json, path: string, r: Reader, sizePages: number, steps: number, seed: number): Demand[] {
  const spec = typeof v === "string" ? { generator: v } : r.obj(v, path);
  if (typeof v !== "string") r.only(spec, path, ["generator", "jitter", "rampSteps", "period", "seed"]);
  const gen = spec.generator;
  if (typeof gen !== "string" || !isWorkloadName(gen)) {
    r.fail(typeof v === "string" ? path : `${path}.generator`, `unknown workload ${show(gen)} (expected one of: ${WORKLOAD_NAMES.join(", ")})`);
  }
  return workloadTrace(gen, sizePages, steps, {
    jitter: spec.jitter === undefined ? 0 : r.num(spec.jitter, `${path}.jitter`, 0, 0.5),
    rampSteps: spec.rampSteps === undefined ? 0 : r.num(spec.rampSteps, `${path}.rampSteps`, 0, 1_000_000, true),
    period: spec.period === undefined ? 10 : r.num(spec.period, `${path}.period`, 1, 1_000_000, true),
    seed: spec.seed === undefined ? seed : r.num(spec.seed, `${path}.seed`, 0, 2 ** 32 - 1, true),
  });
}

function statFrom(v: Json, path: string, r: Reader): MemStatNumbers {
  const o = r.obj(v, path);
  r.only(o, path, ["usage", "anon", "file", "inactiveFile", "limit"]);
  const n = (k: string): number => {
    if (o[k] === undefined) r.fail(`${path}.${k}`, "missing");
    return r.num(o[k], `${path}.${k}`, 0, MAX_BYTES, true);
  };
  return { usage: n("usage"), anon: n("anon"), file: n("file"), inactiveFile: n("inactiveFile"), ...(o.limit !== undefined ? { limit: n("limit") } : {}) };
}

function profileFrom(v: Json, path: string, r: Reader): MemoryProfile {
  const o = r.obj(v, path);
  const count = (k: string): number => r.num(o[k], `${path}.${k}`, 0, 2 ** 50, true);
  const present = count("present");
  const sampled = count("sampled");
  if (sampled > present) r.fail(`${path}.sampled`, `${sampled} sampled pages exceed the ${present} present`);
  const zero = count("zero");
  const sameFilled = count("sameFilled");
  const duplicateWithin = count("duplicateWithin");
  const duplicateAcross = count("duplicateAcross");
  const unique = count("unique");
  if (zero + sameFilled + duplicateWithin + duplicateAcross + unique > sampled) {
    r.fail(path, `zero + sameFilled + duplicateWithin + duplicateAcross + unique exceed the ${sampled} sampled pages`);
  }
  if (!Array.isArray(o.compression)) r.fail(`${path}.compression`, `expected an array of codec profiles, got ${show(o.compression)}`);
  const mode = o.mode === "sample" ? "sample" : o.mode === "full" ? "full" : r.fail(`${path}.mode`, `expected "full" or "sample", got ${show(o.mode)}`);
  return {
    id: typeof o.id === "string" ? o.id : "",
    name: typeof o.name === "string" ? o.name : "",
    mode, present, sampled, zero, sameFilled, duplicateWithin, duplicateAcross, unique,
    anonFraction: r.fraction(o.anonFraction, `${path}.anonFraction`),
    compression: o.compression.map((c, i) => codecFrom(c, `${path}.compression[${i}]`, r)),
    ...(o.mergeable !== undefined ? { mergeable: mergeableFrom(o.mergeable, `${path}.mergeable`, r) } : {}),
    ...(o.zram !== undefined ? { zram: zramFrom(o.zram, `${path}.zram`, r) } : {}),
  };
}

function zramFrom(v: Json, path: string, r: Reader): ZramProfile {
  const o = r.obj(v, path);
  r.only(o, path, ["compressor", "comprRatio", "ratio", "le2k", "le1k", "incompressible"]);
  if (typeof o.compressor !== "string") r.fail(`${path}.compressor`, `expected a compressor's name, got ${show(o.compressor)}`);
  return {
    compressor: o.compressor, comprRatio: r.num(o.comprRatio, `${path}.comprRatio`, 0.01, 1e6), ratio: r.num(o.ratio, `${path}.ratio`, 0.01, 1e6),
    le2k: r.fraction(o.le2k, `${path}.le2k`), le1k: r.fraction(o.le1k, `${path}.le1k`), incompressible: r.fraction(o.incompressible, `${path}.incompressible`),
  };
}

function mergeableFrom(v: Json, path: string, r: Reader): MergeablePages {
  const o = r.obj(v, path);
  r.only(o, path, ["zero", "within", "across", "sameFilled", "changed"]);
  const count = (k: string): number => r.num(o[k], `${path}.${k}`, 0, 2 ** 50, true);
  const m: MergeablePages = { zero: count("zero"), within: count("within"), across: count("across"), sameFilled: count("sameFilled"), ...(o.changed !== undefined ? { changed: count("changed") } : {}) };
  if (m.sameFilled > m.within + m.across) r.fail(`${path}.sameFilled`, `${m.sameFilled} exceed within + across (${m.within + m.across})`);
  return m;
}

function ksmFrom(v: Json, path: string, r: Reader): KsmSettings {
  const o = r.obj(v, path);
  if (typeof o.useZeroPages !== "boolean") r.fail(`${path}.useZeroPages`, `expected true or false, got ${show(o.useZeroPages)}`);
  return { useZeroPages: o.useZeroPages, maxPageSharing: r.num(o.maxPageSharing, `${path}.maxPageSharing`, 2, Number.MAX_SAFE_INTEGER, true) };
}

/** A ScanReport (`tsbox mem scan --format json`) as the guests of a scenario. */
export function scenarioFromScanReport(text: string, o: ParseOptions & { steps?: number; stepSeconds?: number }): Scenario {
  const r: Reader = new Reader(o.source ?? "profiles");
  let doc: Json;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    r.fail("$", `not valid JSON (${(e as Error).message})`);
  }
  const top = r.obj(doc, "$");
  if (!Array.isArray(top.containers)) r.fail("$.containers", `expected an array of container profiles, got ${show(top.containers)}`);
  if (top.containers.length === 0) r.fail("$.containers", "no containers in the report");
  const report: ScanReport = {
    scannedAt: typeof top.scannedAt === "string" ? top.scannedAt : "",
    containers: top.containers.map((p, i) => profileFrom(p, `$.containers[${i}]`, r)),
    sharablePages: 0, elapsedMs: 0, bytesAnalysed: 0,
    ...(top.ksm !== undefined ? { ksm: ksmFrom(top.ksm, "$.ksm", r) } : {}),
  };
  if (o.hostBytes === undefined) r.fail("$", "--host-memory is required with --profiles");
  return scenarioFromReport(report, new Map(), { ...o, hostBytes: o.hostBytes });
}

/**
 * Measured containers (a ScanReport and, by container id, their `mem stat` numbers) as a scenario
 * on a host of `hostBytes`: what `--containers` needs once the scan is at hand.
 */
export function scenarioFromReport(
  report: ScanReport,
  stats: ReadonlyMap<string, MemStatNumbers>,
  o: { hostBytes: number; steps?: number; stepSeconds?: number; source?: string; hostHasSwap?: boolean; hostSwapIsZram?: boolean },
): Scenario {
  const r: Reader = new Reader(o.source ?? "profiles");
  const stepSeconds = o.stepSeconds ?? 60;
  const hostPages = Math.floor(o.hostBytes / PAGE_SIZE);
  const guests = guestsFromScanReport(report, stats);
  guests.forEach((g) => {
    if (g.sizePages > hostPages) r.fail("$.containers", `container ${g.name} (${g.sizePages * 4}KiB) is larger than the host (${hostPages * 4}KiB)`);
  });
  // the sharing follows the KSM settings the scan was made under (the host's)
  const ksm = report.ksm ?? KSM_DEFAULTS;
  const tunables = { ...defaultTunables(stepSeconds), useZeroPages: ksm.useZeroPages, maxPageSharing: ksm.maxPageSharing };
  const swapDevice = hostSwapDevice(o);
  const costs: Costs = { ...DEFAULT_COSTS, ...(swapDevice !== undefined ? { swapDevice } : {}) };
  return { hostPages, steps: o.steps ?? 60, stepSeconds, guests, costs, tunables };
}
