// Acceptance (issue 5), at scale: 100 run -d / rm -f cycles and 50 detached
// containers at once leave no mount, cgroup, process or fd behind. Slow on a
// loaded machine: TSBOX_SKIP_SLOW=1 skips this file (CI may opt out).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive, cgroupDirsOf, mountsUnder, removeRoot, rootWithBusybox, stateOf, tsbox, tsboxResult } from "./helpers.js";
import { fdsUnder } from "./lifecycle.helpers.js";

const slow = process.env.TSBOX_SKIP_SLOW === "1";
let root: string;
beforeAll(() => { root = rootWithBusybox(); });
afterAll(() => { removeRoot(root); });

const run = (args: string[]) => tsboxResult(root, args).then((r) => ({ code: r.code, out: r.stdout, err: r.stderr }));

function expectNothingLeft(ids: string[], pids: number[]): void {
  expect(mountsUnder(root)).toEqual([]);
  for (const id of ids) {
    expect(existsSync(join(root, "containers", id))).toBe(false);
    expect(cgroupDirsOf(id)).toEqual([]);
  }
  for (const p of pids) expect(alive(p)).toBe(false);
  expect(fdsUnder(join(root, "containers"))).toEqual([]);
}

describe.skipIf(slow)("at scale [slow]", () => {
  it("100 run -d / rm -f cycles", async () => {
    const ids: string[] = [];
    const pids: number[] = [];
    // Asynchronous on purpose: minutes of spawnSync would starve the test worker's RPC.
    for (let i = 0; i < 100; i++) {
      const r = await run(["run", "-d", "busybox", "sleep", "1000"]);
      expect(r.code, r.err).toBe(0);
      const id = r.out.trim();
      const st = stateOf(root, id);
      pids.push(st.pid as number, (st.owner as { pid: number }).pid);
      expect((await run(["rm", "-f", id])).code).toBe(0);
      ids.push(id);
    }
    expectNothingLeft(ids, pids);
  }, 900_000);

  it("50 detached containers at once, each monitor ≤ 1 MiB resident", async () => {
    const ids: string[] = [];
    for (let batch = 0; batch < 5; batch++) {
      const rs = await Promise.all(Array.from({ length: 10 }, () => run(["run", "-d", "busybox", "sleep", "1000"])));
      for (const r of rs) {
        expect(r.code, r.err).toBe(0);
        ids.push(r.out.trim());
      }
    }
    const ps = tsbox(root, ["ps", "-q", "--no-trunc"]).stdout.trim().split("\n");
    expect(new Set(ps)).toEqual(new Set(ids));
    const pids: number[] = [];
    for (const id of ids) {
      const st = stateOf(root, id);
      const monitor = (st.owner as { pid: number }).pid;
      pids.push(st.pid as number, monitor);
      const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${monitor}/status`, "utf8"))![1]);
      expect(rss).toBeLessThanOrEqual(1024);
    }
    const rms = await Promise.all(ids.map((id) => run(["rm", "-f", id])));
    for (const r of rms) expect(r.code, r.err).toBe(0);
    expectNothingLeft(ids, pids);
  }, 900_000);
});
