// What a refault of a file page costs here: a worker in the calibration's own
// memory cgroup writes a file (its page cache is charged to that cgroup), the
// cgroup's file pages are reclaimed by the kernel (memory.reclaim on v2,
// memory.force_empty with swappiness 0 on v1), and the worker reads the file
// again; the time over a second, cached read of the same pages is the
// refault's. In order (the kernel's readahead applies) and in random order
// (one synchronous read per page). Wall time: a refault waits for I/O.

import { loadavg } from "node:os";
import { join } from "node:path";
import { TsboxError } from "../../errors.js";
import { PAGE_SIZE } from "../profile.js";
import { figureOf, type RefaultCalibration } from "../host-profile.js";
import type { MemoryDir, Timing, Worker } from "./calibrate-env.js";

/** Takes the file's pages out of the cgroup, and checks that the kernel did. */
function evict(mem: MemoryDir, bytes: number): void {
  for (let attempt = 0; attempt < 3; attempt++) {
    mem.reclaim(bytes * 2, false);
    if (mem.fileBytes() <= bytes / 10) return;
  }
  throw new TsboxError(`mem calibrate: the kernel left ${mem.fileBytes()} bytes of the ${bytes}-byte file in ${mem.dir} after reclaim`);
}

export async function calibrateRefault(worker: Worker, mem: MemoryDir, dir: string, pages: number, reps: number): Promise<RefaultCalibration> {
  const file = join(dir, "refault.data");
  const bytes = pages * PAGE_SIZE;
  await worker.send({ op: "write", file, pages });
  const refaults0 = mem.refaults();
  const seq: number[] = [];
  const rnd: number[] = [];
  const loads: number[] = [];
  for (let r = 0; r < reps; r++) {
    for (const [order, out] of [["seq", seq], ["random", rnd]] as const) {
      evict(mem, bytes);
      const cold = await worker.send<Timing>({ op: "read", file, pages, order });
      const warm = await worker.send<Timing>({ op: "read", file, pages, order });
      out.push(Math.max(0, (cold.wallNs - warm.wallNs) / pages));
    }
    loads.push(loadavg()[0]!);
  }
  const refaults1 = mem.refaults();
  const load1 = Math.round((loads.reduce((a, b) => a + b, 0) / loads.length) * 100) / 100;
  return {
    method: mem.version === "v2" ? "memory.reclaim" : "memory.force_empty",
    pages,
    sequential: figureOf(seq, "wall", load1),
    random: figureOf(rnd, "wall", load1),
    ...(refaults0 !== undefined && refaults1 !== undefined ? { refaults: refaults1 - refaults0 } : {}),
  };
}
