// Summarizes one run of a TAP suite: the runtime-tools validation programs or runc's bats files
// (scripts/test-oci.sh writes RESULTS/NAME.tap and RESULTS/NAME.rc for each program of
// RESULTS/programs.txt), and gates it against a baseline of assertions that runc passes here.
//
//   tsx test/oci/report.ts --results DIR [--label NAME] [--suite WORD] [--baseline FILE] [--retry DIR]
//                          [--show-gains]
//   tsx test/oci/report.ts --results DIR... --write-baseline FILE [--header LINE...] [--trust-failed-programs]
//
// With several --results (runs of the reference runtime), --write-baseline keeps as gating the
// assertions that passed in every run and marks those that passed in some as flaky.
// --retry DIR: a second run of the programs that had regressions (scripts/test-oci.sh makes it);
// a regression that passed there is reported as flaky instead of failing the gate.
//
// Prints a line per program (passed, failed, skipped, TODO, and what was wrong with the stream),
// the total as `<suite>: N passed, N failed, N skipped`, then the gate: every baseline
// assertion that did not pass now is listed as a regression. Exit status: 0 no regression
// (or no baseline given), 1 regressions, 2 bad usage or unreadable results.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compare, count, exitId, formatBaseline, parseBaseline, parseTap, type ProgramResult } from "./tap.js";

interface Options {
  results: string[];
  label: string;
  baseline: string | undefined;
  retry: string | undefined;
  writeBaseline: string | undefined;
  header: string[];
  showGains: boolean;
  /** The word before the total line: `validation: N passed, ...`. */
  suite: string;
  /** Passes in programs that exited non-zero still gate (bats files exit 1 if any test failed). */
  trustFailed: boolean;
}

class UsageError extends Error {}

const NOT_RUN = "not run (time budget spent)";
/** Regressions printed; the rest are in RESULTS/regressions.txt. */
const SHOWN = 60;

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { results: [], label: "runtime", baseline: undefined, retry: undefined, writeBaseline: undefined, header: [], showGains: false, suite: "validation", trustFailed: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case "--results": o.results.push(value()); break;
      case "--label": o.label = value(); break;
      case "--baseline": o.baseline = value(); break;
      case "--retry": o.retry = value(); break;
      case "--write-baseline": o.writeBaseline = value(); break;
      case "--header": o.header.push(value()); break;
      case "--show-gains": o.showGains = true; break;
      case "--suite": o.suite = value(); break;
      case "--trust-failed-programs": o.trustFailed = true; break;
      default: throw new UsageError(`unknown argument ${String(a)}`);
    }
  }
  if (o.results.length === 0) throw new UsageError("--results DIR is required");
  if (o.results.length > 1 && !o.writeBaseline) throw new UsageError("several --results only with --write-baseline");
  return o;
}

/** NAME.rc holds the exit status, `timeout` when the runner killed the program, or `not-run`. */
function readExit(path: string): { exit: number | undefined; timedOut: boolean; notRun: boolean } {
  if (!existsSync(path)) return { exit: undefined, timedOut: false, notRun: true };
  const text = readFileSync(path, "utf8").trim();
  if (text === "timeout") return { exit: undefined, timedOut: true, notRun: false };
  if (text === "not-run") return { exit: undefined, timedOut: false, notRun: true };
  const n = Number(text);
  if (!Number.isInteger(n)) throw new UsageError(`${path}: expected an exit status, "timeout" or "not-run", got ${JSON.stringify(text)}`);
  return { exit: n, timedOut: false, notRun: false };
}

function load(dir: string): { results: ProgramResult[]; notRun: string[] } {
  const listPath = join(dir, "programs.txt");
  if (!existsSync(listPath)) throw new UsageError(`${listPath} does not exist (no run in ${dir}?)`);
  const programs = readFileSync(listPath, "utf8").split("\n").map((s) => s.trim()).filter(Boolean);
  const results: ProgramResult[] = [];
  const notRun: string[] = [];
  for (const p of programs) {
    const tap = join(dir, `${p}.tap`);
    const rc = join(dir, `${p}.rc`);
    const { exit, timedOut, notRun: skipped } = readExit(rc);
    if (skipped || !existsSync(tap)) {
      notRun.push(p);
      results.push({ program: p, assertions: [], planned: undefined, exit: undefined, timedOut: false, problems: [NOT_RUN] });
      continue;
    }
    results.push(parseTap(p, readFileSync(tap, "utf8"), exit, timedOut));
  }
  return { results, notRun };
}

function pad(s: string | number, n: number, left = false): string {
  const t = String(s);
  return left ? t.padStart(n) : t.padEnd(n);
}

function printRun(dir: string, label: string, results: readonly ProgramResult[]): void {
  const width = Math.max(...results.map((r) => r.program.length), 7);
  console.log(`${pad("program", width)}  ${pad("pass", 5, true)} ${pad("fail", 5, true)} ${pad("skip", 5, true)} ${pad("todo", 5, true)}  notes`);
  for (const r of results) {
    const c = count(r.assertions);
    console.log(`${pad(r.program, width)}  ${pad(c.pass, 5, true)} ${pad(c.fail, 5, true)} ${pad(c.skip, 5, true)} ${pad(c.todo, 5, true)}  ${r.problems.join("; ")}`);
  }
  const total = count(results.flatMap((r) => r.assertions));
  const broken = results.filter((r) => r.problems.length > 0).length;
  console.log(`(${label}: ${results.length} programs, ${broken} with a stream problem, ${total.todo} TODO points)`);
  writeFileSync(join(dir, "summary.json"), `${JSON.stringify({ label, total, programs: results.map((r) => ({ program: r.program, ...count(r.assertions), problems: r.problems })) }, null, 2)}\n`);
}

function totalLine(results: readonly ProgramResult[]): string {
  const t = count(results.flatMap((r) => r.assertions));
  return `${t.pass} passed, ${t.fail} failed, ${t.skip} skipped`;
}

function main(argv: readonly string[]): number {
  const o = parseArgs(argv);
  const runs = o.results.map((dir) => load(dir).results);
  runs.forEach((results, i) => printRun(o.results[i] ?? "", o.label, results));

  if (o.writeBaseline) {
    const tally = runs.map((r) => totalLine(r)).join("; ");
    const text = formatBaseline([...o.header, `${runs.length} run(s): ${tally}`], runs, { trustFailedPrograms: o.trustFailed });
    writeFileSync(o.writeBaseline, text);
    const b = parseBaseline(text);
    console.log(`wrote ${b.stable.size} gating assertions (${o.label} passed them in all ${runs.length} runs) and ${b.flaky.size} non-gating ones to ${o.writeBaseline}`);
  }
  const results = runs[0] ?? [];
  const dir = o.results[0] ?? "";
  console.log(`${o.suite}: ${totalLine(results)}`);
  if (!o.baseline || o.writeBaseline) return 0;

  // A run of a subset of programs (TSBOX_OCI_PROGRAMS) is gated on those programs only.
  const ran = new Set(results.filter((r) => !r.problems.includes(NOT_RUN)).map((r) => r.program));
  const inRun = (id: string): boolean => ran.has(id.slice(0, id.indexOf(":")));
  const recorded = parseBaseline(readFileSync(o.baseline, "utf8"));
  const baseline = { stable: new Set([...recorded.stable].filter(inRun)), flaky: new Set([...recorded.flaky].filter(inRun)) };
  const first = compare(baseline, results.filter((r) => ran.has(r.program)));
  const { flakyMisses, gains } = first;
  let regressions = first.regressions;
  if (o.retry) {
    const again = new Map<string, string>();
    for (const r of load(o.retry).results) {
      for (const a of r.assertions) again.set(a.id, a.status);
      // A bats file exits 1 when any test failed: its exit on the retry counts, as its tests' do.
      if (r.exit !== undefined || r.timedOut) again.set(exitId(r.program), r.exit === 0 && !r.timedOut ? "pass" : "fail");
    }
    for (const r of regressions) if (again.get(r.id) === "pass") console.log(`  flaky, passed on retry (${r.now} first): ${r.id}`);
    regressions = regressions.filter((r) => again.get(r.id) !== "pass");
  }
  writeFileSync(join(dir, "regressions.txt"), regressions.map((r) => `${r.now}\t${r.id}\n`).join(""));
  writeFileSync(join(dir, "gains.txt"), gains.map((g) => `${g}\n`).join(""));
  if (o.showGains || gains.length <= 20) for (const g of gains) console.log(`  gain: ${g}`);
  else console.log(`  ${gains.length} gains listed in ${join(dir, "gains.txt")}`);
  for (const r of flakyMisses) console.log(`  not gating (${r.now}): ${r.id}`);
  const byProgram = new Map<string, number>();
  for (const r of regressions) {
    const p = r.id.slice(0, r.id.indexOf(":"));
    byProgram.set(p, (byProgram.get(p) ?? 0) + 1);
  }
  for (const r of regressions.slice(0, SHOWN)) console.log(`  REGRESSION (${r.now}): ${r.id}`);
  if (regressions.length > SHOWN) {
    console.log(`  ... and ${regressions.length - SHOWN} more, all in ${join(dir, "regressions.txt")}`);
  }
  if (byProgram.size > 0) console.log(`regressions by program: ${[...byProgram].map(([p, n]) => `${p} ${n}`).join(", ")}`);
  const subset = baseline.stable.size < recorded.stable.size ? ` (the ${ran.size} programs run)` : "";
  const flaky = baseline.flaky.size > 0 ? `; ${baseline.flaky.size - flakyMisses.length} of ${baseline.flaky.size} non-gating ones passed` : "";
  console.log(`gate: ${baseline.stable.size - regressions.length} of ${baseline.stable.size} baseline assertions${subset} pass, ${regressions.length} regressions, ${gains.length} passing beyond the baseline${flaky}`);
  return regressions.length > 0 ? 1 : 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`oci report: ${e.message}`);
    process.exitCode = 2;
  } else {
    throw e;
  }
}
