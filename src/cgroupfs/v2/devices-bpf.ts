// cgroup v2 has no devices controller: device access is decided by
// BPF_PROG_TYPE_CGROUP_DEVICE programs attached to the cgroup. This module
// turns OCI device rules into such a program (pure; loaded and attached by
// native-shims/devices_bpf.c), the way runc's devicefilter and crun's
// ebpf.c do:
//
//  1. The rules are first replayed the way the v1 devices controller applies
//     them (runc's emulator): a type-"a" rule resets the default (deny all /
//     allow all) and drops every exception; another rule adds its access to
//     the exceptions when it goes against the default, or takes its access
//     away from the exception for exactly that device when it agrees with the
//     default (so Docker's trailing "deny c 10:229" is a no-op after a
//     deny-all, as on v1).
//  2. Each exception becomes one block of instructions, first match wins,
//     then the default.
//
// The program reads struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 |
// type); u32 major; u32 minor } from R1 and returns 1 (allow) or 0 (deny).

import { TsboxError } from "../../errors.js";
import type { LinuxDeviceCgroup } from "../types.js";

// include/uapi/linux/bpf.h
const DEV_BLOCK = 1;
const DEV_CHAR = 2;
const ACC_MKNOD = 1;
const ACC_READ = 2;
const ACC_WRITE = 4;
const ACC_ALL = ACC_MKNOD | ACC_READ | ACC_WRITE;

// Opcodes (class | op | source).
const LDX_MEM_W = 0x61;
const ALU32_AND_K = 0x54;
const ALU32_RSH_K = 0x74;
const ALU32_MOV_K = 0xb4;
const ALU32_MOV_X = 0xbc;
const JMP_JEQ_K = 0x15;
const JMP_JNE_K = 0x55;
const JMP_JNE_X = 0x5d;
const JMP_EXIT = 0x95;

export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** One device exception after replaying the rules: type, numbers (-1 = any), access bits. */
export interface DeviceException {
  type: "c" | "b";
  major: number;
  minor: number;
  access: number;
}

export interface DeviceRuleSet {
  defaultAllow: boolean;
  exceptions: DeviceException[];
}

function accessBits(access: string | undefined): number {
  const a = access === undefined || access === "" ? "rwm" : access;
  if (!/^[rwm]{1,3}$/.test(a) || new Set(a).size !== a.length) {
    throw new TsboxError(`cgroup: invalid device access ${JSON.stringify(access)} (want a combination of r, w, m)`);
  }
  return (a.includes("r") ? ACC_READ : 0) | (a.includes("w") ? ACC_WRITE : 0) | (a.includes("m") ? ACC_MKNOD : 0);
}

function devNumber(n: number | undefined, what: string): number {
  if (n === undefined || n === -1) return -1;
  // JNE compares with a sign-extended 32-bit immediate.
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new TsboxError(`cgroup: invalid device ${what} number ${n}`);
  return n;
}

/** Replay OCI rules as the v1 devices controller would (see the header). Pure. */
export function emulateDeviceRules(rules: readonly LinuxDeviceCgroup[]): DeviceRuleSet {
  let defaultAllow = true; // a new v1 cgroup allows everything
  let exceptions: DeviceException[] = [];
  for (const rule of rules) {
    const access = accessBits(rule.access);
    const type = rule.type ?? "a";
    if (type === "a" && access === ACC_ALL) {
      defaultAllow = rule.allow;
      exceptions = [];
      continue;
    }
    if (type !== "a" && type !== "c" && type !== "b") throw new TsboxError(`cgroup: invalid device type ${JSON.stringify(type)}`);
    // "a" with partial access is a c and a b wildcard rule (as deviceRuleWrites spells it on v1).
    const types: ("c" | "b")[] = type === "a" ? ["c", "b"] : [type];
    const major = devNumber(rule.major, "major");
    const minor = devNumber(rule.minor, "minor");
    for (const t of types) {
      const i = exceptions.findIndex((e) => e.type === t && e.major === major && e.minor === minor);
      if (rule.allow !== defaultAllow) {
        if (i >= 0) exceptions[i] = { ...exceptions[i]!, access: exceptions[i]!.access | access };
        else exceptions.push({ type: t, major, minor, access });
      } else if (i >= 0) {
        const left = exceptions[i]!.access & ~access;
        if (left === 0) exceptions.splice(i, 1);
        else exceptions[i] = { ...exceptions[i]!, access: left };
      }
    }
  }
  return { defaultAllow, exceptions };
}

const insn = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({ code, dst, src, off, imm });

/** The program for a rule set, as instructions. Pure. */
export function deviceFilterInstructions(rules: readonly LinuxDeviceCgroup[]): BpfInsn[] {
  const { defaultAllow, exceptions } = emulateDeviceRules(rules);
  const out: BpfInsn[] = [
    insn(LDX_MEM_W, 2, 1, 0, 0), // r2 = ctx->access_type
    insn(ALU32_AND_K, 2, 0, 0, 0xffff), // r2 &= 0xffff: device type
    insn(LDX_MEM_W, 3, 1, 0, 0), // r3 = ctx->access_type
    insn(ALU32_RSH_K, 3, 0, 0, 16), // r3 >>= 16: requested access
    insn(LDX_MEM_W, 4, 1, 4, 0), // r4 = ctx->major
    insn(LDX_MEM_W, 5, 1, 8, 0), // r5 = ctx->minor
  ];
  const verdict = defaultAllow ? 0 : 1; // an exception goes against the default
  for (const e of exceptions) {
    // Each block jumps to the next block on mismatch; offsets are patched once its length is known.
    const block: BpfInsn[] = [insn(JMP_JNE_K, 2, 0, 0, e.type === "c" ? DEV_CHAR : DEV_BLOCK)];
    if (e.access !== ACC_ALL) {
      block.push(insn(ALU32_MOV_X, 1, 3, 0, 0), insn(ALU32_AND_K, 1, 0, 0, e.access));
      // allow-exception: every requested bit must be allowed ((r3 & acc) == r3);
      // deny-exception: any requested bit that is denied matches ((r3 & acc) != 0).
      block.push(defaultAllow ? insn(JMP_JEQ_K, 1, 0, 0, 0) : insn(JMP_JNE_X, 1, 3, 0, 0));
    }
    if (e.major >= 0) block.push(insn(JMP_JNE_K, 4, 0, 0, e.major));
    if (e.minor >= 0) block.push(insn(JMP_JNE_K, 5, 0, 0, e.minor));
    block.push(insn(ALU32_MOV_K, 0, 0, 0, verdict), insn(JMP_EXIT, 0, 0, 0, 0));
    // jumps go to the first instruction after this block
    block.forEach((b, i) => {
      if (b.code === JMP_JNE_K || b.code === JMP_JEQ_K || b.code === JMP_JNE_X) b.off = block.length - i - 1;
    });
    out.push(...block);
  }
  out.push(insn(ALU32_MOV_K, 0, 0, 0, defaultAllow ? 1 : 0), insn(JMP_EXIT, 0, 0, 0, 0));
  return out;
}

/** struct bpf_insn[] bytes (little-endian, as on every architecture tsbox runs on). */
export function encodeInstructions(insns: readonly BpfInsn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((i, n) => {
    buf.writeUInt8(i.code, n * 8);
    buf.writeUInt8(((i.src & 0xf) << 4) | (i.dst & 0xf), n * 8 + 1);
    buf.writeInt16LE(i.off, n * 8 + 2);
    buf.writeInt32LE(i.imm | 0, n * 8 + 4);
  });
  return buf;
}

/** The program bytes for OCI device rules. Pure. */
export function deviceFilterProgram(rules: readonly LinuxDeviceCgroup[]): Buffer {
  return encodeInstructions(deviceFilterInstructions(rules));
}

/** Loads and attaches a program to a cgroup dir (native-shims/devices_bpf.c via src/native/shim.ts); "" dir = load only. */
export type DeviceFilterLoader = (cgroupDir: string, program: Buffer) => void;
