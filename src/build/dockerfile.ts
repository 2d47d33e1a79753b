// The Dockerfile's syntax, as BuildKit's parser reads it: parser directives
// (`# escape=`, `# syntax=`) at the top, comments, line continuations with
// the escape character (comment and blank lines inside one are skipped),
// instructions case-insensitive, `--flag=value` options of FROM, RUN, COPY
// and ADD, and heredocs (`<<EOF`, `<<-EOF`, quoted delimiters) after RUN,
// COPY and ADD. Pure: text in, instructions out; meaning is builder.ts's.
import { UsageError } from "../errors.js";

export interface Heredoc {
  /** the delimiter word, as the instruction names it */
  name: string;
  content: string;
  /** an unquoted delimiter: $VAR in the content is expanded (by the shell for RUN) */
  expand: boolean;
}

export interface Instruction {
  /** upper case: FROM, RUN, COPY, ... */
  keyword: string;
  /** the rest of the line after the keyword and its --flags, continuation lines joined */
  args: string;
  /** `--name=value` options before the arguments (a bare `--name` is "true") */
  flags: Record<string, string[]>;
  heredocs: Heredoc[];
  /** 1-based line of the keyword */
  line: number;
  /** the instruction as written (one line), for progress output */
  original: string;
}

export interface Dockerfile {
  escape: string;
  instructions: Instruction[];
}

const KEYWORDS = new Set([
  "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
  "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
]);
const FLAGGED = new Set(["FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"]);
const HEREDOC_KEYWORDS = new Set(["RUN", "COPY", "ADD"]);

/** Parser directives: `# key=value` lines before anything else. */
function directives(lines: string[]): { escape: string; consumed: number } {
  let escape = "\\";
  let i = 0;
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/.exec(lines[i] ?? "");
    if (!m) break;
    const key = (m[1] ?? "").toLowerCase();
    if (seen.has(key)) throw new UsageError(`only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === "escape") {
      if (m[2] !== "\\" && m[2] !== "`") throw new UsageError(`invalid escape token '${m[2] ?? ""}' does not match ` + "` or \\");
      escape = m[2];
    }
  }
  return { escape, consumed: i };
}

const HEREDOC_RE = /<<(-?)\s*(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g;

/** Splits `--name=value` options off the front of an instruction's arguments. */
function splitFlags(keyword: string, rest: string): { flags: Record<string, string[]>; args: string } {
  const flags: Record<string, string[]> = {};
  if (!FLAGGED.has(keyword)) return { flags, args: rest };
  let s = rest;
  for (;;) {
    const m = /^--([a-zA-Z][a-zA-Z0-9-]*)(?:=("(?:[^"\\]|\\.)*"|\S*))?(?:\s+|$)/.exec(s);
    if (!m) break;
    const name = m[1] ?? "";
    let value = m[2] ?? "true";
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    (flags[name] ??= []).push(value);
    s = s.slice(m[0].length);
  }
  return { flags, args: s };
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  const { escape, consumed } = directives(lines);
  const instructions: Instruction[] = [];
  const continued = new RegExp(`${escape === "\\" ? "\\\\" : "`"}[ \\t]*$`);
  let i = consumed;
  while (i < lines.length) {
    const raw = lines[i] ?? "";
    const start = i + 1;
    i++;
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    // Continuation lines: the escape character at the end joins the next line;
    // comment lines and empty lines within are dropped.
    let text = raw.replace(/^\s+/, "");
    while (continued.test(text)) {
      text = text.replace(continued, "");
      let next: string | undefined;
      while (i < lines.length) {
        const l = lines[i] ?? "";
        i++;
        if (l.trim().startsWith("#")) continue;
        if (l.trim() === "") continue;
        next = l;
        break;
      }
      if (next === undefined) break;
      text += next;
    }
    const m = /^(\S+)\s*([\s\S]*)$/.exec(text);
    const keyword = (m?.[1] ?? "").toUpperCase();
    if (!KEYWORDS.has(keyword)) throw new UsageError(`dockerfile parse error on line ${start}: unknown instruction: ${m?.[1] ?? ""}`);
    const { flags, args } = splitFlags(keyword, (m?.[2] ?? "").trim());
    const heredocs: Heredoc[] = [];
    if (HEREDOC_KEYWORDS.has(keyword) && !args.startsWith("[")) {
      for (const h of args.matchAll(HEREDOC_RE)) {
        const strip = h[1] === "-";
        const name = h[3] ?? "";
        const body: string[] = [];
        let closed = false;
        while (i < lines.length) {
          const l = lines[i] ?? "";
          i++;
          const candidate = strip ? l.replace(/^\t+/, "") : l;
          if (candidate === name) {
            closed = true;
            break;
          }
          body.push(candidate);
        }
        if (!closed) throw new UsageError(`dockerfile parse error on line ${start}: unterminated heredoc ${name}`);
        heredocs.push({ name, content: body.length > 0 ? `${body.join("\n")}\n` : "", expand: h[2] === "" });
      }
    }
    instructions.push({ keyword, args, flags, heredocs, line: start, original: `${keyword} ${args}`.trim() });
  }
  return { escape, instructions };
}
