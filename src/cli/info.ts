// `tsbox info`: the host as tsbox sees it (cgroups, kernel, storage, root).

import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { prepare } from "./common.js";

export function registerInfoCommand(program: Command): void {
  program.command("info")
    .description("Display system-wide information")
    .option("-f, --format <format>", "Format the output: 'json' (or '{{json .}}')")
    .action(async (o: { format?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      if (o.format !== undefined && !/^\s*(json|\{\{\s*json\s+\.\s*\}\})\s*$/.test(o.format)) {
        throw new UsageError(`unsupported --format ${JSON.stringify(o.format)}: only json is supported`);
      }
      const [{ systemInfo, formatInfo }, shim] = await Promise.all([import("../runtime/info.js"), import("../native/shim.js")]);
      const info = systemInfo(g.root, shim.attachDeviceFilter);
      if (o.format !== undefined) {
        process.stdout.write(JSON.stringify(info) + "\n");
        return;
      }
      process.stdout.write(formatInfo(info));
      for (const w of info.Warnings) process.stderr.write(`WARNING: ${w}\n`);
    });
}
