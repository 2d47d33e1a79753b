// `tsbox stats`: reads each container's cgroup once a second (or twice, a
// second apart, with --no-stream, so CPU % has a delta as in Docker) and
// prints Docker's table or JSON lines.

import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { detectHierarchy, type Hierarchy } from "../cgroupfs/index.js";
import { NotFoundError } from "../errors.js";
import { formatRows } from "../util/docker-format.js";
import { containerCgroup } from "../state/container-cgroup.js";
import { findContainer, ownerAlive, readAllStates, readState, type ContainerState } from "../state/container-store.js";
import {
  netDevTotals, emptyRow, rowFromSamples, STATS_FORMAT, rowText, systemCpuNs, type RowText, type StatsSample,
} from "./stats-format.js";

export interface StatsOptions {
  refs: string[];
  all: boolean;
  noStream: boolean;
  noTrunc: boolean;
  /** Docker's --format: undefined or "table", "json", "table TEMPLATE", a Go template */
  format?: string;
  /** between readings; Docker's collector samples every second */
  intervalMs?: number;
}

const isRunning = (s: ContainerState): boolean => s.status === "running" && ownerAlive(s.owner);

/** What to show: the named containers (a missing one fails here), else the running ones (all with -a). */
function select(root: string, opts: StatsOptions): ContainerState[] {
  if (opts.refs.length > 0) {
    return opts.refs.map((r) => {
      try {
        return findContainer(root, r);
      } catch (e) {
        // docker stats exits 1 for an unknown container (a daemon error), not 125
        if (e instanceof NotFoundError) throw new NotFoundError(e.message, 1);
        throw e;
      }
    });
  }
  return readAllStates(root)
    .filter((s) => opts.all || isRunning(s))
    .sort((a, b) => a.created.localeCompare(b.created));
}

function sample(h: Hierarchy, s: ContainerState): StatsSample | undefined {
  if (!isRunning(s)) return undefined;
  try {
    const stats = containerCgroup(h, s).stats();
    let net: { rx: number; tx: number } | undefined;
    try { net = s.pid ? netDevTotals(readFileSync(`/proc/${s.pid}/net/dev`, "utf8")) : undefined; } catch { /* exited meanwhile */ }
    return { stats, systemNs: systemCpuNs(readFileSync("/proc/stat", "utf8")), onlineCpus: cpus().length, ...(net ? { net } : {}) };
  } catch {
    return undefined; // the container ended between listing and reading
  }
}

/** Re-reads the selection (by id, so a named container stays the same one) and takes one reading of each. */
function readAll(root: string, h: Hierarchy, chosen: ContainerState[]): { state: ContainerState; s?: StatsSample }[] {
  return chosen.map((c) => {
    const state = readState(root, c.id) ?? { ...c, status: "exited" as const };
    return { state, s: sample(h, state) };
  });
}

export async function runStats(root: string, opts: StatsOptions, out: NodeJS.WritableStream & { isTTY?: boolean }): Promise<void> {
  // A template that does not parse fails before any reading.
  formatRows(opts.format, [], STATS_FORMAT);
  const h = detectHierarchy();
  const interval = opts.intervalMs ?? 1000;
  const hostMemory = totalmem();
  let prev = new Map<string, StatsSample>();
  let chosen = select(root, opts);
  const render = (readings: { state: ContainerState; s?: StatsSample }[]): string => {
    const texts: RowText[] = readings.map(({ state, s }, i) => {
      const row = s ? rowFromSamples(state.id, state.name, prev.get(state.id), s, hostMemory) : emptyRow(state.id, state.name);
      // As Docker: a container named on the command line is shown as it was named (readings follow refs' order).
      const ref = opts.refs[i];
      return rowText(row, { noTrunc: opts.noTrunc, ...(ref !== undefined ? { ref } : {}) });
    });
    return formatRows(opts.format, texts, STATS_FORMAT);
  };
  const remember = (readings: { state: ContainerState; s?: StatsSample }[]): void => {
    prev = new Map(readings.flatMap(({ state, s }) => (s ? [[state.id, s] as const] : [])));
  };

  if (opts.noStream) {
    remember(readAll(root, h, chosen));
    if (chosen.some(isRunning)) await sleep(interval);
    out.write(render(readAll(root, h, chosen)));
    return;
  }
  remember(readAll(root, h, chosen));
  for (;;) {
    await sleep(interval);
    // Without names the selection follows the containers that come and go, as docker stats does.
    if (opts.refs.length === 0) chosen = select(root, opts);
    const readings = readAll(root, h, chosen);
    // On a terminal the table is redrawn in place (clear screen, cursor home).
    out.write((out.isTTY ? "\x1b[2J\x1b[H" : "") + render(readings));
    remember(readings);
  }
}
