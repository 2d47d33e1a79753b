// The balancer's live signal: the counters of a container's memory cgroup read
// at one instant (readCounters), and two readings turned into one round's
// Sample (sampleBetween, pure). The model's working-set estimate lives
// elsewhere (reclaim/model); this is only what the controller reacts to.
//
// Pressure is the fraction of the interval the container stalled on memory:
//   v2: memory.pressure "some" total (PSI, µs), the kernel's own measure;
//   v1: no PSI (memory.pressure_level needs an eventfd and only says
//       low/medium/critical), so refaults + major faults × what one costs on
//       this host (`mem calibrate`'s random refault, else a default).
// "Hit the limit": v1 memory.failcnt grew; v2 memory.events high or max grew.
// "Under OOM": v1 memory.oom_control under_oom (the balancer holds the OOM
// killer off, so a container at its limit waits there instead of dying).

import { join } from "node:path";
import { errnoCode, TsboxError } from "../../errors.js";
import type { MemoryCgroup } from "../kernel/cgroup-memory.js";
import { parseStat } from "../kernel/cgroup-memory.js";
import type { Sample } from "./decide.js";

export interface Counters {
  /** ms, Date.now() */
  at: number;
  usage: number;
  /** the limit in place: v1 memory.limit_in_bytes, v2 memory.high (undefined = unlimited) */
  limit?: number;
  /** v2: memory.max, the hard limit the balancer never goes above (undefined = max) */
  max?: number;
  anon: number;
  file: number;
  inactiveFile: number;
  refaults: number;
  pgmajfault: number;
  /** v1 memory.failcnt; v2 memory.events high + max */
  limitHits: number;
  /** v1 memory.oom_control under_oom */
  underOom: boolean;
  /** v1 memory.oom_control oom_kill_disable */
  oomKillDisable?: boolean;
  /** v1 memory.oom_control oom_kill; v2 memory.events oom_kill */
  oomKills: number;
  /** v2 memory.pressure some total, µs */
  pressureSomeUs?: number;
}

const UNLIMITED_V1 = 2 ** 62; // the kernel prints PAGE_COUNTER_MAX × page size ≈ 9.2e18

/** Nanoseconds one refault is charged on v1 when `mem calibrate` has not measured it (a page read from a fast disk). */
export const DEFAULT_REFAULT_NS = 50_000;

function read(cg: MemoryCgroup, file: string): string {
  return cg.fs.readFile(join(cg.dir, file));
}

function readOptional(cg: MemoryCgroup, file: string): string | undefined {
  try {
    return read(cg, file);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "EOPNOTSUPP") return undefined;
    throw e;
  }
}

function numberIn(text: string, file: string): number {
  const n = Number(text.trim());
  if (!Number.isFinite(n)) throw new TsboxError(`unexpected content in ${file}: ${JSON.stringify(text.trim().slice(0, 40))}`);
  return n;
}

export function parsePressureSomeUs(text: string): number | undefined {
  const m = /^some\b.*\btotal=(\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

export function readCounters(cg: MemoryCgroup): Counters {
  try {
    const stat = parseStat(read(cg, "memory.stat"));
    if (cg.version === "v1") {
      const limit = numberIn(read(cg, "memory.limit_in_bytes"), "memory.limit_in_bytes");
      const oom = parseStat(read(cg, "memory.oom_control"));
      return {
        at: Date.now(),
        usage: numberIn(read(cg, "memory.usage_in_bytes"), "memory.usage_in_bytes"),
        ...(limit < UNLIMITED_V1 ? { limit } : {}),
        anon: stat.total_rss ?? 0,
        file: (stat.total_active_file ?? 0) + (stat.total_inactive_file ?? 0),
        inactiveFile: stat.total_inactive_file ?? 0,
        refaults: stat.total_workingset_refault_file ?? stat.total_workingset_refault ?? 0,
        pgmajfault: stat.total_pgmajfault ?? 0,
        limitHits: numberIn(read(cg, "memory.failcnt"), "memory.failcnt"),
        underOom: oom.under_oom === 1,
        oomKillDisable: oom.oom_kill_disable === 1,
        oomKills: oom.oom_kill ?? 0,
      };
    }
    const high = read(cg, "memory.high").trim();
    const max = read(cg, "memory.max").trim();
    const events = parseStat(read(cg, "memory.events"));
    const psi = readOptional(cg, "memory.pressure");
    const pressureSomeUs = psi !== undefined ? parsePressureSomeUs(psi) : undefined;
    return {
      at: Date.now(),
      usage: numberIn(read(cg, "memory.current"), "memory.current"),
      ...(high !== "max" ? { limit: numberIn(high, "memory.high") } : {}),
      ...(max !== "max" ? { max: numberIn(max, "memory.max") } : {}),
      anon: stat.anon ?? 0,
      file: (stat.active_file ?? 0) + (stat.inactive_file ?? 0),
      inactiveFile: stat.inactive_file ?? 0,
      refaults: stat.workingset_refault_file ?? stat.workingset_refault ?? 0,
      pgmajfault: stat.pgmajfault ?? 0,
      limitHits: (events.high ?? 0) + (events.max ?? 0),
      underOom: false,
      oomKills: events.oom_kill ?? 0,
      ...(pressureSomeUs !== undefined ? { pressureSomeUs } : {}),
    };
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new CgroupGoneError(cg.dir, e);
    throw e;
  }
}

/** The container stopped between two rounds: its cgroup went with it. */
export class CgroupGoneError extends TsboxError {
  constructor(dir: string, cause: unknown) {
    super(`memory cgroup ${dir} is gone (container stopped?)`, 125, { cause });
  }
}

/**
 * One round's sample from the readings at its start and end. `refaultNs`:
 * what one refault or major fault costs on this host (v1's pressure).
 */
export function sampleBetween(prev: Counters, now: Counters, refaultNs: number): Sample {
  const ms = Math.max(1, now.at - prev.at);
  let pressure: number;
  if (now.pressureSomeUs !== undefined && prev.pressureSomeUs !== undefined) {
    pressure = Math.max(0, now.pressureSomeUs - prev.pressureSomeUs) / 1000 / ms;
  } else {
    const faults = Math.max(0, now.refaults - prev.refaults) + Math.max(0, now.pgmajfault - prev.pgmajfault);
    pressure = (faults * refaultNs) / 1e6 / ms;
  }
  return {
    usage: now.usage, anon: now.anon, file: now.file, inactiveFile: now.inactiveFile, pressure: Math.min(1, pressure),
    hitLimit: now.limitHits > prev.limitHits, underOom: now.underOom,
  };
}
