// `tsbox info`: the host as tsbox sees it (cgroups, kernel, storage, root).

import type { Command } from "commander";
import { TsboxError } from "../errors.js";
import { prepare } from "./common.js";

export function registerInfoCommand(program: Command): void {
  program.command("info")
    .description("Display system-wide information")
    .option("-f, --format <format>", "Format output using a custom template: 'json', or a Go template ({{.Driver}})")
    .action(async (o: { format?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const { parseDockerTemplate, templateFailure } = await import("../util/docker-format.js");
      let tmpl: ReturnType<typeof parseDockerTemplate> | undefined;
      if (o.format !== undefined && o.format !== "") {
        try {
          tmpl = parseDockerTemplate(o.format === "json" ? "{{json .}}" : o.format);
        } catch (e) {
          templateFailure(e, "template parsing error", 64);
        }
      }
      const [{ systemInfo, formatInfo }, shim] = await Promise.all([import("../runtime/info.js"), import("../native/shim.js")]);
      const info = systemInfo(g.root, shim.attachDeviceFilter);
      if (tmpl) {
        // As Docker: what the template wrote (up to an error), a newline, then the error.
        const { STRUCT_TYPE } = await import("../util/go-template.js");
        const { output, error } = tmpl.executePartial({ ...info, [STRUCT_TYPE]: "system.dockerInfo" }, { missingKey: "error" });
        process.stdout.write(`${output}\n`);
        if (error) throw new TsboxError(error.message, 1);
        return;
      }
      process.stdout.write(formatInfo(info));
      for (const w of info.Warnings) process.stderr.write(`WARNING: ${w}\n`);
    });
}
