// `tsbox mem balloon` against the real kernel, v1 (a stepped memory.limit_in_bytes) and v2
// (memory.reclaim, then memory.high; this file also runs in the cgroup v2 guest): an idle
// container's clean page cache is reclaimed down to its working set, within 15 % of what the
// model predicted, with no refault; --deflate gives the limit back and removes the record.
// The same on one of Debian's programs, at four targets: test/reclaim.kernel.test.ts
// ("kernel, real programs") and bench/validate-balloon.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateBalloon } from "../bench/reclaim-harness.js";
import { v2Request } from "../src/reclaim/kernel/balloon.js";
import { removeRoot, rootWithBusybox, tsbox } from "./helpers.js";

const MIB = 1024 * 1024;

describe("mem balloon: v2 requests", () => {
  it("asks memory.reclaim for half the distance to the target, at most a step, and the last MiB whole", () => {
    expect(v2Request(40 * MIB, 16 * MIB)).toBe(16 * MIB);
    expect(v2Request(10 * MIB, 16 * MIB)).toBe(5 * MIB);
    expect(v2Request(3 * MIB + 1, 16 * MIB)).toBe(1.5 * MIB + 4096); // a whole page
    expect(v2Request(MIB, 16 * MIB)).toBe(MIB);
    expect(v2Request(8192, 16 * MIB)).toBe(8192);
    // Asked this way, a kernel that takes 70 % more than asked (6.1 did, at 4 MiB) stays above the target.
    let d = 10 * MIB;
    while (d > MIB) d -= 1.7 * v2Request(d, 16 * MIB);
    expect(d).toBeGreaterThan(0);
  });
});

describe("mem balloon (real kernel)", () => {
  let root: string;
  beforeAll(() => { root = rootWithBusybox(); });
  afterAll(() => { removeRoot(root); });

  it("V5: balloon an idle container with 64 MiB of clean cache to its working set — reclaimed within 15 % of predicted", async () => {
    const row = await validateBalloon(root, 64);
    process.stdout.write(`balloon: ${JSON.stringify(row)}\n`);
    expect(row.predicted).toBeGreaterThan(48 * 1024 * 1024);
    expect(row.error).toBeLessThanOrEqual(0.15);
    expect(row.refaults).toBe(0);
    expect(row.limitAfterDeflate).toBeGreaterThan(2 ** 60); // --deflate restored "unlimited" (v2: memory.high max)
    expect(row).toMatchObject({ recorded: true, recordLeft: false });
  }, 300_000);

  it("bad input is a one-line error, exit 125", () => {
    expect(tsbox(root, ["mem", "balloon", "nope", "--auto"])).toMatchObject({ code: 125, stderr: "tsbox: No such container: nope\n" });
    expect(tsbox(root, ["mem", "balloon", "nope"]).code).toBe(125);
    expect(tsbox(root, ["mem", "balloon", "nope", "--auto", "--deflate"]).stderr).toContain("--deflate excludes");
    expect(tsbox(root, ["mem", "balloon", "nope", "--target", "lots"]).stderr).toContain("--target");
  });
});
