// `tsbox mem`: memory measurement, model and reclamation. The group is shared:
// each part registers its subcommands (mem-kernel.ts: ksm, balloon).

import type { Command } from "commander";
import { registerMemKernel } from "./mem-kernel.js";

export function registerMemCommands(program: Command): void {
  const mem = program.command("mem").description("Container memory: measure, model and reclaim");
  registerMemKernel(mem);
}
