// `tsbox mem workingset CONTAINER --for SECONDS`: the pages a running
// container touches over a window (src/reclaim/kernel/workingset.ts), beside
// the one-snapshot figure (usage − inactive file) `mem stat` and the model
// use without it.

import { Option, type Command } from "commander";
import { UsageError } from "../errors.js";
import { formatBytes, table } from "../format.js";
import { prepare } from "./common.js";

/** "10", "10s", "1.5s", "2m" → seconds, (0, 3600] */
export function parseWindow(v: string, flag: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|m)?\s*$/.exec(v);
  const x = m ? Number(m[1]) * (m[2] === "m" ? 60 : 1) : NaN;
  if (!Number.isFinite(x) || x <= 0 || x > 3600) throw new UsageError(`invalid argument "${v}" for "${flag}" flag: expected a duration such as 10s (at most 1h)`);
  return x;
}

export function registerMemWorkingSet(mem: Command): void {
  mem.command("workingset")
    .description("Measure the memory a running container touches over a window (page-table accessed bits, active page cache, refaults, pressure)")
    .argument("<container>")
    .option("--for <duration>", "how long to watch, e.g. 10s", "10s")
    .addOption(new Option("--format <format>", "output format").choices(["table", "json"]).default("table"))
    .action(async (ref: string, o: { for: string; format: "table" | "json" }, cmd: Command) => {
      const g = await prepare(cmd);
      const seconds = parseWindow(o.for, "--for");
      const { runningContainer } = await import("../reclaim/kernel/status.js");
      const { memoryCgroupOf } = await import("../reclaim/kernel/cgroup-memory.js");
      const { estimateWorkingSet } = await import("../reclaim/kernel/workingset.js");
      const c = runningContainer(g.root, ref);
      const w = await estimateWorkingSet(memoryCgroupOf(c), seconds);
      if (o.format === "json") {
        process.stdout.write(JSON.stringify({ id: c.id, name: c.name, ...w }, null, 2) + "\n");
        return;
      }
      process.stdout.write(table(["CONTAINER ID", "NAME", "WINDOW", "WORKING SET", "ANON TOUCHED", "FILE TOUCHED", "ACTIVE FILE", "REFAULTS", "USAGE", "USAGE - INACTIVE FILE"],
        [[c.id.slice(0, 12), c.name, `${w.seconds.toFixed(1)}s`, `${w.short ? "≥ " : ""}${formatBytes(w.workingSet)}`, formatBytes(w.referencedAnon),
          formatBytes(w.referencedFile), formatBytes(w.activeFile), String(w.refaultsFile + w.refaultsAnon), formatBytes(w.usage), formatBytes(w.snapshot)]]));
    });
}
