// Exit codes as Docker's client gives them: 125 for flag errors everywhere and
// for `run`'s and `exec`'s own failures; 1 for every other command's failure
// (the daemon's error). Each of these exited 125 before.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exitCodeOf } from "../src/cli/index.js";
import { removeRoot, rootWithBusybox, tsbox } from "./helpers.js";

let root: string;
beforeAll(() => { root = rootWithBusybox(); });
afterAll(() => { removeRoot(root); });

describe("exit codes", () => {
  it("1 for the failures of commands other than run and exec, as Docker's client", () => {
    const stopped = tsbox(root, ["run", "--name", "stopped", "busybox", "true"]);
    expect(stopped.code, stopped.stderr).toBe(0);
    const cases: [string[], RegExp][] = [
      [["pull", "127.0.0.1:1/x/y"], /connection refused/],
      [["load", "-i", "/etc/passwd"], /invalid tar/],
      [["save", "-o", "/tmp/never.tar", "nosuch:1"], /No such image: nosuch:1/],
      [["tag", "nosuch", "x:y"], /No such image/],
      [["kill", "-s", "BOGUS", "stopped"], /Invalid signal: BOGUS/],
      [["attach", "stopped"], /You cannot attach to a stopped container/],
      [["rename", "stopped", "bad name"], /Invalid container name/],
      [["logs", "nosuch"], /No such container: nosuch/],
      [["info", "--format", "{{.Nope}}"], /can't evaluate field Nope/],
    ];
    for (const [args, message] of cases) {
      const r = tsbox(root, args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(tsbox(root, ["rm", "stopped"]).code).toBe(0);
  });

  it("125 for run's and exec's own failures and for a flag error anywhere", () => {
    expect(tsbox(root, ["run", "--rm", "--pull", "never", "nosuch:1", "true"]).code).toBe(125);
    expect(tsbox(root, ["run", "--rm", "-m", "bad", "busybox", "true"]).code).toBe(125);
    expect(tsbox(root, ["exec"]).code).toBe(125);
    expect(tsbox(root, ["pull", "--bogus-flag", "x"]).code).toBe(125);
    expect(tsbox(root, ["images", "--bogus-flag"]).code).toBe(125);
  });

  it("maps only tsbox's default 125, and only for the commands Docker's client has", () => {
    expect(exitCodeOf("pull", 125)).toBe(1);
    expect(exitCodeOf("run", 125)).toBe(125);
    expect(exitCodeOf("exec", 125)).toBe(125);
    expect(exitCodeOf("mem", 125)).toBe(125); // tsbox's own
    expect(exitCodeOf("stop", 2)).toBe(2);
    expect(exitCodeOf(undefined, 125)).toBe(125);
  });
});
