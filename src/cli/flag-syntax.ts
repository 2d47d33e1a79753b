// Flags as Docker's parser (pflag) takes them, before commander reads them:
// `--rm=true`, `--init=false`, `-m=64m`, `-e=FOO=bar`, `-u=0`, `-v=/a:/b`.
// commander reads `--name=value` itself, but not a boolean with a value, and
// it keeps the "=" of a short option's value. Only the command's own options
// are rewritten, up to the image of a command whose remaining words are the
// container's (run, exec): `tsbox run img sh -c 'x=1'` is never touched.
import type { Command, Option } from "commander";
import { FlagError } from "../errors.js";

const TRUE = /^(1|t|T|true|TRUE|True)$/;
const FALSE = /^(0|f|F|false|FALSE|False)$/;

function findOption(cmd: Command, flag: string): Option | undefined {
  for (let c: Command | null = cmd; c !== null; c = c.parent) {
    const o = c.options.find((x) => x.short === flag || x.long === flag);
    if (o !== undefined) return o;
  }
  return undefined;
}

const passesThrough = (cmd: Command): boolean => (cmd as unknown as { _passThroughOptions?: boolean })._passThroughOptions === true;

export function normalizeFlags(argv: readonly string[], program: Command): string[] {
  const out = argv.slice(0, 2);
  let cmd = program;
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "--") return [...out, ...argv.slice(i)];
    if (!a.startsWith("-") || a === "-") {
      const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
      if (sub !== undefined) cmd = sub;
      else if (passesThrough(cmd)) return [...out, ...argv.slice(i)];
      out.push(a);
      continue;
    }
    const m = /^(--?[A-Za-z0-9][A-Za-z0-9-]*)=([\s\S]*)$/.exec(a);
    if (m === null) {
      out.push(a);
      // A valued option's value is the next word, whatever it looks like.
      const o = findOption(cmd, a);
      if (o?.required === true && i + 1 < argv.length) out.push(argv[++i] ?? "");
      continue;
    }
    const flag = m[1] ?? "";
    const value = m[2] ?? "";
    const o = findOption(cmd, flag);
    if (o === undefined) {
      out.push(a); // commander names the unknown option
    } else if (o.required || o.optional) {
      out.push(flag, value);
    } else if (TRUE.test(value)) {
      out.push(flag);
    } else if (FALSE.test(value)) {
      // off: the negation where the option has one, else the option left out (its default)
      const negate = o.long !== undefined && !o.negate ? findOption(cmd, o.long.replace(/^--/, "--no-")) : undefined;
      if (negate !== undefined) out.push(negate.long ?? "");
    } else {
      throw new FlagError(`invalid argument "${value}" for "${[o.short, o.long].filter(Boolean).join(", ")}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`);
    }
  }
  return out;
}
