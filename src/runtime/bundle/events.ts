// `tsbox-runc events`: the container's cgroup statistics as runc's event
// stream (types/events.go shapes: {"type":"stats","id","data"} one JSON line
// each interval, {"type":"oom"} when the kernel's OOM killer struck in the
// container's cgroup), until the container stops; --stats: one reading.

import { setTimeout as sleep } from "node:timers/promises";
import type { CgroupStats } from "../../cgroupfs/index.js";
import { TsboxError } from "../../errors.js";
import { hostCgroups, type CgroupHost } from "../running.js";
import { bundleCgroup, bundleContainer, bundleStatus } from "./status.js";

export interface RuncEvent {
  type: "stats" | "oom";
  id: string;
  data?: Record<string, unknown>;
}

/** tsbox's reading of a cgroup in runc's Stats shape (fields tsbox does not read are left out). */
export function runcStats(s: CgroupStats): Record<string, unknown> {
  const m = s.memory;
  const c = s.cpu;
  return {
    cpu: c ? {
      usage: { total: c.usageNs, kernel: c.systemNs ?? 0, user: c.userNs ?? 0 },
      throttling: { periods: c.periods ?? 0, throttledPeriods: c.throttledPeriods ?? 0, throttledTime: c.throttledNs ?? 0 },
    } : {},
    memory: m ? {
      cache: m.file ?? 0,
      usage: { limit: m.limit ?? 0, usage: m.usage, max: m.maxUsage ?? 0, failcnt: 0 },
      ...(m.swap !== undefined ? { swap: { limit: 0, usage: m.swap, failcnt: 0 } } : {}),
      raw: m.stat,
    } : {},
    pids: s.pids ? { current: s.pids.current, ...(s.pids.limit !== undefined ? { limit: s.pids.limit } : {}) } : {},
    blkio: s.io ? {
      ioServiceBytesRecursive: (s.io.devices ?? []).flatMap((d) => [
        { major: d.major, minor: d.minor, op: "Read", value: d.readBytes },
        { major: d.major, minor: d.minor, op: "Write", value: d.writeBytes },
      ]),
      ioServicedRecursive: (s.io.devices ?? []).flatMap((d) => [
        { major: d.major, minor: d.minor, op: "Read", value: d.readOps },
        { major: d.major, minor: d.minor, op: "Write", value: d.writeOps },
      ]),
    } : {},
    hugetlb: {},
  };
}

export async function bundleEvents(root: string, id: string, opts: { intervalMs: number; once: boolean },
  emit: (e: RuncEvent) => void, cgroups: CgroupHost = hostCgroups): Promise<void> {
  if (!(opts.intervalMs > 0)) throw new TsboxError("duration interval must be greater than 0", 1);
  const s = bundleContainer(root, id);
  const cgroup = bundleCgroup(cgroups.hierarchy(), s, cgroups);
  if (bundleStatus(root, s, () => cgroup) === "stopped") throw new TsboxError(`container with id ${id} is not running`, 1);
  if (opts.once) {
    emit({ type: "stats", id, data: runcStats(cgroup.stats()) });
    return;
  }
  let ooms = cgroup.oomKills();
  for (;;) {
    await sleep(opts.intervalMs);
    if (bundleStatus(root, s, () => cgroup) === "stopped") return;
    const now = cgroup.oomKills();
    if (now > ooms) emit({ type: "oom", id });
    ooms = now;
    try { emit({ type: "stats", id, data: runcStats(cgroup.stats()) }); } catch { return; /* the cgroup went away */ }
  }
}
