// The command line: parses, calls the library, prints. Docker's flags, output
// and exit codes (125 for tsbox's own errors). One file per command group.

import { Command, CommanderError, Option } from "commander";
import { FlagError, TsboxError } from "../errors.js";
import { log } from "../log.js";
import { packageVersion } from "../util/package.js";
import { registerArchiveCommands, registerExportCommand } from "./archive.js";
import { registerBuildCommand, registerBuilderCommand } from "./build.js";
import { registerChangeCommands } from "./changes.js";
import { registerContainerCommands } from "./containers.js";
import { registerEventsCommand } from "./events.js";
import { registerExecCommands } from "./exec.js";
import { normalizeFlags } from "./flag-syntax.js";
import { registerImageCommands, registerTagAndImageCommands } from "./images.js";
import { registerMemCommands } from "./mem.js";
import { registerInfoCommand } from "./info.js";
import { registerRegistryCommands } from "./registry.js";
import { registerResourceCommands } from "./resources.js";
import { registerRun } from "./run.js";
import { registerCreate } from "./create.js";
import { registerNetworkCommands, registerPortCommand } from "./network.js";
import { registerSystemCommands } from "./system.js";
import { registerVersionCommand } from "./version.js";
import { registerVolumeCommands } from "./volume.js";

/** The state directory (images and containers) without --root or TSBOX_ROOT. */
const DEFAULT_ROOT = "/var/lib/tsbox";

/** Global options that take a value (the command is the first word after them). */
const VALUED_GLOBALS = new Set(["--root", "--log-level", "--log-format"]);

/** The command word of argv (node, script, ...), skipping global options; undefined if none. */
export function commandWord(argv: readonly string[]): string | undefined {
  const i = commandIndex(argv);
  return i === undefined ? undefined : argv[i];
}

function commandIndex(argv: readonly string[]): number | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (VALUED_GLOBALS.has(a)) i++;
    else if (!a.startsWith("-")) return i;
  }
  return undefined;
}

// The hot paths register only their own command: defining every command's
// options costs a few milliseconds of each container start.
const SOLO: Record<string, (program: Command) => void> = { run: registerRun, exec: registerExecCommands, build: registerBuildCommand };

export function buildProgram(command: string | undefined): Command {
  const program = new Command("tsbox")
    .description("A container runtime in TypeScript over Linux namespaces, overlayfs and cgroups")
    .version(packageVersion(), "-v, --version", "Print version information and quit")
    .option("--root <dir>", "state directory", process.env.TSBOX_ROOT ?? DEFAULT_ROOT)
    .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error", "fatal", "silent"]))
    .addOption(new Option("--log-format <format>", "log format").choices(["text", "json"]).default("text"))
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(`tsbox: ${s.replace(/^error: /, "")}`) });

  const solo = command === undefined ? undefined : SOLO[command];
  if (solo) {
    solo(program);
    return program;
  }
  registerRun(program);
  registerCreate(program);
  registerImageCommands(program);
  registerArchiveCommands(program);
  registerExportCommand(program);
  registerTagAndImageCommands(program);
  registerRegistryCommands(program);
  registerContainerCommands(program);
  registerChangeCommands(program);
  registerBuildCommand(program);
  registerBuilderCommand(program);
  registerMemCommands(program);
  registerResourceCommands(program);
  registerExecCommands(program);
  registerSystemCommands(program);
  registerEventsCommand(program);
  registerInfoCommand(program);
  registerNetworkCommands(program);
  registerPortCommand(program);
  registerVersionCommand(program);
  registerVolumeCommands(program);
  return program;
}

/**
 * Docker's client exits 125 for its flag errors everywhere, and for `run`'s
 * and `exec`'s own failures; every other command's failure is the daemon's
 * error, exit 1. tsbox's errors default to 125: for the commands Docker has,
 * other than those two, they exit 1. (tsbox's own commands, such as `mem`,
 * keep 125.)
 */
const DOCKER_CLIENT_COMMANDS = new Set([
  "attach", "build", "builder", "commit", "container", "cp", "create", "diff", "events", "export", "history", "image", "images", "import", "info", "inspect",
  "kill", "load", "login", "logout", "logs", "network", "pause", "port", "ps", "pull", "push", "rename", "restart", "rm",
  "rmi", "save", "start", "stats", "stop", "system", "tag", "top", "unpause", "update", "version", "volume", "wait",
]);

export function exitCodeOf(command: string | undefined, code: number): number {
  return code === 125 && command !== undefined && DOCKER_CLIENT_COMMANDS.has(command) ? 1 : code;
}

/**
 * Docker's management-command forms of the verbs: `container ls` is `ps`,
 * `container rm` is `rm`, `image ls` is `images`, `image rm` is `rmi`, and
 * `container X` / `image X` the top-level X for the others tsbox has,
 * `system events` is `events`. Groups
 * with subcommands of their own (`container prune`, `image inspect|prune`)
 * keep them.
 */
const GROUP_VERBS: Record<string, Record<string, string>> = {
  container: {
    ls: "ps", list: "ps", ps: "ps", rm: "rm", remove: "rm", inspect: "inspect", run: "run", start: "start", stop: "stop",
    restart: "restart", kill: "kill", wait: "wait", pause: "pause", unpause: "unpause", logs: "logs", exec: "exec",
    attach: "attach", top: "top", stats: "stats", update: "update", rename: "rename", port: "port", diff: "diff",
    commit: "commit", cp: "cp", export: "export", create: "create",
  },
  image: {
    ls: "images", list: "images", rm: "rmi", remove: "rmi", pull: "pull", push: "push", tag: "tag", save: "save",
    load: "load", import: "import", history: "history", build: "build",
  },
  system: { events: "events" },
};

export function expandGroupVerbs(argv: readonly string[]): string[] {
  const at = commandIndex(argv);
  const word = at === undefined ? undefined : argv[at];
  if (at === undefined || word === undefined || GROUP_VERBS[word] === undefined) return [...argv];
  const next = argv[at + 1];
  const verb = next === undefined ? undefined : GROUP_VERBS[word]?.[next];
  if (verb === undefined) return [...argv];
  return [...argv.slice(0, at), verb, ...argv.slice(at + 2)];
}

export async function main(rawArgv: string[]): Promise<void> {
  const argv = expandGroupVerbs(rawArgv);
  const command = commandWord(argv);
  const program = buildProgram(command);
  try {
    await program.parseAsync(normalizeFlags(argv, program));
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; every parse error is tsbox's own: 125
      process.exitCode = e.exitCode === 0 ? 0 : 125;
    } else if (e instanceof TsboxError) {
      process.stderr.write(`tsbox: ${e.message}\n`);
      process.exitCode = e instanceof FlagError ? e.exitCode : exitCodeOf(command, e.exitCode);
    } else {
      // One line for the user, as for every other error; the stack only in the debug log.
      log().debug({ err: e }, "internal error");
      process.stderr.write(`tsbox: ${(e as Error).message ?? String(e)}\n`);
      process.exitCode = exitCodeOf(command, 125);
    }
  }
}
