// `--platform` on run and create, and Docker's warning for an image of another
// platform than the host's when none was asked for. The names are the pull's
// (containerd's normalisation, image/registry/platform.ts).

import { readFileSync } from "node:fs";
import { FlagError, UsageError } from "../errors.js";
import type { ResolvedImage } from "../image/images.js";
import {
  acceptedPlatforms, formatPlatform, hostPlatform, normalizePlatform, parsePlatform, type Platform,
} from "../image/registry/platform.js";

/** The architectures containerd's parser knows (GOARCH's names); another is not a platform. */
const KNOWN_ARCHITECTURES = new Set([
  "386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64", "mips64le", "ppc64", "ppc64le", "riscv64", "s390x", "wasm",
]);

/** `--platform`, with Docker's wording for a value it cannot parse (125). */
export function wantedPlatform(value: string): Platform {
  let p: Platform;
  try {
    p = parsePlatform(value);
  } catch (e) {
    throw new FlagError(`error parsing specified platform: ${(e as Error).message}`);
  }
  if (!KNOWN_ARCHITECTURES.has(p.architecture)) {
    throw new FlagError(`error parsing specified platform: "${value}": unknown operating system or architecture: invalid argument`);
  }
  return p;
}

export function imagePlatform(image: ResolvedImage): Platform {
  const c = image.config;
  return normalizePlatform({ os: c.os, architecture: c.architecture, variant: c.variant ?? "" });
}

/** Does an image of `have` serve `want` (containerd's matcher: amd64 v3 takes v2, v1, 386…)? */
export function platformServes(have: Platform, want: Platform): boolean {
  return acceptedPlatforms(want).some((p) => p.os === have.os && p.architecture === have.architecture && p.variant === have.variant);
}

/** Docker's refusal of a store image of another platform than --platform asked for, when it may not pull. */
export function platformMismatch(ref: string, want: Platform, have: Platform): UsageError {
  return new UsageError(`image with reference ${ref} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(have)}`);
}

/** Docker's warning, or undefined when the host runs the image's platform. */
export function hostMismatchWarning(have: Platform, cpuinfo = readCpuinfo()): string | undefined {
  const host = hostPlatform();
  if (have.os === host.os && acceptedPlatforms(host).some((p) => p.architecture === have.architecture)) return undefined;
  return `The requested image's platform (${formatPlatform(have)}) does not match the detected host platform (${formatPlatform({ ...host, variant: detectedVariant(host, cpuinfo) })}) and no specific platform was requested`;
}

function readCpuinfo(): string {
  try { return readFileSync("/proc/cpuinfo", "utf8"); } catch { return ""; }
}

/** amd64's micro-architecture level as Docker detects it (v2, v3, v4 by the CPU's flags); arm64's v8. */
function detectedVariant(host: Platform, cpuinfo: string): string {
  if (host.architecture === "arm64") return "v8";
  if (host.architecture !== "amd64") return host.variant;
  const flags = new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? "").trim().split(/\s+/));
  const all = (names: string[]): boolean => names.every((n) => flags.has(n));
  if (!all(["cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"])) return "v1";
  if (!all(["avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"])) return "v2";
  if (!all(["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"])) return "v3";
  return "v4";
}
