// The command line: parses, calls the library, prints. Docker's flags, output
// and exit codes (125 for tsbox's own errors). One file per command group.

import { Command, CommanderError, Option } from "commander";
import { TsboxError } from "../errors.js";
import { log } from "../log.js";
import { packageVersion } from "../util/package.js";
import { registerArchiveCommands } from "./archive.js";
import { registerContainerCommands } from "./containers.js";
import { registerExecCommands } from "./exec.js";
import { registerImageCommands, registerTagAndImageCommands } from "./images.js";
import { registerMemCommands } from "./mem.js";
import { registerInfoCommand } from "./info.js";
import { registerRegistryCommands } from "./registry.js";
import { registerResourceCommands } from "./resources.js";
import { registerRun } from "./run.js";
import { registerNetworkCommands, registerPortCommand } from "./network.js";
import { registerSystemCommands } from "./system.js";

/** The state directory (images and containers) without --root or TSBOX_ROOT. */
const DEFAULT_ROOT = "/var/lib/tsbox";

/** Global options that take a value (the command is the first word after them). */
const VALUED_GLOBALS = new Set(["--root", "--log-level", "--log-format"]);

/** The command word of argv (node, script, ...), skipping global options; undefined if none. */
export function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (VALUED_GLOBALS.has(a)) i++;
    else if (!a.startsWith("-")) return a;
  }
  return undefined;
}

// The hot paths register only their own command: defining every command's
// options costs a few milliseconds of each container start.
const SOLO: Record<string, (program: Command) => void> = { run: registerRun, exec: registerExecCommands };

function buildProgram(command: string | undefined): Command {
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
  registerImageCommands(program);
  registerArchiveCommands(program);
  registerTagAndImageCommands(program);
  registerRegistryCommands(program);
  registerContainerCommands(program);
  registerMemCommands(program);
  registerResourceCommands(program);
  registerExecCommands(program);
  registerSystemCommands(program);
  registerInfoCommand(program);
  registerNetworkCommands(program);
  registerPortCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram(commandWord(argv));
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
      // One line for the user, as for every other error; the stack only in the debug log.
      log().debug({ err: e }, "internal error");
      process.stderr.write(`tsbox: ${(e as Error).message ?? String(e)}\n`);
      process.exitCode = 125;
    }
  }
}
