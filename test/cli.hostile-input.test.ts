// Command lines a hostile user crafts: arguments that Node itself would parse
// (`--env-file`, nodejs/node#54232) and input that used to end in a stack trace.
// tsbox is started here as a user starts it: the executable bin/tsbox.js, through
// its `#!` line, not `node bin/tsbox.js`.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, removeRoot, rootWithBusybox, tsbox, type Result } from "./helpers.js";

let root: string;
let dir: string;
let marker: string;
let envFile: string;

/** bin/tsbox.js run directly, with this test's Node first on PATH for its `#!/usr/bin/env` line. */
function asUser(args: string[], extraEnv: Record<string, string> = {}): Result {
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}`, ...extraEnv };
  const r = spawnSync(CLI, ["--root", root, ...args], { encoding: "utf8", timeout: 60_000, env });
  return { code: r.status ?? 128 + 9, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

beforeAll(() => {
  root = rootWithBusybox();
  dir = mkdtempSync("/var/tmp/tsbox-hostile-");
  marker = join(dir, "marker");
  const payload = join(dir, "payload.cjs");
  // If Node ever reads the env file, NODE_OPTIONS makes it load the payload as root.
  writeFileSync(payload, `require("fs").writeFileSync(${JSON.stringify(marker)}, "pwned")\n`);
  envFile = join(dir, "evil.env");
  writeFileSync(envFile, `NODE_OPTIONS=--require=${payload}\n`);
});

afterAll(() => {
  tsbox(root, ["rm", "-f", "hostile-exec"]);
  removeRoot(root);
  rmSync(dir, { recursive: true, force: true });
});

describe("no argument reaches Node's option parser", () => {
  it("tsbox run --env-file F: tsbox reads F as the container's environment, Node does not", () => {
    const r = asUser(["run", "--rm", "--env-file", envFile, "busybox", "sh", "-c", "echo \"$NODE_OPTIONS\""]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^--require=/);
    expect(existsSync(marker)).toBe(false);
  });

  it("a container's own argument --env-file=F is passed through untouched", () => {
    const r = asUser(["run", "--rm", "busybox", "echo", `--env-file=${envFile}`, "--env-file", envFile]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`--env-file=${envFile} --env-file ${envFile}\n`);
    expect(existsSync(marker)).toBe(false);
  });

  it("tsbox exec --env-file F", () => {
    expect(asUser(["run", "-d", "--name", "hostile-exec", "busybox", "sleep", "600"]).code).toBe(0);
    const r = asUser(["exec", "--env-file", envFile, "hostile-exec", "sh", "-c", "echo \"$NODE_OPTIONS\""]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^--require=/);
    expect(existsSync(marker)).toBe(false);
  });

  it("a missing file: tsbox's own error for its flag, passed through as a container argument", () => {
    const missing = join(dir, "missing.env");
    const flag = asUser(["run", "--rm", "--env-file", missing, "busybox", "true"]);
    expect(flag.code).toBe(125);
    expect(flag.stderr).toBe(`tsbox: open ${missing}: no such file or directory\n`);
    const arg = asUser(["run", "--rm", "busybox", "echo", `--env-file=${missing}`]);
    expect(arg.code).toBe(0);
    expect(arg.stdout).toBe(`--env-file=${missing}\n`);
  });
});

describe("Node's compile cache and the code caches", () => {
  // V8 runs the bytecode it finds in the cache: Node's default directory,
  // $TMPDIR/node-compile-cache, is one any user can create first in /tmp.
  it("is kept beside tsbox's code, never in $TMPDIR (tsbox and tsbox-runc)", () => {
    const tmp = join(dir, "tmp");
    mkdirSync(tmp);
    const r = asUser(["--version"], { TMPDIR: tmp });
    expect(r.code).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
    expect(existsSync(join(dirname(CLI), "..", "dist", "compile-cache"))).toBe(true);
    // and the bundles' code caches (bin/code-cache.cjs)
    expect(existsSync(join(dirname(CLI), "..", "dist", "code-cache", "tsbox"))).toBe(true);
    const runc = spawnSync(join(dirname(CLI), "tsbox-runc.js"), ["--version"], {
      encoding: "utf8", env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}`, TMPDIR: tmp },
    });
    expect(runc.status).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe("bad input is one line, exit 125", () => {
  const oneLine = (r: Result): void => {
    expect(r.code).toBe(125);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  };

  it("--name of 300 characters", () => {
    const r = tsbox(root, ["run", "--rm", "--name", "a".repeat(300), "busybox", "true"]);
    oneLine(r);
    expect(r.stderr).toMatch(/Invalid container name/);
  });

  it("a NUL byte in an env file", () => {
    const f = join(dir, "nul.env");
    writeFileSync(f, "A=b\0c\n");
    const r = tsbox(root, ["run", "--rm", "--env-file", f, "busybox", "true"]);
    oneLine(r);
    expect(r.stderr).toBe(`tsbox: ${f}:1: variable 'A' contains a NUL byte\n`);
  });

  it("--root pointing at a file", () => {
    const f = join(dir, "a-file");
    writeFileSync(f, "");
    const r = spawnSync(process.execPath, ["--", CLI, "--root", f, "run", "--rm", "busybox", "true"], { encoding: "utf8" });
    oneLine({ code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr });
    expect(r.stderr).toBe(`tsbox: --root ${f}: not a directory\n`);
  });

  it("-e '' and -e =x are refused as Docker refuses them", () => {
    const empty = tsbox(root, ["run", "--rm", "-e", "", "busybox", "true"]);
    oneLine(empty);
    expect(empty.stderr).toBe('tsbox: invalid argument "" for "-e, --env" flag: invalid environment variable: \n');
    oneLine(tsbox(root, ["run", "--rm", "-e", "=x", "busybox", "true"]));
  });
});
