// Pure parsers for the cgroupfs accounting file formats, and a read that
// turns a missing file into `undefined` (stats: a file the host lacks means
// the field is absent, not an error).

import * as path from "node:path";
import { TsboxError, errnoCode } from "../errors.js";
import { describeError, type CgroupFs } from "./fs.js";

/** "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control, pids.events). */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** A single-number file; "max" (and v1's near-2^63 "unlimited") → undefined. */
export function parseLimit(text: string): number | undefined {
  const t = text.trim();
  if (t === "max" || t === "" || !/^-?\d+$/.test(t)) return undefined;
  const n = Number(t);
  // v1 reports "unlimited" as PAGE_COUNTER_MAX pages (9223372036854771712).
  return n < 0 || n >= 2 ** 62 ? undefined : n;
}

/**
 * Nested keyed lines, one per device: "8:0 rbytes=1 wbytes=2 rios=3 wios=4"
 * (v2 io.stat) → [{ device: "8:0", values: {rbytes: 1, …} }].
 */
export function parseNestedKeyed(text: string): { device: string; values: Record<string, number> }[] {
  const out: { device: string; values: Record<string, number> }[] = [];
  for (const line of text.split("\n")) {
    const [device, ...pairs] = line.trim().split(/\s+/);
    if (!device) continue;
    const values: Record<string, number> = {};
    for (const p of pairs) {
      const eq = p.indexOf("=");
      if (eq > 0 && /^\d+$/.test(p.slice(eq + 1))) values[p.slice(0, eq)] = Number(p.slice(eq + 1));
    }
    out.push({ device, values });
  }
  return out;
}

/**
 * v1 blkio per-device lines: "8:0 Read 4096", "8:0 Write 0", …, "Total 4096"
 * → per device {Read, Write, Sync, Async, Discard, Total}. The trailing
 * "Total" line (no device) is skipped.
 */
export function parseBlkio(text: string): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3 || !/^\d+:\d+$/.test(f[0]!) || !/^\d+$/.test(f[2]!)) continue;
    const rec = out.get(f[0]!) ?? {};
    rec[f[1]!] = (rec[f[1]!] ?? 0) + Number(f[2]);
    out.set(f[0]!, rec);
  }
  return out;
}

export interface Psi {
  someAvg10: number;
  fullAvg10: number;
  someTotalUs: number;
  fullTotalUs: number;
}

/** PSI: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and the same for "full". */
export function parsePsi(text: string): Psi | undefined {
  const rows = new Map<string, { avg10: number; total: number }>();
  for (const line of text.split("\n")) {
    const m = /^(some|full)\s+avg10=([\d.]+)\s+avg60=[\d.]+\s+avg300=[\d.]+\s+total=(\d+)/.exec(line.trim());
    if (m) rows.set(m[1]!, { avg10: Number(m[2]), total: Number(m[3]) });
  }
  const some = rows.get("some");
  if (!some) return undefined;
  const full = rows.get("full") ?? { avg10: 0, total: 0 };
  return { someAvg10: some.avg10, fullAvg10: full.avg10, someTotalUs: some.total, fullTotalUs: full.total };
}

/**
 * The file's text, or undefined when the host does not have it (ENOENT), or
 * refuses to report it (EOPNOTSUPP: e.g. memory.pressure with PSI disabled at
 * boot). Other errors are real failures.
 */
export function readOptional(fs: CgroupFs, dir: string, file: string): string | undefined {
  try {
    return fs.readFile(path.join(dir, file));
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "EOPNOTSUPP" || code === "ENOTSUP" || code === "ENODEV") return undefined;
    throw new TsboxError(`cgroup: reading ${path.join(dir, file)}: ${describeError(e)}`, 125, { cause: e });
  }
}

/** A single-number file as a number; undefined when missing or not a number. */
export function readNumber(fs: CgroupFs, dir: string, file: string): number | undefined {
  const t = readOptional(fs, dir, file)?.trim();
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : undefined;
}
