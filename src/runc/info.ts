// tsbox-runc's verbs that report rather than act: list, spec, features.

import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { detectHierarchy } from "../cgroupfs/index.js";
import { UsageError } from "../errors.js";
import { defaultBundleConfig } from "../oci/default-config.js";
import { runtimeFeatures } from "../oci/features.js";
import { listBundleContainers } from "../runtime/bundle/list.js";
import { packageVersion } from "../util/package.js";
import type { GlobalOptions } from "./globals.js";
import { writeErr, writeOut } from "./output.js";

/** runc's list table: Go's tabwriter with minwidth 12, padding 3. */
export function listTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(Math.max(12, widths[i]! + 3)))).join("")).join("\n") + "\n";
}

export function registerInfo(program: Command, g: () => GlobalOptions): void {
  program.command("list").description("lists containers started by tsbox-runc with the given root")
    .option("-f, --format <format>", "select one of: table or json", "table")
    .option("-q, --quiet", "display only container IDs")
    .action((f: { format: string; quiet?: boolean }) => {
      const states = listBundleContainers(g().root, (id, message) => writeErr(`load container ${id}: ${message}\n`));
      if (f.quiet) {
        for (const s of states) writeOut(`${s.id}\n`);
      } else if (f.format === "json") {
        writeOut(`${JSON.stringify(states.length === 0 ? null : states)}\n`);
      } else if (f.format === "table") {
        const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
          ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner])];
        writeOut(listTable(rows));
      } else {
        throw new UsageError("invalid format option", 1);
      }
    });

  program.command("spec").description("create a new specification file (config.json)")
    .option("-b, --bundle <dir>", "path to the root of the bundle directory")
    .option("--rootless", "not supported by tsbox-runc")
    .action((f: { bundle?: string; rootless?: boolean }) => {
      if (f.rootless) throw new UsageError("--rootless is not supported by tsbox-runc", 1);
      const file = join(f.bundle ?? ".", "config.json");
      if (existsSync(file)) throw new UsageError("File config.json exists. Remove it first", 1);
      writeFileSync(file, `${JSON.stringify(defaultBundleConfig(), null, "\t")}`, { mode: 0o666 });
    });

  program.command("features").description("show the enabled features")
    .action(() => {
      const features = runtimeFeatures({ version: packageVersion(), cgroupVersion: detectHierarchy().version });
      writeOut(`${JSON.stringify(features, null, "    ")}\n`);
    });
}
