// Device access rules in OCI form, and their v1 devices-cgroup spelling.

import { TsboxError } from "../errors.js";
import type { LinuxDeviceCgroup } from "./types.js";

const rwm = "rwm";

/**
 * Docker's default device rules: deny everything, then allow the basic char
 * devices, ptys and mknod of anything, and deny /dev/fuse.
 */
export const DOCKER_DEFAULT_DEVICES: readonly LinuxDeviceCgroup[] = Object.freeze([
  { allow: false, access: rwm }, // everything
  { allow: true, type: "c", major: 1, minor: 5, access: rwm }, // /dev/zero
  { allow: true, type: "c", major: 1, minor: 3, access: rwm }, // /dev/null
  { allow: true, type: "c", major: 1, minor: 9, access: rwm }, // /dev/urandom
  { allow: true, type: "c", major: 1, minor: 8, access: rwm }, // /dev/random
  { allow: true, type: "c", major: 5, minor: 0, access: rwm }, // /dev/tty
  { allow: true, type: "c", major: 5, minor: 1, access: rwm }, // /dev/console
  { allow: true, type: "c", major: 1, minor: 7, access: rwm }, // /dev/full
  { allow: true, type: "c", major: 136, access: rwm }, // /dev/pts/*
  { allow: true, type: "c", major: 5, minor: 2, access: rwm }, // /dev/ptmx
  { allow: true, type: "c", access: "m" }, // mknod of any char device
  { allow: true, type: "b", access: "m" }, // mknod of any block device
  { allow: false, type: "c", major: 10, minor: 229, access: rwm }, // /dev/fuse
] satisfies LinuxDeviceCgroup[]);

export interface DeviceWrite {
  file: "devices.allow" | "devices.deny";
  value: string;
}

function devNum(n: number | undefined, what: string): string {
  if (n === undefined || n === -1) return "*";
  if (!Number.isInteger(n) || n < 0) throw new TsboxError(`cgroup: invalid device ${what} number ${n}`);
  return String(n);
}

/**
 * The v1 devices-cgroup writes for one OCI rule, e.g. {allow, c, 1, 3, rwm} →
 * devices.allow "c 1:3 rwm". Type "a" (or absent) with full access is the
 * kernel's bare "a"; "a" with partial access has no single v1 spelling (the
 * kernel ignores everything after "a"), so it becomes one c and one b rule.
 */
export function deviceRuleWrites(rule: LinuxDeviceCgroup): DeviceWrite[] {
  const file = rule.allow ? "devices.allow" : "devices.deny";
  const access = rule.access === undefined || rule.access === "" ? rwm : rule.access;
  if (!/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length) {
    throw new TsboxError(`cgroup: invalid device access ${JSON.stringify(rule.access)} (want a combination of r, w, m)`);
  }
  const type = rule.type ?? "a";
  if (type === "a") {
    if ([...rwm].every((c) => access.includes(c))) return [{ file, value: "a" }];
    return [
      { file, value: `c *:* ${access}` },
      { file, value: `b *:* ${access}` },
    ];
  }
  if (type !== "c" && type !== "b") throw new TsboxError(`cgroup: invalid device type ${JSON.stringify(type)}`);
  return [{ file, value: `${type} ${devNum(rule.major, "major")}:${devNum(rule.minor, "minor")} ${access}` }];
}
