// v2 io controller: io.bfq.weight / io.weight and io.max (below); accounting
// from io.stat, one line per device:
// "8:0 rbytes=… wbytes=… rios=… wios=… dbytes=… dios=…" (hierarchical).

import { TsboxError } from "../../errors.js";
import { writeValue, type CgroupFs } from "../fs.js";
import { parseNestedKeyed, readOptional } from "../parse.js";
import { checkWeight, devKey, requested as v1requested, sumDevices } from "../v1/blkio.js";
import type { IoDeviceStats, IoStats, LinuxBlockIO, LinuxResources } from "../types.js";

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

// ---- limits

export const requested = v1requested;

/** blkio weight [10, 1000] → io.weight [1, 10000], runc's linear mapping (cgroups.ConvertBlkIOToIOWeightValue). */
export function blkioWeightToIoWeight(w: number): number {
  return 1 + Math.floor(((checkWeight(w) - 10) * 9999) / 990);
}

const MAX_KEYS = [
  ["throttleReadBpsDevice", "rbps"],
  ["throttleWriteBpsDevice", "wbps"],
  ["throttleReadIOPSDevice", "riops"],
  ["throttleWriteIOPSDevice", "wiops"],
] as const;

/**
 * The writes for resources.blockIO on v2. Weight: io.bfq.weight (the BFQ
 * scheduler's, same 10–1000 scale as blkio) when the kernel has it, else
 * io.weight (the cost model's) converted as runc does. Per-device weights:
 * io.bfq.weight "MAJ:MIN W" where BFQ takes them (Linux ≥ 5.4: reading the
 * file shows "default N" lines), else skipped, as runc does. Throttling:
 * one io.max line per device, "MAJ:MIN rbps=… wbps=… riops=… wiops=…"
 * (a rate of 0, which removes a v1 limit, is "max").
 */
export function ioWrites(b: LinuxBlockIO, bfq: { present: boolean; perDevice: boolean }): { file: string; value: string }[] {
  const out: { file: string; value: string }[] = [];
  if (b.weight) {
    out.push(bfq.present ? { file: "io.bfq.weight", value: String(checkWeight(b.weight)) }
      : { file: "io.weight", value: String(blkioWeightToIoWeight(b.weight)) });
  }
  for (const wd of b.weightDevice ?? []) {
    if (!wd.weight) continue;
    const value = `${devKey(wd)} ${checkWeight(wd.weight, "device weight")}`;
    if (bfq.perDevice) out.push({ file: "io.bfq.weight", value });
  }
  const perDevice = new Map<string, string[]>();
  for (const [field, key] of MAX_KEYS) {
    for (const td of b[field] ?? []) {
      if (!Number.isSafeInteger(td.rate) || td.rate < 0) throw new TsboxError(`cgroup: invalid rate ${td.rate} for ${devKey(td)}`);
      const dev = devKey(td);
      perDevice.set(dev, [...(perDevice.get(dev) ?? []), `${key}=${td.rate === 0 ? "max" : td.rate}`]);
    }
  }
  for (const [dev, kv] of perDevice) out.push({ file: "io.max", value: `${dev} ${kv.join(" ")}` });
  return out;
}

export function apply(r: LinuxResources, dir: string, fs: CgroupFs): void {
  if (!r.blockIO) return;
  const bfqText = readOptional(fs, dir, "io.bfq.weight");
  const bfq = { present: bfqText !== undefined, perDevice: bfqText !== undefined && !/^\s*\d+\s*$/.test(bfqText) };
  for (const w of ioWrites(r.blockIO, bfq)) writeValue(fs, dir, w.file, w.value);
}
