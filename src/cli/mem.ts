// The `mem` command group: measuring containers' memory (mem-measure.ts:
// stat, scan) and modelling how a host reclaims it (mem-simulate.ts).

import type { Command } from "commander";
import { registerMemMeasure } from "./mem-measure.js";
import { registerMemSimulate } from "./mem-simulate.js";

export function registerMemCommands(program: Command): void {
  const mem = program.command("mem").description("Measure containers' memory and model how a host reclaims it");
  registerMemMeasure(mem);
  registerMemSimulate(mem);
}
