// The pure halves of `stats` and `update`: Docker's arithmetic and text, and
// Docker's rules for merging an update into a container's resources.
import { describe, expect, it } from "vitest";
import type { CgroupStats } from "../src/cgroupfs/types.js";
import {
  netDevTotals,
  bytesSize, cpuPercent, goG, humanSize, memLimit, memUsageNoCache, rowFromSamples, rowText,
  STATS_FORMAT, systemCpuNs, type StatsSample,
} from "../src/runtime/stats-format.js";
import { mergeResources } from "../src/runtime/update.js";
import { formatRows } from "../src/util/docker-format.js";
import { tabwrite } from "../src/util/tabwriter.js";

const MiB = 1024 * 1024;
const stats = (cpuNs: number, mem?: Partial<NonNullable<CgroupStats["memory"]>>): CgroupStats => ({
  readAt: 0,
  cpu: { usageNs: cpuNs },
  ...(mem ? { memory: { usage: 0, workingSet: 0, stat: {}, ...mem } } : {}),
  pids: { current: 3 },
  io: { readBytes: 4096, writeBytes: 1_500_000, readOps: 1, writeOps: 2 },
});
const sample = (cpuNs: number, systemNs: number, mem?: Partial<NonNullable<CgroupStats["memory"]>>): StatsSample =>
  ({ stats: stats(cpuNs, mem), systemNs, onlineCpus: 2 });

describe("CPU %", () => {
  it("is Docker's: container delta / system delta × online CPUs × 100", () => {
    // 0.5 s of CPU while the 2-CPU host's clock advanced 2 s (1 s wall): half a CPU = 50 %.
    expect(cpuPercent(sample(1e9, 10e9), sample(1.5e9, 12e9))).toBeCloseTo(50);
    expect(cpuPercent(undefined, sample(1e9, 1e9))).toBe(0);
    expect(cpuPercent(sample(2e9, 10e9), sample(2e9, 12e9))).toBe(0);
    expect(cpuPercent(sample(1e9, 10e9), sample(2e9, 10e9))).toBe(0); // no system delta
  });

  it("system CPU time from /proc/stat: the first seven fields, ticks → ns", () => {
    const procStat = "cpu  100 2 30 400 5 6 7 8 0 0\ncpu0 50 1 15 200 2 3 3 4 0 0\n";
    expect(systemCpuNs(procStat)).toBe((100 + 2 + 30 + 400 + 5 + 6 + 7) * 1e7);
  });
});

describe("NET I/O", () => {
  it("sums every interface but lo of /proc/PID/net/dev (received, sent)", () => {
    const dev = [
      "Inter-|   Receive                                                |  Transmit",
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
      "    lo:  999999      10    0    0    0     0          0         0   999999      10    0    0    0     0       0          0",
      "  eth0:    1500      12    0    0    0     0          0         0      700       8    0    0    0     0       0          0",
      "  eth1:     500       2    0    0    0     0          0         0      300       1    0    0    0     0       0          0",
    ].join("\n");
    expect(netDevTotals(dev)).toEqual({ rx: 2000, tx: 1000 });
  });
});

describe("memory", () => {
  it("usage minus inactive file: v1 total_inactive_file, v2 inactive_file; never negative", () => {
    expect(memUsageNoCache({ usage: 100 * MiB, workingSet: 0, stat: { total_inactive_file: 30 * MiB } })).toBe(70 * MiB);
    expect(memUsageNoCache({ usage: 100 * MiB, workingSet: 0, stat: { inactive_file: 40 * MiB } })).toBe(60 * MiB);
    expect(memUsageNoCache({ usage: 10, workingSet: 0, stat: { inactive_file: 40 } })).toBe(10);
    expect(memUsageNoCache(undefined)).toBe(0);
  });

  it("the limit is the host's memory when unlimited or larger", () => {
    expect(memLimit({ usage: 0, workingSet: 0, stat: {}, limit: 64 * MiB }, 8192 * MiB)).toBe(64 * MiB);
    expect(memLimit({ usage: 0, workingSet: 0, stat: {} }, 8192 * MiB)).toBe(8192 * MiB);
    expect(memLimit({ usage: 0, workingSet: 0, stat: {}, limit: 2 ** 62 }, 8192 * MiB)).toBe(8192 * MiB);
  });
});

describe("text as the Docker CLI prints it", () => {
  it("Go's %g and go-units sizes", () => {
    expect(goG(1.5, 4)).toBe("1.5");
    expect(goG(1023.99, 4)).toBe("1024");
    expect(goG(96.50390625, 4)).toBe("96.5");
    expect(goG(0.000012345, 3)).toBe("1.23e-05");
    expect(bytesSize(0)).toBe("0B");
    expect(bytesSize(253952)).toBe("248KiB");
    expect(bytesSize(1589248)).toBe("1.516MiB");
    expect(bytesSize(8221446144)).toBe("7.657GiB");
    expect(humanSize(4096)).toBe("4.1kB");
    expect(humanSize(1_500_000)).toBe("1.5MB");
    expect(humanSize(0)).toBe("0B");
  });

  it("a row, the table (tabwriter, padding 3) and JSON lines", () => {
    const id = "3add7e6193aaaef78711b7c2bf6fbbf068aac6979851032e6f7c652cfd8fa756";
    const row = rowFromSamples(id, "web", sample(1e9, 10e9), sample(1.5e9, 12e9, { usage: 100 * MiB, limit: 512 * MiB, stat: { total_inactive_file: 4 * MiB } }), 8192 * MiB);
    const t = rowText(row, { noTrunc: false });
    expect(t).toEqual({
      ID: "3add7e6193aa", Name: "web", Container: "3add7e6193aa", CPUPerc: "50.00%", MemUsage: "96MiB / 512MiB",
      MemPerc: "18.75%", NetIO: "0B / 0B", BlockIO: "4.1kB / 1.5MB", PIDs: "3",
    });
    expect(rowText(row, { noTrunc: true }).ID).toBe(id);
    expect(formatRows(undefined, [t], STATS_FORMAT)).toBe(
      "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O       PIDS\n" +
      "3add7e6193aa   web       50.00%    96MiB / 512MiB      18.75%    0B / 0B   4.1kB / 1.5MB   3\n");
    expect(JSON.parse(formatRows("json", [t], STATS_FORMAT))).toEqual(t);
    expect(Object.keys(JSON.parse(formatRows("json", [t], STATS_FORMAT)) as object)).toEqual(["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"]);
    expect(tabwrite("a\tb\nlong-cell-here\tc\n")).toBe(`${"a".padEnd(17)}b\nlong-cell-here   c\n`);
  });
});

describe("update: Docker's merge rules", () => {
  const base = { memory: { limit: 64 * MiB, swap: 128 * MiB }, cpu: { shares: 1024 }, pids: { limit: 100 } };

  it("changes only what is given and keeps the rest", () => {
    const { resources } = mergeResources(base, 0, { memory: 96 * MiB, cpuShares: 512 });
    expect(resources).toEqual({ memory: { limit: 96 * MiB, swap: 128 * MiB }, cpu: { shares: 512 }, pids: { limit: 100 } });
    expect(mergeResources(base, 0, { pidsLimit: -1 }).resources.pids).toEqual({ limit: -1 });
    expect(mergeResources(base, 0, { pidsLimit: 0 }).resources.pids).toEqual({ limit: -1 });
  });

  it("--cpus is NanoCPUs: quota over the default period, recorded apart from --cpu-quota", () => {
    const r = mergeResources(base, 0, { cpus: 1.5 });
    expect(r).toEqual({ resources: { ...base, cpu: { shares: 1024, quota: 150_000, period: 100_000 } }, nanoCpus: 1.5e9 });
    expect(mergeResources(r.resources, r.nanoCpus, { cpus: 0.25 }).resources.cpu).toEqual({ shares: 1024, quota: 25_000, period: 100_000 });
    expect(() => mergeResources(r.resources, r.nanoCpus, { cpuQuota: 20_000 })).toThrow("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
    expect(() => mergeResources(r.resources, r.nanoCpus, { cpuPeriod: 20_000 })).toThrow("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set");
    const q = mergeResources(base, 0, { cpuQuota: 20_000 });
    expect(() => mergeResources(q.resources, 0, { cpus: 1 })).toThrow("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set");
  });

  it("a memory limit above the recorded memory+swap needs --memory-swap (also when none was set), as in Docker", () => {
    expect(() => mergeResources(base, 0, { memory: 256 * MiB })).toThrow("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
    expect(() => mergeResources({}, 0, { memory: 64 * MiB })).toThrow(/update the memoryswap at the same time/);
    expect(mergeResources({}, 0, { memory: 64 * MiB, memorySwap: -1 }).resources.memory).toEqual({ limit: 64 * MiB, swap: -1 });
    expect(mergeResources(base, 0, { memory: 256 * MiB, memorySwap: 512 * MiB }).resources.memory).toEqual({ limit: 256 * MiB, swap: 512 * MiB });
  });

  it("the checks of `run`, on the merged result", () => {
    expect(() => mergeResources(base, 0, { memorySwap: 32 * MiB })).toThrow("Minimum memoryswap limit should be larger than memory limit, see usage");
    expect(() => mergeResources({}, 0, { memorySwap: 32 * MiB })).toThrow("You should always set the Memory limit when using Memoryswap limit, see usage");
    expect(() => mergeResources(base, 0, { memoryReservation: 96 * MiB })).toThrow("Minimum memory limit can not be less than memory reservation limit, see usage");
    expect(() => mergeResources(base, 0, { cpuQuota: 500 })).toThrow("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    expect(() => mergeResources(base, 0, { cpuPeriod: 2_000_000 })).toThrow(/CPU cfs period can not be less than 1ms/);
  });

  it("keeps what update does not manage: devices, swappiness, OOM killer, I/O throttles", () => {
    const devices = [{ allow: false, access: "rwm" }];
    const blockIO = { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1024 }] };
    const r = mergeResources({ ...base, devices, blockIO, memory: { ...base.memory, swappiness: 10, disableOOMKiller: true } }, 0, { memory: 96 * MiB, blkioWeight: 300 });
    expect(r.resources.devices).toBe(devices);
    expect(r.resources.memory).toEqual({ limit: 96 * MiB, swap: 128 * MiB, swappiness: 10, disableOOMKiller: true });
    expect(r.resources.blockIO).toEqual({ ...blockIO, weight: 300 });
    expect(() => mergeResources(base, 0, { blkioWeight: 5 })).toThrow("Range of blkio weight is from 10 to 1000");
  });
});
