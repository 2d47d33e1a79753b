// `tsbox info`: the hierarchy, driver and controller table match this host.
import { statfsSync } from "node:fs";
import { release } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeRoot, removeRoot, tsbox } from "./helpers.js";

const v2 = statfsSync("/sys/fs/cgroup").type === 0x63677270;
let root: string;
beforeAll(() => { root = makeRoot(); });
afterAll(() => { removeRoot(root); });

describe("tsbox info", () => {
  it("prints the cgroup version, driver, controllers (devices: enforced and how), kernel, storage, root", () => {
    const r = tsbox(root, ["info"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Cgroup Version: ${v2 ? 2 : 1}\n`);
    expect(r.stdout).toContain("Cgroup Driver: cgroupfs\n");
    expect(r.stdout).toContain("Storage Driver: overlay2\n");
    expect(r.stdout).toContain(`Kernel Version: ${release()}\n`);
    expect(r.stdout).toContain(`Tsbox Root Dir: ${root}\n`);
    expect(r.stdout).toMatch(/^ memory: enforced /m);
    expect(r.stdout).toMatch(v2 ? /^ devices: enforced \(BPF_PROG_TYPE_CGROUP_DEVICE/m : /^ devices: enforced \(devices\.allow/m);
    for (const line of r.stderr.split("\n").filter(Boolean)) expect(line).toMatch(/^WARNING: /);
  });

  it("--format json", () => {
    const r = tsbox(root, ["info", "--format", "json"]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ CgroupVersion: v2 ? "2" : "1", CgroupDriver: "cgroupfs", Driver: "overlay2", TsboxRootDir: root, Containers: 0 });
    const names = info.Controllers.map((c: { name: string }) => c.name);
    expect(names).toEqual(["memory", "cpu", "cpuset", "pids", v2 ? "io" : "blkio", "freezer", "devices"]);
    const swappiness = v2 ? /not on v2/ : /memory\.swappiness \(yes\)/;
    expect(info.Controllers[0].detail).toMatch(swappiness);
    expect(tsbox(root, ["info", "--format", "{{.Driver}} {{.CgroupDriver}}"])).toMatchObject({ code: 0, stdout: "overlay2 cgroupfs\n" });
    expect(tsbox(root, ["info", "--format", "{{.Nope}}"])).toMatchObject({
      code: 1, stdout: "\n", stderr: `tsbox: template: :1:2: executing "" at <.Nope>: can't evaluate field Nope in type system.dockerInfo\n`,
    });
    expect(tsbox(root, ["info", "--format", "{{"])).toMatchObject({ code: 64, stderr: "tsbox: template parsing error: template: :1: unclosed action\n" });
  });
});
