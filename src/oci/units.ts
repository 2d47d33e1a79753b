// Parsing of Docker's flag values (go-units RAMInBytes, --cpus decimals), with
// Docker's wording in the errors.
import { UsageError } from "../errors.js";
import { memorySwapViolation } from "../cgroupfs/convert.js";

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** "64m", "1g", "512k", "1048576" → bytes (binary units, as docker -m). */
export function parseBytes(value: string, flag: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgtpb]?)(?:i?b)?\s*$/i.exec(value);
  if (!m) throw new UsageError(`invalid argument "${value}" for "${flag}" flag: invalid size: '${value}'`);
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

/** Docker refuses memory limits below 6 MiB ("Minimum memory limit allowed is 6MB"). */
export const MIN_MEMORY = 6 * 1024 * 1024;

/**
 * Docker's check of a memory+swap limit against the memory limit (run, and
 * update on the merged result), in Docker's words: undefined = not set, -1 =
 * unlimited. The rule itself is cgroupfs's memorySwapViolation.
 */
export function checkMemorySwap(memory: number | undefined, memorySwap: number | undefined): void {
  const v = memorySwapViolation(memory, memorySwap);
  if (v === "no memory limit") throw new UsageError("You should always set the Memory limit when using Memoryswap limit, see usage");
  if (v === "below memory limit") throw new UsageError("Minimum memoryswap limit should be larger than memory limit, see usage");
}

export function parseMemory(value: string): number {
  const bytes = parseBytes(value, "-m, --memory");
  if (bytes < MIN_MEMORY) throw new UsageError("Minimum memory limit allowed is 6MB");
  return bytes;
}

export function parseCpus(value: string, hostCpus: number): number {
  const n = Number(value);
  if (!/^\s*[0-9]*\.?[0-9]+\s*$/.test(value) || !Number.isFinite(n)) {
    throw new UsageError(`invalid argument "${value}" for "--cpus" flag: failed to parse ${value} as a rational number`);
  }
  if (n <= 0 || n > hostCpus) {
    throw new UsageError(`range of CPUs is from 0.01 to ${hostCpus.toFixed(2)}, as there are only ${hostCpus} CPUs available`);
  }
  return n;
}

export function parseIntFlag(value: string, flag: string): number {
  if (!/^-?[0-9]+$/.test(value.trim())) {
    throw new UsageError(`invalid argument "${value}" for "${flag}" flag: strconv.ParseInt: parsing "${value}": invalid syntax`);
  }
  return Number(value);
}

/** "0-2,5" → [0,1,2,5]; Docker's cpuset syntax. */
export function parseCpuList(value: string, flag: string): number[] {
  const out = new Set<number>();
  for (const part of value.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) {
      throw new UsageError(`invalid argument "${value}" for "${flag}" flag: invalid format: ${value}`);
    }
    for (let i = Number(m[1]); i <= Number(m[2] ?? m[1]); i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}

/** Docker's check that a requested cpuset is within what the host has online. */
export function checkCpuset(value: string, flag: string, online: string, what: "CPUs" | "memory nodes"): string {
  const have = new Set(parseCpuList(online, flag));
  const missing = parseCpuList(value, flag).filter((c) => !have.has(c));
  if (missing.length > 0) throw new UsageError(`Requested ${what} are not available - requested ${value}, available: ${online}`);
  return value;
}

/** Go's time.ParseDuration ("1m30s", "500ms", "-2s"), in nanoseconds; undefined when it is not one. */
export function goDurationNs(v: string): number | undefined {
  const units: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const sign = v.startsWith("-") ? -1 : 1;
  const body = v.replace(/^[-+]/, "");
  if (body === "0") return 0;
  const re = /([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(body); m !== null; m = re.exec(body)) {
    total += Number(m[1]) * (units[m[2] ?? ""] ?? 0);
    pos = re.lastIndex;
  }
  if (body === "" || pos !== body.length) return undefined;
  return sign * Math.round(total);
}
