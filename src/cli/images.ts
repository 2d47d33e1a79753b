// Image commands: import, images, rmi (archives and the rest: archive.ts).

import { Option, type Command } from "commander";
import { readAllStates } from "../state/container-store.js";

// The image API is loaded by the command that needs it: `run` should not pay for import and unpack.
const imageApi = () => import("../image/index.js");
import { humanSize, relativeTime, table } from "../format.js";
import { collect, eachArg, openInput, prepare } from "./common.js";

export function registerImageCommands(program: Command): void {
  program.command("import")
    .description("Import the contents from a tarball to create a filesystem image")
    .argument("<file>", "a tar archive (plain or gzip), or - for standard input")
    .argument("[reference]", "REPOSITORY[:TAG]")
    .option("-c, --change <instruction>", "Apply Dockerfile instruction to the created image", collect, [])
    .option("-m, --message <message>", "Set commit message for imported image")
    .action(async (file: string, ref: string | undefined, o: { change: string[]; message?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const input = file === "-" ? process.stdin : openInput(file);
      const { importImage } = await imageApi();
      const image = await importImage(g.root, input, ref, { changes: o.change, ...(o.message ? { message: o.message } : {}) });
      process.stdout.write(`${image.id}\n`);
    });

  program.command("images")
    .description("List images")
    .option("-q, --quiet", "Only show image IDs", false)
    .option("--digests", "Show digests", false)
    .addOption(new Option("--format <format>", "Output format").choices(["table", "json"]).default("table"))
    .action(async (o: { quiet: boolean; digests: boolean; format: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const { listImages, shortId } = await imageApi();
      const images = listImages(g.root);
      if (o.quiet) {
        process.stdout.write([...new Set(images.map((i) => shortId(i.id)))].map((l) => `${l}\n`).join(""));
      } else if (o.format === "json") {
        for (const i of images) process.stdout.write(JSON.stringify(i) + "\n");
      } else if (o.digests) {
        process.stdout.write(table(["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"],
          images.map((i) => [i.repository, i.tag, i.digest ?? "<none>", shortId(i.id), relativeTime(i.created), humanSize(i.size)])));
      } else {
        process.stdout.write(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
          images.map((i) => [i.repository, i.tag, shortId(i.id), relativeTime(i.created), humanSize(i.size)])));
      }
    });

  program.command("rmi")
    .description("Remove one or more images")
    .argument("<image...>")
    .option("-f, --force", "Force removal of the image", false)
    .action(async (refs: string[], o: { force: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const { removeImage } = await imageApi();
      const inUse = imagesInUse(g.root);
      await eachArg(refs, (ref) => {
        for (const line of removeImage(g.root, ref, { force: o.force, inUse: (id) => inUse.has(id) })) {
          process.stdout.write(`${line}\n`);
        }
      });
    });
}

/** IDs of the images some container (running or stopped) was created from. */
export function imagesInUse(root: string): Set<string> {
  const ids = new Set<string>();
  for (const s of readAllStates(root)) ids.add(s.imageId);
  return ids;
}
