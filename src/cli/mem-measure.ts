// `tsbox mem stat` and `tsbox mem scan`: the measurement half of the memory
// commands (src/reclaim/measure), registered on the `mem` group.

import { Option, type Command } from "commander";
import { UsageError } from "../errors.js";
import { prepare } from "./common.js";

function positiveInt(flag: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) throw new UsageError(`invalid ${flag}: '${v}': a positive integer is required`);
    return Number(v);
  };
}

function integer(flag: string) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`invalid ${flag}: '${v}': an integer is required`);
    return Number(v);
  };
}

const format = () => new Option("--format <format>", "Output format").choices(["table", "json"]).default("table");

export function registerMemMeasure(mem: Command): void {
  mem.command("stat")
    .description("Memory accounting of containers (default: all running)")
    .argument("[container...]")
    .addOption(format())
    .action(async (refs: string[], o: { format: "table" | "json" }, cmd: Command) => {
      const g = await prepare(cmd);
      const { runningContainers } = await import("../reclaim/measure/targets.js");
      const { memStats, statTable } = await import("../reclaim/measure/stat.js");
      const stats = memStats(runningContainers(g.root, refs));
      process.stdout.write(o.format === "json" ? `${JSON.stringify(stats, null, 2)}\n` : statTable(stats));
    });

  mem.command("scan")
    .description("Page contents of containers: duplicates, zero pages, compressibility (default: all running)")
    .argument("[container...]")
    .option("--sample <n>", "Classify N random present pages per container (every page is still hashed, for duplicates)", positiveInt("--sample"))
    .option("--full", "Classify every present page (the default)", false)
    .option("--compress-all", "With --full: compressed sizes of every page, not of a 1-in-8 sample of contents", false)
    .option("--seed <s>", "Seed for the page sample", integer("--seed"), 1)
    .option("--anonymous", "Only exclusively anonymous pages (private, not file or shared memory): what KSM can merge and zram can take", false)
    .option("--zram-compressor <name>", "Size pages for the zram figures with this compressor: lzo-rle, lzo or lz4 (default: the host's zram's)")
    .addOption(format())
    .action(async (refs: string[], o: { sample?: number; full: boolean; compressAll: boolean; seed: number; anonymous: boolean; zramCompressor?: string; format: "table" | "json" }, cmd: Command) => {
      if (o.sample !== undefined && o.full) throw new UsageError("--sample and --full cannot be used together");
      if (o.sample !== undefined && o.compressAll) throw new UsageError("--compress-all needs --full");
      const g = await prepare(cmd);
      const { runningContainers } = await import("../reclaim/measure/targets.js");
      const { scanContainers, scanZramCodec } = await import("../reclaim/measure/scan.js");
      const { scanTable } = await import("../reclaim/measure/report.js");
      const { hostKsmSettings } = await import("../reclaim/kernel/ksm.js");
      const ksm = hostKsmSettings();
      const zram = scanZramCodec(o.zramCompressor);
      if (zram.note !== undefined) process.stderr.write(`tsbox: warning: ${zram.note}\n`);
      const targets = runningContainers(g.root, refs).map(({ state, cgroup }) => ({ id: state.id, name: state.name, pids: () => cgroup.pids() }));
      const report = scanContainers(targets, o.sample !== undefined
        ? { mode: "sample", sample: o.sample, seed: o.seed, anonymousOnly: o.anonymous, ksm, zramCodec: zram.codec }
        : { mode: "full", seed: o.seed, compressAll: o.compressAll, anonymousOnly: o.anonymous, ksm, zramCodec: zram.codec });
      process.stdout.write(o.format === "json" ? `${JSON.stringify(report, null, 2)}\n` : scanTable(report));
    });
}
