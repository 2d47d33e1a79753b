// `tsbox volume create|ls|inspect|rm|prune`: Docker's flags, output and errors.

import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { collect, eachArg, inspectEach, prepare } from "./common.js";

/** `KEY=VALUE` flags as a map (a bare KEY maps to ""). */
function keyValues(list: readonly string[]): Record<string, string> {
  return Object.fromEntries(list.map((l) => {
    const eq = l.indexOf("=");
    return eq < 0 ? [l, ""] : [l.slice(0, eq), l.slice(eq + 1)];
  }));
}

export function registerVolumeCommands(program: Command): void {
  const volume = program.command("volume").description("Manage volumes");

  volume.command("create")
    .description("Create a volume")
    .argument("[name]")
    .option("-d, --driver <driver>", "Specify volume driver name", "local")
    .option("--name <name>", "Specify volume name")
    .option("--label <key=value>", "Set metadata for a volume", collect, [])
    .option("-o, --opt <key=value>", "Set driver specific options (type, device, o)", collect, [])
    .action(async (arg: string | undefined, o: Record<string, unknown>, cmd: Command) => {
      if (arg !== undefined && o.name !== undefined) {
        throw new UsageError("conflicting options: cannot specify a volume-name through both --name and as a positional arg", 1);
      }
      const g = await prepare(cmd);
      const { createVolumeVerb } = await import("../runtime/volume/create.js");
      const name = arg ?? (o.name as string | undefined);
      const v = createVolumeVerb(g.root, {
        ...(name !== undefined ? { name } : {}), driver: String(o.driver),
        labels: keyValues(o.label as string[]), options: keyValues(o.opt as string[]),
      });
      process.stdout.write(`${v.name}\n`);
    });

  volume.command("ls").alias("list")
    .description("List volumes")
    .option("-q, --quiet", "Only display volume names", false)
    .option("-f, --filter <filter>", "Provide filter values (e.g. 'dangling=true')", collect, [])
    .option("--format <format>", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .action(async (o: { quiet: boolean; filter: string[]; format?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const { listVolumes, volumeFilters } = await import("../runtime/volume/ls.js");
      const { VOLUMES_FORMAT, formatRows, volumeRow } = await import("../util/docker-format.js");
      const { naturalCompare } = await import("../util/natural-order.js");
      // Docker's client orders the list naturally (vol2 before vol10).
      const list = listVolumes(g.root, volumeFilters(o.filter, ["dangling", "name", "label", "driver"]))
        .sort((a, b) => naturalCompare(a.name, b.name));
      if (o.quiet) {
        process.stdout.write(list.map((v) => `${v.name}\n`).join(""));
        return;
      }
      const { volumePaths } = await import("../state/volume-store.js");
      process.stdout.write(formatRows(o.format, list.map((v) => volumeRow({ ...v, mountpoint: volumePaths(g.root, v.name).data })), VOLUMES_FORMAT));
    });

  volume.command("inspect")
    .description("Display detailed information on one or more volumes")
    .argument("<volume...>")
    .option("-f, --format <template>", "Format output using a custom template: 'json', or a Go template ({{.Mountpoint}})")
    .action(async (names: string[], o: { format?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const { inspectVolume } = await import("../runtime/volume/inspect.js");
      // As Docker: the ones found are printed, then the errors, exit 1.
      await inspectEach(names, (n) => inspectVolume(g.root, n), o.format);
    });

  volume.command("rm").alias("remove")
    .description("Remove one or more volumes")
    .argument("<volume...>")
    .option("-f, --force", "Force the removal of one or more volumes", false)
    .action(async (names: string[], o: { force: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const { removeVolume } = await import("../runtime/volume/rm.js");
      await eachArg(names, (n) => {
        removeVolume(g.root, n, { force: o.force });
        process.stdout.write(`${n}\n`);
      });
    });

  volume.command("prune")
    .description("Remove unused local volumes")
    .option("-a, --all", "Remove named volumes too (what Docker 20.10, which tsbox follows, always does)", false)
    .option("--filter <filter>", "Provide filter values (e.g. 'label=<label>')", collect, [])
    .option("-f, --force", "Do not prompt for confirmation", false)
    .action(async (o: { force: boolean; filter: string[] }, cmd: Command) => {
      const g = await prepare(cmd);
      const { volumeFilters } = await import("../runtime/volume/ls.js");
      const filters = volumeFilters(o.filter, ["label", "label!"]);
      if (!o.force) {
        const { confirm } = await import("./confirm.js");
        if (!(await confirm("WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "))) return;
      }
      const { pruneVolumes } = await import("../runtime/volume/prune.js");
      const { humanSize } = await import("../format.js");
      const r = pruneVolumes(g.root, { all: true, labels: filters.get("label") ?? [], notLabels: filters.get("label!") ?? [] });
      let out = "";
      if (r.names.length) out += `Deleted Volumes:\n${r.names.map((n) => `${n}\n`).join("")}\n`;
      process.stdout.write(`${out}Total reclaimed space: ${humanSize(r.bytes)}\n`);
    });
}
