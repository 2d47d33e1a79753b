// `tsbox mem simulate`: the memory-reclamation model on a scenario file or on
// measured profiles. Pure computation; the only I/O is reading the input and
// writing the table, JSON and chart.

import { Option, type Command } from "commander";
import { writeFileSync } from "node:fs";
import { UsageError, errnoCode } from "../errors.js";
import { configureLog } from "../log.js";
import type { MemStatNumbers } from "../reclaim/model/from-profile.js";
import type { TouchBand } from "../reclaim/model/scenario.js";
import { collect, prepare, readText, type GlobalOpts } from "./common.js";

const modelApi = () => import("../reclaim/model/index.js");

interface SimulateOpts {
  hostMemory?: string;
  scenario?: string;
  profiles?: string;
  containers: string[];
  policy: string;
  budget: string;
  format: "table" | "json";
  chart?: string;
  steps?: string;
  perGuest: boolean;
  density: boolean;
  /** a path, or false for --no-host-profile */
  hostProfile?: string | false;
  workingsetFor?: string;
  stableFor?: string;
}

/** Scan the running containers' anonymous pages now (full mode) and model them with their `mem stat` numbers. */
interface HostSwap { hostHasSwap: boolean; hostSwapIsZram: boolean }

async function measuredScenario(
  cmd: Command, refs: string[], hostBytes: number, steps: number | undefined, hostSwap: HostSwap, workingsetSeconds?: number,
  stableFor?: number | ((pages: number) => number),
) {
  const g = await prepare(cmd);
  const { runningContainers } = await import("../reclaim/measure/targets.js");
  const { scanContainers, scanContainersStable, scanZramCodec } = await import("../reclaim/measure/scan.js");
  const { hostKsmSettings } = await import("../reclaim/kernel/ksm.js");
  const m = await modelApi();
  const ksm = hostKsmSettings();
  const running = runningContainers(g.root, refs);
  // the working sets measured over a window, all containers at once, before the scan reads their pages
  const measuredWs = new Map<string, { workingSet: number; touches: TouchBand[] }>();
  if (workingsetSeconds !== undefined) {
    const { memoryCgroupOf } = await import("../reclaim/kernel/cgroup-memory.js");
    const { estimateWorkingSet } = await import("../reclaim/kernel/workingset.js");
    const ws = await Promise.all(running.map(({ state }) => estimateWorkingSet(memoryCgroupOf(state), workingsetSeconds)));
    running.forEach(({ state }, i) => measuredWs.set(state.id, { workingSet: ws[i]!.workingSet, touches: ws[i]!.touches }));
  }
  // KSM merges exclusively anonymous pages only: identical file pages (two images holding the
  // same files) stay two pages, so they are no sharing potential. The file pages are still the
  // containers' memory: their cgroups charge them, once each (the `mem stat` numbers below).
  // with --stable-for, the sharing counts only pages whose content held over the window (KSM's checksum rule)
  const targets = running.map(({ state, cgroup }) => ({ id: state.id, name: state.name, pids: () => cgroup.pids() }));
  const scanOpts = { mode: "full", anonymousOnly: true, ksm, zramCodec: scanZramCodec().codec } as const;
  const { setTimeout: wait } = await import("node:timers/promises");
  const report = stableFor === undefined ? scanContainers(targets, scanOpts) : await scanContainersStable(targets, scanOpts, stableFor, wait);
  const stats = new Map<string, MemStatNumbers>();
  for (const { state, cgroup } of running) {
    const mem = cgroup.stats().memory;
    if (mem === undefined) continue;
    stats.set(state.id, {
      usage: mem.usage, anon: mem.anon ?? 0, file: mem.file ?? 0, inactiveFile: mem.inactiveFile ?? 0,
      ...(mem.limit !== undefined ? { limit: mem.limit } : {}),
      ...(measuredWs.get(state.id) ?? {}),
    });
  }
  return m.scenarioFromReport(report, stats, { hostBytes, ...hostSwap, ...(steps !== undefined ? { steps } : {}) });
}

/** "5%" or "0.05" → 0.05 */
export function parseBudget(v: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(%?)\s*$/.exec(v);
  const x = m ? Number(m[1]) / (m[2] === "%" ? 100 : 1) : NaN;
  if (!Number.isFinite(x) || x <= 0 || x > 10) throw new UsageError(`invalid argument "${v}" for "--budget" flag: expected a slowdown such as 5% or 0.05`);
  return x;
}

export function registerMemSimulate(mem: Command): void {
  mem.command("simulate")
    .description("Model page sharing, ballooning, compression, swapping and tmem on a scenario; predict how many guests fit")
    .option("--host-memory <size>", "host memory, e.g. 64GiB (overrides the scenario's hostMemory)")
    .option("--scenario <file>", "scenario file (JSON; schema in README, \"Memory model\")")
    .option("--profiles <file>", "a ScanReport, as `tsbox mem scan --format json` prints it")
    .option("--containers <id>", "containers to measure and model (repeatable)", collect, [])
    .option("--policy <policy>", "none, sharing, balloon, compress, swap, tmem, shares or esx", "esx")
    .option("--budget <slowdown>", "slowdown budget for the density search", "5%")
    .addOption(new Option("--format <format>", "output format").choices(["table", "json"]).default("table"))
    .option("--chart <file>", "write an SVG chart: memory by technique over time, slowdown against density per policy")
    .option("--steps <n>", "number of time steps (overrides the scenario)")
    .option("--per-guest", "JSON: every guest's numbers at every step", false)
    .option("--no-density", "skip the density search over every policy")
    .option("--host-profile <file>", "fault costs measured by `tsbox mem calibrate` (default <root>/mem/host-profile.json, where it exists)")
    .option("--no-host-profile", "charge the default fault costs even where a host profile exists")
    .option("--workingset-for <duration>", "with --containers: measure each container's working set over this window (as `mem workingset`) instead of usage − inactive file")
    .option("--stable-for <duration>", "with --containers: share only pages whose content held over this window, as `mem scan --stable-for` (\"ksm\" or e.g. 30s)")
    .action(async (o: SimulateOpts, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      configureLog(g.logLevel, g.logFormat);
      const m = await modelApi();
      if (!m.isPolicyName(o.policy)) throw new UsageError(`unknown policy "${o.policy}" (expected one of: ${m.POLICY_NAMES.join(", ")})`);
      const budget = parseBudget(o.budget);
      const hostBytes = o.hostMemory === undefined ? undefined : m.parseSize(o.hostMemory);
      if (o.hostMemory !== undefined && (hostBytes === undefined || hostBytes < 4096)) {
        throw new UsageError(`invalid argument "${o.hostMemory}" for "--host-memory" flag: expected a size such as 64GiB`);
      }
      let steps: number | undefined;
      if (o.steps !== undefined) {
        steps = Number(o.steps);
        if (!Number.isInteger(steps) || steps < 1 || steps > 1_000_000) throw new UsageError(`invalid argument "${o.steps}" for "--steps" flag: expected a whole number from 1 to 1000000`);
      }
      const inputs = [o.scenario, o.profiles, o.containers.length > 0 ? "containers" : undefined].filter((x) => x !== undefined);
      if (inputs.length !== 1) throw new UsageError("give exactly one of --scenario FILE, --profiles FILE or --containers ID");
      // measured containers, and a scenario that names no swap device, model this host: its swap or none
      // a host that swaps only to zram keeps swapped pages compressed in its own memory, and a swap-in is a decompression
      const { hostSwapDevices, isZramSwap } = await import("../reclaim/kernel/swap.js");
      const swaps = hostSwapDevices();
      const hostHasSwap = swaps.length > 0;
      const hostSwap: HostSwap = { hostHasSwap, hostSwapIsZram: hostHasSwap && swaps.every(isZramSwap) };
      if (o.workingsetFor !== undefined && o.containers.length === 0) throw new UsageError("--workingset-for needs --containers");
      const { parseWindow } = await import("./mem-workingset.js");
      const wsSeconds = o.workingsetFor === undefined ? undefined : parseWindow(o.workingsetFor, "--workingset-for");
      if (o.stableFor !== undefined && o.containers.length === 0) throw new UsageError("--stable-for needs --containers");
      const { stableWindow } = await import("./mem-measure.js");
      const stableFor = o.stableFor === undefined ? undefined : await stableWindow(o.stableFor, "--stable-for");
      let sc;
      if (o.containers.length > 0) {
        if (hostBytes === undefined) throw new UsageError("--host-memory is required with --containers");
        sc = await measuredScenario(cmd, o.containers, hostBytes, steps, hostSwap, wsSeconds, stableFor);
      } else if (o.scenario !== undefined) {
        sc = m.parseScenario(readText(o.scenario), { source: o.scenario, ...hostSwap, ...(hostBytes !== undefined ? { hostBytes } : {}) });
        if (steps !== undefined) sc = { ...sc, steps };
      } else {
        if (hostBytes === undefined) throw new UsageError("--host-memory is required with --profiles");
        sc = m.scenarioFromScanReport(readText(o.profiles!), { source: o.profiles!, hostBytes, ...hostSwap, ...(steps !== undefined ? { steps } : {}) });
      }
      if (sc.costs.swapDevice === "none") {
        const why = hostHasSwap ? "the scenario's swapDevice is \"none\"" : "the host has no swap (swapon --show lists no device)";
        const p = m.POLICIES[o.policy];
        if (m.onlySwaps(p)) throw new UsageError(`policy "${o.policy}" only swaps, and ${why}`);
        if (p.swap) process.stderr.write(`tsbox: warning: ${why}: policy ${o.policy} is modelled without its swap tier\n`);
      }
      // the fault costs calibrated on this host, where a profile exists; a cost the scenario gives stays
      let hostProfile: string | undefined;
      if (o.hostProfile !== false) {
        const { hostProfileFile, readHostProfile } = await import("../reclaim/host-profile.js");
        const file = o.hostProfile ?? hostProfileFile(g.root);
        const hp = readHostProfile(file);
        if (hp === undefined && o.hostProfile !== undefined) throw new UsageError(`--host-profile ${file}: no such file (make one with \`tsbox mem calibrate --profile ${file}\`)`);
        if (hp !== undefined) hostProfile = file;
        sc = { ...sc, costs: m.withHostProfile(sc.costs, hp) };
      }
      // the sharing transient at this host's ksmd rate and calibrated cost, where the host has KSM
      const { ksmAvailable } = await import("../reclaim/kernel/ksm.js");
      let ksmRate;
      if (ksmAvailable()) {
        const { hostKsmRate } = await import("../reclaim/kernel/ksm-rate.js");
        const { hostProfileFile, readHostProfile } = await import("../reclaim/host-profile.js");
        ksmRate = hostKsmRate(o.hostProfile === false ? undefined : readHostProfile(o.hostProfile ?? hostProfileFile(g.root)));
      }
      const report = m.buildReport(sc, o.policy, budget, {
        perGuestSteps: o.perGuest, density: o.density || o.chart !== undefined, ...(hostProfile !== undefined ? { hostProfile } : {}),
        ...(ksmRate !== undefined ? { ksmRate } : {}),
      });
      if (o.chart !== undefined) {
        const svg = m.renderChart(report, m.densityCurves(sc, report.density.guestsThatFit));
        try {
          writeFileSync(o.chart, svg);
        } catch (e) {
          throw new UsageError(`write ${o.chart}: ${errnoCode(e) === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
        }
      }
      process.stdout.write(o.format === "json" ? m.toJson(report) : m.toTable(report));
    });
}
