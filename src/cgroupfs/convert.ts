// Pure conversions shared by the v1 and v2 controller modules (and the CLI).
// Conventions follow runc: for memory, cpu and pids fields, 0 means "not set";
// -1 means "unlimited".

import { TsboxError } from "../errors.js";

export const DEFAULT_CFS_PERIOD_US = 100_000;
/** The kernel's lower bound for cfs_quota_us / cpu.max quota. */
export const MIN_CFS_QUOTA_US = 1_000;

/** True when a numeric resource field asks for something (not undefined, not 0). */
export function isSet(n: number | undefined): n is number {
  return n !== undefined && n !== 0;
}

export function checkInt(n: number, what: string, min = -1): number {
  if (!Number.isSafeInteger(n) || n < min) throw new TsboxError(`cgroup: invalid ${what} ${n}`);
  return n;
}

/** `--cpus 1.5` → { quota: 150000, period: 100000 } (Docker's NanoCPUs arithmetic). */
export function cpusToQuotaPeriod(cpus: number, period = DEFAULT_CFS_PERIOD_US): { quota: number; period: number } {
  if (!Number.isFinite(cpus) || cpus <= 0) throw new TsboxError(`cgroup: invalid --cpus value ${cpus}`);
  const quota = Math.round((Math.round(cpus * 1e9) * period) / 1e9);
  if (quota < MIN_CFS_QUOTA_US) {
    throw new TsboxError(`cgroup: --cpus ${cpus} is too small (minimum ${MIN_CFS_QUOTA_US / period})`);
  }
  return { quota, period };
}

/** pids.max value: a positive limit as is, anything <= 0 is "max" (Docker: 0 and -1 mean unlimited). */
export function pidsMaxValue(limit: number): string {
  checkInt(limit, "pids limit", Number.MIN_SAFE_INTEGER);
  return limit > 0 ? String(limit) : "max";
}
