// `tsbox create`: run's options but -d, the container made and left `created`
// for `start`; its ID on stdout, as Docker prints it.

import type { Command } from "commander";
import { prepare } from "./common.js";
import { parseRunOptions, pullToStderr, runOptions } from "./run.js";

export function registerCreate(program: Command): void {
  const create = program.command("create")
    .description("Create a new container")
    .argument("<image>", "image name or ID")
    .argument("[command...]", "command and arguments")
    .passThroughOptions();
  runOptions(create)
    .action(async (image: string, command: string[], o: Record<string, unknown>, cmd: Command) => {
      const g = await prepare(cmd);
      const parsed = parseRunOptions(command, o);
      const { createOnly } = await import("../runtime/create.js");
      const id = await createOnly({ root: g.root, image, ...parsed, pullImage: pullToStderr(g.root, parsed.quiet) });
      process.stdout.write(`${id}\n`);
    });
}
