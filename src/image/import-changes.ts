// `docker import --change`: Dockerfile instructions applied to the new image's
// config. Docker joins the changes with newlines and runs them through its
// Dockerfile parser, so continuation lines, comments, JSON vs shell form and
// $VAR expansion (against the ENV set so far) behave as in a Dockerfile.
import { constants as osConstants } from "node:os";
import * as path from "node:path";
import { UsageError } from "../errors.js";
import type { ImageConfigBody } from "./config.js";

const SHELL = ["/bin/sh", "-c"];

/** Physical lines → instructions: `\` continues a line, `#` lines are comments. */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let acc: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const trimmed = raw.replace(/^\s+/, "");
    if (trimmed.startsWith("#")) continue;
    if (acc === undefined && trimmed === "") continue;
    // The first line of an instruction loses its indentation; continuations keep theirs.
    const line = acc === undefined ? trimmed : raw;
    const cont = /\\[ \t]*$/.exec(line);
    acc = (acc ?? "") + (cont ? line.slice(0, cont.index) : line);
    if (!cont) {
      out.push(acc.trim());
      acc = undefined;
    }
  }
  if (acc !== undefined && acc.trim() !== "") out.push(acc.trim());
  return out;
}

/** The Dockerfile parser's parseWords: splits on blanks, keeps quotes and escapes for later expansion. */
export function parseWords(rest: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: string | undefined;
  let blankOK = false;
  const chars = [...rest];
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i] ?? "";
    if (quote === undefined && !inWord) {
      if (/\s/.test(ch)) continue;
      inWord = true;
    }
    if (quote === undefined) {
      if (/\s/.test(ch)) {
        if (blankOK || word.length > 0) words.push(word);
        word = "";
        blankOK = false;
        inWord = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
      } else if (ch === "\\") {
        if (i + 1 === chars.length) continue;
        word += ch;
        ch = chars[++i] ?? "";
      }
      word += ch;
    } else {
      if (ch === quote) quote = undefined;
      else if (ch === "\\" && quote !== "'") {
        if (i + 1 === chars.length) continue;
        word += ch;
        ch = chars[++i] ?? "";
      }
      word += ch;
    }
  }
  if (inWord && (blankOK || word.length > 0)) words.push(word);
  return words;
}

/** Shell-style word processing (quote removal, escapes, $VAR / ${VAR:-x} expansion), as BuildKit's ProcessWord. */
class WordProcessor {
  private pos = 0;

  constructor(private readonly s: string, private readonly env: ReadonlyMap<string, string>) {}

  static process(s: string, env: ReadonlyMap<string, string>): string {
    const p = new WordProcessor(s, env);
    return p.until(undefined);
  }

  private peek(): string | undefined {
    return this.s[this.pos];
  }

  private until(stop: string | undefined): string {
    let out = "";
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) {
        if (stop !== undefined) throw new UsageError("syntax error: missing '}'");
        return out;
      }
      if (ch === stop) {
        this.pos++;
        return out;
      }
      if (ch === "'") out += this.singleQuoted();
      else if (ch === '"') out += this.doubleQuoted();
      else if (ch === "$") out += this.dollar();
      else if (ch === "\\") {
        this.pos++;
        const n = this.peek();
        if (n !== undefined) {
          out += n;
          this.pos++;
        }
      } else {
        out += ch;
        this.pos++;
      }
    }
  }

  private singleQuoted(): string {
    const end = this.s.indexOf("'", this.pos + 1);
    if (end === -1) throw new UsageError("unexpected end of statement while looking for matching single-quote");
    const v = this.s.slice(this.pos + 1, end);
    this.pos = end + 1;
    return v;
  }

  private doubleQuoted(): string {
    this.pos++;
    let out = "";
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new UsageError("unexpected end of statement while looking for matching double-quote");
      if (ch === '"') {
        this.pos++;
        return out;
      }
      if (ch === "$") {
        out += this.dollar();
        continue;
      }
      this.pos++;
      if (ch === "\\") {
        const n = this.peek();
        if (n === undefined) continue;
        if (n === '"' || n === "$" || n === "\\") {
          out += n;
          this.pos++;
          continue;
        }
      }
      out += ch;
    }
  }

  private name(): string {
    const m = /^(?:[0-9]+|[A-Za-z0-9_]*)/.exec(this.s.slice(this.pos));
    const n = m?.[0] ?? "";
    this.pos += n.length;
    return n;
  }

  private dollar(): string {
    this.pos++;
    if (this.peek() !== "{") {
      const n = this.name();
      return n === "" ? "$" : (this.env.get(n) ?? "");
    }
    this.pos++;
    const first = this.peek();
    if (first === undefined) throw new UsageError("syntax error: missing '}'");
    if (first === "{" || first === "}" || first === ":") throw new UsageError("syntax error: bad substitution");
    const n = this.name();
    const value = this.env.get(n);
    const ch = this.peek();
    this.pos++;
    switch (ch) {
      case "}":
        return value ?? "";
      case ":": {
        const modifier = this.peek();
        this.pos++;
        const word = this.until("}");
        if (modifier === "-") return value === undefined || value === "" ? word : value;
        if (modifier === "+") return value === undefined || value === "" ? "" : word;
        if (modifier === "?") {
          if (value === undefined) throw new UsageError(`${n}: ${word || "is not allowed to be unset"}`);
          if (value === "") throw new UsageError(`${n}: ${word || "is not allowed to be empty"}`);
          return value;
        }
        throw new UsageError(`unsupported modifier (${modifier ?? ""}) in substitution`);
      }
      case "-": {
        const word = this.until("}");
        return value ?? word;
      }
      case "+": {
        const word = this.until("}");
        return value === undefined ? "" : word;
      }
      case "?": {
        const word = this.until("}");
        if (value === undefined) throw new UsageError(`${n}: ${word || "is not allowed to be unset"}`);
        return value;
      }
      default:
        throw new UsageError("missing ':' in substitution");
    }
  }
}

/** A Dockerfile word with quotes removed and $VAR / ${VAR:-x} expanded against `env`. */
export function expandWord(word: string, env: ReadonlyMap<string, string>): string {
  return WordProcessor.process(word, env);
}

/** `KEY=value ...` or the legacy `KEY value` (ENV, LABEL). */
export function parseNameVal(instr: string, rest: string): [string, string][] {
  const words = parseWords(rest);
  if (words.length === 0) throw new UsageError(`${instr} requires at least one argument`);
  if (!(words[0] ?? "").includes("=")) {
    const m = /^(\S+)\s+([\s\S]+)$/.exec(rest);
    if (!m) throw new UsageError(`${instr} must have two arguments`);
    return [[m[1] ?? "", m[2] ?? ""]];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq === -1) throw new UsageError(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** JSON (exec) form if the argument is a JSON array, else undefined. */
export function jsonForm(rest: string): string[] | undefined {
  if (!rest.startsWith("[")) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(rest);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  if (!v.every((x): x is string => typeof x === "string")) {
    throw new UsageError("when using JSON array syntax, arrays must be comprised of strings only");
  }
  return v;
}

function commandLine(instr: string, rest: string): string[] {
  const json = jsonForm(rest);
  if (json !== undefined) return json;
  if (rest === "") throw new UsageError(`${instr} requires at least one argument`);
  return [...SHELL, rest];
}

export function exposedPorts(spec: string): string[] {
  const m = /^([0-9]+)(?:-([0-9]+))?(?:\/(.*))?$/.exec(spec);
  if (!m) throw new UsageError(`Invalid containerPort: ${spec}`);
  const proto = (m[3] ?? "tcp").toLowerCase();
  if (!["tcp", "udp", "sctp"].includes(proto)) throw new UsageError(`Invalid proto: ${m[3] ?? ""}`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535 || end < start) throw new UsageError(`Invalid containerPort: ${spec}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

export function validSignal(s: string): boolean {
  if (/^[0-9]+$/.test(s)) return Number(s) > 0 && Number(s) <= 64;
  const name = s.toUpperCase().replace(/^SIG/, "");
  return `SIG${name}` in osConstants.signals || /^RTMIN(\+[0-9]+)?$|^RTMAX(-[0-9]+)?$/.test(name);
}

function exactlyOne(instr: string, rest: string): string {
  if (rest === "") throw new UsageError(`${instr} requires exactly one argument`);
  return rest;
}

export function parseChanges(changes: string[]): Partial<ImageConfigBody> {
  const out: Partial<ImageConfigBody> = {};
  const env = new Map<string, string>();
  let cmdSet = false;
  const expand = (w: string): string => WordProcessor.process(w, env);

  for (const line of logicalLines(changes.join("\n"))) {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(line);
    const instr = (m?.[1] ?? "").toUpperCase();
    const rest = m?.[2] ?? "";
    switch (instr) {
      case "CMD":
        out.Cmd = commandLine(instr, rest);
        cmdSet = true;
        break;
      case "ENTRYPOINT":
        out.Entrypoint = commandLine(instr, rest);
        // As in a Dockerfile: a new entrypoint drops a CMD not set alongside it.
        if (!cmdSet) out.Cmd = null;
        break;
      case "ENV": {
        const pairs = parseNameVal(instr, rest).map(([k, v]) => [expand(k), expand(v)] as const);
        for (const [k, v] of pairs) {
          if (k === "") throw new UsageError("ENV names can not be blank");
          env.set(k, v);
          const list = out.Env ?? [];
          const i = list.findIndex((e) => e.slice(0, e.indexOf("=")) === k);
          if (i === -1) list.push(`${k}=${v}`);
          else list[i] = `${k}=${v}`;
          out.Env = list;
        }
        break;
      }
      case "LABEL": {
        const pairs = parseNameVal(instr, rest).map(([k, v]) => [expand(k), expand(v)] as const);
        for (const [k, v] of pairs) {
          if (k === "") throw new UsageError("LABEL names can not be blank");
          out.Labels = { ...out.Labels, [k]: v };
        }
        break;
      }
      case "WORKDIR": {
        const dir = expand(exactlyOne(instr, rest));
        if (dir === "") throw new UsageError("cannot normalize nothing");
        out.WorkingDir = path.posix.isAbsolute(dir) ? dir : path.posix.join("/", out.WorkingDir ?? "", dir);
        break;
      }
      case "USER":
        out.User = expand(exactlyOne(instr, rest));
        break;
      case "EXPOSE": {
        const specs = rest.split(/\s+/).filter((s) => s !== "").map(expand);
        if (specs.length === 0) throw new UsageError("EXPOSE requires at least one argument");
        for (const spec of specs) for (const port of exposedPorts(spec)) out.ExposedPorts = { ...out.ExposedPorts, [port]: {} };
        break;
      }
      case "VOLUME": {
        const vols = (jsonForm(rest) ?? rest.split(/\s+/).filter((s) => s !== "")).map(expand);
        if (vols.length === 0) throw new UsageError("VOLUME requires at least one argument");
        for (const v of vols) {
          if (v.trim() === "") throw new UsageError("VOLUME specified can not be an empty string");
          out.Volumes = { ...out.Volumes, [v]: {} };
        }
        break;
      }
      case "STOPSIGNAL": {
        const sig = expand(exactlyOne(instr, rest));
        if (!validSignal(sig)) throw new UsageError(`Invalid signal: ${sig}`);
        out.StopSignal = sig;
        break;
      }
      default:
        throw new UsageError(`${instr.toLowerCase()} is not a valid change command`);
    }
  }
  return out;
}

/**
 * `commit --change`: the instructions over an existing config, as Docker's
 * builder applies them to the container's: ENV and LABEL add to what is
 * there, EXPOSE and VOLUME too, the others replace; a new ENTRYPOINT drops
 * the CMD unless the changes set one.
 */
export function applyChanges(base: ImageConfigBody, changes: string[]): ImageConfigBody {
  const c = parseChanges(changes);
  const out: ImageConfigBody = { ...base };
  if (c.Env !== undefined) {
    const env = [...(base.Env ?? [])];
    for (const e of c.Env) {
      const k = e.slice(0, e.indexOf("="));
      const i = env.findIndex((x) => x.slice(0, x.indexOf("=")) === k || x === k);
      if (i === -1) env.push(e);
      else env[i] = e;
    }
    out.Env = env;
  }
  if (c.Labels !== undefined) out.Labels = { ...base.Labels, ...c.Labels };
  if (c.ExposedPorts !== undefined) out.ExposedPorts = { ...base.ExposedPorts, ...c.ExposedPorts };
  if (c.Volumes !== undefined) out.Volumes = { ...base.Volumes, ...c.Volumes };
  if (c.Entrypoint !== undefined) out.Entrypoint = c.Entrypoint;
  if (c.Cmd !== undefined) out.Cmd = c.Cmd;
  if (c.WorkingDir !== undefined) out.WorkingDir = c.WorkingDir;
  if (c.User !== undefined) out.User = c.User;
  if (c.StopSignal !== undefined) out.StopSignal = c.StopSignal;
  return out;
}
