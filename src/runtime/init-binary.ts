// --init: which tini becomes the container's PID 1. The shim reads its bytes
// before clone and runs them from a sealed memfd, so it must be a static
// executable (nothing of the host's loader or libc is there to run it with).

import { closeSync, openSync, readSync } from "node:fs";
import { UsageError } from "../errors.js";

const MISSING = "--init needs tini: install Debian's tini package";
const CANDIDATES = ["tini-static", "tini"];
const DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
const PT_INTERP = 3;

/** `$TSBOX_INIT_PATH`, else a static `tini-static` or `tini` on the standard paths. */
export function findInit(env: NodeJS.ProcessEnv): string {
  const chosen = env.TSBOX_INIT_PATH;
  if (chosen !== undefined && chosen !== "") {
    const kind = elfKind(chosen);
    if (kind === "missing") throw new UsageError(`${MISSING} (TSBOX_INIT_PATH=${chosen}: no such file)`);
    if (kind !== "static") throw new UsageError(`${MISSING} (TSBOX_INIT_PATH=${chosen} is not a static executable)`);
    return chosen;
  }
  for (const name of CANDIDATES) {
    for (const dir of DIRS) {
      const path = `${dir}/${name}`;
      if (elfKind(path) === "static") return path;
    }
  }
  throw new UsageError(MISSING);
}

type ElfKind = "missing" | "static" | "dynamic" | "not-elf";

/** Whether a file is an ELF executable without a program interpreter (PT_INTERP). */
export function elfKind(path: string): ElfKind {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return "missing";
  }
  try {
    const head = Buffer.alloc(64);
    if (readSync(fd, head, 0, 64, 0) < 64 || head.readUInt32BE(0) !== 0x7f454c46) return "not-elf";
    const is64 = head[4] === 2;
    const le = head[5] === 1;
    const u16 = (b: Buffer, o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const type = u16(head, 16);
    if (type !== 2 && type !== 3) return "not-elf"; // ET_EXEC or ET_DYN (static-pie)
    const phoff = is64 ? Number(le ? head.readBigUInt64LE(32) : head.readBigUInt64BE(32)) : u32(head, 28);
    const phentsize = u16(head, is64 ? 54 : 42);
    const phnum = u16(head, is64 ? 56 : 44);
    if (phnum === 0 || phnum > 256 || phentsize < (is64 ? 56 : 32)) return "not-elf";
    const ph = Buffer.alloc(phentsize * phnum);
    if (readSync(fd, ph, 0, ph.length, phoff) < ph.length) return "not-elf";
    for (let i = 0; i < phnum; i++) {
      if (u32(ph, i * phentsize) === PT_INTERP) return "dynamic";
    }
    return "static";
  } finally {
    closeSync(fd);
  }
}
