// Image archive and image management commands: load, save, tag,
// image inspect, image prune.

import type { Command } from "commander";
import * as fs from "node:fs";
import * as path from "node:path";
import { createInterface } from "node:readline/promises";
import { UsageError, errnoCode } from "../errors.js";
import { humanSize } from "../format.js";
import { randomSuffix } from "../util/atomic.js";
import { inspectEach, openInput, prepare } from "./common.js";
import { imagesInUse } from "./images.js";

export function registerArchiveCommands(program: Command): void {
  program.command("load")
    .description("Load an image from a tar archive or STDIN")
    .option("-i, --input <file>", "Read from tar archive file, instead of STDIN")
    .option("-q, --quiet", "Suppress the load output", false)
    .action(async (o: { input?: string; quiet: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      if (o.input === undefined && process.stdin.isTTY) throw new UsageError("requested load from stdin, but stdin is empty");
      const input = o.input === undefined ? process.stdin : openInput(o.input);
      const { loadArchive } = await import("../image/archive/load.js");
      // Docker's -q only hides progress, which tsbox does not draw: the result lines stay.
      const { lines } = await loadArchive(g.root, input);
      process.stdout.write(lines.map((l) => `${l}\n`).join(""));
    });

  program.command("save")
    .description("Save one or more images to a tar archive (streamed to STDOUT by default)")
    .argument("<image...>")
    .option("-o, --output <file>", "Write to a file, instead of STDOUT")
    .action(async (refs: string[], o: { output?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      if (o.output === undefined && process.stdout.isTTY) {
        throw new UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect");
      }
      const { saveImages } = await import("../image/archive/save.js");
      if (o.output === undefined) {
        await saveImages(g.root, refs, process.stdout);
        return;
      }
      await saveToFile(o.output, (out) => saveImages(g.root, refs, out));
    });

  program.command("tag")
    .description("Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    .argument("<source>", "SOURCE_IMAGE[:TAG]")
    .argument("<target>", "TARGET_IMAGE[:TAG]")
    .action(async (source: string, target: string, _o: unknown, cmd: Command) => {
      const g = await prepare(cmd);
      const { tagImage } = await import("../image/tag.js");
      tagImage(g.root, source, target);
    });

  const image = program.command("image").description("Manage images");

  image.command("inspect")
    .description("Display detailed information on one or more images")
    .argument("<image...>")
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const g = await prepare(cmd);
      const { inspectImage } = await import("../image/inspect.js");
      await inspectEach(refs, (ref) => inspectImage(g.root, ref));
    });

  image.command("prune")
    .description("Remove unused images")
    .option("-a, --all", "Remove all unused images, not just dangling ones", false)
    .option("-f, --force", "Do not prompt for confirmation", false)
    .action(async (o: { all: boolean; force: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const warning = o.all
        ? "WARNING! This will remove all images without at least one container associated to them."
        : "WARNING! This will remove all dangling images.";
      if (!o.force && !(await confirm(`${warning}\nAre you sure you want to continue? [y/N] `))) return;
      const { pruneImages } = await import("../image/prune.js");
      const inUse = imagesInUse(g.root);
      const { lines, reclaimed } = pruneImages(g.root, { all: o.all, inUse: (id) => inUse.has(id) });
      let out = "";
      if (lines.length > 0) out += `Deleted Images:\n${lines.map((l) => `${l}\n`).join("")}\n`;
      out += `Total reclaimed space: ${humanSize(reclaimed)}\n`;
      process.stdout.write(out);
    });
}

/** Docker's PromptForConfirmation: only "y" or "Y" (after trimming) confirms. */
export async function confirm(question: string): Promise<boolean> {
  process.stdout.write(question);
  const rl = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of rl) return line.trim().toLowerCase() === "y";
    return false;
  } finally {
    rl.close();
  }
}

/** As Docker's CopyToFile: write beside the target, rename into place only when complete. */
async function saveToFile(file: string, write: (out: NodeJS.WritableStream) => Promise<void>): Promise<void> {
  const target = path.resolve(file);
  const tmp = path.join(path.dirname(target), `.tsbox_temp_${randomSuffix()}`);
  const out = fs.createWriteStream(tmp, { flags: "wx", mode: 0o644 });
  const opened = new Promise<void>((resolve, reject) => {
    out.once("open", () => resolve());
    out.once("error", reject);
  });
  try {
    await opened;
  } catch (e) {
    throw new UsageError(`failed to save image: open ${file}: ${errnoCode(e) === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
  const closed = new Promise<void>((resolve) => out.once("close", () => resolve()));
  try {
    await write(out);
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    await closed;
    const fd = fs.openSync(tmp, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    out.destroy();
    await closed;
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
