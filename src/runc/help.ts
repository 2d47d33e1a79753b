// tsbox-runc's help in runc's layout (urfave/cli's NAME:/USAGE:/OPTIONS:
// sections), so that what people and scripts read from `runc -h` and
// `runc VERB -h` reads the same here; and runc's answer to help for a verb
// that does not exist (`No help topic for 'foo'`, exit status 1).

import type { Command, Help } from "commander";

const INDENT = "   ";

function table(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([term]) => term.length));
  return rows.map(([term, text]) => `${INDENT}${text === "" ? term : `${term.padEnd(width)}  ${text}`}`).join("\n");
}

/** One command's help (the program's when it has no parent) as runc prints it. */
export function formatRuncHelp(cmd: Command, helper: Help): string {
  const parent = cmd.parent;
  const name = parent === null ? cmd.name() : `${parent.name()} ${cmd.name()}`;
  const out: string[] = ["NAME:", `${INDENT}${name} - ${cmd.description()}`, "", "USAGE:"];
  if (parent === null) {
    out.push(`${INDENT}${name} [global options] command [command options] [arguments...]`);
    const commands = helper.visibleCommands(cmd).filter((c) => c.name() !== "help");
    if (commands.length > 0) {
      out.push("", "COMMANDS:", table(commands.map((c) => [c.name(), c.description()])));
    }
  } else {
    const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}${a.variadic ? "..." : ""}]`));
    out.push(`${INDENT}${[name, "[command options]", ...args].join(" ")}`);
  }
  const options = helper.visibleOptions(cmd);
  if (options.length > 0) {
    out.push("", parent === null ? "GLOBAL OPTIONS:" : "OPTIONS:",
      table(options.map((o) => [helper.optionTerm(o), helper.optionDescription(o)])));
  }
  return `${out.join("\n")}\n`;
}

/** Global options of tsbox-runc that take a value (the word after them is not the verb). */
const VALUE_OPTIONS = new Set(["--root", "--log", "--log-format", "--rootless", "--criu"]);

/**
 * The verb asked about when argv asks for help about one tsbox-runc does not
 * have (`tsbox-runc foo -h`): runc answers `No help topic for 'foo'`, where
 * commander would print the program's help and succeed.
 */
export function unknownHelpTopic(argv: readonly string[], verbs: readonly string[]): string | undefined {
  const i = verbIndex(argv);
  if (i === undefined || verbs.includes(argv[i]!)) return undefined;
  return argv.slice(i + 1).some((x) => x === "-h" || x === "--help") ? argv[i] : undefined;
}

/** The word after the global options (the verb, or what stands in its place), if any. */
export function verbOf(argv: readonly string[]): string | undefined {
  const i = verbIndex(argv);
  return i === undefined ? undefined : argv[i];
}

function verbIndex(argv: readonly string[]): number | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-")) return i;
    if (VALUE_OPTIONS.has(a)) i++;
  }
  return undefined;
}
