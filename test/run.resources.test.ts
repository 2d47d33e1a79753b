// Acceptance: limits enforced by the kernel, as Docker users set them (issue 4,
// first part). Works on cgroup v1 and v2: files are read inside the container,
// where /sys/fs/cgroup is the container's own cgroup (cgroup namespace).
import { statfsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cgroupDirsOf, containerIds, removeRoot, rootWithBusybox, stateOf, tsbox } from "./helpers.js";

const CGROUP2_SUPER_MAGIC = 0x63677270;
const v2 = statfsSync("/sys/fs/cgroup").type === CGROUP2_SUPER_MAGIC;
/** A cgroup file as seen inside the container. */
const file = (v1: string, v2file: string): string => (v2 ? `/sys/fs/cgroup/${v2file}` : `/sys/fs/cgroup/${v1}`);

let root: string;
beforeAll(() => { root = rootWithBusybox(); });
afterAll(() => { removeRoot(root); });

describe("memory", () => {
  it("-m 32m: a process that keeps allocating is OOM-killed, exit 137, OOMKilled recorded", () => {
    const r = tsbox(root, ["run", "--name", "oom", "-m", "32m", "busybox", "tail", "/dev/zero"]);
    expect(r.code).toBe(137);
    expect(r.stderr).toMatch(/container oom was OOMKilled \(memory limit 32MiB\)/);
    const id = containerIds(root).find((i) => stateOf(root, i).name === "oom")!;
    expect(stateOf(root, id)).toMatchObject({ status: "exited", exitCode: 137, oomKilled: true });
    expect(cgroupDirsOf(id)).toEqual([]);
    expect(tsbox(root, ["rm", "oom"]).code).toBe(0);
  });

  it("an ordinary exit is not OOMKilled", () => {
    expect(tsbox(root, ["run", "--name", "fine", "-m", "32m", "busybox", "true"]).code).toBe(0);
    const id = containerIds(root).find((i) => stateOf(root, i).name === "fine")!;
    expect(stateOf(root, id)).toMatchObject({ exitCode: 0, oomKilled: false });
    expect(tsbox(root, ["rm", "fine"]).code).toBe(0);
  });

  it("--memory-swap and --memory-reservation reach the kernel", () => {
    const r = tsbox(root, ["run", "--rm", "-m", "64m", "--memory-swap", "96m", "--memory-reservation", "16m", "busybox", "sh", "-c",
      v2 ? "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.swap.max /sys/fs/cgroup/memory.low"
        : "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/memory/memory.soft_limit_in_bytes"]);
    const mib = 1024 * 1024;
    expect(r.stdout.trim().split("\n").map(Number)).toEqual(v2 ? [64 * mib, 32 * mib, 16 * mib] : [64 * mib, 96 * mib, 16 * mib]);
  });
});

describe("pids", () => {
  it("--pids-limit 20 contains a fork bomb; the host keeps working and nothing is left", () => {
    // The bomb forks until the kernel says no; busybox sh gives up at the first
    // failed fork, so it runs in a subshell, and the counters are read with the
    // shell's builtin read (cat would need one more fork).
    const r = tsbox(root, ["run", "--name", "bomb", "--pids-limit", "20", "busybox", "sh", "-c",
      `(while true; do sleep 30 & done) 2>/dev/null; read c < ${file("pids/pids.current", "pids.current")}; read m < ${file("pids/pids.max", "pids.max")}; echo $c; echo $m`]);
    const [current, max] = r.stdout.trim().split("\n");
    expect(max).toBe("20");
    expect(Number(current)).toBeLessThanOrEqual(20);
    expect(Number(current)).toBeGreaterThan(10);
    const id = containerIds(root).find((i) => stateOf(root, i).name === "bomb")!;
    expect(cgroupDirsOf(id)).toEqual([]);
    expect(tsbox(root, ["run", "--rm", "busybox", "true"]).code).toBe(0); // the host (and tsbox) still fork
    expect(tsbox(root, ["rm", "bomb"]).code).toBe(0);
  });
});

describe("cpu", () => {
  it("--cpuset-cpus 1 pins the container to CPU 1", () => {
    const r = tsbox(root, ["run", "--rm", "--cpuset-cpus", "1", "busybox", "grep", "Cpus_allowed_list", "/proc/self/status"]);
    expect(r.stdout).toMatch(/Cpus_allowed_list:\s+1\n/);
  });

  it("--cpu-shares, --cpu-period and --cpu-quota reach the kernel", () => {
    const r = tsbox(root, ["run", "--rm", "--cpu-shares", "512", "--cpu-period", "50000", "--cpu-quota", "25000", "busybox", "sh", "-c",
      v2 ? "cat /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/cpu.max" : "cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.cfs_quota_us"]);
    expect(r.stdout.trim().split("\n")).toEqual(v2 ? ["20", "25000 50000"] : ["512", "50000", "25000"]);
  });

  it("refuses bad values before creating anything, with Docker's wording", () => {
    const bad: [string[], RegExp][] = [
      [["--cpuset-cpus", "7"], /Requested CPUs are not available - requested 7, available: 0-1/],
      [["--cpuset-cpus", "1-0"], /invalid format/],
      [["--cpus", "1", "--cpu-quota", "50000"], /Conflicting options: Nano CPUs and CPU Quota cannot both be set/],
      [["--cpu-quota", "500"], /CPU cfs quota can not be less than 1ms/],
      [["--memory-swap", "64m"], /always set the Memory limit when using Memoryswap limit/],
      [["-m", "64m", "--memory-swap", "32m"], /Minimum memoryswap limit should be larger than memory limit/],
      [["-m", "64m", "--memory-reservation", "128m"], /Minimum memory limit can not be less than memory reservation limit/],
    ];
    for (const [flags, message] of bad) {
      const r = tsbox(root, ["run", "--rm", ...flags, "busybox", "true"]);
      expect(r.code, flags.join(" ")).toBe(125);
      expect(r.stderr).toMatch(message);
      expect(containerIds(root)).toEqual([]);
    }
  });
});
