// The block-device flags (--blkio-weight-device, --device-read-bps, ...):
// DEVICE:VALUE parsed with docker/cli's checks and wording (opts/
// throttledevice.go, opts/weightdevice.go), the device stat'ed for its
// major:minor as the daemon does (getBlkioThrottleDevices) — all before
// anything is created.

import { statSync } from "node:fs";
import { TsboxError, UsageError, errnoCode } from "../errors.js";
import type { BlockDevice, DeviceMapping, HostDevice, ThrottleFlag } from "./specconv.js";
import { parseBytes } from "./units.js";

const wrap = (value: string, flag: string, msg: string) => new UsageError(`invalid argument "${value}" for "${flag}" flag: ${msg}`);

function splitDevice(value: string, flag: string): [string, string] {
  const i = value.indexOf(":");
  if (i <= 0) throw wrap(value, flag, `bad format: ${value}`);
  const path = value.slice(0, i);
  if (!path.startsWith("/dev/")) throw wrap(value, flag, `bad format for device path: ${value}`);
  return [path, value.slice(i + 1)];
}

/** `--device-read-bps /dev/sda:1mb`: a size as -m takes it (go-units RAMInBytes). */
export function parseThrottleBps(value: string, flag: string): { path: string; rate: number } {
  const [path, v] = splitDevice(value, flag);
  let rate: number;
  try {
    rate = parseBytes(v, flag);
  } catch {
    throw wrap(value, flag, `invalid rate for device: ${value}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`);
  }
  return { path, rate };
}

/** `--device-read-iops /dev/sda:1000`. */
export function parseThrottleIops(value: string, flag: string): { path: string; rate: number } {
  const [path, v] = splitDevice(value, flag);
  if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw wrap(value, flag, `invalid rate for device: ${value}. The correct format is <device-path>:<number>. Number must be a positive integer`);
  }
  return { path, rate: Number(v) };
}

/** `--blkio-weight-device /dev/sda:200`: 10–1000, or 0. */
export function parseWeightDevice(value: string, flag = "--blkio-weight-device"): { path: string; weight: number } {
  const [path, v] = splitDevice(value, flag);
  const weight = /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!(weight <= 65535) || (weight > 0 && (weight < 10 || weight > 1000))) throw wrap(value, flag, `invalid weight for device: ${value}`);
  return { path, weight };
}

/** `--blkio-weight N`: pflag's Uint16, range checked later (Docker checks it in the daemon, after host support). */
export function parseUint16(value: string, flag: string): number {
  if (!/^[0-9]+$/.test(value)) throw wrap(value, flag, `strconv.ParseUint: parsing "${value}": invalid syntax`);
  const n = Number(value);
  if (n > 65535) throw wrap(value, flag, `strconv.ParseUint: parsing "${value}": value out of range`);
  return n;
}

/** Linux dev_t → major:minor (glibc's gnu_dev_major/minor). */
export function splitDev(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

/** The device's numbers; the daemon's "stat PATH: no such file or directory" when it is not there. */
export function statBlockDevice(path: string): BlockDevice {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch (e) {
    const code = errnoCode(e);
    const why = code === "ENOENT" ? "no such file or directory" : code === "EACCES" ? "permission denied" : (e as Error).message;
    throw new UsageError(`stat ${path}: ${why}`);
  }
  // Docker passes any path's st_rdev on; the kernel then refuses 0:0 after the
  // container exists. Refused here, before anything is created.
  if (!st.isBlockDevice()) throw new UsageError(`${path} is not a block device`);
  return { path, ...splitDev(st.rdev) };
}

export function throttleFlags(values: string[], flag: string, parse: (v: string, f: string) => { path: string; rate: number }): ThrottleFlag[] {
  return values.map((v) => {
    const { path, rate } = parse(v, flag);
    return { ...statBlockDevice(path), rate };
  });
}


const validDeviceMode = (m: string): boolean =>
  m.length > 0 && m.length <= 3 && [...m].every((c, i) => "rwm".includes(c) && m.indexOf(c) === i);

/** `--device HOST[:CONTAINER][:PERMISSIONS]` as docker/cli splits and checks it (parseLinuxDevice, validateLinuxPath). */
export function parseDeviceFlag(value: string): DeviceMapping {
  const parts = value.split(":");
  if (parts.length > 3 || parts[0] === "") throw new UsageError(`bad format for path: ${value}`);
  let permissions = "rwm";
  let dst = "";
  if (parts.length === 3) {
    if (!validDeviceMode(parts[2]!)) throw new UsageError(`bad mode specified: ${parts[2]}`);
    permissions = parts[2]!;
    dst = parts[1]!;
  } else if (parts.length === 2) {
    if (validDeviceMode(parts[1]!)) permissions = parts[1]!;
    else dst = parts[1]!;
  }
  const src = parts[0]!;
  if (dst === "") dst = src;
  if (!dst.startsWith("/")) throw new UsageError(`${dst} is not an absolute path`);
  return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: permissions };
}

/** The node's type, numbers and mode; Docker's daemon wording (and its exit 127) when it is missing or not a device. */
export function statDeviceNode(path: string): HostDevice {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch (e) {
    const why = errnoCode(e) === "ENOENT" ? "no such file or directory" : (e as Error).message;
    throw new TsboxError(`error gathering device information while adding custom device "${path}": ${why}`, 127);
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) {
    throw new TsboxError(`error gathering device information while adding custom device "${path}": not a device node`, 127);
  }
  return {
    type: st.isCharacterDevice() ? "c" : "b", ...splitDev(st.rdev),
    fileMode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid),
  };
}
