// Pure conversions shared by the v1 and v2 controller modules (and the CLI).
// Conventions follow runc: for memory, cpu and pids fields, 0 means "not set";
// -1 means "unlimited".

import { TsboxError } from "../errors.js";

export const DEFAULT_CFS_PERIOD_US = 100_000;

/** True when a numeric resource field asks for something (not undefined, not 0). */
export function isSet(n: number | undefined): n is number {
  return n !== undefined && n !== 0;
}

export function checkInt(n: number, what: string, min = -1): number {
  if (!Number.isSafeInteger(n) || n < min) throw new TsboxError(`cgroup: invalid ${what} ${n}`);
  return n;
}

/** Docker's NanoCPUs for `--cpus`: 1.5 → 1_500_000_000 (what run and update record). */
export function cpusToNanoCpus(cpus: number): number {
  return Math.round(cpus * 1e9);
}

/**
 * NanoCPUs → the CFS quota and period, the one conversion of `--cpus` (run,
 * update): quota = NanoCPUs × period / 10⁹ as Docker computes it, rounded to
 * the nearest µs; 1.5 CPUs → { quota: 150000, period: 100000 }. A quota below
 * the kernel's 1 ms is refused by the kernel when written (EINVAL).
 */
export function nanoCpusToQuota(nanoCpus: number, period = DEFAULT_CFS_PERIOD_US): { quota: number; period: number } {
  return { quota: Math.round((nanoCpus * period) / 1e9), period };
}

/**
 * The rule for a memory+swap limit (OCI memory.swap, Docker's --memory-swap):
 * it needs a memory limit and may not be below it. -1 is unlimited, undefined
 * not set. Which part is broken, or undefined; each layer words it its own
 * way (checkSwapLimit below, oci/units.ts checkMemorySwap for Docker's flags).
 */
export function memorySwapViolation(limit: number | undefined, swap: number | undefined): "no memory limit" | "below memory limit" | undefined {
  if (swap === undefined || swap === -1) return undefined;
  if (limit === undefined || limit === -1) return "no memory limit";
  return swap < limit ? "below memory limit" : undefined;
}

/** memorySwapViolation as the cgroup managers report it (runc's wording). */
export function checkSwapLimit(limit: number | undefined, swap: number | undefined): void {
  const v = memorySwapViolation(limit, swap);
  if (v === "no memory limit") throw new TsboxError("cgroup: unable to set a swap limit without a memory limit");
  if (v === "below memory limit") throw new TsboxError(`cgroup: memory+swap limit ${swap} must be >= memory limit ${limit}`);
}

/** pids.max value: a positive limit as is, anything <= 0 is "max" (Docker: 0 and -1 mean unlimited). */
export function pidsMaxValue(limit: number): string {
  checkInt(limit, "pids limit", Number.MIN_SAFE_INTEGER);
  return limit > 0 ? String(limit) : "max";
}
