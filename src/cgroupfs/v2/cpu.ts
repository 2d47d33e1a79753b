// v2 cpu controller: cpu.weight (from OCI shares), cpu.max ("quota period").

import { checkInt, isSet } from "../convert.js";
import { writeValue, type CgroupFs } from "../fs.js";
import { parseFlatKeyed, readOptional } from "../parse.js";
import type { CpuStats, LinuxResources } from "../types.js";

export const controller = "cpu";

export function requested(r: LinuxResources): boolean {
  const c = r.cpu;
  return !!c && (isSet(c.shares) || isSet(c.quota) || isSet(c.period));
}

/** v1 shares [2, 262144] → v2 weight [1, 10000], runc's linear mapping. */
export function sharesToWeight(shares: number): number {
  const s = Math.min(Math.max(checkInt(shares, "cpu shares", 0), 2), 262144);
  return 1 + Math.floor(((s - 2) * 9999) / 262142);
}

/**
 * cpu.max value: "quota period", "max period", or just "max"/"quota" when the
 * period is not given (the kernel keeps the current period). Undefined when
 * neither is set.
 */
export function cpuMaxValue(quota: number | undefined, period: number | undefined): string | undefined {
  if (!isSet(quota) && !isSet(period)) return undefined;
  let v = isSet(quota) && checkInt(quota, "cpu quota") > 0 ? String(quota) : "max";
  if (isSet(period)) v += ` ${checkInt(period, "cpu period", 0)}`;
  return v;
}

export function apply(r: LinuxResources, dir: string, fs: CgroupFs): void {
  const c = r.cpu;
  if (!c) return;
  if (isSet(c.shares)) writeValue(fs, dir, "cpu.weight", sharesToWeight(c.shares));
  const max = cpuMaxValue(c.quota, c.period);
  if (max !== undefined) writeValue(fs, dir, "cpu.max", max);
}

/** v2 cpu.stat (times in µs; usage_usec etc. are there even without the cpu controller enabled). */
export function stats(dir: string, fs: CgroupFs): CpuStats | undefined {
  const text = readOptional(fs, dir, "cpu.stat");
  if (text === undefined) return undefined;
  const st = parseFlatKeyed(text);
  const usage = st.get("usage_usec");
  if (usage === undefined) return undefined;
  const out: CpuStats = { usageNs: usage * 1000 };
  const us = (k: string) => (st.has(k) ? st.get(k)! * 1000 : undefined);
  const user = us("user_usec");
  const sys = us("system_usec");
  if (user !== undefined) out.userNs = user;
  if (sys !== undefined) out.systemNs = sys;
  if (st.has("nr_periods")) out.periods = st.get("nr_periods")!;
  if (st.has("nr_throttled")) out.throttledPeriods = st.get("nr_throttled")!;
  const thr = us("throttled_usec");
  if (thr !== undefined) out.throttledNs = thr;
  return out;
}
