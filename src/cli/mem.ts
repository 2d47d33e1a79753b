// The `mem` group: measurement (mem-measure.ts) and the model (simulate).

import type { Command } from "commander";
import { registerMemMeasure } from "./mem-measure.js";

export function registerMemCommands(program: Command): void {
  const mem = program.command("mem").description("Measure containers' memory and model its reclamation");
  registerMemMeasure(mem);
}
