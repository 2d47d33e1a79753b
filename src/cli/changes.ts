// Commands on a container's filesystem: diff, commit, cp.
import type { Command } from "commander";
import { FlagError, TsboxError, UsageError } from "../errors.js";
import { collect, prepare } from "./common.js";

/** Docker's boolean flag value: `--pause`, `--pause=true`, `--pause=false`. */
function boolValue(flag: string): (v: string) => boolean {
  return (given) => {
    const v = given.replace(/^=/, ""); // `-p=false`: the short form's value keeps its "="
    if (/^(1|t|true|TRUE|True)$/.test(v)) return true;
    if (/^(0|f|false|FALSE|False)$/.test(v)) return false;
    throw new FlagError(`invalid argument "${v}" for "${flag}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
  };
}

export function registerChangeCommands(program: Command): void {
  program.command("cp")
    .description("Copy files/folders between a container and the local filesystem")
    .usage("[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  tsbox cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH")
    .argument("<source>")
    .argument("<destination>")
    .option("-a, --archive", "Archive mode (copy all uid/gid information)", false)
    .option("-L, --follow-link", "Always follow symbol link in SRC_PATH", false)
    // Docker's progress is for a terminal only; tsbox prints none, so quiet is what it always is.
    .option("-q, --quiet", "Suppress progress output during copy (tsbox prints none)", false)
    .action(async (source: string, destination: string, o: { archive: boolean; followLink: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const { splitCpArg, copyFromContainer, copyToContainer } = await import("../runtime/cp.js");
      const from = splitCpArg(source);
      const to = splitCpArg(destination);
      if (from !== undefined && to !== undefined) throw new UsageError("copying between containers is not supported");
      if (from === undefined && to === undefined) throw new UsageError("must specify at least one container source");
      const opts = { archive: o.archive, followLink: o.followLink };
      if (from !== undefined) {
        if (from.path === "") throw new TsboxError("empty path given as the source", 1);
        if (destination === "-" && process.stdout.isTTY) throw new UsageError("cowardly refusing to write a tar to a terminal: redirect it");
        await copyFromContainer(g.root, from.container, from.path, destination, opts);
      } else if (to !== undefined) {
        if (to.path === "") throw new TsboxError("empty path given as the destination", 1);
        await copyToContainer(g.root, source, to.container, to.path, opts);
      }
    });

  program.command("diff")
    .description("Inspect changes to files or directories on a container's filesystem")
    .argument("<container>")
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const g = await prepare(cmd);
      const { containerChanges } = await import("../runtime/diff.js");
      process.stdout.write(containerChanges(g.root, ref).map((c) => `${c.kind} ${c.path}\n`).join(""));
    });

  program.command("commit")
    .description("Create a new image from a container's changes")
    .argument("<container>")
    .argument("[repository]", "REPOSITORY[:TAG]")
    .option("-a, --author <string>", 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    .option("-c, --change <instruction>", "Apply Dockerfile instruction to the created image", collect, [])
    .option("-m, --message <string>", "Commit message")
    .option("-p, --pause [bool]", "Pause container during commit", boolValue("-p, --pause"), true)
    .action(async (ref: string, target: string | undefined, o: { author?: string; change: string[]; message?: string; pause: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const { commitContainer } = await import("../runtime/commit.js");
      const image = await commitContainer(g.root, ref, target, {
        changes: o.change, pause: o.pause, ...(o.message ? { message: o.message } : {}), ...(o.author ? { author: o.author } : {}),
      });
      process.stdout.write(`${image.id}\n`);
    });
}
