// Reads the TAP output of the OCI runtime-tools validation programs and compares a run with a
// baseline of assertions (`program: description`) that a reference runtime passes here.
//
// The grammar is TAP 13 as those programs write it: test points at column 0, YAML blocks
// indented under them (runtimetest's own TAP, when nested, is a JSON string inside such a block,
// so it never starts a line), `# SKIP` / `# TODO` directives, a plan `1..N` first or last.

export type Status = "pass" | "fail" | "skip" | "todo";

export interface Assertion {
  /** `program: description`, with ` [#k]` appended to the k-th repeat of a description. */
  id: string;
  status: Status;
  /** Test point number as printed (0 when the line had none). */
  number: number;
}

export interface ProgramResult {
  program: string;
  assertions: Assertion[];
  /** The plan's count, or undefined when the stream has no plan. */
  planned: number | undefined;
  /** The program's exit status (undefined when unknown), or a signal/timeout note. */
  exit: number | undefined;
  timedOut: boolean;
  /** Things wrong with the stream itself: no plan, plan/count mismatch, non-zero exit. */
  problems: string[];
}

const POINT = /^(not ok|ok)\b[ \t]*(\d*)[ \t]*(?:-[ \t]*)?(.*)$/;
const PLAN = /^1\.\.(\d+)\b/;
const DIRECTIVE = /(?:^|\s)#\s*(SKIP|TODO)\S*\s*(.*)$/i;

/** Collapse what makes one run's description differ from another's: runs of white space. */
function normalize(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

export function parseTap(program: string, text: string, exit?: number, timedOut = false): ProgramResult {
  const assertions: Assertion[] = [];
  const seen = new Map<string, number>();
  let planned: number | undefined;
  for (const line of text.split("\n")) {
    const plan = PLAN.exec(line);
    if (plan) {
      planned = Number(plan[1]);
      continue;
    }
    const m = POINT.exec(line);
    if (!m) continue;
    const ok = m[1] === "ok";
    let description = m[3] ?? "";
    let status: Status = ok ? "pass" : "fail";
    const d = DIRECTIVE.exec(description);
    if (d) {
      const kind = (d[1] ?? "").toUpperCase();
      const reason = normalize(d[2] ?? "");
      const before = normalize(description.slice(0, d.index));
      if (kind === "SKIP") {
        status = "skip";
        // `ok 7 # SKIP reason` names the assertion only by its reason.
        description = before || `SKIP ${reason}`;
      } else {
        // A TODO point's failure is expected; its success does not count as a pass either.
        status = "todo";
        description = before || `TODO ${reason}`;
      }
    }
    description = normalize(description) || "(no description)";
    const base = `${program}: ${description}`;
    const k = (seen.get(base) ?? 0) + 1;
    seen.set(base, k);
    assertions.push({ id: k === 1 ? base : `${base} [#${k}]`, status, number: m[2] ? Number(m[2]) : 0 });
  }
  const problems: string[] = [];
  if (timedOut) problems.push("timed out");
  else if (exit !== undefined && exit !== 0) problems.push(`exit status ${exit}`);
  if (planned === undefined) problems.push("no plan");
  else if (planned !== assertions.length) problems.push(`planned ${planned}, ran ${assertions.length}`);
  return { program, assertions, planned, exit, timedOut, problems };
}

export interface Counts {
  pass: number;
  fail: number;
  skip: number;
  todo: number;
}

export function count(assertions: readonly Assertion[]): Counts {
  const c: Counts = { pass: 0, fail: 0, skip: 0, todo: 0 };
  for (const a of assertions) c[a.status]++;
  return c;
}

export interface Comparison {
  /** Baseline assertions that did not pass in this run, with what they did instead. */
  regressions: { id: string; now: Status | "missing" }[];
  /** Assertions that passed in this run but are not in the baseline. */
  gains: string[];
}

export function compare(baseline: ReadonlySet<string>, results: readonly ProgramResult[]): Comparison {
  const now = new Map<string, Status>();
  for (const r of results) for (const a of r.assertions) now.set(a.id, a.status);
  const regressions: Comparison["regressions"] = [];
  for (const id of [...baseline].sort()) {
    const s = now.get(id);
    if (s !== "pass") regressions.push({ id, now: s ?? "missing" });
  }
  const gains = [...now].filter(([id, s]) => s === "pass" && !baseline.has(id)).map(([id]) => id).sort();
  return { regressions, gains };
}

/** Baseline file: one assertion id a line; `#` starts a comment line; blank lines ignored. */
export function parseBaseline(text: string): Set<string> {
  const ids = new Set<string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line && !line.startsWith("#")) ids.add(line);
  }
  return ids;
}

export function formatBaseline(header: readonly string[], results: readonly ProgramResult[]): string {
  const ids = results.flatMap((r) => r.assertions.filter((a) => a.status === "pass").map((a) => a.id)).sort();
  return [...header.map((h) => `# ${h}`), ...ids, ""].join("\n");
}
