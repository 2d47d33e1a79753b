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

/**
 * The reference runtime's passing assertions: `stable` passed in every recorded run and gate a
 * run; `flaky` passed in some runs only (the suite races with the machine) and are reported but
 * do not gate.
 */
export interface Baseline {
  stable: Set<string>;
  flaky: Set<string>;
}

export interface Comparison {
  /** Stable baseline assertions that did not pass in this run, with what they did instead. */
  regressions: { id: string; now: Status | "missing" }[];
  /** Flaky baseline assertions that did not pass in this run. */
  flakyMisses: { id: string; now: Status | "missing" }[];
  /** Assertions that passed in this run but are not in the baseline. */
  gains: string[];
}

/**
 * The program's own verdict as one more assertion: several programs report only through their
 * exit status (process_rlimits_fail, ..._fail: "MUST cause an error" is checked by exiting 0
 * with no test point, or 1 through a fatal error).
 */
export function exitId(program: string): string {
  return `${program}: (exits 0)`;
}

function verdicts(results: readonly ProgramResult[]): Map<string, Status> {
  const now = new Map<string, Status>();
  for (const r of results) {
    for (const a of r.assertions) now.set(a.id, a.status);
    if (r.exit !== undefined || r.timedOut) now.set(exitId(r.program), r.exit === 0 && !r.timedOut ? "pass" : "fail");
  }
  return now;
}

export function compare(baseline: Baseline, results: readonly ProgramResult[]): Comparison {
  const now = verdicts(results);
  const misses = (ids: ReadonlySet<string>): Comparison["regressions"] => {
    const out: Comparison["regressions"] = [];
    for (const id of [...ids].sort()) {
      const s = now.get(id);
      if (s !== "pass") out.push({ id, now: s ?? "missing" });
    }
    return out;
  };
  const gains = [...now]
    .filter(([id, s]) => s === "pass" && !baseline.stable.has(id) && !baseline.flaky.has(id))
    .map(([id]) => id)
    .sort();
  return { regressions: misses(baseline.stable), flakyMisses: misses(baseline.flaky), gains };
}

/**
 * Baseline file: one assertion id a line; `? id` marks a flaky one; `#` starts a comment line;
 * blank lines are ignored.
 */
export function parseBaseline(text: string): Baseline {
  const b: Baseline = { stable: new Set(), flaky: new Set() };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    if (line.startsWith("? ")) b.flaky.add(line.slice(2).trim());
    else b.stable.add(line);
  }
  return b;
}

/**
 * The baseline of several runs of the reference runtime: an assertion gates if it passed in all
 * of them, in a program that exited 0 in all of them. A program the reference runtime itself
 * fails (exit status not 0) gives no reference: process_capabilities_fail, for one, must make
 * `create` fail, and the checks runtimetest passes when runc runs the container anyway say
 * nothing. Those, and what passed in some runs only, are listed as not gating (`? id`).
 */
export function formatBaseline(
  header: readonly string[],
  runs: readonly (readonly ProgramResult[])[],
  /** bats: a file exits 1 when any of its tests failed, which says nothing of the others. */
  { trustFailedPrograms = false }: { trustFailedPrograms?: boolean } = {},
): string {
  const passes = new Map<string, number>();
  const failedPrograms = new Set<string>();
  for (const run of runs) {
    for (const [id, status] of verdicts(run)) if (status === "pass") passes.set(id, (passes.get(id) ?? 0) + 1);
    if (!trustFailedPrograms) for (const r of run) if (r.exit !== 0) failedPrograms.add(r.program);
  }
  const ids = [...passes.keys()].sort();
  const gating = (id: string): boolean => passes.get(id) === runs.length && !failedPrograms.has(id.slice(0, id.indexOf(":")));
  const stable = ids.filter(gating);
  const flaky = ids.filter((id) => !gating(id));
  const lines = [...header.map((h) => `# ${h}`), ...stable];
  if (flaky.length > 0) {
    lines.push(
      `# Not gating: passed in some of the ${runs.length} recorded runs only, or in a program whose exit status says the reference failed it.`,
      ...flaky.map((id) => `? ${id}`),
    );
  }
  return [...lines, ""].join("\n");
}
