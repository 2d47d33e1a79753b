// The `mem` command group: measuring containers' memory and modelling its
// reclamation (`tsbox mem simulate`; `mem stat` and `mem scan` join it).

import type { Command } from "commander";
import { registerMemSimulate } from "./mem-simulate.js";

export function registerMemCommands(program: Command): void {
  const mem = program.command("mem").description("Measure containers' memory and model how a host reclaims it");
  registerMemSimulate(mem);
}
