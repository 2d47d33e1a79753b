// Container commands: rm.

import type { Command } from "commander";
import { eachArg, prepare } from "./common.js";

export function registerContainerCommands(program: Command): void {
  program.command("rm")
    .description("Remove one or more containers")
    .argument("<container...>")
    .option("-f, --force", "Force the removal of a running container (uses SIGKILL)", false)
    .action(async (refs: string[], o: { force: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const { removeContainer } = await import("../runtime/remove.js");
      await eachArg(refs, async (ref) => {
        await removeContainer(g.root, ref, { force: o.force });
        process.stdout.write(`${ref}\n`);
      });
    });
}
