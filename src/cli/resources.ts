// Resource commands: `stats` (live usage) and `update` (live limits).

import { cpus } from "node:os";
import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { checkCpuset, parseBytes, parseCpus, parseIntFlag, parseMemory } from "../oci/units.js";
import { parseUint16 } from "../oci/device-flags.js";
import { eachArg, hostList, prepare } from "./common.js";

export function registerResourceCommands(program: Command): void {
  program.command("stats")
    .description("Display a live stream of container(s) resource usage statistics")
    .argument("[container...]")
    .option("-a, --all", "Show all containers (default shows just running)", false)
    .option("--no-stream", "Disable streaming stats and only pull the first result")
    .option("--no-trunc", "Do not truncate output")
    .option("--format <format>", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .action(async (refs: string[], o: { all: boolean; stream: boolean; trunc: boolean; format?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const { runStats } = await import("../runtime/stats.js");
      await runStats(g.root, { refs, all: o.all, noStream: !o.stream, noTrunc: !o.trunc, ...(o.format !== undefined ? { format: o.format } : {}) }, process.stdout);
    });

  program.command("update")
    .description("Update configuration of one or more containers")
    .argument("<container...>")
    .option("-m, --memory <bytes>", "Memory limit")
    .option("--memory-swap <bytes>", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
    .option("--memory-reservation <bytes>", "Memory soft limit")
    .option("--cpus <n>", "Number of CPUs")
    .option("-c, --cpu-shares <n>", "CPU shares (relative weight)")
    .option("--cpu-period <us>", "Limit CPU CFS (Completely Fair Scheduler) period")
    .option("--cpu-quota <us>", "Limit CPU CFS (Completely Fair Scheduler) quota")
    .option("--cpuset-cpus <list>", "CPUs in which to allow execution (0-3, 0,1)")
    .option("--cpuset-mems <list>", "MEMs in which to allow execution (0-3, 0,1)")
    .option("--pids-limit <n>", "Tune container pids limit (set -1 for unlimited)")
    .option("--blkio-weight <n>", "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
    .option("--restart <policy>", "Restart policy to apply when a container exits")
    .action(async (refs: string[], o: Record<string, string | undefined>, cmd: Command) => {
      const g = await prepare(cmd);
      const { hasChanges, updateContainer } = await import("../runtime/update.js");
      const str = (k: string): string | undefined => (o[k] === undefined ? undefined : String(o[k]));
      const opt = <T>(k: string, parse: (v: string) => T): T | undefined => {
        const v = str(k);
        return v === undefined ? undefined : parse(v);
      };
      const u = {
        memory: opt("memory", parseMemory),
        memorySwap: opt("memorySwap", (v) => (v === "-1" ? -1 : parseBytes(v, "--memory-swap"))),
        memoryReservation: opt("memoryReservation", (v) => parseBytes(v, "--memory-reservation")),
        cpus: opt("cpus", (v) => parseCpus(v, cpus().length)),
        cpuShares: opt("cpuShares", (v) => parseIntFlag(v, "-c, --cpu-shares")),
        cpuPeriod: opt("cpuPeriod", (v) => parseIntFlag(v, "--cpu-period")),
        cpuQuota: opt("cpuQuota", (v) => parseIntFlag(v, "--cpu-quota")),
        cpusetCpus: opt("cpusetCpus", (v) => checkCpuset(v, "--cpuset-cpus", hostList("/sys/devices/system/cpu/online"), "CPUs")),
        cpusetMems: opt("cpusetMems", (v) => checkCpuset(v, "--cpuset-mems", hostList("/sys/devices/system/node/online"), "memory nodes")),
        pidsLimit: opt("pidsLimit", (v) => parseIntFlag(v, "--pids-limit")),
        blkioWeight: opt("blkioWeight", (v) => parseUint16(v, "--blkio-weight")),
      };
      const restart = o.restart === undefined ? undefined : (await import("./run.js")).parseRestart(String(o.restart));
      if (!hasChanges(u) && !restart) throw new UsageError("you must provide one or more flags when using this command");
      await eachArg(refs, (ref) => {
        updateContainer(g.root, ref, u, restart);
        process.stdout.write(`${ref}\n`);
      });
    });
}
