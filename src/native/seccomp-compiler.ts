// The OCI `linux.seccomp` object → a classic BPF program, compiled by
// libseccomp in a small helper (build/tsbox-seccomp, native-shims/seccomp/) so
// neither the shim library nor the static monitor links libseccomp. TypeScript
// decides the rules as runc does (actions and errno values, a rule per
// condition when one argument has several, rules equal to the default action
// dropped); the helper resolves names for the architectures and exports BPF.
// Compiled programs are cached in the state root, keyed by the object's JSON,
// so a start with a cached profile costs one small file read.

import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LaunchError, SeccompProfileError } from "../errors.js";
import { packageRoot } from "../util/package.js";

/** One argument condition of a seccomp rule (config-linux.md "Seccomp"); MASKED_EQ: (arg & value) == valueTwo. */
export interface LinuxSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface LinuxSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

/** The container's syscall filter, as the OCI runtime spec has it (the spec type re-exports these). */
export interface LinuxSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: LinuxSyscall[];
  /** SCMP_ACT_NOTIFY: the agent's unix socket the listener is sent to, and what it is told with it */
  listenerPath?: string;
  listenerMetadata?: string;
}

const EPERM = 1;
/** libseccomp's action values (seccomp.h SCMP_ACT_*); ERRNO and TRACE carry a 16-bit value. */
const ACTION: Record<string, (ret: number) => number> = {
  SCMP_ACT_KILL: () => 0x00000000,
  SCMP_ACT_KILL_THREAD: () => 0x00000000,
  SCMP_ACT_KILL_PROCESS: () => 0x80000000,
  SCMP_ACT_TRAP: () => 0x00030000,
  SCMP_ACT_ERRNO: (ret) => 0x00050000 | (ret & 0xffff),
  SCMP_ACT_TRACE: (ret) => 0x7ff00000 | (ret & 0xffff),
  SCMP_ACT_LOG: () => 0x7ffc0000,
  SCMP_ACT_NOTIFY: () => 0x7fc00000,
  SCMP_ACT_ALLOW: () => 0x7fff0000,
};
/** enum scmp_compare */
const COMPARE: Record<string, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};
/** seccomp(2) filter flags the shim passes to SECCOMP_SET_MODE_FILTER. */
const FILTER_FLAG: Record<string, number> = {
  SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
};
/** A filter with SCMP_ACT_NOTIFY rules is loaded with this flag: the kernel answers a listener fd. */
export const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
const NOTIFY = 0x7fc00000;
const ARCHES = new Set([
  "x86", "x86_64", "x32", "arm", "aarch64", "loongarch64", "mips", "mips64", "mips64n32", "mipsel", "mipsel64",
  "mipsel64n32", "ppc", "ppc64", "ppc64le", "s390", "s390x", "riscv64", "parisc", "parisc64",
]);

/** What the compiler understands, by the spec's names (`tsbox-runc features`). */
export function seccompFeatures(): { actions: string[]; operators: string[]; archs: string[]; flags: string[] } {
  return {
    actions: Object.keys(ACTION).sort(),
    operators: Object.keys(COMPARE).sort(),
    archs: [...ARCHES].map((a) => `SCMP_ARCH_${a.toUpperCase()}`).sort(),
    flags: Object.keys(FILTER_FLAG).sort(),
  };
}
const BPF_MAXINSNS = 4096;
const CACHE_MAGIC = "tsbox-seccomp-bpf/1\n";

export interface SeccompProgram {
  /** struct sock_filter[] as the kernel takes it (8 bytes an instruction) */
  bpf: Buffer;
  /** seccomp(2) flags (SECCOMP_FILTER_FLAG_*) */
  flags: number;
}

function action(name: string, errnoRet: number | undefined, where: string): number {
  const a = ACTION[name];
  if (!a) throw new SeccompProfileError(`seccomp profile: unknown action "${name}" in ${where}`);
  return a(errnoRet ?? EPERM) >>> 0;
}

/**
 * The helper's input (the rules, one a line; see native-shims/seccomp/tsbox-seccomp.c).
 */
export function seccompRules(s: LinuxSeccomp): string {
  const def = action(s.defaultAction, s.defaultErrnoRet, "defaultAction");
  // runc's refusals: the process reports its listener with write(2), which must not wait on the agent.
  if (def === NOTIFY) throw new SeccompProfileError("SCMP_ACT_NOTIFY cannot be used as default action");
  if ((s.syscalls ?? []).some((c) => c.action === "SCMP_ACT_NOTIFY" && c.names.includes("write"))) {
    throw new SeccompProfileError("SCMP_ACT_NOTIFY cannot be used for the write syscall");
  }
  const lines = [`default ${def}`];
  for (const a of s.architectures ?? []) {
    const arch = a.replace(/^SCMP_ARCH_/, "").toLowerCase();
    if (!ARCHES.has(arch)) throw new SeccompProfileError(`seccomp profile: unknown architecture "${a}"`);
    lines.push(`arch ${arch}`);
  }
  for (const [i, call] of (s.syscalls ?? []).entries()) lines.push(...ruleLines(call, def, `syscalls[${i}]`));
  // As runc: where unknown syscalls are refused, those newer than the profile
  // answer ENOSYS instead, so libc falls back to an older call.
  if (def !== ACTION.SCMP_ACT_ALLOW!(0) && def !== ACTION.SCMP_ACT_LOG!(0)) lines.push("enosys");
  return `${lines.join("\n")}\n`;
}

function ruleLines(call: LinuxSyscall, def: number, where: string): string[] {
  const act = action(call.action, call.errnoRet, where);
  // libseccomp refuses a rule whose action is the default one (runc skips them too).
  if (act === def) return [];
  const conds = (call.args ?? []).map((a, j) => {
    const op = COMPARE[a.op];
    if (op === undefined) throw new SeccompProfileError(`seccomp profile: unknown operator "${a.op}" in ${where}.args[${j}]`);
    if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) throw new SeccompProfileError(`seccomp profile: bad argument index ${a.index} in ${where}.args[${j}]`);
    for (const v of [a.value, a.valueTwo ?? 0]) {
      if (!Number.isSafeInteger(v) || v < 0) throw new SeccompProfileError(`seccomp profile: bad value ${v} in ${where}.args[${j}]`);
    }
    return { index: a.index, text: `${a.index} ${op} ${a.value} ${a.valueTwo ?? 0}` };
  });
  // Several conditions on one argument: libseccomp would AND them, where the
  // profile means any of them; runc then adds one rule per condition.
  const perArg = new Set(conds.map((c) => c.index));
  const groups = perArg.size < conds.length ? conds.map((c) => [c]) : [conds];
  const out: string[] = [];
  for (const name of call.names) {
    if (!/^[a-z0-9_]+$/.test(name)) throw new SeccompProfileError(`seccomp profile: bad syscall name "${name}" in ${where}`);
    for (const g of groups) out.push([`rule ${act} ${name} ${g.length}`, ...g.map((c) => c.text)].join(" "));
  }
  return out;
}

/** Whether the filter has SCMP_ACT_NOTIFY rules (a listener for the spec's agent). */
export function notifies(s: LinuxSeccomp): boolean {
  return (s.syscalls ?? []).some((c) => c.action === "SCMP_ACT_NOTIFY");
}

export function filterFlags(s: LinuxSeccomp): number {
  let flags = notifies(s) ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
  for (const f of s.flags ?? []) {
    const bit = FILTER_FLAG[f];
    if (bit === undefined) throw new SeccompProfileError(`seccomp profile: unsupported flag "${f}"`);
    flags |= bit;
  }
  return flags;
}

export function compilerPath(): string {
  return process.env.TSBOX_SECCOMP ?? join(packageRoot(), "build", "tsbox-seccomp");
}

/**
 * Which compiler and libseccomp compile: the helper's size and mtime (a rebuilt
 * helper may compile differently), its libseccomp's version and shared object
 * as the build recorded them (build/tsbox-seccomp.id), and that object's size
 * and mtime, so an upgraded library misses the cache.
 */
function compilerIdentity(exe: string): string {
  let id: string;
  let self: string;
  try {
    id = readFileSync(`${exe}.id`, "utf8").trim();
    const st = statSync(exe);
    self = `${st.size} ${st.mtimeMs}`;
  } catch {
    throw new LaunchError(`seccomp compiler not built: ${exe} or ${exe}.id is missing (run \`node scripts/build-shim.mjs\`)`);
  }
  const lib = id.split(" ")[2];
  let libStat = "";
  if (lib) {
    try {
      const st = statSync(lib);
      libStat = ` ${st.size} ${st.mtimeMs}`;
    } catch { /* the library moved: the helper fails or recompiles below */ }
  }
  return `${self} ${id}${libStat}`;
}

/**
 * The cache file's name: the key's length and a hash of 64 of its characters,
 * spread over it. Cold JavaScript is slow (hashing all of a ~6 kB key costs
 * about half a millisecond; loading node:crypto, more): the name only spreads
 * entries, the full key stored in the file decides.
 */
function keyName(s: string): string {
  let h1 = 7;
  let h2 = 11;
  const step = Math.max(1, Math.floor(s.length / 64));
  for (let i = 0; i < s.length; i += step) {
    const c = s.charCodeAt(i);
    h1 = (h1 * 31 + c) | 0;
    h2 = (h2 * 131 + c) | 0;
  }
  return `${s.length.toString(16)}-${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}`;
}

/** A cached program: the full key is stored and compared, so two keys with one name only miss. */
function readCached(file: string, key: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  const head = Buffer.byteLength(CACHE_MAGIC);
  if (data.length < head + 4 || data.toString("latin1", 0, head) !== CACHE_MAGIC) return undefined;
  const keyLen = data.readUInt32LE(head);
  const start = head + 4 + keyLen;
  if (start > data.length || data.toString("utf8", head + 4, start) !== key) return undefined;
  const bpf = data.subarray(start);
  return validBpf(bpf) ? bpf : undefined;
}

const validBpf = (b: Buffer): boolean => b.length > 0 && b.length % 8 === 0 && b.length / 8 <= BPF_MAXINSNS;

function writeCached(file: string, key: string, bpf: Buffer): void {
  const k = Buffer.from(key, "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32LE(k.length);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.concat([Buffer.from(CACHE_MAGIC, "latin1"), len, k, bpf]), { mode: 0o600 });
  renameSync(tmp, file);  // atomic: a concurrent start reads the old file or the whole new one
}

/** The BPF program for a container's filter, from the cache in `root` or compiled now. */
/** `cacheDir`: where compiled programs are kept (default `<root>/cache/seccomp`). */
export function seccompProgram(root: string, s: LinuxSeccomp, cacheDir = join(root, "cache", "seccomp")): SeccompProgram {
  const flags = filterFlags(s);
  const exe = compilerPath();
  // The object's JSON (native, fast), not the rules derived from it: a cached
  // start does no per-syscall work in JavaScript.
  const key = `${compilerIdentity(exe)}\n${process.arch}\n${JSON.stringify(s)}`;
  const dir = cacheDir;
  const file = join(dir, `${keyName(key)}.bpf`);
  const cached = readCached(file, key);
  if (cached) return { bpf: cached, flags };

  const rules = seccompRules(s);
  const r = spawnSync(exe, [], { input: rules, maxBuffer: BPF_MAXINSNS * 8 * 2, timeout: 60_000 });
  if (r.error) throw new LaunchError(`seccomp: running ${exe}: ${r.error.message}`);
  if (r.status !== 0) {
    const msg = r.stderr.toString("utf8").trim().split("\n")[0] || `${exe} exited with ${r.status ?? r.signal}`;
    throw new SeccompProfileError(msg);
  }
  if (!validBpf(r.stdout)) throw new LaunchError(`seccomp: ${exe} produced ${r.stdout.length} bytes, not a BPF program`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeCached(file, key, r.stdout);
  return { bpf: r.stdout, flags };
}
