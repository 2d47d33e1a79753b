// cgroupfs against a temp dir shaped like cgroupfs. A small kernel emulator
// (FixtureFs) makes controller files appear on mkdir, applies the v2
// subtree_control rules and the v1 memsw >= limit rule, and records every
// write so the tests can check the exact files and values.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DOCKER_DEFAULT_DEVICES,
  cpuMaxValue,
  cpusToNanoCpus,
  createCgroup,
  deviceRuleWrites,
  devicesEnforced,
  listCgroups,
  memorySwapViolation,
  nanoCpusToQuota,
  openCgroup,
  parseHierarchy,
  pidsMaxValue,
  sharesToWeight,
  swapToV2,
  v1MemoryWrites,
  type CgroupFs,
  type Hierarchy,
} from "../src/cgroupfs/index.js";
import { memoryCgroupOf, readMemory, reclaimV2, setHighV2, setLimitV1 } from "../src/reclaim/kernel/cgroup-memory.js";

// ---------------------------------------------------------------- mountinfo

/** This machine's cgroup lines (v1 hybrid, cpu and cpuacct mounted apart). */
const THIS_HOST = `\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** A pure v2 host (Ubuntu 22.04 / Fedora style). */
const PURE_V2 = `\
24 1 253:1 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw
25 24 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
35 25 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
36 25 0:31 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:10 - pstore pstore rw
`;

/** A co-mounted v1 host (Ubuntu 20.04 / CentOS 7 style), with a hybrid unified mount. */
const COMOUNTED_V1 = `\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
33 25 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
34 33 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
35 33 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
38 33 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
39 33 0:34 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,net_cls,net_prio
40 33 0:35 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,memory
41 33 0:36 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,cpuset,clone_children
42 33 0:37 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,pids
43 33 0:38 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,devices
44 33 0:39 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:21 - cgroup cgroup rw,freezer
45 33 0:40 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:22 - cgroup cgroup rw,blkio
46 33 0:41 / /sys/fs/cgroup/rdma rw,nosuid,nodev,noexec,relatime shared:23 - cgroup cgroup rw,rdma,release_agent=/bin/agent
47 33 0:42 / /sys/fs/cgroup/elogind rw,nosuid,nodev,noexec,relatime shared:24 - cgroup cgroup rw,xattr,name=elogind
48 33 0:40 / /mnt/with\\040space rw,relatime shared:22 - cgroup cgroup rw,blkio
`;

describe("mountinfo parsing", () => {
  it("this machine: v1 hybrid, one hierarchy per controller, unified skipped", () => {
    const h = parseHierarchy(THIS_HOST);
    expect(h.version).toBe("v1");
    expect(Object.fromEntries(h.mounts)).toEqual({
      cpu: "/sys/fs/cgroup/cpu",
      cpuacct: "/sys/fs/cgroup/cpuacct",
      cpuset: "/sys/fs/cgroup/cpuset",
      memory: "/sys/fs/cgroup/memory",
      devices: "/sys/fs/cgroup/devices",
      freezer: "/sys/fs/cgroup/freezer",
      blkio: "/sys/fs/cgroup/blkio",
      pids: "/sys/fs/cgroup/pids",
      "name=systemd": "/sys/fs/cgroup/systemd",
    });
    expect(h.v2root).toBe("/sys/fs/cgroup/unified");
    expect(devicesEnforced(h)).toBe(true);
  });

  it("pure v2 host", () => {
    const h = parseHierarchy(PURE_V2);
    expect(h).toEqual({ version: "v2", mounts: new Map([["cgroup2", "/sys/fs/cgroup"]]), v2root: "/sys/fs/cgroup" });
    expect(devicesEnforced(h)).toBe(false);
  });

  it("co-mounted v1 host: shared dirs, other named hierarchies and options ignored, first mount wins", () => {
    const h = parseHierarchy(COMOUNTED_V1);
    expect(h.version).toBe("v1");
    expect(Object.fromEntries(h.mounts)).toEqual({
      "name=systemd": "/sys/fs/cgroup/systemd",
      cpu: "/sys/fs/cgroup/cpu,cpuacct",
      cpuacct: "/sys/fs/cgroup/cpu,cpuacct",
      net_cls: "/sys/fs/cgroup/net_cls,net_prio",
      net_prio: "/sys/fs/cgroup/net_cls,net_prio",
      memory: "/sys/fs/cgroup/memory",
      cpuset: "/sys/fs/cgroup/cpuset",
      pids: "/sys/fs/cgroup/pids",
      devices: "/sys/fs/cgroup/devices",
      freezer: "/sys/fs/cgroup/freezer",
      blkio: "/sys/fs/cgroup/blkio",
      rdma: "/sys/fs/cgroup/rdma",
    });
    expect(h.v2root).toBe("/sys/fs/cgroup/unified");
  });

  it("pure v2 with a stray v1 name=systemd mount is still v2; nothing mounted is an error", () => {
    const text = PURE_V2 + "50 25 0:50 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n";
    expect(parseHierarchy(text).version).toBe("v2");
    expect(() => parseHierarchy("22 1 254:0 / / rw - ext4 /dev/vda rw\n")).toThrow(/no cgroup/);
  });
});

// ---------------------------------------------------------------- pure conversions

describe("conversions", () => {
  it("--cpus → quota/period", () => {
    const quota = (cpus: number) => nanoCpusToQuota(cpusToNanoCpus(cpus));
    expect(cpusToNanoCpus(1.5)).toBe(1_500_000_000);
    expect(quota(1.5)).toEqual({ quota: 150000, period: 100000 });
    expect(quota(0.5)).toEqual({ quota: 50000, period: 100000 });
    expect(quota(0.01)).toEqual({ quota: 1000, period: 100000 });
    // below the kernel's 1 ms: the kernel refuses it when written
    expect(quota(0.001)).toEqual({ quota: 100, period: 100000 });
    // NanoCPUs arithmetic, exact: a half µs rounds up whatever the binary fraction of --cpus
    expect(quota(1.000005)).toEqual({ quota: 100001, period: 100000 });
    expect(nanoCpusToQuota(1_500_000_000, 50_000)).toEqual({ quota: 75000, period: 50000 });
  });

  it("the memory+swap rule: a swap limit needs a memory limit and may not be below it", () => {
    expect(memorySwapViolation(64, undefined)).toBeUndefined();
    expect(memorySwapViolation(undefined, -1)).toBeUndefined();
    expect(memorySwapViolation(64, 64)).toBeUndefined();
    expect(memorySwapViolation(undefined, 64)).toBe("no memory limit");
    expect(memorySwapViolation(-1, 64)).toBe("no memory limit");
    expect(memorySwapViolation(64, 0)).toBe("below memory limit");
    expect(memorySwapViolation(64, 32)).toBe("below memory limit");
  });

  it("shares → cpu.weight (runc)", () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(262144)).toBe(10000);
    expect(sharesToWeight(1)).toBe(1); // clamped like the kernel
  });

  it("cpu.max", () => {
    expect(cpuMaxValue(50000, 100000)).toBe("50000 100000");
    expect(cpuMaxValue(-1, 100000)).toBe("max 100000");
    expect(cpuMaxValue(50000, undefined)).toBe("50000");
    expect(cpuMaxValue(undefined, 20000)).toBe("max 20000");
    expect(cpuMaxValue(undefined, undefined)).toBeUndefined();
  });

  it("v2 swap = memory+swap − memory", () => {
    const M = 1 << 20;
    expect(swapToV2(64 * M, 128 * M)).toBe(64 * M);
    expect(swapToV2(64 * M, 64 * M)).toBe(0);
    expect(swapToV2(64 * M, -1)).toBe(-1);
    expect(swapToV2(64 * M, undefined)).toBeUndefined();
    expect(swapToV2(-1, undefined)).toBe(-1);
    expect(() => swapToV2(undefined, 128 * M)).toThrow(/without a memory limit/);
    expect(() => swapToV2(128 * M, 64 * M)).toThrow(/must be >= memory limit/);
  });

  it("pids.max", () => {
    expect(pidsMaxValue(100)).toBe("100");
    expect(pidsMaxValue(-1)).toBe("max");
    expect(pidsMaxValue(0)).toBe("max");
  });

  it("v1 memory write order keeps memsw >= limit at every step", () => {
    const M = 1 << 20;
    const unlimited = 9223372036854771712;
    // raising (from unlimited at creation, too): memsw first
    expect(v1MemoryWrites({ limit: 64 * M, swap: 128 * M }, unlimited, true).map((w) => w.file)).toEqual([
      "memory.limit_in_bytes",
      "memory.memsw.limit_in_bytes",
    ]);
    expect(v1MemoryWrites({ limit: 256 * M, swap: 512 * M }, 64 * M, true)).toEqual([
      { file: "memory.memsw.limit_in_bytes", value: String(512 * M) },
      { file: "memory.limit_in_bytes", value: String(256 * M) },
    ]);
    // lowering: limit first
    expect(v1MemoryWrites({ limit: 32 * M, swap: 48 * M }, 256 * M, true).map((w) => w.file)).toEqual([
      "memory.limit_in_bytes",
      "memory.memsw.limit_in_bytes",
    ]);
    // no swap accounting: swap skipped
    expect(v1MemoryWrites({ limit: 64 * M, swap: 128 * M }, unlimited, false)).toEqual([
      { file: "memory.limit_in_bytes", value: String(64 * M) },
    ]);
    // unlimited memory: memsw unlimited too, written first
    expect(v1MemoryWrites({ limit: -1 }, 64 * M, true)).toEqual([
      { file: "memory.memsw.limit_in_bytes", value: "-1" },
      { file: "memory.limit_in_bytes", value: "-1" },
    ]);
    expect(() => v1MemoryWrites({ swap: 128 * M }, unlimited, true)).toThrow(/without a memory limit/);
  });

  it("Docker's default device rules in v1 spelling", () => {
    expect(DOCKER_DEFAULT_DEVICES.flatMap(deviceRuleWrites)).toEqual([
      { file: "devices.deny", value: "a" },
      { file: "devices.allow", value: "c 1:5 rwm" },
      { file: "devices.allow", value: "c 1:3 rwm" },
      { file: "devices.allow", value: "c 1:9 rwm" },
      { file: "devices.allow", value: "c 1:8 rwm" },
      { file: "devices.allow", value: "c 5:0 rwm" },
      { file: "devices.allow", value: "c 5:1 rwm" },
      { file: "devices.allow", value: "c 1:7 rwm" },
      { file: "devices.allow", value: "c 136:* rwm" },
      { file: "devices.allow", value: "c 5:2 rwm" },
      { file: "devices.allow", value: "c *:* m" },
      { file: "devices.allow", value: "b *:* m" },
      { file: "devices.deny", value: "c 10:229 rwm" },
    ]);
    expect(deviceRuleWrites({ allow: true, type: "a", access: "r" })).toEqual([
      { file: "devices.allow", value: "c *:* r" },
      { file: "devices.allow", value: "b *:* r" },
    ]);
    expect(() => deviceRuleWrites({ allow: true, type: "c", major: 1, minor: 3, access: "rx" })).toThrow(/invalid device access/);
  });
});

// ---------------------------------------------------------------- kernel emulator

const UNLIMITED = "9223372036854771712";

/** Files the kernel creates in a new v1 cgroup, per controller. */
const V1_FILES: Record<string, Record<string, string>> = {
  cpu: { "cpu.shares": "1024", "cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000" },
  cpuacct: { "cpuacct.usage": "0" },
  cpuset: { "cpuset.cpus": "", "cpuset.mems": "" },
  memory: {
    "memory.limit_in_bytes": UNLIMITED,
    "memory.memsw.limit_in_bytes": UNLIMITED,
    "memory.soft_limit_in_bytes": UNLIMITED,
  },
  pids: { "pids.max": "max" },
  devices: { "devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm" },
};

/** Files a v2 controller adds to a cgroup where it is enabled. */
const V2_FILES: Record<string, Record<string, string>> = {
  cpu: { "cpu.weight": "100", "cpu.max": "max 100000" },
  cpuset: { "cpuset.cpus": "", "cpuset.mems": "" },
  io: { "io.max": "" },
  memory: { "memory.max": "max", "memory.swap.max": "max", "memory.low": "0", "memory.high": "max", "memory.reclaim": "" },
  pids: { "pids.max": "max" },
};

function errno(code: string, what: string): Error {
  return Object.assign(new Error(`${code}: ${what}`), { code });
}

class FixtureFs implements CgroupFs {
  /** every write, as [path relative to the fixture top, value] */
  writes: [string, string][] = [];

  constructor(
    readonly top: string,
    /** mount dir → its controllers (v1), or "v2" */
    readonly mounts: Map<string, string[] | "v2">,
    /** files the emulated kernel does not create (e.g. no swap accounting) */
    readonly omit = new Set<string>(),
  ) {}

  private mountOf(p: string): [string, string[] | "v2"] {
    for (const [m, kind] of this.mounts) if (p === m || p.startsWith(m + "/")) return [m, kind];
    throw new Error(`fixture: ${p} is outside every mount`);
  }

  rel(p: string): string {
    return path.relative(this.top, p);
  }

  readFile(file: string): string {
    const dir = path.dirname(file);
    if (path.basename(file) === "cgroup.controllers" && this.mounts.get(dir) === undefined) {
      // a non-root v2 cgroup has what its parent enables
      return fs.readFileSync(path.join(path.dirname(dir), "cgroup.subtree_control"), "utf8");
    }
    const text = fs.readFileSync(file, "utf8");
    if (path.basename(file) === "cgroup.procs") {
      // processes that have exited (and been reaped) leave
      return text
        .split("\n")
        .filter((l) => l && fs.existsSync(`/proc/${l}`))
        .map((l) => l + "\n")
        .join("");
    }
    return text;
  }

  writeFile(file: string, value: string): void {
    if (!fs.existsSync(file)) throw errno("ENOENT", file);
    const dir = path.dirname(file);
    const name = path.basename(file);
    const [, kind] = this.mountOf(dir);
    const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8").trim();
    let next = value;
    if (kind === "v2" && name === "cgroup.subtree_control") {
      const c = value.replace(/^\+/, "");
      if (!this.readFile(path.join(dir, "cgroup.controllers")).split(" ").includes(c)) {
        throw errno("ENOENT", `${c} not in cgroup.controllers`);
      }
      next = [...read("cgroup.subtree_control").split(" ").filter(Boolean), c].join(" ");
      // existing children get the controller's files
      for (const child of this.listDirs(dir)) {
        for (const [f, v] of Object.entries(V2_FILES[c] ?? {})) fs.writeFileSync(path.join(dir, child, f), v);
      }
    } else if (name === "cgroup.procs") {
      if (kind !== "v2" && kind.includes("cpuset") && (read("cpuset.cpus") === "" || read("cpuset.mems") === "")) {
        throw errno("ENOSPC", "empty cpuset");
      }
      next = fs.readFileSync(file, "utf8") + value + "\n";
    } else if (/^(memory\.|cpu\.cfs|pids\.)/.test(name) && !/^(-1|max|\d+)$/.test(value)) {
      throw errno("EINVAL", value);
    } else if (name === "cpu.cfs_quota_us" && Number(value) >= 0 && Number(value) < 1000) {
      throw errno("EINVAL", value);
    } else if (
      (name === "memory.limit_in_bytes" || name === "memory.memsw.limit_in_bytes") &&
      fs.existsSync(path.join(dir, "memory.memsw.limit_in_bytes"))
    ) {
      const big = (v: string) => (v === "-1" ? BigInt(UNLIMITED) : BigInt(v));
      const limit = big(name === "memory.limit_in_bytes" ? value : read("memory.limit_in_bytes"));
      const memsw = big(name === "memory.memsw.limit_in_bytes" ? value : read("memory.memsw.limit_in_bytes"));
      if (memsw < limit) throw errno("EINVAL", "memsw < limit");
    }
    fs.writeFileSync(file, next);
    this.writes.push([this.rel(file), value]);
  }

  exists(file: string): boolean {
    return fs.existsSync(file);
  }

  mkdir(dir: string): void {
    fs.mkdirSync(dir); // EEXIST as the kernel
    const [, kind] = this.mountOf(dir);
    const files: Record<string, string> = { "cgroup.procs": "" };
    if (kind === "v2") {
      const enabled = fs.readFileSync(path.join(path.dirname(dir), "cgroup.subtree_control"), "utf8").trim();
      Object.assign(files, { "cgroup.controllers": enabled, "cgroup.subtree_control": "", "cgroup.kill": "" });
      for (const c of enabled.split(" ").filter(Boolean)) Object.assign(files, V2_FILES[c]);
    } else {
      Object.assign(files, { tasks: "", notify_on_release: "0" });
      for (const c of kind) Object.assign(files, V1_FILES[c]);
    }
    for (const [f, v] of Object.entries(files)) if (!this.omit.has(f)) fs.writeFileSync(path.join(dir, f), v);
  }

  rmdir(dir: string): void {
    if (!fs.existsSync(dir)) throw errno("ENOENT", dir);
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    if (entries.some((e) => e.isDirectory()) || this.readFile(path.join(dir, "cgroup.procs")) !== "") throw errno("EBUSY", dir);
    fs.rmSync(dir, { recursive: true });
  }

  listDirs(dir: string): string[] {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  }
}

let top: string;
beforeEach(() => {
  top = fs.mkdtempSync(path.join(os.tmpdir(), "tsbox-cgfixture-"));
});
afterEach(() => {
  fs.rmSync(top, { recursive: true, force: true });
});

/** Root dirs of the co-mounted v1 host, re-based onto `top`. */
function v1Fixture(opts: { memsw?: boolean } = {}): { h: Hierarchy; fx: FixtureFs } {
  const h = parseHierarchy(COMOUNTED_V1);
  const mounts = new Map<string, string[] | "v2">();
  for (const [c, dir] of h.mounts) {
    const full = path.join(top, dir);
    mounts.set(full, [...((mounts.get(full) as string[] | undefined) ?? []), c]);
  }
  for (const [dir, controllers] of mounts) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "cgroup.procs"), "");
    for (const c of controllers as string[]) {
      for (const [f, v] of Object.entries(V1_FILES[c] ?? {})) fs.writeFileSync(path.join(dir, f), v);
    }
  }
  // The root cpuset is populated; the root memory cgroup has no limit files.
  fs.writeFileSync(path.join(top, "sys/fs/cgroup/cpuset/cpuset.cpus"), "0-3\n");
  fs.writeFileSync(path.join(top, "sys/fs/cgroup/cpuset/cpuset.mems"), "0\n");
  const omit = new Set(opts.memsw === false ? ["memory.memsw.limit_in_bytes"] : []);
  return { h, fx: new FixtureFs(top, mounts, omit) };
}

describe("v1 fixture (co-mounted host)", () => {
  const M = 1 << 20;

  it("creates one dir per hierarchy, initializes cpuset, writes exactly the limits", () => {
    const { h, fx } = v1Fixture();
    const cg = createCgroup(h, "c1", { root: top, fs: fx });
    expect(cg.path).toBe("/tsbox/c1");
    expect(cg.dirs.map((d) => fx.rel(d))).toEqual([
      "sys/fs/cgroup/systemd/tsbox/c1",
      "sys/fs/cgroup/cpu,cpuacct/tsbox/c1",
      "sys/fs/cgroup/net_cls,net_prio/tsbox/c1",
      "sys/fs/cgroup/memory/tsbox/c1",
      "sys/fs/cgroup/cpuset/tsbox/c1",
      "sys/fs/cgroup/pids/tsbox/c1",
      "sys/fs/cgroup/devices/tsbox/c1",
      "sys/fs/cgroup/freezer/tsbox/c1",
      "sys/fs/cgroup/blkio/tsbox/c1",
      "sys/fs/cgroup/rdma/tsbox/c1",
    ]);
    for (const d of cg.dirs) expect(fs.statSync(d).isDirectory()).toBe(true);
    // cpuset: tsbox's parent from the root, then the container from tsbox
    expect(fx.writes).toEqual([
      ["sys/fs/cgroup/cpuset/tsbox/cpuset.cpus", "0-3"],
      ["sys/fs/cgroup/cpuset/tsbox/cpuset.mems", "0"],
      ["sys/fs/cgroup/cpuset/tsbox/c1/cpuset.cpus", "0-3"],
      ["sys/fs/cgroup/cpuset/tsbox/c1/cpuset.mems", "0"],
    ]);

    fx.writes = [];
    cg.apply({
      memory: { limit: 64 * M, swap: 128 * M, reservation: 32 * M },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: "0-1", mems: "0" },
      pids: { limit: 100 },
      devices: DOCKER_DEFAULT_DEVICES,
    });
    const D = "sys/fs/cgroup/devices/tsbox/c1/";
    expect(fx.writes).toEqual([
      ["sys/fs/cgroup/cpuset/tsbox/c1/cpuset.cpus", "0-1"],
      ["sys/fs/cgroup/cpuset/tsbox/c1/cpuset.mems", "0"],
      ["sys/fs/cgroup/memory/tsbox/c1/memory.limit_in_bytes", String(64 * M)],
      ["sys/fs/cgroup/memory/tsbox/c1/memory.memsw.limit_in_bytes", String(128 * M)],
      ["sys/fs/cgroup/memory/tsbox/c1/memory.soft_limit_in_bytes", String(32 * M)],
      ["sys/fs/cgroup/cpu,cpuacct/tsbox/c1/cpu.shares", "512"],
      ["sys/fs/cgroup/cpu,cpuacct/tsbox/c1/cpu.cfs_period_us", "100000"],
      ["sys/fs/cgroup/cpu,cpuacct/tsbox/c1/cpu.cfs_quota_us", "50000"],
      ["sys/fs/cgroup/pids/tsbox/c1/pids.max", "100"],
      [D + "devices.deny", "a"],
      [D + "devices.allow", "c 1:5 rwm"],
      [D + "devices.allow", "c 1:3 rwm"],
      [D + "devices.allow", "c 1:9 rwm"],
      [D + "devices.allow", "c 1:8 rwm"],
      [D + "devices.allow", "c 5:0 rwm"],
      [D + "devices.allow", "c 5:1 rwm"],
      [D + "devices.allow", "c 1:7 rwm"],
      [D + "devices.allow", "c 136:* rwm"],
      [D + "devices.allow", "c 5:2 rwm"],
      [D + "devices.allow", "c *:* m"],
      [D + "devices.allow", "b *:* m"],
      [D + "devices.deny", "c 10:229 rwm"],
    ]);

    // raise then lower: the emulated kernel rejects a wrong order
    cg.apply({ memory: { limit: 256 * M, swap: 512 * M } });
    cg.apply({ memory: { limit: 32 * M, swap: 48 * M } });
    const mem = path.join(top, "sys/fs/cgroup/memory/tsbox/c1");
    expect(fs.readFileSync(path.join(mem, "memory.limit_in_bytes"), "utf8")).toBe(String(32 * M));
    expect(fs.readFileSync(path.join(mem, "memory.memsw.limit_in_bytes"), "utf8")).toBe(String(48 * M));

    // nothing was written outside tsbox's own dirs
    expect(fx.writes.every(([p]) => p.includes("/tsbox/"))).toBe(true);

    fx.writes = [];
    cg.addProcess(4242);
    expect(fx.writes).toEqual(cg.dirs.map((d) => [fx.rel(path.join(d, "cgroup.procs")), "4242"]));
  });

  it("skips memsw without swap accounting; errors name the file and value", () => {
    const { h, fx } = v1Fixture({ memsw: false });
    const cg = createCgroup(h, "c2", { root: top, fs: fx });
    fx.writes = [];
    cg.apply({ memory: { limit: 64 * M, swap: 128 * M } });
    expect(fx.writes).toEqual([["sys/fs/cgroup/memory/tsbox/c2/memory.limit_in_bytes", String(64 * M)]]);
    expect(() => cg.apply({ cpu: { quota: 500 } })).toThrow('cgroup: writing "500" to cpu.cfs_quota_us: Invalid argument');
    expect(() => cg.apply({ memory: { limit: 1.5 } })).toThrow(/invalid memory limit 1.5/);
    expect(() => cg.apply({ memory: { limit: 64 * M, swap: 32 * M } })).toThrow(/must be >= memory limit/);
  });

  it("refuses an existing dir without touching it, lists, destroys (killing a real child)", async () => {
    const { h, fx } = v1Fixture();
    const cg = createCgroup(h, "c3", { root: top, fs: fx });
    // a leftover in one hierarchy only: creation fails and rolls back, leftover stays
    fx.mkdir(path.join(top, "sys/fs/cgroup/pids/tsbox/c4"));
    expect(() => createCgroup(h, "c4", { root: top, fs: fx })).toThrow(/pids\/tsbox\/c4 already exists/);
    expect(fs.existsSync(path.join(top, "sys/fs/cgroup/pids/tsbox/c4"))).toBe(true);
    expect(fs.existsSync(path.join(top, "sys/fs/cgroup/memory/tsbox/c4"))).toBe(false);
    expect(() => createCgroup(h, "c3", { root: top, fs: fx })).toThrow(/already exists/);

    expect(listCgroups(h, { root: top, fs: fx })).toEqual(["c3", "c4"]);

    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    const exited = new Promise((r) => child.once("exit", (_c, sig) => r(sig)));
    cg.addProcess(child.pid!);
    expect(cg.pids()).toEqual([child.pid]);
    await cg.destroy({ timeoutMs: 5000 });
    expect(await exited).toBe("SIGKILL");
    for (const d of cg.dirs) expect(fs.existsSync(d)).toBe(false);

    await openCgroup(h, "c4", { root: top, fs: fx }).destroy();
    expect(listCgroups(h, { root: top, fs: fx })).toEqual([]);
    // the parent stays
    expect(fs.existsSync(path.join(top, "sys/fs/cgroup/memory/tsbox"))).toBe(true);
  });

  it("rejects ids and parents that are not a plain name", () => {
    const { h, fx } = v1Fixture();
    expect(() => createCgroup(h, "../x", { root: top, fs: fx })).toThrow(/invalid container id/);
    expect(() => createCgroup(h, "x", { root: top, fs: fx, parent: "a/../b" })).toThrow(/invalid parent/);
    const cg = createCgroup(h, "n1", { root: top, fs: fx, parent: "a/b" });
    expect(cg.path).toBe("/a/b/n1");
    expect(fs.readFileSync(path.join(top, "sys/fs/cgroup/cpuset/a/b/n1/cpuset.cpus"), "utf8")).toBe("0-3");
  });

  it("reclaim's memory knobs write through cgroupfs (its file operations and the container's memory dir)", () => {
    const { h, fx } = v1Fixture();
    createCgroup(h, "c1", { root: top, fs: fx });
    const mem = memoryCgroupOf({ id: "c1" }, h, { root: top, fs: fx });
    expect(fx.rel(mem.dir)).toBe("sys/fs/cgroup/memory/tsbox/c1");
    fx.writes = [];
    expect(setLimitV1(mem, 32 * M)).toBe("ok");
    expect(setLimitV1(mem, "unlimited")).toBe("ok");
    expect(fx.writes).toEqual([
      ["sys/fs/cgroup/memory/tsbox/c1/memory.limit_in_bytes", String(32 * M)],
      ["sys/fs/cgroup/memory/tsbox/c1/memory.limit_in_bytes", "-1"],
    ]);
    expect(() => setLimitV1(mem, -5)).toThrow(/^writing .*memory\.limit_in_bytes: EINVAL/);
    // and the readings come through the same file operations
    for (const [f, v] of Object.entries({
      "memory.stat": "total_rss 100\ntotal_active_file 20\ntotal_inactive_file 30\ntotal_pgmajfault 2\n",
      "memory.usage_in_bytes": "150", "memory.failcnt": "1", "memory.limit_in_bytes": String(64 * M),
    })) fs.writeFileSync(path.join(mem.dir, f), v);
    expect(readMemory(mem)).toMatchObject({ usage: 150, anon: 100, activeFile: 20, inactiveFile: 30, workingSet: 120, pgmajfault: 2, failcnt: 1, limit: 64 * M });
  });
});

describe("v2 fixture", () => {
  function v2Fixture(rootControllers: string, rootEnabled: string): { h: Hierarchy; fx: FixtureFs; mount: string } {
    const mount = path.join(top, "cg2");
    fs.mkdirSync(mount);
    for (const [f, v] of Object.entries({
      "cgroup.controllers": rootControllers,
      "cgroup.subtree_control": rootEnabled,
      "cgroup.procs": "",
    })) {
      fs.writeFileSync(path.join(mount, f), v);
    }
    const h: Hierarchy = { version: "v2", mounts: new Map([["cgroup2", mount]]), v2root: mount };
    return { h, fx: new FixtureFs(top, new Map([[mount, "v2"]])), mount };
  }

  it("enables controllers (in the root only those it lacks) and writes exactly the limits", () => {
    const { h, fx } = v2Fixture("cpuset cpu io memory hugetlb pids rdma misc", "cpu memory pids");
    const cg = createCgroup(h, "c1", { fs: fx });
    expect(cg.dirs.map((d) => fx.rel(d))).toEqual(["cg2/tsbox/c1"]);
    expect(cg.path).toBe("/tsbox/c1");
    expect(fx.writes).toEqual([
      ["cg2/cgroup.subtree_control", "+cpuset"],
      ["cg2/cgroup.subtree_control", "+io"],
      ["cg2/tsbox/cgroup.subtree_control", "+cpuset"],
      ["cg2/tsbox/cgroup.subtree_control", "+cpu"],
      ["cg2/tsbox/cgroup.subtree_control", "+io"],
      ["cg2/tsbox/cgroup.subtree_control", "+memory"],
      ["cg2/tsbox/cgroup.subtree_control", "+pids"],
    ]);
    const M = 1 << 20;
    fx.writes = [];
    cg.apply({
      memory: { limit: 64 * M, swap: 128 * M, reservation: 16 * M },
      cpu: { shares: 1024, quota: 150000, period: 100000, cpus: "0", mems: "0" },
      pids: { limit: -1 },
      devices: DOCKER_DEFAULT_DEVICES, // not enforced on v2
    });
    expect(fx.writes).toEqual([
      ["cg2/tsbox/c1/cpuset.cpus", "0"],
      ["cg2/tsbox/c1/cpuset.mems", "0"],
      ["cg2/tsbox/c1/memory.max", String(64 * M)],
      ["cg2/tsbox/c1/memory.swap.max", String(64 * M)],
      ["cg2/tsbox/c1/memory.low", String(16 * M)],
      ["cg2/tsbox/c1/cpu.weight", "39"],
      ["cg2/tsbox/c1/cpu.max", "150000 100000"],
      ["cg2/tsbox/c1/pids.max", "max"],
    ]);
    fx.writes = [];
    cg.apply({ memory: { limit: -1 }, cpu: { quota: -1, period: 100000 } });
    expect(fx.writes).toEqual([
      ["cg2/tsbox/c1/memory.max", "max"],
      ["cg2/tsbox/c1/memory.swap.max", "max"],
      ["cg2/tsbox/c1/cpu.max", "max 100000"],
    ]);

    // a second container: everything already enabled, no subtree_control writes
    fx.writes = [];
    createCgroup(h, "c2", { fs: fx });
    expect(fx.writes).toEqual([]);
    expect(listCgroups(h, { fs: fx })).toEqual(["c1", "c2"]);
  });

  it("does not write to the root when it already has everything; unavailable controllers are skipped", async () => {
    const { h, fx, mount } = v2Fixture("cpu memory pids", "cpu memory pids");
    const cg = createCgroup(h, "c1", { fs: fx });
    expect(fx.writes.map(([p]) => p)).toEqual([
      "cg2/tsbox/cgroup.subtree_control",
      "cg2/tsbox/cgroup.subtree_control",
      "cg2/tsbox/cgroup.subtree_control",
    ]);
    expect(fs.readFileSync(path.join(mount, "tsbox/cgroup.subtree_control"), "utf8")).toBe("cpu memory pids");
    expect(() => cg.apply({ cpu: { cpus: "0" } })).toThrow(
      'cgroup: writing "0" to cpuset.cpus: No such file or directory (controller not available?)',
    );
    await cg.destroy();
    expect(fs.existsSync(cg.dirs[0]!)).toBe(false);
    await cg.destroy(); // tolerant of already-removed dirs
  });

  it("reclaim's memory knobs write through cgroupfs on v2 (memory.reclaim, memory.high)", () => {
    const { h, fx } = v2Fixture("cpu memory pids", "cpu memory pids");
    createCgroup(h, "c1", { fs: fx });
    const mem = memoryCgroupOf({ id: "c1" }, h, { fs: fx });
    expect(fx.rel(mem.dir)).toBe("cg2/tsbox/c1");
    fx.writes = [];
    expect(reclaimV2(mem, 16 * 4096)).toBe("ok");
    setHighV2(mem, 8 * 4096);
    setHighV2(mem, "max");
    expect(fx.writes).toEqual([
      ["cg2/tsbox/c1/memory.reclaim", String(16 * 4096)],
      ["cg2/tsbox/c1/memory.high", String(8 * 4096)],
      ["cg2/tsbox/c1/memory.high", "max"],
    ]);
  });
});
