// `--ulimit NAME=SOFT[:HARD]`: Docker's names (go-units' ulimit.go), its
// checks and wording, and the rlimit each becomes in process.rlimits.

import { FlagError } from "../errors.js";
import type { SpecRlimit } from "./spec.js";

/** As inspect shows it (HostConfig.Ulimits); -1 is unlimited. */
export interface Ulimit {
  Name: string;
  Hard: number;
  Soft: number;
}

const NAMES = [
  "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime",
  "sigpending", "stack",
];

/** RLIM_INFINITY: what -1 means to the kernel. */
const INFINITY = 2 ** 64 - 1;

function parseLimit(v: string, value: string): number {
  // strconv.ParseInt(v, 10, 64)
  if (!/^[+-]?[0-9]+$/.test(v)) throw wrap(value, `strconv.ParseInt: parsing "${v}": invalid syntax`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw wrap(value, `strconv.ParseInt: parsing "${v}": value out of range`);
  return n;
}

const wrap = (value: string, msg: string) => new FlagError(`invalid argument "${value}" for "--ulimit" flag: ${msg}`);

export function parseUlimit(value: string): Ulimit {
  const eq = value.indexOf("=");
  if (eq < 0) throw wrap(value, `invalid ulimit argument: ${value}`);
  const name = value.slice(0, eq);
  if (!NAMES.includes(name)) throw wrap(value, `invalid ulimit type: ${name}`);
  const limits = value.slice(eq + 1).split(":");
  if (limits.length > 2) {
    throw wrap(value, `too many limit value arguments - ${value.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  }
  const soft = parseLimit(limits[0]!, value);
  const hard = limits[1] === undefined ? soft : parseLimit(limits[1], value);
  if (soft > hard && hard !== -1) throw wrap(value, `ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Hard: hard, Soft: soft };
}

/** The flags, one per name (the last given wins, as Docker's map of them), sorted by name as inspect lists them. */
export function ulimitList(values: string[]): Ulimit[] {
  const byName = new Map<string, Ulimit>();
  for (const v of values) {
    const u = parseUlimit(v);
    byName.set(u.Name, u);
  }
  return [...byName.values()].sort((a, b) => a.Name.localeCompare(b.Name));
}

export function ulimitRlimit(u: Ulimit): SpecRlimit {
  const n = (x: number): number => (x < 0 ? INFINITY : x);
  return { type: `RLIMIT_${u.Name.toUpperCase()}`, soft: n(u.Soft), hard: n(u.Hard) };
}
