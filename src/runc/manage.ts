// tsbox-runc's verbs on a living container: ps, pause, resume, update (runc's flags).

import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { LinuxResources } from "../cgroupfs/index.js";
import { UsageError } from "../errors.js";
import { parseResources } from "../oci/bundle.js";
import { parseBytes } from "../oci/units.js";
import { bundleEvents } from "../runtime/bundle/events.js";
import { pauseBundleContainer } from "../runtime/bundle/pause.js";
import { bundleContainerPids, bundleContainerPs } from "../runtime/bundle/ps.js";
import { mergeResources, updateBundleContainer } from "../runtime/bundle/update.js";
import type { GlobalOptions } from "./globals.js";
import { writeOut } from "./output.js";

interface UpdateFlags {
  resources?: string;
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpuShare?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: string;
  blkioWeight?: string;
}

const int = (v: string, flag: string): number => {
  if (!/^-?\d+$/.test(v)) throw new UsageError(`invalid value ${JSON.stringify(v)} for flag --${flag}`, 1);
  return Number(v);
};
/** runc's memory flags: bytes with a unit (units.RAMInBytes), or -1 for unlimited. */
const bytes = (v: string, flag: string): number => (v === "-1" ? -1 : parseBytes(v, `--${flag}`));

/** runc's update flags as linux.resources (those given only). */
export function resourceFlags(f: UpdateFlags): LinuxResources {
  const r: LinuxResources = {};
  const memory = {
    ...(f.memory !== undefined ? { limit: bytes(f.memory, "memory") } : {}),
    ...(f.memorySwap !== undefined ? { swap: bytes(f.memorySwap, "memory-swap") } : {}),
    ...(f.memoryReservation !== undefined ? { reservation: bytes(f.memoryReservation, "memory-reservation") } : {}),
  };
  // runc: an unlimited memory without a swap limit given makes swap unlimited too.
  if (memory.limit === -1 && memory.swap === undefined) Object.assign(memory, { swap: -1 });
  if (Object.keys(memory).length > 0) r.memory = memory;
  const cpu = {
    ...(f.cpuShare !== undefined ? { shares: int(f.cpuShare, "cpu-share") } : {}),
    ...(f.cpuQuota !== undefined ? { quota: int(f.cpuQuota, "cpu-quota") } : {}),
    ...(f.cpuPeriod !== undefined ? { period: int(f.cpuPeriod, "cpu-period") } : {}),
    ...(f.cpusetCpus !== undefined ? { cpus: f.cpusetCpus } : {}),
    ...(f.cpusetMems !== undefined ? { mems: f.cpusetMems } : {}),
  };
  if (Object.keys(cpu).length > 0) r.cpu = cpu;
  if (f.pidsLimit !== undefined) r.pids = { limit: int(f.pidsLimit, "pids-limit") };
  if (f.blkioWeight !== undefined) r.blockIO = { weight: int(f.blkioWeight, "blkio-weight") };
  return r;
}

/** Go's time.Duration text, as runc's --interval: "5s", "500ms", "1m30s". */
export function durationMs(text: string): number {
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) {
    throw new UsageError(`invalid value ${JSON.stringify(text)} for flag --interval: time: invalid duration`, 1);
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * unit[p[2]!]!, 0);
}

export function registerManage(program: Command, g: () => GlobalOptions): void {
  program.command("ps").argument("<container-id>").argument("[ps-args...]")
    .description("ps displays the processes running inside a container")
    .option("-f, --format <format>", "select one of: table or json", "table")
    .passThroughOptions()
    .action((id: string, psArgs: string[], f: { format: string }) => {
      if (f.format === "json") writeOut(`${JSON.stringify(bundleContainerPids(g().root, id))}\n`);
      else if (f.format === "table") writeOut(bundleContainerPs(g().root, id, psArgs));
      else throw new UsageError("invalid format option", 1);
    });

  program.command("events").argument("<container-id>").description("display container events such as OOM notifications, cpu, memory, and IO usage statistics")
    .option("--interval <duration>", "set the stats collection interval (e.g. 5s, 500ms)", "5s")
    .option("--stats", "display the container's stats then exit")
    .action(async (id: string, f: { interval: string; stats?: boolean }) => {
      await bundleEvents(g().root, id, { intervalMs: durationMs(f.interval), once: f.stats === true },
        (e) => writeOut(`${JSON.stringify(e)}\n`));
    });

  program.command("pause").argument("<container-id>").description("pause suspends all processes inside the container")
    .action(async (id: string) => { await pauseBundleContainer(g().root, id, true); });
  program.command("resume").argument("<container-id>").description("resumes all processes that have been previously paused")
    .action(async (id: string) => { await pauseBundleContainer(g().root, id, false); });

  program.command("update").argument("<container-id>").description("update container resource constraints")
    .option("-r, --resources <file>", "path to a file containing the resources to update, or \"-\" to read from standard input")
    .option("--memory <bytes>", "memory limit (in bytes)")
    .option("--memory-swap <bytes>", "total memory usage (memory + swap); -1 for unlimited")
    .option("--memory-reservation <bytes>", "memory reservation or soft limit (in bytes)")
    .option("--cpu-share <n>", "CPU shares (relative weight vs. other containers)")
    .option("--cpu-quota <us>", "CPU CFS hardcap limit (in usecs); allowed cpu time in a given period")
    .option("--cpu-period <us>", "CPU CFS period to be used for hardcapping (in usecs)")
    .option("--cpuset-cpus <list>", "CPU(s) to use")
    .option("--cpuset-mems <list>", "memory node(s) to use")
    .option("--pids-limit <n>", "maximum number of pids allowed in the container")
    .option("--blkio-weight <n>", "specifies per cgroup weight, range is from 10 to 1000")
    .action((id: string, f: UpdateFlags) => {
      let change: LinuxResources = {};
      if (f.resources !== undefined) {
        let text: string;
        try {
          text = readFileSync(f.resources === "-" ? 0 : f.resources, "utf8");
        } catch (e) {
          throw new UsageError(`reading ${f.resources}: ${(e as Error).message}`, 1);
        }
        change = parseResources(text, f.resources === "-" ? "resources on standard input" : f.resources);
      }
      updateBundleContainer(g().root, id, mergeResources(change, resourceFlags(f)));
    });
}
