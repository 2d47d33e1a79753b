// The command line: parses, calls the library, prints. Docker's flags, output
// and exit codes (125 for tsbox's own errors).

import { Command, CommanderError, Option } from "commander";
import { accessSync, constants, createReadStream, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { TsboxError, UsageError, errnoCode } from "./errors.js";
import { configureLog, log } from "./log.js";
import { importImage, listImages, removeImage } from "./image/index.js";
import { runContainer } from "./runtime/run.js";
import { recoverStale } from "./runtime/recover.js";
import { removeContainer } from "./runtime/remove.js";
import { listContainerIds, readState } from "./runtime/container-store.js";
import { parseEnvFile, type RunFlags } from "./runtime/specconv.js";
import { parseCpus, parseIntFlag, parseMemory } from "./runtime/units.js";
import { humanSize, relativeTime, table } from "./format.js";

const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
const DEFAULT_ROOT = "/var/lib/tsbox";

const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface GlobalOpts { root: string; logLevel?: string; logFormat: "text" | "json" }

function globals(cmd: Command): GlobalOpts {
  return cmd.optsWithGlobals<GlobalOpts>();
}

async function prepare(cmd: Command): Promise<GlobalOpts> {
  const g = globals(cmd);
  configureLog(g.logLevel, g.logFormat);
  if (process.getuid?.() !== 0) throw new TsboxError("tsbox needs root: run it as root (for example with sudo)");
  await recoverStale(g.root);
  return g;
}

function buildProgram(): Command {
  const program = new Command("tsbox")
    .description("A container runtime in TypeScript over Linux namespaces, overlayfs and cgroups")
    .version(VERSION, "-v, --version", "Print version information and quit")
    .option("--root <dir>", "state directory", process.env.TSBOX_ROOT ?? DEFAULT_ROOT)
    .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error", "fatal", "silent"]))
    .addOption(new Option("--log-format <format>", "log format").choices(["text", "json"]).default("text"))
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(`tsbox: ${s.replace(/^error: /, "")}`) });

  program.command("run")
    .description("Create and run a new container from an image")
    .argument("<image>", "image name or ID")
    .argument("[command...]", "command and arguments")
    .passThroughOptions()
    .option("--rm", "Automatically remove the container when it exits", false)
    .option("--name <name>", "Assign a name to the container")
    .option("-e, --env <KEY=VALUE>", "Set environment variables", collect, [])
    .option("--env-file <file>", "Read in a file of environment variables", collect, [])
    .option("-w, --workdir <dir>", "Working directory inside the container")
    .option("-u, --user <user[:group]>", "Username or UID (format: <name|uid>[:<group|gid>])")
    .option("-h, --hostname <name>", "Container host name")
    .option("--entrypoint <cmd>", "Overwrite the default ENTRYPOINT of the image")
    .option("-i, --interactive", "Keep STDIN open", false)
    .option("-t, --tty", "Allocate a pseudo-TTY", false)
    .option("--init", "Run an init inside the container that forwards signals and reaps processes", false)
    .option("--read-only", "Mount the container's root filesystem as read only", false)
    .option("-v, --volume <host:ctr[:ro]>", "Bind mount a volume", collect, [])
    .option("--tmpfs <path[:opts]>", "Mount a tmpfs directory", collect, [])
    .option("-m, --memory <bytes>", "Memory limit")
    .option("--cpus <n>", "Number of CPUs")
    .option("--pids-limit <n>", "Tune container pids limit (set -1 for unlimited)")
    .action(async (image: string, command: string[], o: Record<string, unknown>, cmd: Command) => {
      const g = await prepare(cmd);
      const env = [
        ...(o.envFile as string[]).flatMap((f) => parseEnvFile(readText(f), f)),
        ...(o.env as string[]),
      ];
      const flags: RunFlags = {
        cmd: command,
        entrypoint: o.entrypoint as string | undefined,
        env,
        workdir: o.workdir as string | undefined,
        user: o.user as string | undefined,
        hostname: o.hostname as string | undefined,
        interactive: Boolean(o.interactive),
        tty: Boolean(o.tty),
        init: Boolean(o.init),
        readOnly: Boolean(o.readOnly),
        volumes: o.volume as string[],
        tmpfs: o.tmpfs as string[],
        memory: o.memory === undefined ? undefined : parseMemory(String(o.memory)),
        cpus: o.cpus === undefined ? undefined : parseCpus(String(o.cpus), cpus().length),
        pidsLimit: o.pidsLimit === undefined ? undefined : parseIntFlag(String(o.pidsLimit), "--pids-limit"),
      };
      if (flags.tty && !process.stdin.isTTY && flags.interactive) {
        throw new UsageError("the input device is not a TTY");
      }
      process.exitCode = await runContainer({
        root: g.root, image, flags, autoRemove: Boolean(o.rm),
        ...(o.name !== undefined ? { name: String(o.name) } : {}),
      });
    });

  program.command("import")
    .description("Import the contents from a tarball to create a filesystem image")
    .argument("<file>", "a tar archive (plain or gzip), or - for standard input")
    .argument("[reference]", "REPOSITORY[:TAG]")
    .option("-c, --change <instruction>", "Apply Dockerfile instruction to the created image", collect, [])
    .option("-m, --message <message>", "Set commit message for imported image")
    .action(async (file: string, ref: string | undefined, o: { change: string[]; message?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const input = file === "-" ? process.stdin : openInput(file);
      const image = await importImage(g.root, input, ref, { changes: o.change, ...(o.message ? { message: o.message } : {}) });
      process.stdout.write(`${image.id}\n`);
    });

  program.command("images")
    .description("List images")
    .option("-q, --quiet", "Only show image IDs", false)
    .addOption(new Option("--format <format>", "Output format").choices(["table", "json"]).default("table"))
    .action(async (o: { quiet: boolean; format: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const images = listImages(g.root);
      if (o.quiet) {
        process.stdout.write([...new Set(images.map((i) => shortId(i.id)))].map((l) => `${l}\n`).join(""));
      } else if (o.format === "json") {
        for (const i of images) process.stdout.write(JSON.stringify(i) + "\n");
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
      const inUse = imagesInUse(g.root);
      let failed = false;
      for (const ref of refs) {
        try {
          for (const line of removeImage(g.root, ref, { force: o.force, inUse: (id) => inUse.has(id) })) {
            process.stdout.write(`${line}\n`);
          }
        } catch (e) {
          if (!(e instanceof TsboxError)) throw e;
          process.stderr.write(`tsbox: ${e.message}\n`);
          failed = true;
        }
      }
      if (failed) process.exitCode = 1;
    });

  program.command("rm")
    .description("Remove one or more containers")
    .argument("<container...>")
    .option("-f, --force", "Force the removal of a running container (uses SIGKILL)", false)
    .action(async (refs: string[], o: { force: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      let failed = false;
      for (const ref of refs) {
        try {
          await removeContainer(g.root, ref, { force: o.force });
          process.stdout.write(`${ref}\n`);
        } catch (e) {
          if (!(e instanceof TsboxError)) throw e;
          process.stderr.write(`tsbox: ${e.message}\n`);
          failed = true;
        }
      }
      if (failed) process.exitCode = 1;
    });

  return program;
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

function imagesInUse(root: string): Set<string> {
  const ids = new Set<string>();
  for (const id of listContainerIds(root)) {
    const s = readState(root, id);
    if (s) ids.add(s.imageId);
  }
  return ids;
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`open ${file}: ${errnoCode(e) === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
}

function openInput(file: string): NodeJS.ReadableStream {
  try {
    accessSync(file, constants.R_OK);
  } catch (e) {
    throw new UsageError(`open ${file}: ${errnoCode(e) === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
  return createReadStream(file);
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; every parse error is tsbox's own: 125
      process.exitCode = e.exitCode === 0 ? 0 : 125;
    } else if (e instanceof TsboxError) {
      process.stderr.write(`tsbox: ${e.message}\n`);
      process.exitCode = e.exitCode;
    } else {
      log().error({ err: e }, "internal error");
      process.stderr.write(`tsbox: ${(e as Error).message ?? String(e)}\n`);
      process.exitCode = 125;
    }
  }
}
