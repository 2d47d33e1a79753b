// Archive commands: load, save (images), export (a container's filesystem).

import type { Command } from "commander";
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError, errnoCode } from "../errors.js";
import { randomSuffix } from "../util/atomic.js";
import { imageApi, openInput, prepare } from "./common.js";

export function registerArchiveCommands(program: Command): void {
  program.command("load")
    .description("Load an image from a tar archive or STDIN")
    .option("-i, --input <file>", "Read from tar archive file, instead of STDIN")
    .option("-q, --quiet", "Suppress the load output", false)
    .action(async (o: { input?: string; quiet: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      if (o.input === undefined && process.stdin.isTTY) throw new UsageError("requested load from stdin, but stdin is empty");
      const input = o.input === undefined ? process.stdin : openInput(o.input);
      const api = await imageApi();
      // Docker's -q only hides progress, which tsbox does not draw: the result lines stay.
      const { lines } = await api.loadArchive(g.root, input);
      const { imageEvent, imageIdOf } = await import("./image-events.js");
      for (const line of lines) {
        const m = /^Loaded image(?: ID)?: (.+)$/.exec(line);
        const id = m?.[1] === undefined ? undefined : imageIdOf(api, g.root, m[1]);
        if (id !== undefined) imageEvent(api, g.root, "load", id, id);
      }
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
      const api = await imageApi();
      if (o.output === undefined) await api.saveImages(g.root, refs, process.stdout);
      else await saveToFile(o.output, (out) => api.saveImages(g.root, refs, out));
      const { imageEvent, imageIdOf } = await import("./image-events.js");
      for (const id of new Set(refs.map((r) => imageIdOf(api, g.root, r)))) if (id !== undefined) imageEvent(api, g.root, "save", id, id);
    });
}

export function registerExportCommand(program: Command): void {
  program.command("export")
    .description("Export a container's filesystem as a tar archive")
    .argument("<container>")
    .option("-o, --output <file>", "Write to a file, instead of STDOUT")
    .action(async (ref: string, o: { output?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      if (o.output === undefined && process.stdout.isTTY) {
        throw new UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect");
      }
      const { exportContainer } = await import("../runtime/export.js");
      if (o.output === undefined) {
        await exportContainer(g.root, ref, process.stdout);
        return;
      }
      await saveToFile(o.output, (out) => exportContainer(g.root, ref, out), "failed to export container");
    });
}

/** As Docker's CopyToFile: write beside the target, rename into place only when complete. */
async function saveToFile(file: string, write: (out: NodeJS.WritableStream) => Promise<void>, failure = "failed to save image"): Promise<void> {
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
    throw new UsageError(`${failure}: open ${file}: ${errnoCode(e) === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
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
