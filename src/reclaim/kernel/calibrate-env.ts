// What the calibration sets up and must take down again: its worker processes
// (calibrate-worker.ts), its memory cgroup, its temp files, a zram swap device,
// KSM's settings. Every step that changes the host pushes its undo onto a
// Cleanup first; the undos run in reverse order at the end, on an error, and on
// SIGINT/SIGTERM (synchronously, so an interrupted calibration leaves nothing).

import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { TsboxError, errnoCode } from "../../errors.js";
import { packageRoot } from "../../util/package.js";
import { parseStat } from "./cgroup-memory.js";
import { writeValue, type CgroupFs } from "../../cgroupfs/fs.js";
import { nodeCgroupFs } from "../../cgroupfs/index.js";

export class Cleanup {
  private readonly undo: { what: string; fn: () => void }[] = [];
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    this.runAll();
    process.exit(sig === "SIGINT" ? 130 : 143);
  };

  constructor() {
    process.once("SIGINT", this.onSignal);
    process.once("SIGTERM", this.onSignal);
  }

  push(what: string, fn: () => void): void {
    this.undo.push({ what, fn });
  }

  /** Undoes everything, last first; the first failure is rethrown after all were tried. */
  runAll(): void {
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
    let first: unknown;
    while (this.undo.length > 0) {
      const u = this.undo.pop()!;
      try {
        u.fn();
      } catch (e) {
        first ??= new TsboxError(`mem calibrate: undoing ${u.what}: ${(e as Error).message}`, 125, { cause: e });
      }
    }
    if (first !== undefined) throw first;
  }
}

/**
 * Runs `fn`, then undoes what it set up. An error of `fn` is the one reported (an undo that
 * fails as well is added to its message); on success, a failing undo is the error.
 */
export async function withCleanup<T>(fn: (c: Cleanup) => Promise<T>): Promise<T> {
  const c = new Cleanup();
  let result: T;
  try {
    result = await fn(c);
  } catch (e) {
    try {
      c.runAll();
    } catch (undo) {
      if (e instanceof Error) e.message += `; and ${(undo as Error).message}`;
    }
    throw e;
  }
  c.runAll();
  return result;
}

/** A worker's timed operation: wall and thread CPU ns, pages, and the major faults it took (swap-ins). */
export interface Timing { wallNs: number; cpuNs: number; pages: number; majflt: number }

/** A calibrate-worker.ts process: one JSON command in, one JSON answer out. */
export class Worker {
  private readonly pending: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private exited: Error | undefined;

  private constructor(private readonly child: ChildProcess, readonly pid: number) {
    createInterface({ input: child.stdout! }).on("line", (line) => this.pending.shift()?.resolve(line));
    child.once("exit", (code, signal) => {
      this.exited = new TsboxError(`mem calibrate: the worker exited (${code ?? signal ?? "?"})`);
      for (const p of this.pending.splice(0)) p.reject(this.exited);
    });
  }

  static async start(cleanup: Cleanup): Promise<Worker> {
    const script = join(packageRoot(), "dist", "reclaim", "kernel", "calibrate-worker.js");
    const child = spawn(process.execPath, ["--", script], { stdio: ["pipe", "pipe", "inherit"] });
    cleanup.push(`worker ${child.pid ?? "?"}`, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    if (child.pid === undefined) throw new TsboxError(`mem calibrate: could not start ${process.execPath}`);
    const w = new Worker(child, child.pid);
    const ready = await w.next();
    if (!/"ready":true/.test(ready)) throw new TsboxError(`mem calibrate: the worker said ${ready}`);
    return w;
  }

  private next(): Promise<string> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  async send<T>(cmd: Record<string, unknown>): Promise<T> {
    const answer = this.next();
    this.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
    const line = await answer;
    const reply = JSON.parse(line) as T & { error?: string };
    if (reply.error !== undefined) throw new TsboxError(`mem calibrate: ${String(cmd.op)}: ${reply.error}`);
    return reply;
  }

  /** Ends the worker and waits for it to be gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGKILL");
    await gone;
  }

  /** kB of its memory in swap (/proc/PID/status VmSwap). */
  swappedKb(): number {
    const m = /^VmSwap:\s+(\d+) kB/m.exec(readFileSync(`/proc/${this.pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  }
}

/** The calibration's own memory cgroup directory, and how to take pages out of it. */
export class MemoryDir {
  constructor(readonly version: "v1" | "v2", readonly dir: string, private readonly fs: CgroupFs = nodeCgroupFs) {}

  stat(): Record<string, number> {
    return parseStat(this.fs.readFile(join(this.dir, "memory.stat")));
  }

  /**
   * Reading memory.stat flushes the cgroup's statistics. Reclaim sizes its scan of each LRU list
   * from those statistics, which the kernel flushes lazily: just after the pages were allocated
   * they can still say there is no anonymous memory, and reclaim then swaps little or nothing
   * (seen here: 2–6 of 8 MiB swapped without the read, all of it with).
   */
  private flushStats(): void {
    this.fs.readFile(join(this.dir, "memory.stat"));
  }

  /** Page-cache bytes charged to this cgroup itself. */
  fileBytes(): number {
    const s = this.stat();
    return this.version === "v1" ? s.cache ?? 0 : s.file ?? 0;
  }

  refaults(): number | undefined {
    const s = this.stat();
    return s.workingset_refault_file ?? s.total_workingset_refault_file ?? s.workingset_refault;
  }

  /**
   * Reclaims what the cgroup holds: file pages only (`anon` false), or anonymous pages to swap too.
   * v2: memory.reclaim with a swappiness key where the kernel has it (6.9+); v1: the cgroup's own
   * memory.swappiness, then memory.force_empty (reclaims as much as it can, the cgroup's tasks staying).
   */
  reclaim(bytes: number, anon: boolean): void {
    this.flushStats();
    if (this.version === "v1") {
      writeValue(this.fs, this.dir, "memory.swappiness", anon ? 100 : 0);
      writeValue(this.fs, this.dir, "memory.force_empty", 0);
      return;
    }
    const file = join(this.dir, "memory.reclaim");
    for (const value of [`${bytes} swappiness=${anon ? 200 : 0}`, String(bytes)]) {
      try {
        this.fs.writeFile(file, value);
        return;
      } catch (e) {
        const code = errnoCode(e);
        if (code === "EAGAIN") return; // reclaimed less than asked: the caller checks what is left
        if (code !== "EINVAL") throw e; // EINVAL: a kernel without the swappiness key
      }
    }
  }

  /**
   * Reclaims by a limit: v1 memory.limit_in_bytes, v2 memory.high, set to 1 MiB (the kernel reclaims
   * down to it, to swap too; v1 answers EBUSY when it cannot, v2's high limit never OOM-kills), then
   * lifted again. Only for the calibration's own cgroup, whose limit was unlimited.
   */
  squeeze(): void {
    this.flushStats();
    const [file, lifted] = this.version === "v1" ? ["memory.limit_in_bytes", "-1"] : ["memory.high", "max"];
    try {
      this.fs.writeFile(join(this.dir, file), String(1 << 20));
    } catch (e) {
      if (errnoCode(e) !== "EBUSY") throw e;
    } finally {
      this.fs.writeFile(join(this.dir, file), lifted);
    }
  }
}

/** Sleeps `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
