// `tsbox mem ksm` and `tsbox mem balloon`: the kernel side of memory
// reclamation (src/reclaim/kernel). Registered into the `mem` group by
// src/cli/mem.ts.

import { Option, type Command } from "commander";
import { UsageError } from "../errors.js";
import { prepare } from "./common.js";
import { parseBytes, parseIntFlag } from "../oci/units.js";
import { formatBytes, table } from "../format.js";
import { timingTable } from "./mem-ksm-timing.js";

type Format = "table" | "json";
const formatOption = (): Option => new Option("--format <format>", "output format").choices(["table", "json"]).default("table");

export function registerMemKernel(mem: Command): void {
  const ksm = mem.command("ksm").description("Kernel samepage merging: turn the kernel's scanner on or off, report what it saves");

  ksm.command("on")
    .description("Start the KSM scanner (run=1) at tsbox's scan rate; `off` restores the previous settings")
    .option("--pages-to-scan <n>", "pages per wake-up (default 10000)")
    .option("--sleep-millisecs <ms>", "sleep between wake-ups (default: unchanged)")
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const g = await prepare(cmd);
      const { ksmOn } = await import("../reclaim/kernel/ksm.js");
      ksmOn(g.root, {
        ...(o.pagesToScan !== undefined ? { pagesToScan: positive(String(o.pagesToScan), "--pages-to-scan") } : {}),
        ...(o.sleepMillisecs !== undefined ? { sleepMillisecs: positive(String(o.sleepMillisecs), "--sleep-millisecs", 0) } : {}),
      });
    });

  ksm.command("off")
    .description("Stop the KSM scanner: restore exactly the settings `on` changed (run=0 if none were recorded)")
    .action(async (_o: unknown, cmd: Command) => {
      const g = await prepare(cmd);
      const { ksmOff } = await import("../reclaim/kernel/ksm.js");
      ksmOff(g.root);
    });

  ksm.command("status")
    .description("Global KSM counters, per-container merged pages, and how fast ksmd merges at its rate")
    .option("--for <seconds>", "also measure ksmd's scan rate and the copy-on-write breaks of KSM pages (cow_ksm) over this long")
    .addOption(formatOption())
    .action(async (o: { format: Format; for?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const seconds = o.for === undefined ? undefined : Number(o.for);
      if (seconds !== undefined && !(Number.isFinite(seconds) && seconds > 0 && seconds <= 3600)) {
        throw new UsageError(`invalid argument "${o.for}" for "--for" flag: expected seconds, more than 0 and at most 3600`);
      }
      const { ksmStatus } = await import("../reclaim/kernel/status.js");
      const { ksmTimingReport } = await import("./mem-ksm-timing.js");
      const s = ksmStatus(g.root);
      const timing = await ksmTimingReport(g.root, seconds);
      if (o.format === "json") {
        process.stdout.write(JSON.stringify({ ...s, timing }, null, 2) + "\n");
        return;
      }
      const c = s.global;
      process.stdout.write(table(["RUN", "PAGES_TO_SCAN", "SLEEP_MS", "FULL_SCANS", "SHARED", "SHARING", "UNSHARED", "VOLATILE", "ZERO", "SAVED", "PROFIT"],
        [[c.run, c.pages_to_scan, c.sleep_millisecs, c.full_scans, c.pages_shared, c.pages_sharing, c.pages_unshared,
          c.pages_volatile, c.ksm_zero_pages].map((v) => String(v ?? "-")).concat(formatBytes(s.savedBytes), signedBytes(c.general_profit ?? 0))]));
      if (s.containers.length > 0) {
        // PROFIT is the container's share: a KSM page mapped m times counts (m − 1)/m for each mapping, so
        // the shares of every process KSM scans add up to general_profit
        process.stdout.write("\n" + table(["CONTAINER ID", "NAME", "MERGE", "PROCESSES", "MERGING PAGES", "SAVED PAGES", "PROFIT"],
          s.containers.map((k) => [k.id.slice(0, 12), k.name, k.mergeAny ? "yes" : "no", String(k.pids), String(k.ksmMergingPages),
            k.savedPages.toFixed(2), signedBytes(k.profit)])));
      }
      process.stdout.write("\n" + timingTable(timing));
    });

  mem.command("balloon")
    .description("Reclaim memory from a running container through its cgroup, in steps, stopping when it shows pressure")
    .argument("<container>")
    .option("--target <size>", "memory to leave the container (the balloon stays as a lowered limit)")
    .option("--step <size>", "bytes per inflation step", "16m")
    .option("--auto", "target the working set (usage − inactive file)", false)
    .option("--deflate", "remove the balloon: restore the limit from before the first inflation", false)
    .addOption(formatOption())
    .action(async (ref: string, o: Record<string, unknown>, cmd: Command) => {
      const g = await prepare(cmd);
      const hasTarget = o.target !== undefined;
      if (o.deflate && (hasTarget || o.auto)) throw new UsageError("mem balloon: --deflate excludes --target and --auto");
      if (!o.deflate && !hasTarget && !o.auto) throw new UsageError("mem balloon: give --target SIZE, --auto, or --deflate");
      const target = hasTarget ? parseBytes(String(o.target), "--target") : undefined;
      const step = parseBytes(String(o.step), "--step");
      if (step < 4096) throw new UsageError(`invalid argument "${String(o.step)}" for "--step" flag: at least 4KiB`);
      const { runningContainer } = await import("../reclaim/kernel/status.js");
      const { memoryCgroupOf } = await import("../reclaim/kernel/cgroup-memory.js");
      const { inflate, deflate } = await import("../reclaim/kernel/balloon.js");
      const c = runningContainer(g.root, ref);
      const cg = memoryCgroupOf(c);
      if (o.deflate) {
        const r = deflate(g.root, c.id, cg);
        if (o.format === "json") process.stdout.write(JSON.stringify({ id: c.id, deflated: true, ...r }) + "\n");
        return;
      }
      const rep = await inflate(g.root, c.id, cg, { ...(target !== undefined ? { target } : {}), auto: Boolean(o.auto), step });
      if (o.format === "json") {
        process.stdout.write(JSON.stringify(rep, null, 2) + "\n");
        return;
      }
      process.stdout.write(table(["CONTAINER ID", "BEFORE", "AFTER", "TARGET", "RECLAIMED", "PREDICTED", "STEPS", "REFAULTS", "MAJFLT", "STOPPED BY", "LIMIT", "TIME"],
        [[c.id.slice(0, 12), formatBytes(rep.before.usage), formatBytes(rep.after.usage), formatBytes(rep.target), formatBytes(rep.reclaimedBytes),
          formatBytes(rep.predictedBytes), String(rep.steps), String(rep.refaults), String(rep.majorFaults), rep.stoppedBy,
          rep.limit === undefined ? "unlimited" : formatBytes(rep.limit), `${(rep.elapsedMs / 1000).toFixed(1)}s`]]));
    });
}

/** A profit is negative while KSM tracks pages it has not merged (64 bytes each). */
const signedBytes = (n: number): string => (n < 0 ? `-${formatBytes(-n)}` : formatBytes(n));

function positive(v: string, flag: string, min = 1): number {
  const n = parseIntFlag(v, flag);
  if (n < min) throw new UsageError(`invalid argument "${v}" for "${flag}" flag: must be at least ${min}`);
  return n;
}

