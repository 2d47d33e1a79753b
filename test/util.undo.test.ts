// The one undo mechanism (src/util/undo.ts) of run and the image store's commit.

import { describe, expect, it } from "vitest";
import { Undo } from "../src/util/undo.js";

describe("Undo", () => {
  it("runs every step last first, a failing one reported and the rest still run; then nothing is left", async () => {
    const done: string[] = [];
    const failures: unknown[] = [];
    const undo = new Undo((e) => failures.push(e));
    undo.push(() => { done.push("dir"); });
    undo.push(() => { throw new Error("cgroup busy"); });
    undo.push(async () => { done.push("process"); });
    await undo.run();
    expect(done).toEqual(["process", "dir"]);
    expect(failures.map((e) => (e as Error).message)).toEqual(["cgroup busy"]);
    await undo.run();
    expect(done).toEqual(["process", "dir"]);
  });

  it("runSync: the same for synchronous steps", () => {
    const done: string[] = [];
    const failures: unknown[] = [];
    const undo = new Undo((e) => failures.push(e));
    undo.push(() => { done.push("blob"); });
    undo.push(() => { throw new Error("layer gone"); });
    undo.push(() => { done.push("record"); });
    undo.runSync();
    expect(done).toEqual(["record", "blob"]);
    expect(failures).toHaveLength(1);
    undo.runSync();
    expect(done).toEqual(["record", "blob"]);
  });
});
