// `tsbox top`: the container's processes as the host's `ps` shows them (host
// pids), filtered to those in the container's cgroup, the way moby does it
// (daemon/top_unix.go): run `ps` with the user's options, keep the rows whose
// PID column is in the container.

import { spawnSync } from "node:child_process";
import { TsboxError } from "../errors.js";
import { runningContainer } from "./running.js";

export interface TopResult { titles: string[]; processes: string[][] }

/** Splits ps output into titles and rows, keeping rows whose PID is in `pids` (moby's parsePSOutput). */
export function parsePsOutput(output: string, pids: ReadonlySet<number>): TopResult {
  const lines = output.split("\n").filter((l) => l.trim() !== "");
  const titles = (lines[0] ?? "").trim().split(/\s+/);
  const pidIndex = titles.indexOf("PID");
  if (pidIndex < 0) throw new TsboxError("Couldn't find PID field in ps output", 1);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    const pid = Number(fields[pidIndex]);
    if (!pids.has(pid)) continue;
    // The last title (CMD, COMMAND, ARGS) takes the rest of the line, spaces included.
    const head = fields.slice(0, titles.length - 1);
    head.push(fields.slice(titles.length - 1).join(" "));
    processes.push(head);
  }
  return { titles, processes };
}

/** Go's tabwriter as docker top uses it: min width 20, padding 3, last column unpadded. */
export function formatTop(r: TopResult): string {
  const rows = [r.titles, ...r.processes];
  const widths = r.titles.map((_, i) => Math.max(20, ...rows.map((row) => (row[i] ?? "").length + 3)));
  return rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join("")).join("\n") + "\n";
}

export function containerTop(root: string, ref: string, psArgs: string[]): TopResult {
  const { cgroup } = runningContainer(root, ref);
  const args = psArgs.length > 0 ? psArgs.flatMap((a) => a.split(" ").filter(Boolean)) : ["-ef"];
  const pids = new Set(cgroup.pids());
  const ps = spawnSync("ps", args, { encoding: "utf8", maxBuffer: 64 << 20 });
  if (ps.error) throw new TsboxError(`ps: ${ps.error.message}`, 1);
  if (ps.status !== 0) {
    throw new TsboxError(`ps: exit status ${ps.status}: ${ps.stderr.trim()}`);
  }
  return parsePsOutput(ps.stdout, pids);
}
