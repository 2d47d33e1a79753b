// Pure checks of the limit flags added for issue 4 (swappiness, OOM killer,
// blkio weight and throttling, cgroup parent): Docker's validation and
// warnings, the v1/v2 file writes, and host support read from a fixture.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  blkioWeightToIoWeight, blkioWrites, cgroupSupport, ioWrites, parseHierarchy, type CgroupSupport,
} from "../src/cgroupfs/index.js";
import {
  parseThrottleBps, parseThrottleIops, parseUint16, parseWeightDevice, splitDev, statBlockDevice,
} from "../src/oci/device-flags.js";
import { cgroupParentSegments, resources, type RunFlags } from "../src/oci/specconv.js";

const flags = (f: Partial<RunFlags>): RunFlags => ({ cmd: [], env: [], interactive: false, tty: false, init: false, readOnly: false, privileged: false, volumes: [], tmpfs: [], ...f });
const ALL: CgroupSupport = {
  version: "v1", memory: true, swapLimit: true, memoryReservation: true, swappiness: true, oomKillDisable: true,
  cpuShares: true, cpuCfs: true, cpuset: true, pids: true, blkioWeight: true, blkioWeightDevice: true, blkioThrottle: true, freezer: true,
};
const V2: CgroupSupport = { ...ALL, version: "v2", swappiness: false, oomKillDisable: false };
const sda = { path: "/dev/sda", major: 8, minor: 0 };

describe("swappiness and the OOM killer", () => {
  it("v1: reach linux.resources.memory", () => {
    expect(resources(flags({ memory: 64, memorySwappiness: 0, oomKillDisable: true }), ALL).memory)
      .toEqual({ limit: 64, swap: 128, swappiness: 0, disableOOMKiller: true });
    expect(resources(flags({ memorySwappiness: -1 }), ALL).memory).toBeUndefined(); // Docker's "not set"
  });

  it("Docker's range error, before anything else", () => {
    expect(() => resources(flags({ memorySwappiness: 101 }), V2)).toThrow("invalid value: 101. Valid memory swappiness range is 0-100");
    expect(() => resources(flags({ memorySwappiness: -2 }), ALL)).toThrow(/Valid memory swappiness range is 0-100/);
  });

  it("v2: dropped with Docker's warnings", () => {
    const w: string[] = [];
    const r = resources(flags({ memory: 64, memorySwappiness: 10, oomKillDisable: true }), V2, w);
    expect(r.memory).toEqual({ limit: 64, swap: 128 });
    expect(w).toEqual([
      "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.",
      "Your kernel does not support OomKillDisable. OomKillDisable discarded.",
    ]);
  });

  it("--oom-kill-disable without -m warns as Docker does", () => {
    const w: string[] = [];
    expect(resources(flags({ oomKillDisable: true }), ALL, w).memory).toEqual({ disableOOMKiller: true });
    expect(w).toEqual(["OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources."]);
  });
});

describe("blkio flags", () => {
  it("reach linux.resources.blockIO in the OCI shape", () => {
    const r = resources(flags({
      blkioWeight: 300,
      blkioWeightDevice: [{ ...sda, weight: 200 }],
      deviceReadBps: [{ ...sda, rate: 1 << 20 }],
      deviceWriteBps: [{ ...sda, rate: 2 << 20 }],
      deviceReadIops: [{ ...sda, rate: 100 }],
      deviceWriteIops: [{ ...sda, rate: 50 }],
    }), ALL);
    expect(r.blockIO).toEqual({
      weight: 300,
      weightDevice: [{ major: 8, minor: 0, weight: 200 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }],
      throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 50 }],
    });
    expect(resources(flags({ blkioWeight: 0 }), ALL).blockIO).toBeUndefined();
  });

  it("Docker's order: unsupported → warning and dropped; supported → range checked", () => {
    expect(() => resources(flags({ blkioWeight: 5 }), ALL)).toThrow("Range of blkio weight is from 10 to 1000");
    expect(() => resources(flags({ blkioWeight: 1001 }), ALL)).toThrow("Range of blkio weight is from 10 to 1000");
    const w: string[] = [];
    const none = { ...ALL, blkioWeight: false, blkioWeightDevice: false, blkioThrottle: false };
    const r = resources(flags({ blkioWeight: 5, blkioWeightDevice: [{ ...sda, weight: 20 }], deviceReadBps: [{ ...sda, rate: 1 }] }), none, w);
    expect(r.blockIO).toBeUndefined();
    expect(w).toEqual([
      "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
      "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.",
      "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.",
    ]);
  });

  it("flag values: docker/cli's checks and wording", () => {
    expect(parseThrottleBps("/dev/sda:1mb", "--device-read-bps")).toEqual({ path: "/dev/sda", rate: 1 << 20 });
    expect(parseThrottleBps("/dev/sda:4096", "--device-read-bps")).toEqual({ path: "/dev/sda", rate: 4096 });
    expect(parseThrottleIops("/dev/sda:1000", "--device-read-iops")).toEqual({ path: "/dev/sda", rate: 1000 });
    expect(parseWeightDevice("/dev/sda:200")).toEqual({ path: "/dev/sda", weight: 200 });
    expect(parseWeightDevice("/dev/sda:0")).toEqual({ path: "/dev/sda", weight: 0 });
    expect(() => parseThrottleBps("sda", "--device-read-bps")).toThrow('invalid argument "sda" for "--device-read-bps" flag: bad format: sda');
    expect(() => parseThrottleBps("/tmp/x:1", "--device-write-bps")).toThrow("bad format for device path: /tmp/x:1");
    expect(() => parseThrottleBps("/dev/sda:fast", "--device-read-bps")).toThrow(
      "invalid rate for device: /dev/sda:fast. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb");
    expect(() => parseThrottleIops("/dev/sda:1.5", "--device-read-iops")).toThrow(
      "invalid rate for device: /dev/sda:1.5. The correct format is <device-path>:<number>. Number must be a positive integer");
    expect(() => parseWeightDevice("/dev/sda:5")).toThrow("invalid weight for device: /dev/sda:5");
    expect(() => parseWeightDevice("/dev/sda:1001")).toThrow("invalid weight for device: /dev/sda:1001");
    expect(() => parseUint16("x", "--blkio-weight")).toThrow('invalid argument "x" for "--blkio-weight" flag: strconv.ParseUint: parsing "x": invalid syntax');
    expect(() => parseUint16("70000", "--blkio-weight")).toThrow(/value out of range/);
  });

  it("devices are stat'ed: major:minor, the daemon's error for a missing one, not a block device refused", () => {
    expect(splitDev(0x0800n)).toEqual({ major: 8, minor: 0 });
    expect(splitDev(0xfe01n)).toEqual({ major: 254, minor: 1 });
    expect(splitDev(0x10310n)).toEqual({ major: 259, minor: 16 });
    // big numbers: major bits above 12 live from bit 44, minor bits above 8 from bit 20
    expect(splitDev(0x1000_0000_0000n | 0x10_0005n)).toEqual({ major: 4096, minor: 261 });
    expect(() => statBlockDevice("/dev/tsbox-no-such-disk")).toThrow("stat /dev/tsbox-no-such-disk: no such file or directory");
    expect(() => statBlockDevice("/dev/null")).toThrow("/dev/null is not a block device");
    const disk = fs.readdirSync("/dev").map((d) => `/dev/${d}`).find((p) => { try { return fs.statSync(p).isBlockDevice(); } catch { return false; } });
    if (disk) {
      const [maj, min] = fs.readFileSync(`/sys/class/block/${path.basename(fs.realpathSync(disk))}/dev`, "utf8").trim().split(":").map(Number);
      expect(statBlockDevice(disk)).toEqual({ path: disk, major: maj, minor: min });
    }
  });
});

describe("blkio / io writes", () => {
  const b = {
    weight: 500,
    weightDevice: [{ major: 8, minor: 0, weight: 200 }],
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }, { major: 8, minor: 16, rate: 0 }],
    throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
  };

  it("v1: blkio.weight (CFQ) or blkio.bfq.weight, throttle files one line each", () => {
    expect(blkioWrites(b, true)).toEqual([
      { file: "blkio.weight", value: "500" },
      { file: "blkio.weight_device", value: "8:0 200" },
      { file: "blkio.throttle.read_bps_device", value: "8:0 1048576" },
      { file: "blkio.throttle.read_bps_device", value: "8:16 0" },
      { file: "blkio.throttle.write_iops_device", value: "8:0 100" },
    ]);
    expect(blkioWrites(b, false).slice(0, 2)).toEqual([
      { file: "blkio.bfq.weight", value: "500" },
      { file: "blkio.bfq.weight_device", value: "8:0 200" },
    ]);
  });

  it("v2: io.bfq.weight or io.weight (runc's conversion), one io.max line per device", () => {
    expect(blkioWeightToIoWeight(10)).toBe(1);
    expect(blkioWeightToIoWeight(500)).toBe(4950);
    expect(blkioWeightToIoWeight(1000)).toBe(10000);
    expect(() => blkioWeightToIoWeight(5)).toThrow(/10 to 1000/);
    expect(ioWrites(b, { present: false, perDevice: false })).toEqual([
      { file: "io.weight", value: "4950" },
      { file: "io.max", value: "8:0 rbps=1048576 wiops=100" },
      { file: "io.max", value: "8:16 rbps=max" },
    ]);
    expect(ioWrites(b, { present: true, perDevice: true }).slice(0, 2)).toEqual([
      { file: "io.bfq.weight", value: "500" },
      { file: "io.bfq.weight", value: "8:0 200" },
    ]);
  });
});

describe("--cgroup-parent", () => {
  it("a relative path of names under each hierarchy root", () => {
    expect(cgroupParentSegments(undefined)).toEqual(["tsbox"]);
    expect(cgroupParentSegments("/a/b/")).toEqual(["a", "b"]);
    for (const bad of ["", "/", "a/../b", "..", "a/.hidden", "a b"]) {
      expect(() => cgroupParentSegments(bad), bad).toThrow(/invalid --cgroup-parent/);
    }
  });

});

describe("host support (moby pkg/sysinfo's checks) from a fixture", () => {
  function tree(files: string[]): string {
    const top = fs.mkdtempSync(path.join(os.tmpdir(), "tsbox-sysinfo-"));
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(top, f)), { recursive: true });
      fs.writeFileSync(path.join(top, f), f.endsWith("cgroup.controllers") ? "cpuset cpu io memory pids\n" : "");
    }
    return top;
  }

  it("this host's v1 layout: bfq weight via its stats file on the root, no weight_device, swappiness and oom_control", () => {
    const h = parseHierarchy(["memory", "blkio", "cpu", "pids", "freezer"].map((c, i) =>
      `${30 + i} 31 0:${30 + i} / /sys/fs/cgroup/${c} rw - cgroup cgroup rw,${c}`).join("\n") + "\n");
    const top = tree([
      "sys/fs/cgroup/memory/memory.limit_in_bytes", "sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
      "sys/fs/cgroup/memory/memory.swappiness", "sys/fs/cgroup/memory/memory.oom_control",
      "sys/fs/cgroup/blkio/blkio.bfq.io_service_bytes", "sys/fs/cgroup/blkio/blkio.throttle.read_bps_device",
      "sys/fs/cgroup/cpu/cpu.shares", "sys/fs/cgroup/pids/pids.current",
    ]);
    try {
      expect(cgroupSupport(h, { root: top })).toMatchObject({
        version: "v1", memory: true, swapLimit: true, swappiness: true, oomKillDisable: true,
        blkioWeight: true, blkioWeightDevice: false, blkioThrottle: true, cpuShares: true, cpuCfs: false, cpuset: false, pids: true, freezer: true,
      });
    } finally {
      fs.rmSync(top, { recursive: true, force: true });
    }
  });

  it("v2: the root's cgroup.controllers; swappiness and OOM-killer control never", () => {
    const h = parseHierarchy("35 25 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    const top = tree(["sys/fs/cgroup/cgroup.controllers", "sys/fs/cgroup/init.scope/memory.current"]);
    try {
      expect(cgroupSupport(h, { root: top })).toMatchObject({
        version: "v2", memory: true, swapLimit: false, swappiness: false, oomKillDisable: false, blkioWeight: true, blkioThrottle: true, cpuset: true,
      });
    } finally {
      fs.rmSync(top, { recursive: true, force: true });
    }
  });
});
