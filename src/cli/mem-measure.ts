// `tsbox mem stat` and `tsbox mem scan`: the measurement half of the memory
// commands (src/reclaim/measure), registered on the `mem` group.

import { Option, type Command } from "commander";
import { UsageError } from "../errors.js";
import type { ScanOptions } from "../reclaim/measure/scan.js";
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

/**
 * `--stable-for`: "ksm" (the window a page merged now has held, on average:
 * 1.5 ksmd passes at the host's rate over the pages it tracks, or over the
 * scanned pages where those are more: KSM off, or not yet at these containers)
 * or a duration such as 30s; seconds, or seconds as a function of the pages
 * the first content sample read.
 */
export async function stableWindow(v: string, flag: string): Promise<number | ((pages: number) => number)> {
  if (v.trim() !== "ksm") {
    const { parseWindow } = await import("./mem-workingset.js");
    return parseWindow(v, flag);
  }
  const { hostKsmRate, trackedPages } = await import("../reclaim/kernel/ksm-rate.js");
  const { mergedHoldSeconds } = await import("../reclaim/model/ksm-time.js");
  const rate = hostKsmRate();
  const tracked = trackedPages();
  return (pages) => mergedHoldSeconds(Math.max(tracked, pages), rate);
}

export const STABLE_FOR_HELP = "Count as sharable only pages whose content held over this window (\"ksm\": 1.5 ksmd passes at the host's rate, or a duration such as 30s): KSM merges a page only once its checksum held for a pass, and a write breaks it. The window is looked at three times, and the loss of held copies from its first half to its second is carried on to the level it tends to";

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
    .option("--stable-for <duration>", STABLE_FOR_HELP)
    .addOption(format())
    .action(async (refs: string[], o: { sample?: number; full: boolean; compressAll: boolean; seed: number; anonymous: boolean; zramCompressor?: string; stableFor?: string; format: "table" | "json" }, cmd: Command) => {
      if (o.sample !== undefined && o.full) throw new UsageError("--sample and --full cannot be used together");
      if (o.sample !== undefined && o.compressAll) throw new UsageError("--compress-all needs --full");
      const stable = o.stableFor === undefined ? undefined : await stableWindow(o.stableFor, "--stable-for");
      const g = await prepare(cmd);
      const { runningContainers } = await import("../reclaim/measure/targets.js");
      const { scanContainers, scanContainersStable, scanZramCodec } = await import("../reclaim/measure/scan.js");
      const { scanTable } = await import("../reclaim/measure/report.js");
      const { hostKsmSettings } = await import("../reclaim/kernel/ksm.js");
      const ksm = hostKsmSettings();
      const zram = scanZramCodec(o.zramCompressor);
      if (zram.note !== undefined) process.stderr.write(`tsbox: warning: ${zram.note}\n`);
      const targets = runningContainers(g.root, refs).map(({ state, cgroup }) => ({ id: state.id, name: state.name, pids: () => cgroup.pids() }));
      const opts: ScanOptions = o.sample !== undefined
        ? { mode: "sample", sample: o.sample, seed: o.seed, anonymousOnly: o.anonymous, ksm, zramCodec: zram.codec }
        : { mode: "full", seed: o.seed, compressAll: o.compressAll, anonymousOnly: o.anonymous, ksm, zramCodec: zram.codec };
      const { setTimeout: wait } = await import("node:timers/promises");
      const report = stable === undefined ? scanContainers(targets, opts) : await scanContainersStable(targets, opts, stable, wait);
      process.stdout.write(o.format === "json" ? `${JSON.stringify(report, null, 2)}\n` : scanTable(report));
    });
}
