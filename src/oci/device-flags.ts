// The block-device flags (--blkio-weight-device, --device-read-bps, ...):
// DEVICE:VALUE parsed with docker/cli's checks and wording (opts/
// throttledevice.go, opts/weightdevice.go), the device stat'ed for its
// major:minor as the daemon does (getBlkioThrottleDevices) — all before
// anything is created.

import { lstatSync, readdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
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

/** The daemon's error, with the exit code Docker's client gives it (127 for "no such file or directory", else 125). */
const gatheringError = (path: string, why: string) =>
  new TsboxError(`error gathering device information while adding custom device "${path}": ${why}`,
    why.includes("no such file or directory") ? 127 : why.includes("permission denied") ? 126 : 125);

/** The node at `path` itself (lstat: a link is not a device), or undefined when it is something else. */
function deviceAt(path: string): HostDevice | undefined {
  const st = lstatSync(path, { bigint: true });
  if (!st.isCharacterDevice() && !st.isBlockDevice()) return undefined;
  return {
    type: st.isCharacterDevice() ? "c" : "b", ...splitDev(st.rdev),
    fileMode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid),
  };
}

/**
 * Every device node under `dir`, recursively, not following links (Go's
 * filepath.WalkDir), in name order; `skip` leaves out an entry (a directory
 * with all below it). What cannot be read, or is gone since the listing, is
 * passed over, as moby's walk ignores its errors.
 */
export function devicesUnder(dir: string, skip: (name: string, isDir: boolean) => boolean = () => false): { path: string; device: HostDevice }[] {
  const out: { path: string; device: HostDevice }[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch {
    return out;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (skip(e.name, e.isDirectory())) continue;
    if (e.isDirectory()) {
      out.push(...devicesUnder(path, skip));
      continue;
    }
    try {
      const device = deviceAt(path);
      if (device) out.push({ path, device });
    } catch { /* gone since the listing */ }
  }
  return out;
}

/**
 * `--device`'s host side as Docker's daemon reads it (moby's DevicesFromPath):
 * a link is followed first; a device node is itself; a directory stands for
 * every device node under it, at the same place under PathInContainer. Docker's
 * wording when it is missing (exit 127) or holds no device (125).
 */
export function devicesFromPath(m: DeviceMapping): (DeviceMapping & HostDevice)[] {
  let resolved = m.PathOnHost;
  try {
    if (lstatSync(resolved).isSymbolicLink()) resolved = realpathSync(resolved);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw gatheringError(m.PathOnHost, "no such file or directory");
    throw gatheringError(m.PathOnHost, (e as Error).message);
  }
  let own: HostDevice | undefined;
  try {
    own = deviceAt(resolved);
  } catch (e) {
    throw gatheringError(m.PathOnHost, errnoCode(e) === "ENOENT" ? "no such file or directory" : (e as Error).message);
  }
  if (own) return [{ ...m, ...own }];
  if (statSync(resolved).isDirectory()) {
    const found = devicesUnder(resolved).map(({ path, device }) => ({
      ...m, PathOnHost: path, PathInContainer: m.PathInContainer + path.slice(resolved.length), ...device, fromFlag: m,
    }));
    if (found.length > 0) return found;
  }
  throw gatheringError(m.PathOnHost, "not a device node");
}
