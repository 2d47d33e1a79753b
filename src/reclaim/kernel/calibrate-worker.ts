// The process `tsbox mem calibrate` measures with (run as its own Node
// process, dist/reclaim/kernel/calibrate-worker.js, so that the faults it
// takes and the cgroup it sits in are its own). It takes one JSON command per
// line on stdin and answers one JSON line on stdout:
//   {"op":"merge"}                         prctl(PR_SET_MEMORY_MERGE): KSM may merge all its memory
//   {"op":"alloc","pages":N,"fill":F}      N pages of F: "text" (compressible, each page its own),
//                                          "same" (one repeated 8-byte word), "pairs" (random, the
//                                          second half a copy of the first)
//   {"op":"write","file":P,"pages":N}     write a new file of N random pages and fsync it (its page
//                                          cache is then charged to this process's cgroup)
//   {"op":"touch"}                         read one byte of every page; time it
//   {"op":"read","file":P,"pages":N,"order":O}  read N pages of the file 4 KiB at a time, "seq" or "random"; time it
// Times are this thread's CPU time (a fault's work, zram's decompression
// included, runs in the faulting thread) and wall time.

import { closeSync, fsyncSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";

const PAGE = 4096;
let buf: Uint8Array | undefined;

/** xorshift32: the same pages every run */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

const WORDS = ["memory", "page", "kernel", "the", "of", "cgroup", "reclaim", "swap", "a", "file", "cache", "and",
  "container", "host", "zram", "to", "merge", "fault", "in", "working", "set", "pressure", "limit", "is"];

function fill(pages: number, kind: string): Uint8Array {
  const b = new Uint8Array(new ArrayBuffer(pages * PAGE));
  const next = rng(0x9e3779b9 ^ pages);
  if (kind === "same") {
    const word = [0x5a, 0xa5, 0x3c, 0xc3, 0x0f, 0xf0, 0x69, 0x96];
    for (let i = 0; i < b.length; i++) b[i] = word[i & 7]!;
  } else if (kind === "pairs") {
    const half = Math.floor(pages / 2) * PAGE;
    for (let i = 0; i < half; i += 4) {
      const r = next();
      b[i] = r; b[i + 1] = r >>> 8; b[i + 2] = r >>> 16; b[i + 3] = r >>> 24;
    }
    b.copyWithin(half, 0, half);
  } else {
    // words from a small vocabulary, random order: compresses about as text does (2–3×)
    let i = 0;
    while (i < b.length) {
      const w = WORDS[next() % WORDS.length]!;
      for (let k = 0; k < w.length && i < b.length; k++) b[i++] = w.charCodeAt(k);
      if (i < b.length) b[i++] = next() % 9 === 0 ? 10 : 32;
    }
  }
  return b;
}

/**
 * This thread's CPU time in ns: /proc/thread-self/schedstat's sum_exec_runtime, exact to the
 * nanosecond (getrusage's split into user and system is tick-sampled: 0 for a short loop).
 */
function threadCpuNs(): number {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]);
  } catch {
    const c = process.threadCpuUsage();
    return (c.user + c.system) * 1000;
  }
}

/** Major faults of this thread so far (/proc/thread-self/stat field 12): each a page read back from swap or a file. */
function majorFaults(): number {
  const after = readFileSync("/proc/thread-self/stat", "utf8").split(") ")[1]!.split(" ");
  return Number(after[9]);
}

function timed(work: () => number): { wallNs: number; cpuNs: number; pages: number; majflt: number } {
  const f0 = majorFaults();
  const c0 = threadCpuNs();
  const t0 = process.hrtime.bigint();
  const pages = work();
  const wallNs = Number(process.hrtime.bigint() - t0);
  const cpuNs = threadCpuNs() - c0;
  return { wallNs, cpuNs, pages, majflt: majorFaults() - f0 };
}

function touch(): number {
  const b = buf;
  if (b === undefined) throw new Error("nothing allocated");
  let s = 0;
  for (let i = 0; i < b.length; i += PAGE) s += b[i]!;
  if (s < 0) process.stdout.write(""); // keeps the loop's reads
  return b.length / PAGE;
}

/** Reads `pages` pages of the file 4 KiB at a time, in order or in a fixed random order. */
function readFile(file: string, pages: number, order: string): number {
  const seq = Array.from({ length: pages }, (_, i) => i);
  if (order === "random") {
    const next = rng(12345);
    for (let i = pages - 1; i > 0; i--) {
      const j = next() % (i + 1);
      [seq[i], seq[j]] = [seq[j]!, seq[i]!];
    }
  }
  const fd = openSync(file, "r");
  try {
    const chunk = Buffer.allocUnsafe(PAGE);
    return timedReads(fd, chunk, seq);
  } finally {
    closeSync(fd);
  }
}

function timedReads(fd: number, chunk: Buffer, order: readonly number[]): number {
  for (const p of order) if (readSync(fd, chunk, 0, PAGE, p * PAGE) !== PAGE) throw new Error(`short read at page ${p}`);
  return order.length;
}

function writeFile(file: string, pages: number): void {
  const fd = openSync(file, "wx", 0o600);
  try {
    const next = rng(777);
    const chunk = new Uint32Array(PAGE / 4);
    for (let p = 0; p < pages; p++) {
      for (let i = 0; i < chunk.length; i++) chunk[i] = next();
      writeSync(fd, chunk, 0, PAGE, p * PAGE);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function mergeAll(): Promise<void> {
  const { open, load, DataType } = await import("../../native/ffi.js");
  open({ library: "libc", path: "" });
  const rc = load({
    library: "libc", funcName: "prctl", retType: DataType.I32,
    paramsType: [DataType.I32, DataType.I64, DataType.I64, DataType.I64, DataType.I64], paramsValue: [67 /* PR_SET_MEMORY_MERGE */, 1, 0, 0, 0],
  });
  if (rc !== 0) throw new Error("prctl(PR_SET_MEMORY_MERGE) refused (needs Linux 6.4+ with CONFIG_KSM)");
}

async function handle(cmd: Record<string, unknown>): Promise<unknown> {
  switch (cmd.op) {
    case "merge":
      await mergeAll();
      return { ok: true };
    case "alloc":
      buf = fill(Number(cmd.pages), String(cmd.fill));
      return { ok: true, pages: buf.length / PAGE };
    case "write":
      writeFile(String(cmd.file), Number(cmd.pages));
      return { ok: true };
    case "touch":
      return timed(touch);
    case "read":
      return timed(() => readFile(String(cmd.file), Number(cmd.pages), String(cmd.order)));
    default:
      throw new Error(`unknown op ${String(cmd.op)}`);
  }
}

const rl = createInterface({ input: process.stdin });
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);
for await (const line of rl) {
  if (line.trim() === "") continue;
  let reply: unknown;
  try {
    reply = await handle(JSON.parse(line) as Record<string, unknown>);
  } catch (e) {
    reply = { error: (e as Error).message };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}
