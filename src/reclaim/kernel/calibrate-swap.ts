// What a swap-in and a decompression cost here. On a host with swap, its own
// device; on one without, a zram device made for the calibration with the
// host's default compressor, used as swap (swapon) and removed afterwards; on
// one with neither, nothing (and the profile says so). A worker in the
// calibration's memory cgroup fills anonymous memory, the kernel swaps the
// cgroup out (memory.reclaim / force_empty at swappiness 100+), and the worker
// touches every page: the CPU time of its thread over a resident touch is the
// swap-in (zram decompresses in the faulting thread). Same-filled pages, which
// zram stores without data, cost the fault without the decompression, so the
// difference is the decompression. The swap-out is timed too: reclaim runs in
// the thread that asks for it (here the one writing force_empty / reclaim /
// the squeezed limit; in a container at its limit, the one that faulted),
// and zram compresses there, so that thread's CPU time over the pages that
// went out is what making room for a page costs.

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { TsboxError } from "../../errors.js";
import { PAGE_SIZE } from "../profile.js";
import { figureOf, type SwapCalibration } from "../host-profile.js";
import { sleep, Worker, type Cleanup, type MemoryDir, type Timing } from "./calibrate-env.js";
import { hostSwapDevices } from "./swap.js";
import { currentAlgorithm, zramAdd, zramRemove, zramUnavailable } from "./zram.js";

function run(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    const err = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new TsboxError(`mem calibrate: ${cmd} ${args.join(" ")}: ${err || (e as Error).message}`, 125, { cause: e });
  }
}

/** A zram device as swap until the cleanup runs; returns its node and compressor. */
function zramSwap(cleanup: Cleanup, bytes: number): { node: string; compressor: string } {
  const dev = zramAdd(undefined, bytes);
  cleanup.push(`zram${dev.id}`, () => zramRemove(dev));
  const compressor = currentAlgorithm(dev.sys);
  run("mkswap", [dev.node]);
  run("swapon", [dev.node]);
  cleanup.push(`swapon ${dev.node}`, () => {
    if (hostSwapDevices().includes(dev.node)) run("swapoff", [dev.node]);
  });
  return { node: dev.node, compressor };
}

/** This thread's CPU time, ns (schedstat's sum_exec_runtime), or undefined where the kernel has no schedstat. */
function threadCpuNs(): number | undefined {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]);
  } catch {
    return undefined;
  }
}

/**
 * One repetition: ns per page swapped in (CPU for zram, wall for a device that waits for I/O). The
 * kernel does not always take every page in one reclaim (a retry after a pause gets most of the
 * rest), so the time is divided by the major faults the touch took, counted by the worker itself.
 */
async function swapInOnce(worker: Worker, mem: MemoryDir, pages: number, clock: "cpu" | "wall"): Promise<{ swapIn: number; swapOut?: number }> {
  const resident = await worker.send<Timing>({ op: "touch" });
  const want = (pages * PAGE_SIZE * 0.9) / 1024;
  const kb0 = worker.swappedKb();
  let outNs = 0;
  for (let attempt = 0; attempt < 6 && worker.swappedKb() < want; attempt++) {
    if (attempt > 0) await sleep(50);
    const c0 = threadCpuNs();
    // force_empty / memory.reclaim sometimes stop with pages left; a limit squeezed low (restored at once) retries harder
    if (attempt % 2 === 0) mem.reclaim(pages * PAGE_SIZE * 2, true);
    else mem.squeeze();
    const c1 = threadCpuNs();
    if (c0 !== undefined && c1 !== undefined) outNs += c1 - c0;
  }
  const outPages = ((worker.swappedKb() - kb0) * 1024) / PAGE_SIZE;
  const back = await worker.send<Timing>({ op: "touch" });
  if (back.majflt < pages / 4) {
    throw new TsboxError(`mem calibrate: only ${back.majflt} of the worker's ${pages} pages came back from swap: the kernel swapped ${worker.swappedKb()} kB out of ${mem.dir}`);
  }
  const ns = (t: Timing): number => (clock === "cpu" ? t.cpuNs : t.wallNs);
  const swapIn = Math.max(0, (ns(back) - ns(resident)) / back.majflt);
  // CPU time says a swap-out's cost only where it is all CPU (zram): a disk's writeback is asynchronous
  return clock === "cpu" && outNs > 0 && outPages >= pages / 4 ? { swapIn, swapOut: outNs / outPages } : { swapIn };
}

export async function calibrateSwap(cleanup: Cleanup, join: (w: Worker) => void, mem: MemoryDir, pages: number, reps: number): Promise<SwapCalibration> {
  const host = hostSwapDevices();
  let device: string;
  let compressor: string | undefined;
  let note: string;
  if (host.length > 0) {
    device = host[0]!;
    const z = /zram(\d+)$/.exec(device);
    if (z) compressor = currentAlgorithm(`/sys/block/zram${z[1]}`);
    note = `the host's swap, ${device}`;
  } else {
    const why = zramUnavailable();
    if (why !== undefined) {
      return { status: "absent", hostSwap: false, note: `the host has no swap (swapon --show lists no device) and no zram (${why}): swap-in and decompression not measured` };
    }
    ({ node: device, compressor } = zramSwap(cleanup, Math.max(256 << 20, pages * PAGE_SIZE * 16)));
    note = `no swap on the host: a zram device (${compressor}, the host's default) was made as swap for the calibration and removed`;
  }
  // zram works in the faulting thread (CPU time says it under load); a disk or file waits (wall time)
  const clock = compressor !== undefined ? "cpu" : "wall";
  // one worker at a time: reclaim acts on the whole cgroup, and a second worker's pages would be swapped with the first's
  const perPage: Record<"text" | "same", number[]> = { text: [], same: [] };
  const swapOut: number[] = [];
  const loads: number[] = [];
  for (const fill of ["text", "same"] as const) {
    const w = await Worker.start(cleanup);
    try {
      join(w); // before it allocates: its pages are charged to the calibration's cgroup
      await w.send({ op: "alloc", pages, fill });
      for (let r = 0; r < reps; r++) {
        const once = await swapInOnce(w, mem, pages, clock);
        perPage[fill].push(once.swapIn);
        if (fill === "text" && once.swapOut !== undefined) swapOut.push(once.swapOut);
        loads.push(loadavg()[0]!);
      }
    } finally {
      await w.stop();
    }
  }
  const { text, same } = perPage;
  const diff = text.map((t, i) => Math.max(0, t - same[i]!));
  const load1 = Math.round((loads.reduce((a, b) => a + b, 0) / loads.length) * 100) / 100;
  return {
    status: "measured", note, device, hostSwap: host.length > 0, ...(compressor !== undefined ? { compressor } : {}), pages,
    swapIn: figureOf(text, clock, load1),
    swapInSameFilled: figureOf(same, clock, load1),
    ...(compressor !== undefined ? { decompress: figureOf(diff, clock, load1) } : {}),
    ...(swapOut.length === text.length && swapOut.length > 0 ? { swapOut: figureOf(swapOut, clock, load1) } : {}),
  };
}
