// The README's command list is the contract a Docker user reads: every tsbox
// command has its row; each takes the flags of Docker's command of the same
// name except those the "Docker flags tsbox does not take" table names (with
// why); a flag of tsbox's own is named in the paragraph that follows it. Docker's flags are
// its client's (test/fixtures/docker-cli-flags.json, from `docker CMD --help`).
import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../src/cli/index.js";
import { REPO } from "./helpers.js";

const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
const docker = (JSON.parse(fs.readFileSync(path.join(REPO, "test", "fixtures", "docker-cli-flags.json"), "utf8")) as {
  commands: Record<string, string[]>;
}).commands;

/** The rows of the markdown table that follows a heading. */
function tableAfter(heading: string): string[][] {
  const at = readme.indexOf(heading);
  if (at < 0) return [];
  const rows: string[][] = [];
  for (const line of readme.slice(at).split("\n").slice(1)) {
    if (line.startsWith("|")) {
      const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
      if (!/^-+$/.test(cells[0] ?? "")) rows.push(cells);
    } else if (rows.length > 0) {
      break;
    }
  }
  return rows;
}

function commandAt(program: Command, words: string[]): Command | undefined {
  let c: Command | undefined = program;
  for (const w of words) c = c?.commands.find((s) => s.name() === w || s.aliases().includes(w));
  return c;
}

/**
 * A command's long flags, each with the names Docker may give it: commander's
 * `--no-x` is Docker's `--no-x` or, for a default-true flag, its `--x=false`.
 */
const longFlags = (c: Command): string[][] => c.options.flatMap((o) => {
  if (!o.long) return [];
  const name = o.long.replace(/^--/, "");
  return [o.negate ? [name, name.replace(/^no-/, "")] : [name]];
});

const program = buildProgram(undefined);
const notTaken = tableAfter("### Docker flags tsbox does not take");
const commandRows = tableAfter("## Commands");

/** The flags the table says `command` does not take. */
function refused(command: string): Set<string> {
  const out = new Set<string>();
  for (const [flags = "", commands = ""] of notTaken) {
    const names = commands.split(",").map((s) => s.trim().replace(/`/g, ""));
    if (!names.includes(command) && !names.includes("all")) continue;
    for (const m of flags.matchAll(/`--([a-z0-9-]+)`/g)) out.add(m[1]!);
  }
  return out;
}

describe("README's command list", () => {
  it("has a row for every command", () => {
    // The first word of each code span of a row's first cell: `stop` / `restart [-t S] …` names both.
    const named = new Set(commandRows.flatMap((r) => [...(r[0] ?? "").matchAll(/`([a-z]+)/g)].map((m) => m[1]!)));
    const missing = program.commands.map((c) => c.name()).filter((n) => n !== "help" && !named.has(n));
    expect(missing).toEqual([]);
  });

  it("says why for every Docker flag tsbox does not take, and names no flag tsbox does take", () => {
    expect(notTaken.length).toBeGreaterThan(0);
    for (const row of notTaken) expect(row[2] ?? "", row.join(" | ")).not.toBe("");
    const unexplained: string[] = [];
    const stale: string[] = [];
    for (const [name, flags] of Object.entries(docker)) {
      const cmd = commandAt(program, name.split(" "));
      if (cmd === undefined) {
        unexplained.push(`${name} (the command)`);
        continue;
      }
      const ours = new Set(longFlags(cmd).flat());
      const no = refused(name);
      for (const f of flags) {
        if (!ours.has(f) && !no.has(f)) unexplained.push(`${name} --${f}`);
        if (ours.has(f) && no.has(f)) stale.push(`${name} --${f}`);
      }
    }
    expect(unexplained, "Docker flags neither taken nor in the table").toEqual([]);
    expect(stale, "flags the table names that tsbox takes").toEqual([]);
  });

  it("names each flag of tsbox's own (one Docker's command lacks) in its paragraph", () => {
    const at = readme.indexOf("Flags of tsbox's own:");
    expect(at).toBeGreaterThan(0);
    const paragraph = readme.slice(at, readme.indexOf("\n\n", at));
    const undocumented: string[] = [];
    for (const [name, flags] of Object.entries(docker)) {
      const cmd = commandAt(program, name.split(" "));
      if (cmd === undefined) continue;
      for (const names of longFlags(cmd)) {
        if (names.some((f) => flags.includes(f))) continue;
        if (!paragraph.includes(`--${names[0]}`)) undocumented.push(`${name} --${names[0]}`);
      }
    }
    expect(undocumented).toEqual([]);
  });
});
