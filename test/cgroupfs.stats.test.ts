// stats(), freeze/thaw and the accounting parsers against a temp dir shaped
// like cgroupfs. v1 contents are copied verbatim from this machine's kernel
// (6.18, a cgroup that read an 8 MiB file and ran a short busy loop); v2
// contents follow Documentation/admin-guide/cgroup-v2.rst.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openCgroup, parseHierarchy, type Hierarchy } from "../src/cgroupfs/index.js";
import { nodeCgroupFs } from "../src/cgroupfs/fs.js";
import { parseBlkio, parseLimit, parseNestedKeyed, parsePsi } from "../src/cgroupfs/parse.js";

const V1_HOST = `\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
`;
const V2_HOST = "35 25 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";

// ---- v1, verbatim from this kernel
const V1_MEMORY_STAT = `cache 8478720
rss 0
rss_huge 0
shmem 0
mapped_file 0
dirty 0
writeback 0
workingset_refault_anon 0
workingset_refault_file 22
swap 0
swapcached 0
pgpgin 491
pgpgout 461
pgfault 744
pgmajfault 2
inactive_anon 0
active_anon 0
inactive_file 8396800
active_file 81920
unevictable 0
hierarchical_memory_limit 9223372036854771712
hierarchical_memsw_limit 9223372036854771712
total_cache 8478720
total_rss 0
total_rss_huge 0
total_shmem 0
total_mapped_file 0
total_dirty 0
total_writeback 0
total_workingset_refault_anon 0
total_workingset_refault_file 22
total_swap 0
total_swapcached 0
total_pgpgin 491
total_pgpgout 461
total_pgfault 744
total_pgmajfault 2
total_inactive_anon 0
total_active_anon 0
total_inactive_file 8396800
total_active_file 81920
total_unevictable 0
`;
const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    "memory.stat": V1_MEMORY_STAT,
    "memory.usage_in_bytes": "8957952\n",
    "memory.max_usage_in_bytes": "10219520\n",
    "memory.limit_in_bytes": "9223372036854771712\n",
    "memory.memsw.usage_in_bytes": "8957952\n",
    "memory.kmem.usage_in_bytes": "0\n",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
  },
  cpuacct: {
    "cpuacct.stat": "user 2\nsystem 3\n",
    "cpuacct.usage": "63456393\n",
    "cpuacct.usage_user": "28000000\n",
    "cpuacct.usage_sys": "35964814\n",
  },
  cpu: { "cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\nnr_bursts 0\nburst_time 0\n" },
  pids: { "pids.current": "3\n", "pids.max": "max\n" },
  // (this VM's disk saw no direct I/O from that cgroup; the per-device lines are the kernel's format)
  blkio: {
    "blkio.throttle.io_service_bytes_recursive":
      "8:0 Read 1048576\n8:0 Write 4096\n8:0 Sync 1052672\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 1052672\n" +
      "254:0 Read 8192\n254:0 Write 0\n254:0 Sync 8192\n254:0 Async 0\n254:0 Discard 0\n254:0 Total 8192\nTotal 1060864\n",
    "blkio.throttle.io_serviced_recursive":
      "8:0 Read 16\n8:0 Write 1\n8:0 Sync 17\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 17\n" +
      "254:0 Read 2\n254:0 Write 0\n254:0 Sync 2\n254:0 Async 0\n254:0 Discard 0\n254:0 Total 2\nTotal 19\n",
  },
  freezer: { "freezer.state": "THAWED\n" },
};

// ---- v2, the documented formats
const V2_FILES: Record<string, string> = {
  "memory.current": "104857600\n",
  "memory.max": "268435456\n",
  "memory.peak": "134217728\n",
  "memory.swap.current": "4096\n",
  "memory.stat":
    "anon 33554432\nfile 67108864\nkernel 1048576\nkernel_stack 16384\npagetables 65536\nsock 0\nvmalloc 0\n" +
    "shmem 67108864\nfile_mapped 0\nfile_dirty 0\nfile_writeback 0\nswapcached 0\ninactive_anon 67108864\n" +
    "active_anon 33554432\ninactive_file 1048576\nactive_file 0\nunevictable 0\nslab_reclaimable 262144\n" +
    "slab_unreclaimable 524288\nslab 786432\nworkingset_refault_anon 0\nworkingset_refault_file 7\n",
  "memory.events": "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n",
  "memory.pressure": "some avg10=1.50 avg60=0.40 avg300=0.10 total=123456\nfull avg10=0.75 avg60=0.20 avg300=0.05 total=65432\n",
  "cpu.stat":
    "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 30\nnr_throttled 15\nthrottled_usec 1500000\nnr_bursts 0\nburst_usec 0\n",
  "pids.current": "7\n",
  "pids.max": "20\n",
  "io.stat": "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021\n",
  "cgroup.freeze": "0\n",
  "cgroup.events": "populated 1\nfrozen 0\n",
};

let top: string;
beforeEach(() => {
  top = fs.mkdtempSync(path.join(os.tmpdir(), "tsbox-cgstats-"));
});
afterEach(() => fs.rmSync(top, { recursive: true, force: true }));

function write(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), v);
}

function v1(): { h: Hierarchy; dir: (c: string) => string } {
  const h = parseHierarchy(V1_HOST);
  const dir = (c: string) => path.join(top, "sys/fs/cgroup", c, "tsbox/c1");
  for (const [c, files] of Object.entries(V1_FILES)) write(dir(c), files);
  return { h, dir };
}

function v2(): string {
  const dir = path.join(top, "sys/fs/cgroup/tsbox/c1");
  write(dir, V2_FILES);
  return dir;
}

describe("accounting parsers", () => {
  it("limits: max and v1's unlimited are undefined", () => {
    expect(parseLimit("max\n")).toBeUndefined();
    expect(parseLimit("9223372036854771712\n")).toBeUndefined();
    expect(parseLimit("33554432\n")).toBe(33554432);
    expect(parseLimit("")).toBeUndefined();
  });

  it("PSI, nested keyed and blkio formats", () => {
    expect(parsePsi(V2_FILES["memory.pressure"]!)).toEqual({ someAvg10: 1.5, fullAvg10: 0.75, someTotalUs: 123456, fullTotalUs: 65432 });
    expect(parsePsi("garbage")).toBeUndefined();
    expect(parseNestedKeyed("8:0 rbytes=1 wbytes=2\n")).toEqual([{ device: "8:0", values: { rbytes: 1, wbytes: 2 } }]);
    const b = parseBlkio(V1_FILES["blkio"]!["blkio.throttle.io_service_bytes_recursive"]!);
    expect(b.get("8:0")).toMatchObject({ Read: 1048576, Write: 4096 });
    expect([...b.keys()]).toEqual(["8:0", "254:0"]);
  });
});

describe("stats() on v1 (this kernel's files)", () => {
  it("memory, cpu, pids, io", () => {
    const { h } = v1();
    const s = openCgroup(h, "c1", { root: top, fs: nodeCgroupFs }).stats();
    expect(s.readAt).toBeGreaterThan(0);
    expect(s.memory).toEqual({
      usage: 8957952,
      maxUsage: 10219520,
      anon: 0,
      file: 8478720,
      activeFile: 81920,
      inactiveFile: 8396800,
      shmem: 0,
      slab: 0,
      swap: 0,
      workingSet: 8957952 - 8396800,
      refaults: 22,
      oomKills: 0,
      stat: expect.objectContaining({ total_inactive_file: 8396800, cache: 8478720 }),
    });
    expect(s.memory!.limit).toBeUndefined(); // unlimited
    expect(s.cpu).toEqual({ usageNs: 63456393, userNs: 28000000, systemNs: 35964814, periods: 0, throttledPeriods: 0, throttledNs: 0 });
    expect(s.pids).toEqual({ current: 3 });
    expect(s.io).toMatchObject({ readBytes: 1048576 + 8192, writeBytes: 4096, readOps: 18, writeOps: 1 });
    expect(s.io!.devices!.map((d) => `${d.major}:${d.minor}`)).toEqual(["8:0", "254:0"]);
  });

  it("older kernels: cpuacct.stat ticks, one refault counter; missing files leave fields absent", () => {
    const { h, dir } = v1();
    for (const f of ["cpuacct.usage_user", "cpuacct.usage_sys"]) fs.rmSync(path.join(dir("cpuacct"), f));
    fs.writeFileSync(path.join(dir("memory"), "memory.stat"), "total_cache 100\ntotal_inactive_file 9000000000\ntotal_workingset_refault 5\n");
    for (const f of ["memory.memsw.usage_in_bytes", "memory.max_usage_in_bytes", "memory.oom_control", "memory.kmem.usage_in_bytes"]) {
      fs.rmSync(path.join(dir("memory"), f));
    }
    fs.rmSync(path.join(dir("cpu"), "cpu.stat"));
    fs.rmSync(dir("pids"), { recursive: true });
    fs.rmSync(dir("blkio"), { recursive: true });
    fs.writeFileSync(path.join(dir("memory"), "memory.limit_in_bytes"), "33554432\n");
    const s = openCgroup(h, "c1", { root: top, fs: nodeCgroupFs }).stats();
    expect(s.cpu).toEqual({ usageNs: 63456393, userNs: 20_000_000, systemNs: 30_000_000 });
    expect(s.memory).toEqual({
      usage: 8957952,
      limit: 33554432,
      file: 100,
      inactiveFile: 9000000000,
      workingSet: 0, // floored: inactive file larger than usage
      refaults: 5,
      stat: { total_cache: 100, total_inactive_file: 9000000000, total_workingset_refault: 5 },
    });
    expect(s.pids).toBeUndefined();
    expect(s.io).toBeUndefined();
  });

  it("a cgroup that is gone is an error", () => {
    const { h } = v1();
    expect(() => openCgroup(h, "gone", { root: top }).stats()).toThrow(/\/tsbox\/gone does not exist/);
  });
});

describe("stats() on v2 (documented formats)", () => {
  it("memory, cpu, pids, io", () => {
    v2();
    const h = parseHierarchy(V2_HOST);
    const s = openCgroup(h, "c1", { root: top }).stats();
    expect(s.memory).toEqual({
      usage: 104857600,
      limit: 268435456,
      maxUsage: 134217728,
      anon: 33554432,
      file: 67108864,
      activeFile: 0,
      inactiveFile: 1048576,
      shmem: 67108864,
      slab: 786432,
      swap: 4096,
      workingSet: 104857600 - 1048576,
      refaults: 7,
      oomKills: 1,
      pressure: { someAvg10: 1.5, fullAvg10: 0.75, someTotalUs: 123456, fullTotalUs: 65432 },
      stat: expect.objectContaining({ anon: 33554432, slab: 786432 }),
    });
    expect(s.cpu).toEqual({ usageNs: 2.5e9, userNs: 2e9, systemNs: 5e8, periods: 30, throttledPeriods: 15, throttledNs: 1.5e9 });
    expect(s.pids).toEqual({ current: 7, limit: 20 });
    expect(s.io).toMatchObject({ readBytes: 1459200 + 90430464, writeBytes: 314773504 + 299008000, readOps: 9142, writeOps: 1605 });
    expect(s.io!.devices![0]).toEqual({ major: 8, minor: 0, readBytes: 90430464, writeBytes: 299008000, readOps: 8950, writeOps: 1252 });
  });

  it("memory.max 'max' → no limit; without io.stat/memory.pressure/memory.peak the fields are absent", () => {
    const dir = v2();
    fs.writeFileSync(path.join(dir, "memory.max"), "max\n");
    for (const f of ["io.stat", "memory.pressure", "memory.peak", "memory.swap.current"]) fs.rmSync(path.join(dir, f));
    const s = openCgroup(parseHierarchy(V2_HOST), "c1", { root: top }).stats();
    expect(s.memory).not.toHaveProperty("limit");
    expect(s.memory).not.toHaveProperty("pressure");
    expect(s.memory).not.toHaveProperty("maxUsage");
    expect(s.memory).not.toHaveProperty("swap");
    expect(s.io).toBeUndefined();
  });
});

describe("freezer files", () => {
  it("v1: FROZEN written to freezer.state, frozen() reads it, thaw writes THAWED", async () => {
    const { h, dir } = v1();
    const cg = openCgroup(h, "c1", { root: top });
    expect(cg.frozen()).toBe(false);
    await cg.freeze(); // a plain file reads back what was written: FROZEN at once
    expect(fs.readFileSync(path.join(dir("freezer"), "freezer.state"), "utf8")).toBe("FROZEN");
    expect(cg.frozen()).toBe(true);
    await cg.thaw();
    expect(fs.readFileSync(path.join(dir("freezer"), "freezer.state"), "utf8")).toBe("THAWED");
    expect(cg.frozen()).toBe(false);
  });

  it("v2: cgroup.freeze 1 and wait for cgroup.events frozen 1; a freeze that never completes is undone", async () => {
    const dir = v2();
    const cg = openCgroup(parseHierarchy(V2_HOST), "c1", { root: top });
    // emulate the kernel: the events file follows cgroup.freeze after a moment
    const timer = setInterval(() => {
      const want = fs.readFileSync(path.join(dir, "cgroup.freeze"), "utf8").trim();
      fs.writeFileSync(path.join(dir, "cgroup.events"), `populated 1\nfrozen ${want}\n`);
    }, 5);
    try {
      await cg.freeze();
      expect(cg.frozen()).toBe(true);
      expect(fs.readFileSync(path.join(dir, "cgroup.events"), "utf8")).toContain("frozen 1");
      await cg.thaw();
      expect(cg.frozen()).toBe(false);
    } finally {
      clearInterval(timer);
    }
    // the events file never agrees: error, and cgroup.freeze back to 0
    fs.writeFileSync(path.join(dir, "cgroup.events"), "populated 1\nfrozen 0\n");
    const { freeze } = await import("../src/cgroupfs/v2/freezer.js");
    await expect(freeze(dir, nodeCgroupFs, 50)).rejects.toThrow(/unable to freeze within 50 ms; thawed again/);
    expect(fs.readFileSync(path.join(dir, "cgroup.freeze"), "utf8")).toBe("0");
  });
});
