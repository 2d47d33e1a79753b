// `tsbox stats` arithmetic and text, as the Docker CLI does it
// (cli/command/container/stats_helpers.go, formatter_stats.go; go-units):
// pure functions over two readings, no file access.

import type { CgroupStats } from "../cgroupfs/types.js";
import type { RowsFormat } from "../util/docker-format.js";

/** One container's reading plus the host's CPU clock at the same moment. */
export interface StatsSample {
  stats: CgroupStats;
  /** host CPU time in ns summed over all CPUs, from /proc/stat (moby's SystemUsage) */
  systemNs: number;
  onlineCpus: number;
  /** bytes received and sent by the container's interfaces but lo (its /proc/PID/net/dev) */
  net?: { rx: number; tx: number };
}

/** /proc/PID/net/dev summed over every interface but lo, as Docker sums its networks. */
export function netDevTotals(text: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim() === "lo") continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    rx += f[0] ?? 0;
    tx += f[8] ?? 0;
  }
  return { rx, tx };
}

export interface StatsRow {
  id: string;
  name: string;
  cpuPercent: number;
  memUsage: number;
  memLimit: number;
  memPercent: number;
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
}

/**
 * moby's calculateCPUPercentUnix: the container's share of the host's CPU time
 * between two readings, scaled to "100 % = one CPU".
 */
export function cpuPercent(prev: StatsSample | undefined, cur: StatsSample): number {
  if (!prev?.stats.cpu || !cur.stats.cpu) return 0;
  const cpuDelta = cur.stats.cpu.usageNs - prev.stats.cpu.usageNs;
  const systemDelta = cur.systemNs - prev.systemNs;
  if (systemDelta > 0 && cpuDelta > 0) return (cpuDelta / systemDelta) * cur.onlineCpus * 100;
  return 0;
}

/**
 * The CLI's calculateMemUsageUnixNoCache: usage minus the inactive file cache
 * (v1 total_inactive_file, v2 inactive_file), never below zero.
 */
export function memUsageNoCache(m: CgroupStats["memory"]): number {
  if (!m) return 0;
  const stat = m.stat;
  const inactive = stat.total_inactive_file ?? stat.inactive_file ?? m.inactiveFile ?? 0;
  return inactive < m.usage ? m.usage - inactive : m.usage;
}

/** The limit docker stats shows: the cgroup limit, or the host's memory when unlimited (or larger). */
export function memLimit(m: CgroupStats["memory"], hostMemory: number): number {
  const l = m?.limit;
  return l === undefined || l <= 0 || l > hostMemory ? hostMemory : l;
}

export function rowFromSamples(id: string, name: string, prev: StatsSample | undefined, cur: StatsSample, hostMemory: number): StatsRow {
  const mem = cur.stats.memory;
  const usage = memUsageNoCache(mem);
  const limit = memLimit(mem, hostMemory);
  return {
    id, name,
    cpuPercent: cpuPercent(prev, cur),
    memUsage: usage, memLimit: limit, memPercent: limit > 0 ? (usage / limit) * 100 : 0,
    netRx: cur.net?.rx ?? 0, netTx: cur.net?.tx ?? 0,
    blockRead: cur.stats.io?.readBytes ?? 0, blockWrite: cur.stats.io?.writeBytes ?? 0,
    pids: cur.stats.pids?.current ?? 0,
  };
}

/** The row Docker prints for a container that is not running (all zeros, "0B / 0B"). */
export function emptyRow(id: string, name: string): StatsRow {
  return { id, name, cpuPercent: 0, memUsage: 0, memLimit: 0, memPercent: 0, netRx: 0, netTx: 0, blockRead: 0, blockWrite: 0, pids: 0 };
}

/** Go's %.<p>g: p significant digits, trailing zeros dropped, exponent form outside [1e-4, 10^p). */
export function goG(x: number, p: number): string {
  if (x === 0) return "0";
  const exp = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(p)))));
  if (exp < -4 || exp >= p) {
    const [mant, e] = x.toExponential(p - 1).split("e");
    const m = mant!.includes(".") ? mant!.replace(/\.?0+$/, "") : mant!;
    const n = Number(e);
    return `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  const s = x.toPrecision(p);
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

function customSize(size: number, base: number, units: readonly string[], precision: number): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return `${goG(size, precision)}${units[i]}`;
}

/** go-units BytesSize: binary units, 4 significant digits ("1.516MiB"). */
export function bytesSize(n: number): string {
  return customSize(n, 1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"], 4);
}

/** go-units HumanSizeWithPrecision(n, 3): decimal units ("4.1kB"). */
export function humanSize(n: number): string {
  return customSize(n, 1000, ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"], 3);
}

export interface RowText {
  ID: string;
  Name: string;
  Container: string;
  CPUPerc: string;
  MemUsage: string;
  MemPerc: string;
  NetIO: string;
  BlockIO: string;
  PIDs: string;
}

/** The cells as the Docker CLI renders them (also the keys of `--format json`). */
export function rowText(r: StatsRow, opts: { noTrunc: boolean; ref?: string }): RowText {
  const id = opts.noTrunc ? r.id : r.id.slice(0, 12);
  return {
    ID: id,
    Name: r.name,
    Container: opts.ref ?? id,
    CPUPerc: `${r.cpuPercent.toFixed(2)}%`,
    MemUsage: `${bytesSize(r.memUsage)} / ${bytesSize(r.memLimit)}`,
    MemPerc: `${r.memPercent.toFixed(2)}%`,
    NetIO: `${humanSize(r.netRx)} / ${humanSize(r.netTx)}`,
    BlockIO: `${humanSize(r.blockRead)} / ${humanSize(r.blockWrite)}`,
    PIDs: String(r.pids),
  };
}

/** Docker's statsContext headers and default table (docker/cli container/formatter_stats.go): formatRows prints the rows. */
export const STATS_FORMAT: RowsFormat = {
  typeName: "*container.statsContext",
  defaultTable: "table {{.ID}}\\t{{.Name}}\\t{{.CPUPerc}}\\t{{.MemUsage}}\\t{{.MemPerc}}\\t{{.NetIO}}\\t{{.BlockIO}}\\t{{.PIDs}}",
  headers: {
    Container: "CONTAINER", Name: "NAME", ID: "CONTAINER ID", CPUPerc: "CPU %", MemUsage: "MEM USAGE / LIMIT", MemPerc: "MEM %",
    NetIO: "NET I/O", BlockIO: "BLOCK I/O", PIDs: "PIDS",
  },
};

/** moby getSystemCPUUsage: the first seven fields of /proc/stat's "cpu" line, in ns. */
export function systemCpuNs(procStat: string, clockTicks = 100): number {
  const line = procStat.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) return 0;
  const ticks = line.trim().split(/\s+/).slice(1, 8).reduce((s, v) => s + Number(v), 0);
  return (ticks * 1e9) / clockTicks;
}
