// v1 blkio controller. Accounting from blkio.throttle.io_service_bytes /
// io_serviced (the throttle files count every bio the cgroup issues, whatever
// the I/O scheduler, which is why runc and Docker read them), the
// _recursive variants when present (they include sub-cgroups).

import { parseBlkio, readOptional } from "../parse.js";
import type { CgroupFs } from "../fs.js";
import type { IoDeviceStats, IoStats } from "../types.js";

export const controller = "blkio";

function readRecursive(fs: CgroupFs, dir: string, base: string): string | undefined {
  return readOptional(fs, dir, `${base}_recursive`) ?? readOptional(fs, dir, base);
}

export function stats(dir: string, fs: CgroupFs): IoStats | undefined {
  const bytes = readRecursive(fs, dir, "blkio.throttle.io_service_bytes");
  const ops = readRecursive(fs, dir, "blkio.throttle.io_serviced");
  if (bytes === undefined && ops === undefined) return undefined;
  const b = parseBlkio(bytes ?? "");
  const o = parseBlkio(ops ?? "");
  const devices: IoDeviceStats[] = [];
  for (const dev of new Set([...b.keys(), ...o.keys()])) {
    const [major, minor] = dev.split(":").map(Number) as [number, number];
    devices.push({
      major,
      minor,
      readBytes: b.get(dev)?.["Read"] ?? 0,
      writeBytes: b.get(dev)?.["Write"] ?? 0,
      readOps: o.get(dev)?.["Read"] ?? 0,
      writeOps: o.get(dev)?.["Write"] ?? 0,
    });
  }
  return sumDevices(devices);
}

/** Totals over devices, devices sorted by major:minor. */
export function sumDevices(devices: IoDeviceStats[]): IoStats {
  devices.sort((x, y) => x.major - y.major || x.minor - y.minor);
  const sum = (k: keyof IoDeviceStats) => devices.reduce((a, d) => a + d[k], 0);
  return { readBytes: sum("readBytes"), writeBytes: sum("writeBytes"), readOps: sum("readOps"), writeOps: sum("writeOps"), devices };
}
