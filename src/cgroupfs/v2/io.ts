// v2 io controller. Accounting from io.stat, one line per device:
// "8:0 rbytes=… wbytes=… rios=… wios=… dbytes=… dios=…" (hierarchical).

import { parseNestedKeyed, readOptional } from "../parse.js";
import type { CgroupFs } from "../fs.js";
import { sumDevices } from "../v1/blkio.js";
import type { IoDeviceStats, IoStats } from "../types.js";

export const controller = "io";

export function stats(dir: string, fs: CgroupFs): IoStats | undefined {
  const text = readOptional(fs, dir, "io.stat");
  if (text === undefined) return undefined;
  const devices: IoDeviceStats[] = [];
  for (const { device, values } of parseNestedKeyed(text)) {
    const m = /^(\d+):(\d+)$/.exec(device);
    if (!m) continue;
    devices.push({
      major: Number(m[1]),
      minor: Number(m[2]),
      readBytes: values["rbytes"] ?? 0,
      writeBytes: values["wbytes"] ?? 0,
      readOps: values["rios"] ?? 0,
      writeOps: values["wios"] ?? 0,
    });
  }
  return sumDevices(devices);
}
