// Docker's seccomp profile format → the OCI `linux.seccomp` object: a port of
// moby/profiles/seccomp's setupSeccomp (seccomp_linux.go). A Docker profile
// has rules that apply only with a capability in the container's bounding set,
// on an architecture, or from a kernel version on; the OCI object keeps only
// the rules that apply, and the architectures of the host's family (archMap).
// Pure: the capabilities come from the spec, the host from `platform`.

import { SeccompProfileError } from "../../errors.js";
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall } from "../spec.js";
import defaultProfileJson from "./default.json" with { type: "json" };

interface Filter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

interface ProfileSyscall extends Partial<LinuxSyscall> {
  name?: string;
  comment?: string;
  includes?: Filter;
  excludes?: Filter;
}

/** A profile as Docker reads it (`--security-opt seccomp=FILE`, moby's Seccomp type). */
export interface DockerProfile {
  defaultAction?: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures: string[] | null }[];
  flags?: string[];
  listenerPath?: string;
  syscalls?: ProfileSyscall[];
}

/** The host the filter is for: Go's GOARCH naming as moby matches `arches`, and the kernel release. */
export interface SeccompPlatform {
  /** "amd64", "arm64", "x86", "arm", ... (libseccomp's names, as moby's goToNative) */
  arch: string;
  /** e.g. "6.18.44-fc" (only "<kernel>.<major>" counts) */
  kernel: string;
}

const NODE_TO_NATIVE: Record<string, string> = {
  x64: "amd64", arm64: "arm64", ia32: "x86", arm: "arm", loong64: "loong64", riscv64: "riscv64",
  s390x: "s390x", ppc64: "ppc64le", mips: "mipsle", mipsel: "mipsle",
};
/** moby's nativeToSeccomp: which archMap entry is the host's. */
const NATIVE_TO_SCMP: Record<string, string> = {
  x86: "SCMP_ARCH_X86", amd64: "SCMP_ARCH_X86_64", arm: "SCMP_ARCH_ARM", arm64: "SCMP_ARCH_AARCH64",
  loong64: "SCMP_ARCH_LOONGARCH64", mips64: "SCMP_ARCH_MIPS64", mips64n32: "SCMP_ARCH_MIPS64N32",
  mipsel64: "SCMP_ARCH_MIPSEL64", mips3l64n32: "SCMP_ARCH_MIPSEL64N32", mipsle: "SCMP_ARCH_MIPSEL",
  ppc: "SCMP_ARCH_PPC", ppc64: "SCMP_ARCH_PPC64", ppc64le: "SCMP_ARCH_PPC64LE", riscv64: "SCMP_ARCH_RISCV64",
  s390: "SCMP_ARCH_S390", s390x: "SCMP_ARCH_S390X",
};

export function hostPlatform(nodeArch: string, release: string): SeccompPlatform {
  return { arch: NODE_TO_NATIVE[nodeArch] ?? nodeArch, kernel: release };
}

/** Docker's default profile (vendored default.json, see NOTICE.md). */
export function defaultProfile(): DockerProfile {
  return defaultProfileJson as DockerProfile;
}

/** moby's LoadProfile: decodes a profile's JSON text (one-line errors naming what is wrong). */
export function parseProfile(text: string): DockerProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SeccompProfileError(`Decoding seccomp profile failed: ${(e as Error).message}`);
  }
  return checkProfile(raw);
}

/** The OCI filter for a container with this bounding set on this host; undefined: no filter. */
export function setupSeccomp(profile: DockerProfile, bounding: readonly string[], platform: SeccompPlatform): LinuxSeccomp | undefined {
  // No default action specified, no syscalls listed: seccomp disabled (as moby).
  if (!profile.defaultAction && (profile.syscalls ?? []).length === 0) return undefined;
  if ((profile.architectures ?? []).length > 0 && (profile.archMap ?? []).length > 0) {
    throw new SeccompProfileError("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  const arch = platform.arch;
  const out: LinuxSeccomp = { defaultAction: profile.defaultAction ?? "" };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  const architectures = [...(profile.architectures ?? [])];
  const scmp = NATIVE_TO_SCMP[arch];
  const family = scmp === undefined ? undefined : profile.archMap?.find((a) => a.architecture === scmp);
  if (family) architectures.push(family.architecture, ...(family.subArchitectures ?? []));
  if (architectures.length > 0) out.architectures = architectures;
  if (profile.flags?.length) out.flags = [...profile.flags];
  if (profile.listenerPath) {
    throw new SeccompProfileError("seccomp profile: listenerPath (SCMP_ACT_NOTIFY) is not supported");
  }

  const has = (c: string): boolean => bounding.includes(c);
  const syscalls: LinuxSyscall[] = [];
  for (const call of profile.syscalls ?? []) {
    if (call.name && (call.names ?? []).length > 0) {
      throw new SeccompProfileError("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'");
    }
    const ex = call.excludes;
    if (ex) {
      if (ex.arches?.includes(arch)) continue;
      if (ex.caps?.some(has)) continue;
      if (ex.minKernel && kernelAtLeast(platform.kernel, ex.minKernel)) continue;
    }
    const inc = call.includes;
    if (inc) {
      if (inc.arches?.length && !inc.arches.includes(arch)) continue;
      if (inc.caps?.length && !inc.caps.every(has)) continue;
      if (inc.minKernel && !kernelAtLeast(platform.kernel, inc.minKernel)) continue;
    }
    // Shared with the profile, not copied: nothing modifies either.
    const rule: LinuxSyscall = { names: call.name ? [call.name] : call.names ?? [], action: call.action ?? "" };
    if (call.errnoRet !== undefined) rule.errnoRet = call.errnoRet;
    if (call.args?.length) rule.args = call.args;
    syscalls.push(rule);
  }
  if (syscalls.length > 0) out.syscalls = syscalls;
  return out;
}

/** moby's kernelGreaterEqualThan: "<kernel>.<major>" of the host against the rule's. */
function kernelAtLeast(release: string, min: string): boolean {
  const want = parseKernel(min, `invalid kernel version: "${min}", expected "<kernel>.<major>"`);
  // Sscanf("%d.%d"): "6.18.44-fc" and "3.12-1-amd64" count as 6.18 and 3.12.
  const [k, m] = release.split(".", 2).map((p) => parseInt(p, 10));
  if (k === undefined || m === undefined || Number.isNaN(k) || Number.isNaN(m)) {
    throw new SeccompProfileError(`failed to parse kernel version "${release}"`);
  }
  return k > want[0] || (k === want[0] && m >= want[1]);
}

// No regular expression: compiling one costs a cold start more than the whole conversion.
function parseKernel(v: string, msg: string): [number, number] {
  const parts = v.split(".");
  const ok = parts.length === 2 && parts.every((p) => p.length > 0 && p.length < 4 && [...p].every((c) => c >= "0" && c <= "9"));
  const [k, m] = ok ? [Number(parts[0]), Number(parts[1])] : [0, 0];
  if (!ok || (k === 0 && m === 0)) throw new SeccompProfileError(msg);
  return [k, m];
}

// ---- shape checks of a profile read from a file (JSON.parse gives unknown) ----

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function bad(what: string): never {
  throw new SeccompProfileError(`Decoding seccomp profile failed: ${what}`);
}

function str(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") bad(`${where} must be a string`);
  return v;
}

function strs(v: unknown, where: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) bad(`${where} must be a list of strings`);
  return v as string[];
}

function uint(v: unknown, where: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) bad(`${where} must be an integer from 0 to ${max}`);
  return v;
}

function filter(v: unknown, where: string): Filter | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) bad(`${where} must be an object`);
  const f: Filter = {};
  const caps = strs(v.caps, `${where}.caps`);
  const arches = strs(v.arches, `${where}.arches`);
  const minKernel = str(v.minKernel, `${where}.minKernel`);
  if (caps) f.caps = caps;
  if (arches) f.arches = arches;
  if (minKernel) {
    parseKernel(minKernel, `invalid kernel version: "${minKernel}", expected "<kernel>.<major>"`);
    f.minKernel = minKernel;
  }
  return f;
}

function arg(v: unknown, where: string): LinuxSeccompArg {
  if (!isObj(v)) bad(`${where} must be an object`);
  const a: LinuxSeccompArg = {
    index: uint(v.index, `${where}.index`, 5) ?? 0,
    value: uint(v.value, `${where}.value`) ?? 0,
    op: str(v.op, `${where}.op`) ?? bad(`${where}.op is missing`),
  };
  const two = uint(v.valueTwo, `${where}.valueTwo`);
  if (two !== undefined) a.valueTwo = two;
  return a;
}

function checkProfile(raw: unknown): DockerProfile {
  if (!isObj(raw)) bad("the profile must be a JSON object");
  const p: DockerProfile = {};
  const defaultAction = str(raw.defaultAction, "defaultAction");
  if (defaultAction) p.defaultAction = defaultAction;
  const errnoRet = uint(raw.defaultErrnoRet, "defaultErrnoRet", 4095);
  if (errnoRet !== undefined) p.defaultErrnoRet = errnoRet;
  const architectures = strs(raw.architectures, "architectures");
  if (architectures) p.architectures = architectures;
  const flags = strs(raw.flags, "flags");
  if (flags) p.flags = flags;
  const listenerPath = str(raw.listenerPath, "listenerPath");
  if (listenerPath) p.listenerPath = listenerPath;
  if (raw.archMap !== undefined && raw.archMap !== null) {
    if (!Array.isArray(raw.archMap)) bad("archMap must be a list");
    p.archMap = raw.archMap.map((a: unknown, i) => {
      if (!isObj(a)) bad(`archMap[${i}] must be an object`);
      return {
        architecture: str(a.architecture, `archMap[${i}].architecture`) ?? bad(`archMap[${i}].architecture is missing`),
        subArchitectures: strs(a.subArchitectures, `archMap[${i}].subArchitectures`) ?? null,
      };
    });
  }
  if (raw.syscalls !== undefined && raw.syscalls !== null) {
    if (!Array.isArray(raw.syscalls)) bad("syscalls must be a list");
    p.syscalls = raw.syscalls.map((s: unknown, i) => {
      const where = `syscalls[${i}]`;
      if (!isObj(s)) bad(`${where} must be an object`);
      const call: ProfileSyscall = {};
      const name = str(s.name, `${where}.name`);
      const names = strs(s.names, `${where}.names`);
      const action = str(s.action, `${where}.action`);
      const errno = uint(s.errnoRet, `${where}.errnoRet`, 4095);
      if (name) call.name = name;
      if (names) call.names = names;
      if (action) call.action = action;
      if (errno !== undefined) call.errnoRet = errno;
      if (s.args !== undefined && s.args !== null) {
        if (!Array.isArray(s.args)) bad(`${where}.args must be a list`);
        call.args = s.args.map((a: unknown, j) => arg(a, `${where}.args[${j}]`));
      }
      const includes = filter(s.includes, `${where}.includes`);
      const excludes = filter(s.excludes, `${where}.excludes`);
      if (includes) call.includes = includes;
      if (excludes) call.excludes = excludes;
      return call;
    });
  }
  return p;
}
