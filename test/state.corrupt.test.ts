// A container whose state.json is broken (truncated by a full disk, not JSON,
// edited by hand into the wrong types) does not stop the commands about the
// other containers: ps -a lists them and shows the broken one as "Dead" with a
// one-line warning naming the file, inspect names the file, rm -f removes both
// and leaves no directory, cgroup, monitor, process or name behind.
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive, cgroupDirsOf, containerIds, mountsUnder, removeRoot, rootWithBusybox, stateOf, tsbox } from "./helpers.js";

let root: string;
beforeAll(() => { root = rootWithBusybox(); });
afterAll(async () => {
  // Whatever a failed case left goes with it, even when rm -f cannot remove it
  // (as before the fix): its monitor, its processes, its cgroup.
  for (const id of containerIds(root)) {
    tsbox(root, ["rm", "-f", id]);
    for (const pid of monitorsOf(id)) process.kill(pid, "SIGKILL");
    for (const dir of cgroupDirsOf(id)) {
      for (let i = 0; i < 100 && existsSync(dir); i++) {
        for (const pid of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
          try { process.kill(Number(pid), "SIGKILL"); } catch { /* gone */ }
        }
        try { rmdirSync(dir); } catch { await new Promise((r) => setTimeout(r, 20)); }
      }
    }
  }
  removeRoot(root);
});

const ok = (args: string[]): string => {
  const r = tsbox(root, args);
  if (r.code !== 0) throw new Error(`tsbox ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};

const re = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Processes whose command line names the container's directory (its monitor). */
function monitorsOf(id: string): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`/containers/${id}`); } catch { return false; }
  }).map(Number);
}

function namesPointingAt(id: string): string[] {
  const dir = join(root, "names");
  return existsSync(dir) ? readdirSync(dir).filter((n) => readFileSync(join(dir, n), "utf8").trim() === id) : [];
}

function expectReleased(id: string, pid: number): void {
  expect(existsSync(join(root, "containers", id))).toBe(false);
  expect(cgroupDirsOf(id)).toEqual([]);
  expect(monitorsOf(id)).toEqual([]);
  expect(namesPointingAt(id)).toEqual([]);
  expect(alive(pid)).toBe(false);
}

const corruptions: [string, (text: string) => string][] = [
  ["empty (truncated to 0 bytes)", () => ""],
  ["cut in the middle", (t) => t.slice(0, Math.floor(t.length / 2))],
  ["garbage", () => "\u0000\u0001not json at all}"],
  ["valid JSON of the wrong types", (t) => JSON.stringify({ ...JSON.parse(t) as object, status: 7, autoRemove: "yes", name: ["x"] })],
  ["valid JSON, not an object", () => "[1,2,3]\n"],
];

describe.each(corruptions)("state.json %s", (label, corrupt) => {
  const tag = label.replace(/[^a-z]+/g, "-").replace(/-+$/, "");
  const brokenName = `broken-${tag}`;
  const healthyName = `healthy-${tag}`;

  it("ps -a lists the others and shows it Dead; inspect names the file; rm -f removes each; nothing is left", () => {
    const broken = ok(["run", "-d", "--name", brokenName, "busybox", "sleep", "1000"]).trim();
    const healthy = ok(["run", "-d", "--name", healthyName, "busybox", "sleep", "1000"]).trim();
    const brokenPid = Number(stateOf(root, broken).pid);
    const healthyPid = Number(stateOf(root, healthy).pid);
    expect(alive(brokenPid) && alive(healthyPid)).toBe(true);
    const stateFile = join(root, "containers", broken, "state.json");
    writeFileSync(stateFile, corrupt(readFileSync(stateFile, "utf8")));

    const ps = tsbox(root, ["ps", "-a", "--no-trunc"]);
    expect(ps.code, ps.stderr).toBe(0);
    expect(ps.stdout).toMatch(new RegExp(`^${healthy} +busybox .*Up .* ${healthyName}$`, "m"));
    expect(ps.stdout).toMatch(new RegExp(`^${broken} .*Dead .* ${brokenName}$`, "m"));
    expect(ps.stderr).toMatch(new RegExp(`^WARNING: container ${broken}: corrupt ${re(stateFile)}: [^\n]+\n$`));
    // Without -a, only what runs; the dead one only with -a (or a status filter), as Docker does.
    expect(ok(["ps", "--no-trunc", "-q"])).toContain(healthy);
    expect(ok(["ps", "--no-trunc", "-q"])).not.toContain(broken);
    expect(ok(["ps", "-a", "--no-trunc", "-q", "--filter", "status=dead"])).toBe(`${broken}\n`);

    const inspectHealthy = tsbox(root, ["inspect", healthyName]);
    expect(inspectHealthy.code, inspectHealthy.stderr).toBe(0);
    expect((JSON.parse(inspectHealthy.stdout) as { State: { Status: string } }[])[0]?.State.Status).toBe("running");
    const inspectBroken = tsbox(root, ["inspect", brokenName]);
    expect(inspectBroken.code).toBe(1);
    expect(inspectBroken.stderr).toMatch(new RegExp(`^tsbox: container ${broken}: corrupt ${re(stateFile)}: [^\n]+\n$`));

    // Its processes may still run: plain rm refuses, with what to do.
    const rm = tsbox(root, ["rm", brokenName]);
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toMatch(/^tsbox: cannot remove container "broken-[a-z-]+": container [0-9a-f]{64}: corrupt [^\n]+: use rm -f to remove it\n$/);

    const rmHealthy = tsbox(root, ["rm", "-f", healthyName]);
    expect(rmHealthy.code, rmHealthy.stderr).toBe(0);
    expectReleased(healthy, healthyPid);

    const rmBroken = tsbox(root, ["rm", "-f", brokenName]);
    expect(rmBroken.code, rmBroken.stderr).toBe(0);
    expect(rmBroken.stdout).toBe(`${brokenName}\n`);
    expectReleased(broken, brokenPid);

    expect(ok(["ps", "-a", "-q"])).toBe("");
    expect(mountsUnder(root)).toEqual([]);
  }, 120_000);
});
