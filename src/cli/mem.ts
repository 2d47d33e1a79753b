// `tsbox mem`: container memory — measure it (mem-measure.ts: stat, scan; mem-workingset.ts),
// model how a host reclaims it (mem-simulate.ts) and reclaim it for real
// (mem-kernel.ts: ksm, balloon), and measure what faults cost on this host
// (mem-calibrate.ts), and balance running containers' limits (mem-balance.ts).
// Each part registers its own subcommands.

import type { Command } from "commander";
import { registerMemBalance } from "./mem-balance.js";
import { registerMemCalibrate } from "./mem-calibrate.js";
import { registerMemKernel } from "./mem-kernel.js";
import { registerMemMeasure } from "./mem-measure.js";
import { registerMemSimulate } from "./mem-simulate.js";
import { registerMemWorkingSet } from "./mem-workingset.js";

export function registerMemCommands(program: Command): void {
  const mem = program.command("mem").description("Container memory: measure, model and reclaim");
  registerMemMeasure(mem);
  registerMemSimulate(mem);
  registerMemKernel(mem);
  registerMemCalibrate(mem);
  registerMemWorkingSet(mem);
  registerMemBalance(mem);
}
