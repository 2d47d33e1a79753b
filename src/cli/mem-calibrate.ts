// `tsbox mem calibrate`: measure this host's fault and KSM costs
// (src/reclaim/kernel/calibrate.ts) and store them as the host profile that
// `tsbox mem simulate` charges; `--show` prints the stored one.

import { Option, type Command } from "commander";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { TsboxError, UsageError } from "../errors.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { hostProfileFile, readHostProfile, type Figure, type HostProfile } from "../reclaim/host-profile.js";
import { prepare } from "./common.js";
import { table } from "../format.js";

interface CalibrateOpts { profile?: string; quick: boolean; show: boolean; pagesToScan: string; sleepMillisecs: string; ksm: boolean; format: "table" | "json" }

function count(v: string, flag: string, min: number): number {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min) throw new UsageError(`invalid argument "${v}" for "${flag}" flag: a whole number of at least ${min} is required`);
  return Number(v);
}

/** ns as the table shows it: 850ns, 2.31µs, 1.20ms */
export function formatNs(ns: number): string {
  if (ns < 1_000) return `${Math.round(ns)}ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)}µs`;
  return `${(ns / 1_000_000).toFixed(2)}ms`;
}

function row(what: string, f: Figure | undefined): string[][] {
  return f === undefined ? [] : [[what, formatNs(f.median), formatNs(f.p90), f.clock, String(f.samples.length), f.load1.toFixed(2)]];
}

export function profileTable(p: HostProfile, file: string): string {
  const s = p.swap;
  const dev = s.compressor !== undefined ? `zram, ${s.compressor}` : s.device ?? "";
  const out = [
    `host profile ${file}: measured ${p.measuredAt}${p.quick ? " (quick)" : ""}, kernel ${p.kernel}, cgroup ${p.cgroup}, ${p.cpus} CPUs,`
      + ` load average ${p.loadBefore.map((x) => x.toFixed(2)).join(" ")} before, ${p.loadAfter.map((x) => x.toFixed(2)).join(" ")} after`,
    table(["COST PER PAGE", "MEDIAN", "P90", "CLOCK", "REPS", "LOAD"], [
      ...row(`file refault, in order (${p.fileRefault.method})`, p.fileRefault.sequential),
      ...row("file refault, random order", p.fileRefault.random),
      ...row(`swap-in (${dev})`, s.swapIn),
      ...row("swap-in, same-filled page", s.swapInSameFilled),
      ...row(`decompression (${s.compressor ?? ""})`, s.decompress),
      ...row(`swap-out (${dev}), compressible text page`, s.swapOut),
      ...row("ksmd CPU per page scanned", p.ksm.perPageScanned),
      ...row("ksmd CPU per page merged", p.ksm.perPageMerged),
    ]).trimEnd(),
    `swap: ${s.note}`,
    `ksm: ${p.ksm.note}`,
  ];
  return `${out.join("\n")}\n`;
}

export function registerMemCalibrate(mem: Command): void {
  mem.command("calibrate")
    .description("Measure this host's refault, swap-in, decompression and ksmd costs; store them as the host profile mem simulate uses")
    .option("--profile <file>", "where to store (or, with --show, read) the profile (default <root>/mem/host-profile.json)")
    .option("--quick", "fewer, smaller repetitions (seconds)", false)
    .option("--show", "print the stored profile instead of measuring", false)
    .option("--pages-to-scan <n>", "ksmd's pages_to_scan while its cost is measured", "1000")
    .option("--sleep-millisecs <ms>", "ksmd's sleep_millisecs while its cost is measured", "10")
    .option("--no-ksm", "leave ksmd and its host-wide settings alone (another KSM user is measuring): its costs are not measured")
    .addOption(new Option("--format <format>", "output format").choices(["table", "json"]).default("table"))
    .action(async (o: CalibrateOpts, cmd: Command) => {
      const g = await prepare(cmd);
      const file = o.profile ?? hostProfileFile(g.root);
      if (o.show) {
        const p = readHostProfile(file);
        if (p === undefined) throw new TsboxError(`no host profile at ${file}: run \`tsbox mem calibrate\` first`);
        process.stdout.write(o.format === "json" ? `${JSON.stringify(p, null, 2)}\n` : profileTable(p, file));
        return;
      }
      const pagesToScan = count(o.pagesToScan, "--pages-to-scan", 1);
      const sleepMillisecs = count(o.sleepMillisecs, "--sleep-millisecs", 0);
      const { calibrateHost } = await import("../reclaim/kernel/calibrate.js");
      const p = await calibrateHost({
        quick: o.quick, pagesToScan, sleepMillisecs, skipKsm: !o.ksm, scratchDir: join(g.root, "mem"),
        progress: (line) => { if (o.format === "table") process.stderr.write(`calibrating: ${line}\n`); },
      });
      mkdirSync(dirname(file), { recursive: true });
      writeJsonAtomic(file, p, true);
      process.stdout.write(o.format === "json" ? `${JSON.stringify(p, null, 2)}\n` : profileTable(p, file));
    });
}
