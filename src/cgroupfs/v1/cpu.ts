// v1 cpu controller: cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us.

import { errnoCode } from "../../errors.js";
import { checkInt, isSet } from "../convert.js";
import { writeValue, type CgroupFs } from "../fs.js";
import { parseFlatKeyed, readOptional } from "../parse.js";
import type { CpuStats, LinuxResources } from "../types.js";

export const controller = "cpu";

export function requested(r: LinuxResources): boolean {
  const c = r.cpu;
  return !!c && (isSet(c.shares) || isSet(c.quota) || isSet(c.period));
}

export function apply(r: LinuxResources, dir: string, fs: CgroupFs): void {
  const c = r.cpu;
  if (!c || !requested(r)) return;
  if (isSet(c.shares)) writeValue(fs, dir, "cpu.shares", checkInt(c.shares, "cpu shares", 0));
  const quota = isSet(c.quota) ? checkInt(c.quota, "cpu quota") : undefined;
  let pendingPeriod: number | undefined;
  if (isSet(c.period)) {
    const period = checkInt(c.period, "cpu period", 0);
    try {
      writeValue(fs, dir, "cpu.cfs_period_us", period);
    } catch (e) {
      // A period smaller than the current one can be refused (EINVAL) while the
      // old quota is still in place; when a quota comes too, retry after it.
      if (quota === undefined || errnoCode((e as Error).cause) !== "EINVAL") throw e;
      pendingPeriod = period;
    }
  }
  if (quota !== undefined) {
    writeValue(fs, dir, "cpu.cfs_quota_us", quota);
    if (pendingPeriod !== undefined) writeValue(fs, dir, "cpu.cfs_period_us", pendingPeriod);
  }
}

/** CFS bandwidth throttling from v1 cpu.stat (throttled_time is in ns). */
export function stats(dir: string, fs: CgroupFs): Pick<CpuStats, "periods" | "throttledPeriods" | "throttledNs"> | undefined {
  const text = readOptional(fs, dir, "cpu.stat");
  if (text === undefined) return undefined;
  const st = parseFlatKeyed(text);
  const out: Pick<CpuStats, "periods" | "throttledPeriods" | "throttledNs"> = {};
  if (st.has("nr_periods")) out.periods = st.get("nr_periods")!;
  if (st.has("nr_throttled")) out.throttledPeriods = st.get("nr_throttled")!;
  if (st.has("throttled_time")) out.throttledNs = st.get("throttled_time")!;
  return out;
}
