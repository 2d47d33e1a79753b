// `tsbox mem balance`: keeps running containers' memory limits near their
// working sets, within a budget (src/reclaim/balance). Registered into the
// `mem` group by src/cli/mem.ts.

import { Option, type Command } from "commander";
import { UsageError } from "../errors.js";
import { formatBytes, table } from "../format.js";
import { goDurationNs, parseBytes } from "../oci/units.js";
import { prepare } from "./common.js";

type Format = "table" | "json";

/** "0.1%" or "0.1" (percent of the time stalled) → a fraction. */
export function parsePressureTarget(v: string): number {
  const n = Number(v.replace(/%$/, ""));
  if (v.trim() === "" || !Number.isFinite(n) || n <= 0 || n >= 100) {
    throw new UsageError(`invalid argument "${v}" for "--pressure-target" flag: a percentage of the time stalled, above 0 and below 100 (e.g. 0.1%)`);
  }
  return n / 100;
}

export function parseInterval(v: string): number {
  const ns = goDurationNs(v) ?? (/^\d+$/.test(v) ? Number(v) * 1e6 : undefined);
  if (ns === undefined || ns < 100e6) throw new UsageError(`invalid argument "${v}" for "--interval" flag: a duration of at least 100ms (e.g. 1s, 500ms)`);
  return ns / 1e6;
}

const limitText = (n: number | undefined): string => (n === undefined ? "unlimited" : formatBytes(n));

export function registerMemBalance(mem: Command): void {
  mem.command("balance")
    .description("Keep running containers' memory limits near their working sets within a budget: probe down while pressure is low, raise at once under pressure")
    .argument("[container...]", "containers to balance (default: every running container, and those started meanwhile)")
    .option("--budget <size>", "memory for all balanced containers together (default: what they use plus the host's available memory, less a reserve)")
    .option("--interval <duration>", "time between rounds", "1s")
    .option("--pressure-target <percent>", "time stalled on memory below which a limit is probed down", "0.1%")
    .option("--once", "one round, then leave the limits in place (undo with --restore)", false)
    .option("--restore", "restore the limits recorded before balancing (after --once, or a balancer that was killed)", false)
    .addOption(new Option("--format <format>", "output format").choices(["table", "json"]).default("table"))
    .action(async (refs: string[], o: Record<string, unknown>, cmd: Command) => {
      const g = await prepare(cmd);
      const format = o.format as Format;
      if (o.restore && (o.once || o.budget !== undefined)) throw new UsageError("mem balance: --restore excludes --once and --budget");
      const budget = o.budget !== undefined ? parseBytes(String(o.budget), "--budget") : undefined;
      if (budget !== undefined && budget < 4096) throw new UsageError(`invalid argument "${String(o.budget)}" for "--budget" flag: at least 4KiB`);
      const intervalMs = parseInterval(String(o.interval));
      const pressureTarget = parsePressureTarget(String(o.pressureTarget));
      const ctl = await import("../reclaim/balance/controller.js");
      const out = (line: string): void => { process.stdout.write(line + "\n"); };
      const sayRestored = (r: { name: string; id: string; limit?: number; gone?: boolean }[]): void => {
        for (const x of r) {
          if (format === "json") out(JSON.stringify({ restored: x.id, name: x.name, limit: x.limit ?? null, ...(x.gone ? { gone: true } : {}) }));
          else out(x.gone ? `${x.name}: stopped meanwhile, nothing to restore` : `${x.name}: limit restored to ${limitText(x.limit)}`);
        }
      };
      if (o.restore) {
        sayRestored(ctl.restoreRecorded(g.root, refs));
        return;
      }
      const ac = new AbortController();
      const onSignal = (): void => { ac.abort(); };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        const rep = await ctl.balanceLoop(g.root, refs, {
          ...(budget !== undefined ? { budget } : {}), intervalMs, tuning: { pressureTarget }, once: Boolean(o.once), signal: ac.signal,
          onRound: (results, b) => {
            if (o.once) return;
            for (const r of results) {
              if (r.write === "unchanged") continue;
              if (format === "json") out(JSON.stringify({ at: new Date().toISOString(), budget: b, ...r }));
              else out(`${new Date().toISOString()} ${r.name}: ${limitText(r.from)} -> ${formatBytes(r.to)} (${r.reason}, usage ${formatBytes(r.usage)}, pressure ${(r.pressure * 100).toFixed(2)}%${r.write === "busy" ? ", kernel refused: unchanged" : ""})`);
            }
          },
        });
        if (o.once) {
          if (format === "json") { out(JSON.stringify({ budget: rep.budget, containers: rep.last }, null, 2)); return; }
          out(table(["CONTAINER ID", "NAME", "USAGE", "PRESSURE", "FLOOR", "LIMIT BEFORE", "LIMIT AFTER", "REASON"],
            rep.last.map((r) => [r.id.slice(0, 12), r.name, formatBytes(r.usage), `${(r.pressure * 100).toFixed(2)}%`, formatBytes(r.floor),
              limitText(r.from), r.write === "busy" ? `${limitText(r.from)} (kernel refused ${formatBytes(r.to)})` : formatBytes(r.to), r.reason])).trimEnd());
          return;
        }
        if (format === "table") out(`stopped after ${rep.rounds} rounds (budget ${formatBytes(rep.budget)})`);
        sayRestored(rep.restored);
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
