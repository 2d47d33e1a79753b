// v1 cpuacct controller: accounting only (no limits). cpuacct.usage is total
// CPU time in ns; cpuacct.usage_user/_sys (Linux ≥ 4.7) split it in ns, older
// kernels only have cpuacct.stat in USER_HZ ticks.

import type { CgroupFs } from "../fs.js";
import { parseFlatKeyed, readNumber, readOptional } from "../parse.js";
import type { CpuStats } from "../types.js";

export const controller = "cpuacct";

/** USER_HZ is 100 on every Linux architecture the kernel ABI exposes. */
const NS_PER_TICK = 10_000_000;

export function stats(dir: string, fs: CgroupFs): CpuStats | undefined {
  const usageNs = readNumber(fs, dir, "cpuacct.usage");
  if (usageNs === undefined) return undefined;
  const out: CpuStats = { usageNs };
  const user = readNumber(fs, dir, "cpuacct.usage_user");
  const sys = readNumber(fs, dir, "cpuacct.usage_sys");
  if (user !== undefined && sys !== undefined) {
    out.userNs = user;
    out.systemNs = sys;
  } else {
    const st = parseFlatKeyed(readOptional(fs, dir, "cpuacct.stat") ?? "");
    const u = st.get("user");
    const s = st.get("system");
    if (u !== undefined) out.userNs = u * NS_PER_TICK;
    if (s !== undefined) out.systemNs = s * NS_PER_TICK;
  }
  return out;
}
