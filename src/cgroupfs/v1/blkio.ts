// v1 blkio controller: weights and throttling (below), and accounting from blkio.throttle.io_service_bytes /
// io_serviced (the throttle files count every bio the cgroup issues, whatever
// the I/O scheduler, which is why runc and Docker read them), the
// _recursive variants when present (they include sub-cgroups).

import { TsboxError } from "../../errors.js";
import { fileExists, writeValue, type CgroupFs } from "../fs.js";
import { parseBlkio, readOptional } from "../parse.js";
import type { IoDeviceStats, IoStats, LinuxBlockIO, LinuxResources } from "../types.js";

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

// ---- limits

const THROTTLE_FILES = {
  throttleReadBpsDevice: "blkio.throttle.read_bps_device",
  throttleWriteBpsDevice: "blkio.throttle.write_bps_device",
  throttleReadIOPSDevice: "blkio.throttle.read_iops_device",
  throttleWriteIOPSDevice: "blkio.throttle.write_iops_device",
} as const;

export function requested(r: LinuxResources): boolean {
  const b = r.blockIO;
  return !!b && (!!b.weight || (b.weightDevice?.length ?? 0) > 0 ||
    Object.keys(THROTTLE_FILES).some((k) => (b[k as keyof typeof THROTTLE_FILES]?.length ?? 0) > 0));
}

/** "8:0" after checking the numbers. */
export function devKey(d: { major: number; minor: number }): string {
  for (const n of [d.major, d.minor]) if (!Number.isSafeInteger(n) || n < 0) throw new TsboxError(`cgroup: invalid block device ${d.major}:${d.minor}`);
  return `${d.major}:${d.minor}`;
}

export function checkWeight(w: number, what = "blkio weight"): number {
  if (!Number.isInteger(w) || w < 10 || w > 1000) throw new TsboxError(`cgroup: invalid ${what} ${w} (10 to 1000)`);
  return w;
}

/**
 * The writes for resources.blockIO. As runc: blkio.weight where the kernel has
 * it (CFQ, gone since Linux 5.0), otherwise blkio.bfq.weight (the BFQ
 * scheduler's file, present when BFQ is built in or loaded); the same for
 * weight_device. Throttle rates: "MAJ:MIN RATE", one write each (0 removes).
 */
export function blkioWrites(b: LinuxBlockIO, hasCfqWeight: boolean): { file: string; value: string }[] {
  const out: { file: string; value: string }[] = [];
  const weightFile = hasCfqWeight ? "blkio.weight" : "blkio.bfq.weight";
  const deviceFile = hasCfqWeight ? "blkio.weight_device" : "blkio.bfq.weight_device";
  if (b.weight) out.push({ file: weightFile, value: String(checkWeight(b.weight)) });
  for (const wd of b.weightDevice ?? []) {
    if (wd.weight) out.push({ file: deviceFile, value: `${devKey(wd)} ${checkWeight(wd.weight, "device weight")}` });
  }
  for (const [key, file] of Object.entries(THROTTLE_FILES)) {
    for (const td of b[key as keyof typeof THROTTLE_FILES] ?? []) {
      if (!Number.isSafeInteger(td.rate) || td.rate < 0) throw new TsboxError(`cgroup: invalid rate ${td.rate} for ${devKey(td)}`);
      out.push({ file, value: `${devKey(td)} ${td.rate}` });
    }
  }
  return out;
}

export function apply(r: LinuxResources, dir: string, fs: CgroupFs): void {
  if (!r.blockIO) return;
  for (const w of blkioWrites(r.blockIO, fileExists(fs, dir, "blkio.weight"))) writeValue(fs, dir, w.file, w.value);
}
