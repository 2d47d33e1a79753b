// The balancer's side effects: which containers it balances, the limits it
// writes, and putting everything back. The policy itself is decide.ts (pure).
//
// Knobs: v1 memory.limit_in_bytes, with the OOM killer held off
// (memory.oom_control 1) while balanced, so a container that reaches its
// limit with nothing to reclaim waits for the next round's raise instead of
// being killed; v2 memory.high, which throttles and reclaims but never
// OOM-kills (memory.max, the container's own hard limit, is left alone and
// is the ceiling). Before its first write the balancer records each
// container's limit (containers/<id>/balance.json, removed with the
// container): restore() writes it back, and a balancer that was killed
// before it could restore leaves the record for the next run (or
// `mem balance --restore`) to use. Only containers in tsbox's store, and only
// their own cgroup directory, are ever written.

import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { NotFoundError, TsboxError } from "../../errors.js";
import { log as getLog } from "../../log.js";
import { findContainer, readAllStates, containerPaths, type ContainerState } from "../../state/container-store.js";
import { writeJsonAtomic } from "../../util/atomic.js";
import { takeLock } from "../../util/lock.js";
import { boolean, number, object, oneOf, optional, readChecked, ShapeError, type Check } from "../../util/shape.js";
import { hostProfileFile, readHostProfile } from "../host-profile.js";
import { hostHasSwap } from "../kernel/balloon.js";
import { memoryCgroupOf, setHighV2, setLimitV1, type MemoryCgroup } from "../kernel/cgroup-memory.js";
import { decide, DEFAULT_TUNING, type Decision, type Tuning } from "./decide.js";
import { CgroupGoneError, DEFAULT_REFAULT_NS, readCounters, sampleBetween, type Counters } from "./signal.js";

export const balanceRecordFile = (root: string, id: string): string => join(containerPaths(root, id).dir, "balance.json");

/** What a container had before the balancer first wrote to it. */
export interface BalanceRecord { version: "v1" | "v2"; limit?: number; oomKillDisable?: boolean }
const checkRecord: Check<BalanceRecord> = object({ version: oneOf("v1", "v2"), limit: optional(number), oomKillDisable: optional(boolean) });

export interface Managed {
  id: string;
  name: string;
  cg: MemoryCgroup;
  original: BalanceRecord;
  prev: Counters;
  /** the limit the balancer has in place (undefined until its first write: unlimited) */
  limit?: number;
  ceiling?: number;
  sinceRaise: number;
  /** the most it held lately: the highest usage seen, decaying by PEAK_DECAY a round */
  peak: number;
  /** OOM kills counted when the balancer took the container */
  oomKillsAtStart: number;
}

/** How fast a remembered peak fades: per round, ×0.995 (at 1 s rounds, half in about 2 minutes). */
const PEAK_DECAY = 0.995;

export interface RoundResult extends Decision {
  name: string;
  usage: number;
  pressure: number;
  /** the write: ok, busy (v1 EBUSY: the kernel could not reclaim down to it; the limit stays) or unchanged */
  write: "ok" | "busy" | "unchanged";
}

function readRecord(root: string, id: string): BalanceRecord | undefined {
  const file = balanceRecordFile(root, id);
  try {
    return readChecked(file, checkRecord);
  } catch (e) {
    if (!(e instanceof ShapeError)) throw e;
    throw new TsboxError(`mem balance: ${file} is corrupt (${e.message}): the limit from before is lost; set it with tsbox update --memory and remove the file`);
  }
}

/** The containers to balance: those named (each must be running), or every running one. */
export function balanceTargets(root: string, refs: readonly string[]): ContainerState[] {
  if (refs.length > 0) {
    return refs.map((r) => {
      const c = findContainer(root, r);
      if (c.status !== "running") throw new TsboxError(`Container ${c.id} is not running`);
      return c;
    });
  }
  return readAllStates(root).filter((s) => s.status === "running");
}

/** Takes a container over: records its limit (unless a record is left from before), holds off the v1 OOM killer. */
export function attach(root: string, state: ContainerState, cgOf: (s: ContainerState) => MemoryCgroup = memoryCgroupOf): Managed {
  const cg = cgOf(state);
  const now = readCounters(cg);
  let original = readRecord(root, state.id);
  if (original === undefined) {
    original = {
      version: cg.version, ...(now.limit !== undefined ? { limit: now.limit } : {}),
      ...(cg.version === "v1" ? { oomKillDisable: now.oomKillDisable === true } : {}),
    };
    writeJsonAtomic(balanceRecordFile(root, state.id), original, true);
  }
  if (cg.version === "v1" && !now.oomKillDisable) cg.fs.writeFile(join(cg.dir, "memory.oom_control"), "1");
  // v2: a hard memory.max of the container's own stays its ceiling; v1: the limit it had before.
  const ceiling = cg.version === "v2" ? now.max : original.limit;
  return {
    id: state.id, name: state.name ?? state.id.slice(0, 12), cg, original, prev: now,
    ...(now.limit !== undefined ? { limit: now.limit } : {}), ...(ceiling !== undefined ? { ceiling } : {}),
    sinceRaise: Infinity, peak: now.usage, oomKillsAtStart: now.oomKills,
  };
}

function writeLimit(m: Managed, bytes: number): "ok" | "busy" {
  if (m.cg.version === "v1") return setLimitV1(m.cg, bytes) === "ok" ? "ok" : "busy";
  setHighV2(m.cg, bytes);
  return "ok";
}

/**
 * One round over the managed containers: read, decide, write (cuts before
 * raises, so the sum of the limits never passes the budget in between).
 * Containers whose cgroup went (stopped) are dropped from `managed`.
 */
export function round(root: string, managed: Managed[], tuning: Tuning, refaultNs: number): RoundResult[] {
  const log = getLog();
  const live: { m: Managed; now: Counters }[] = [];
  for (const m of [...managed]) {
    try {
      live.push({ m, now: readCounters(m.cg) });
    } catch (e) {
      if (!(e instanceof CgroupGoneError)) throw e;
      log.info({ container: m.id }, "mem balance: container gone, dropped");
      managed.splice(managed.indexOf(m), 1);
      rmSync(balanceRecordFile(root, m.id), { force: true });
    }
  }
  for (const { m, now } of live) adoptOutsideLimit(root, m, now);
  const inputs = live.map(({ m, now }) => {
    m.peak = Math.max(now.usage, m.peak * PEAK_DECAY);
    return {
      id: m.id, ...(m.limit !== undefined ? { limit: m.limit } : {}), ...(m.ceiling !== undefined ? { ceiling: m.ceiling } : {}),
      sample: sampleBetween(m.prev, now, refaultNs), sinceRaise: m.sinceRaise, peak: m.peak,
    };
  });
  const decisions = decide(inputs, tuning);
  const results: RoundResult[] = [];
  const order = decisions.map((d, i) => ({ d, i })).sort((a, b) => (a.d.to - (a.d.from ?? Infinity)) - (b.d.to - (b.d.from ?? Infinity)));
  for (const { d, i } of order) {
    const { m, now } = live[i]!;
    const input = inputs[i]!;
    let write: RoundResult["write"] = "unchanged";
    if (m.limit !== d.to) {
      write = writeLimit(m, d.to);
      if (write === "ok") {
        if (m.limit === undefined || d.to > m.limit) m.sinceRaise = 0;
        m.limit = d.to;
      } else {
        log.info({ container: m.id, limit: d.to }, "mem balance: the kernel could not reclaim down to the limit; it stays");
      }
    }
    m.sinceRaise++;
    m.prev = write === "ok" ? readCounters(m.cg) : now;
    results[i] = { ...d, name: m.name, usage: now.usage, pressure: input.sample.pressure, write };
    if (write !== "unchanged") {
      log.info({ container: m.id, from: d.from ?? "unlimited", to: d.to, reason: d.reason, usage: now.usage, pressure: input.sample.pressure, write },
        "mem balance: limit");
    }
    if (now.oomKills > m.oomKillsAtStart) log.warn({ container: m.id, oomKills: now.oomKills - m.oomKillsAtStart }, "mem balance: OOM kills in a balanced container");
    if (d.short) log.warn({ container: m.id, short: d.short }, "mem balance: the budget is used up; the container waits for memory");
  }
  return results;
}

/**
 * A limit someone else set since the last round (`tsbox update --memory`)
 * is the user's word: from now on the container's ceiling, and on v1, where
 * it is the very file the balancer writes, also what restore gives back (the
 * record is rewritten). Seen as a change against what the kernel reported
 * after the balancer's own last write, so a value the kernel rounded is not
 * mistaken for one. v2's update writes memory.max, which is the ceiling.
 */
function adoptOutsideLimit(root: string, m: Managed, now: Counters): void {
  const log = getLog();
  if (m.cg.version === "v2") {
    if (now.max !== m.prev.max) {
      log.info({ container: m.id, from: m.prev.max ?? "max", to: now.max ?? "max" }, "mem balance: memory.max changed outside the balancer: the new ceiling");
      if (now.max === undefined) delete m.ceiling;
      else m.ceiling = now.max;
    }
    return;
  }
  if (now.limit === m.prev.limit) return;
  log.info({ container: m.id, from: m.prev.limit ?? "unlimited", to: now.limit ?? "unlimited" },
    "mem balance: the limit was changed outside the balancer: kept as the container's ceiling and its limit to restore");
  const { limit: _old, ...rest } = m.original;
  m.original = { ...rest, ...(now.limit !== undefined ? { limit: now.limit } : {}) };
  writeJsonAtomic(balanceRecordFile(root, m.id), m.original, true);
  if (now.limit === undefined) {
    delete m.ceiling;
    delete m.limit;
  } else {
    m.ceiling = now.limit;
    m.limit = now.limit;
  }
  m.sinceRaise = 0;
}

export interface Restored { id: string; name: string; limit?: number; gone?: boolean }

/** Writes back what a container had before the balancer; removes the record. */
export function restoreOne(root: string, m: Pick<Managed, "id" | "name" | "cg" | "original">): Restored {
  const { cg, original } = m;
  try {
    if (cg.version === "v1") {
      // Raise first, then let the OOM killer back: a container waiting in the OOM path gets its memory.
      setLimitV1(cg, original.limit ?? "unlimited");
      if (original.oomKillDisable !== true) cg.fs.writeFile(join(cg.dir, "memory.oom_control"), "0");
    } else {
      setHighV2(cg, original.limit ?? "max");
    }
  } catch (e) {
    if (!existsSync(cg.dir)) return { id: m.id, name: m.name, gone: true };
    throw e;
  } finally {
    rmSync(balanceRecordFile(root, m.id), { force: true });
  }
  return { id: m.id, name: m.name, ...(original.limit !== undefined ? { limit: original.limit } : {}) };
}

/** `--restore`: every running container with a balance record left (a balancer killed, or `--once`). */
export function restoreRecorded(root: string, refs: readonly string[]): Restored[] {
  const out: Restored[] = [];
  for (const s of balanceTargets(root, refs)) {
    const original = readRecord(root, s.id);
    if (original === undefined) continue;
    let cg: MemoryCgroup;
    try {
      cg = memoryCgroupOf(s);
    } catch (e) {
      if (e instanceof NotFoundError) continue;
      throw e;
    }
    out.push(restoreOne(root, { id: s.id, name: s.name ?? s.id.slice(0, 12), cg, original }));
  }
  return out;
}

/** v1's cost of one refault: `mem calibrate`'s random re-read when this host has a profile. */
export function refaultCostNs(root: string): number {
  try {
    return readHostProfile(hostProfileFile(root))?.fileRefault.random.median ?? DEFAULT_REFAULT_NS;
  } catch {
    return DEFAULT_REFAULT_NS; // an unreadable profile is `mem calibrate`'s to report
  }
}

/** The default budget: what the balanced containers hold now plus what the host has available, less a reserve. */
export function defaultBudget(usages: readonly number[], memAvailable: number, memTotal: number): number {
  const reserve = Math.max(128 * 1024 * 1024, memTotal * 0.05);
  return Math.max(0, usages.reduce((a, b) => a + b, 0) + memAvailable - reserve);
}

export function tuningFor(budget: number, overrides: Partial<Tuning> = {}): Tuning {
  return { ...DEFAULT_TUNING, swap: hostHasSwap(), ...overrides, budget };
}

export interface LoopOptions {
  budget?: number;
  intervalMs: number;
  tuning?: Partial<Tuning>;
  /** one round, then leave the limits in place (the records stay for --restore) */
  once: boolean;
  signal: AbortSignal;
  onRound?: (results: RoundResult[], budget: number) => void;
}

export interface LoopReport { budget: number; rounds: number; restored: Restored[]; last: RoundResult[] }

function meminfo(): { available: number; total: number } {
  const text = readFileSync("/proc/meminfo", "utf8");
  const kib = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0) * 1024;
  return { available: kib("MemAvailable"), total: kib("MemTotal") };
}

const sleepUnless = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(() => { signal.removeEventListener("abort", done); resolve(); }, ms);
    const done = (): void => { clearTimeout(t); resolve(); };
    signal.addEventListener("abort", done, { once: true });
  });

/**
 * The controller: takes the containers over, runs a round every interval
 * until `signal` aborts (SIGINT/SIGTERM in the CLI), then restores every
 * container it took. Without named containers, running containers that
 * appear meanwhile are taken over too. One balancer per state root.
 */
export async function balanceLoop(root: string, refs: readonly string[], o: LoopOptions): Promise<LoopReport> {
  const lock = join(root, "mem", "balance.lock");
  mkdirSync(dirname(lock), { recursive: true });
  const owner = takeLock(lock);
  if (owner !== true) throw new TsboxError(`mem balance: another balancer runs on this root (process ${owner.pid})`);
  const managed: Managed[] = [];
  let rounds = 0;
  let last: RoundResult[] = [];
  const restored: Restored[] = [];
  try {
    const adopt = (states: ContainerState[]): void => {
      for (const s of states) {
        if (managed.some((m) => m.id === s.id)) continue;
        try {
          managed.push(attach(root, s));
        } catch (e) {
          if (e instanceof CgroupGoneError || e instanceof NotFoundError) continue; // stopped meanwhile
          throw e;
        }
      }
    };
    adopt(balanceTargets(root, refs));
    const mi = meminfo();
    const budget = o.budget ?? defaultBudget(managed.map((m) => m.prev.usage), mi.available, mi.total);
    const tuning = tuningFor(budget, o.tuning);
    const refaultNs = refaultCostNs(root);
    getLog().info({ containers: managed.length, budget, refaultNs, swap: tuning.swap }, "mem balance: started");
    while (!o.signal.aborted) {
      await sleepUnless(o.intervalMs, o.signal);
      if (o.signal.aborted) break;
      if (refs.length === 0) adopt(balanceTargets(root, []));
      last = round(root, managed, tuning, refaultNs);
      rounds++;
      o.onRound?.(last, budget);
      if (o.once) break;
    }
    if (o.once) {
      // The limits stay (like a balloon); the OOM killer comes back, since no round will raise them any more.
      for (const m of managed) {
        if (m.cg.version === "v1" && m.original.oomKillDisable !== true) {
          try { m.cg.fs.writeFile(join(m.cg.dir, "memory.oom_control"), "0"); } catch { /* stopped meanwhile */ }
        }
      }
    }
    return { budget, rounds, restored, last };
  } finally {
    if (!o.once) for (const m of managed) restored.push(restoreOne(root, m));
    rmSync(lock, { force: true });
  }
}
