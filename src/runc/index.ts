// tsbox-runc: the runc-compatible command line engines call (containerd's
// shim, Docker through it, conmon, the OCI validation suite). Global options
// before the verb, runc's verbs and wording, exit status 1 on any error with
// the message as a log line engines read. The work is done by the same
// executor as `tsbox run` (runtime/bundle/ over oci/ and native/).

import { Command, CommanderError, Option } from "commander";
import { TsboxError, UsageError } from "../errors.js";
import { configureLog, log } from "../log.js";
import { OCI_VERSION } from "../oci/spec.js";
import { packageVersion } from "../util/package.js";
import { reportError, type ErrorSink, type LogFormat } from "./errors.js";
import { DEFAULT_ROOT, type GlobalOptions } from "./globals.js";
import { registerCheckpoint } from "./checkpoint.js";
import { ExecFailedError, registerExec } from "./exec.js";
import { formatRuncHelp, unknownHelpTopic, verbOf } from "./help.js";
import { registerInfo } from "./info.js";
import { registerLifecycle } from "./lifecycle.js";
import { registerManage } from "./manage.js";
import { writeOut } from "./output.js";


/** The commit the bundle was built from (scripts/bundle.mjs defines it; unbundled, unknown). */
declare const __TSBOX_COMMIT__: string | undefined;

export function versionText(): string {
  const commit = typeof __TSBOX_COMMIT__ === "string" ? __TSBOX_COMMIT__ : "unknown";
  // runc's lines (engines and runc's tests read them), node's in place of go's.
  return `tsbox-runc version ${packageVersion()}\ncommit: ${commit}\nspec: ${OCI_VERSION}\nnode: ${process.version}\n`;
}

type Register = (program: Command, g: () => GlobalOptions, exit: (code: number) => void) => void;

/**
 * The verbs, by the module that declares them. Only the group of the verb
 * called is declared (commander builds every option object up front: ~2 ms of
 * each call for all of them); all of them for help, --version or an unknown verb.
 */
export const VERB_GROUPS: readonly (readonly [readonly string[], Register])[] = [
  [["create", "start", "run", "state", "kill", "delete"], registerLifecycle],
  [["exec"], registerExec],
  [["ps", "events", "pause", "resume", "update"], (p, g) => registerManage(p, g)],
  [["list", "spec", "features"], (p, g) => registerInfo(p, g)],
  [["checkpoint", "restore"], (p) => registerCheckpoint(p)],
];

const ALL_VERBS = VERB_GROUPS.flatMap(([verbs]) => verbs);

export function buildProgram(sink: ErrorSink, exit: (code: number) => void, verb?: string): Command {
  const program = new Command("tsbox-runc")
    .description("Open Container Initiative runtime (runc-compatible) on tsbox's executor")
    .option("--root <dir>", "root directory for storage of container state", DEFAULT_ROOT)
    .option("--log <file>", "set the log file to write tsbox-runc logs to (default is stderr)")
    .addOption(new Option("--log-format <format>", "set the log format").choices(["text", "json"]).default("text"))
    .option("--debug", "enable debug logging")
    .option("--systemd-cgroup", "cgroupsPath is systemd's slice:prefix:name (laid out through cgroupfs)")
    .option("--rootless <value>", "accepted for compatibility: tsbox-runc runs as root")
    .option("--criu <path>", "accepted for compatibility: checkpoint/restore is not supported")
    .option("-v, --version", "print the version")
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .exitOverride()
    .configureHelp({ formatHelp: formatRuncHelp })
    .configureOutput({ writeOut, writeErr: () => {}, outputError: (s) => reportError(sink, s.replace(/^error: /, "").trim()) });
  program.hook("preAction", () => {
    const o = program.opts<{ root: string; log?: string; logFormat: LogFormat; debug?: boolean }>();
    sink.format = o.logFormat;
    if (o.log !== undefined) sink.logFile = o.log;
    configureLog(o.debug ? "debug" : undefined, o.logFormat, o.log);
  });
  const globals = (): GlobalOptions => {
    const o = program.opts<{ root: string; log?: string; logFormat: LogFormat; debug?: boolean; systemdCgroup?: boolean }>();
    return {
      root: o.root, logFormat: o.logFormat, systemdCgroup: o.systemdCgroup === true, debug: o.debug === true,
      ...(o.log !== undefined ? { log: o.log } : {}),
    };
  };
  const called = VERB_GROUPS.filter(([verbs]) => verb !== undefined && verbs.includes(verb));
  for (const [, register] of called.length > 0 ? called : VERB_GROUPS) register(program, globals, exit);
  program.allowExcessArguments(true).action(() => {
    if (program.args.length > 0) throw new UsageError(`No help topic for '${program.args[0]}'`, 1);
    if (program.opts<{ version?: boolean }>().version) writeOut(versionText());
    else program.outputHelp();
  });
  return program;
}

/** The global --log and --log-format as given (before the verb), for errors found while parsing. */
export function earlySink(argv: readonly string[]): ErrorSink {
  const sink: ErrorSink = { format: "text" };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    if (!flag.startsWith("-")) break;
    if (flag !== "--log-format" && flag !== "--log" && flag !== "--root" && flag !== "--rootless" && flag !== "--criu") continue;
    const value = inline ?? argv[++i];
    if (flag === "--log-format" && value === "json") sink.format = "json";
    if (flag === "--log" && value !== undefined) sink.logFile = value;
  }
  return sink;
}

export async function main(argv: string[]): Promise<void> {
  const sink = earlySink(argv);
  let code: number | undefined;
  const program = buildProgram(sink, (c) => { code = c; }, verbOf(argv));
  try {
    const topic = unknownHelpTopic(argv, ALL_VERBS);
    if (topic !== undefined) throw new UsageError(`No help topic for '${topic}'`, 1);
    await program.parseAsync(argv);
    process.exitCode = code ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help exits 0; usage errors were reported through outputError.
      process.exitCode = e.exitCode === 0 ? 0 : 1;
      return;
    }
    if (!(e instanceof TsboxError)) log().debug({ err: e }, "internal error");
    reportError(sink, e instanceof Error ? e.message : String(e));
    process.exitCode = e instanceof ExecFailedError ? e.exitCode : 1;
  }
}
