// A foreground container's stdin, stdout and stderr are pipes (or its pty with
// -t) that tsbox copies, never the CLI's own fds: through /proc/self/fd/N a
// container could otherwise reopen them and rewrite a host file given on
// stdin, read back a host file stdout is appended to, or walk the host's
// filesystem from a directory on stdin. Also what must not change: EOF with
// -i, large outputs, stdout and stderr apart, EPIPE on tsbox's stdout, and
// the start errors tsbox prints itself.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, containerIds, removeRoot, rootWithBusybox, stateOf, tsbox } from "./helpers.js";

const SLOW = 120_000;
let root: string;
let dir: string;

beforeAll(() => {
  root = rootWithBusybox();
  dir = mkdtempSync("/var/tmp/tsbox-stdio-");
});
afterAll(() => {
  tsbox(root, ["rm", "-f", "sx"]);
  tsbox(root, ["rm", "-f", "sd"]);
  removeRoot(root);
  rmSync(dir, { recursive: true, force: true });
});

/** `tsbox ARGS` with the given host fds as its stdin/stdout/stderr ("pipe" to capture). */
function withFds(args: string[], stdio: [number | "pipe" | "ignore", number | "pipe", number | "pipe"], input?: string) {
  const r = spawnSync(process.execPath, [CLI, "--root", root, ...args], {
    encoding: "utf8", timeout: 60_000, stdio, ...(input !== undefined ? { input } : {}),
  });
  return { code: r.status ?? 128 + 9, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

function hostFile(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** Runs `fn` with `path` opened with `flags`; closes it after. */
function withOpen<T>(path: string, flags: string, fn: (fd: number) => T): T {
  const fd = openSync(path, flags);
  try { return fn(fd); } finally { closeSync(fd); }
}

// What each container runs in the hole tests: every way back through fds 0-2.
// For run -d, where stdout and stderr both go to the monitor's log: reopening
// /proc/self/fd/1 of a pipe for reading gives the pipe's read end, so the probe's
// own `cat` would steal whatever the monitor had not read yet. The links are
// read first (of the shell, $$, from a subshell) and printed after the cats.
const DETACHED = "echo pwned > /proc/self/fd/0; echo pwned >> /proc/self/fd/0; " +
  "l=$(for f in 0 0 1 2; do readlink /proc/$$/fd/$f; done); " +
  "timeout 1 cat < /proc/self/fd/1 > /tmp/back 2>/dev/null; timeout 1 cat < /proc/self/fd/2 >> /tmp/back 2>/dev/null; " +
  "echo \"$l\"; echo found=$(grep -c secret /tmp/back)";
const WRITE_STDIN = "echo pwned > /proc/self/fd/0; echo pwned >> /proc/self/fd/0; readlink /proc/self/fd/0";
// Reading /proc/self/fd/1 of a pipe would wait for data: bounded by timeout. Reopening a
// pipe for reading gives its read end, so the links are taken first and printed after the
// `cat`s, which would otherwise steal what tsbox's copier had not read yet.
const READ_STDOUT = "l=$(for f in 0 1 2; do readlink /proc/$$/fd/$f; done); " +
  "timeout 1 cat < /proc/self/fd/1 > /tmp/back 2>/dev/null; timeout 1 cat < /proc/self/fd/2 >> /tmp/back 2>/dev/null; " +
  "echo \"$l\" >&2; echo found=$(grep -c secret /tmp/back) >&2";

describe.each([
  ["run", (flags: string[], script: string): string[] => ["run", "--rm", ...flags, "busybox", "sh", "-c", script]],
  ["exec", (flags: string[], script: string): string[] => ["exec", ...flags, "sx", "sh", "-c", script]],
])("%s: the container gets pipes, not the CLI's fds", (cmd, argv) => {
  beforeAll(() => {
    if (cmd !== "exec") return;
    const r = tsbox(root, ["run", "-d", "--name", "sx", "busybox", "sleep", "1000"]);
    expect(r.code).toBe(0);
  });

  it("cannot rewrite a host file given on stdin (with and without -i)", () => {
    for (const flags of [["-i"], []]) {
      const file = hostFile(`${cmd}-in`, "original\n");
      const r = withOpen(file, "r", (fd) => withFds(argv(flags, WRITE_STDIN), [fd, "pipe", "pipe"]));
      expect(readFileSync(file, "utf8")).toBe("original\n");
      expect(r.stdout).toMatch(flags.length ? /^pipe:\[\d+\]\n$/ : /^(\/dev)?\/null\n$/);
    }
  });

  it("still copies a host file given on stdin with -i", () => {
    const file = hostFile(`${cmd}-cat`, "line one\nline two\n");
    const r = withOpen(file, "r", (fd) => withFds(argv(["-i"], "cat; echo end"), [fd, "pipe", "pipe"]));
    expect(r).toMatchObject({ code: 0, stdout: "line one\nline two\nend\n" });
  });

  it("cannot read back a host file stdout and stderr are appended to", () => {
    const out = hostFile(`${cmd}-out`, "secret out\n");
    const err = hostFile(`${cmd}-err`, "secret err\n");
    withOpen(out, "a", (o) => withOpen(err, "a", (e) => withFds(argv([], READ_STDOUT), ["ignore", o, e])));
    const errText = readFileSync(err, "utf8");
    expect(errText).toMatch(/^secret err\n(\/dev)?\/null\npipe:\[\d+\]\npipe:\[\d+\]\nfound=0\n$/);
    expect(readFileSync(out, "utf8")).toBe("secret out\n");
  });

  it("cannot reach the host's filesystem through a directory on stdin, stdout or stderr", () => {
    const host = join(dir, `${cmd}-tree`);
    mkdirSync(join(host, "etc"), { recursive: true });
    writeFileSync(join(host, "etc", "host-only"), "x");
    const probe = "ls /proc/self/fd/0/etc /proc/self/fd/1/etc /proc/self/fd/2/etc 2>/dev/null | grep -c host-only > /tmp/n; " +
      "cat /tmp/n; cat /tmp/n >&2; readlink /proc/self/fd/0 >&2";
    const r = withOpen(host, "r", (d) => withFds(argv(["-i"], probe), [d, "pipe", "pipe"]));
    expect(r.stdout).toBe("0\n");
    expect(r.stderr).toMatch(/^0\npipe:\[\d+\]\n$/);
    // A directory as stderr (2</dir): what the container writes there is lost, as a write to it would fail.
    const r2 = withOpen(host, "r", (d) => withFds(argv([], probe), ["ignore", "pipe", d]));
    expect(r2.stdout).toBe("0\n");
  });
});

describe("run: stdio behaviour that must not change", () => {
  it("-i passes stdin and its EOF: `echo hi | tsbox run -i busybox cat`", () => {
    expect(tsbox(root, ["run", "--rm", "-i", "busybox", "cat"], { input: "hi\n" })).toMatchObject({ code: 0, stdout: "hi\n" });
    expect(tsbox(root, ["run", "--rm", "-i", "busybox", "wc", "-c"], { input: "" })).toMatchObject({ code: 0, stdout: "0\n" });
  });

  it("without -i the container's stdin is /dev/null", () => {
    expect(tsbox(root, ["run", "--rm", "busybox", "sh", "-c", "cat; readlink /proc/self/fd/0"], { input: "ignored\n" }))
      .toMatchObject({ code: 0, stdout: expect.stringMatching(/^(\/dev)?\/null\n$/) as string });
  });

  it("copies several MB through cat, byte for byte, both ways", () => {
    const big = Buffer.alloc(6 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 13)) & 0xff;
    const r = spawnSync(process.execPath, [CLI, "--root", root, "run", "--rm", "-i", "busybox", "cat"],
      { input: big, timeout: 60_000, maxBuffer: 64 << 20 });
    expect(r.status).toBe(0);
    expect(Buffer.compare(r.stdout, big)).toBe(0);
  });

  it("copies both ways at once: a container that writes a lot before it reads its stdin does not deadlock", () => {
    // The copier must not block on the container's full stdin pipe while the
    // container blocks on its full stdout pipe.
    const input = Buffer.alloc(4 << 20, 0x61);
    const r = spawnSync(process.execPath, ["--", CLI, "--root", root, "run", "--rm", "-i", "busybox", "sh", "-c",
      "head -c 4194304 /dev/zero; wc -c"], { input, timeout: 30_000, killSignal: "SIGKILL", maxBuffer: 64 << 20 });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.length).toBe((4 << 20) + "4194304\n".length);
    expect(r.stdout.subarray(4 << 20).toString()).toBe("4194304\n");
  });

  it("keeps stdout and stderr apart and in order, and the exit code", () => {
    const r = tsbox(root, ["run", "--rm", "busybox", "sh", "-c", "for i in 1 2 3; do echo out$i; echo err$i >&2; done; exit 7"]);
    expect(r).toMatchObject({ code: 7, stdout: "out1\nout2\nout3\n", stderr: "err1\nerr2\nerr3\n" });
  });

  it("keeps the order of stdout and stderr written to one file (2>&1)", () => {
    const file = hostFile("merged", "");
    const script = "for i in 1 2 3 4 5 6 7 8 9 10; do echo out$i; echo err$i >&2; done";
    const r = withOpen(file, "w", (fd) => withFds(["run", "--rm", "busybox", "sh", "-c", script], ["ignore", fd, fd]));
    expect(r.code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(Array.from({ length: 10 }, (_, i) => `out${i + 1}\nerr${i + 1}\n`).join(""));
  });

  it("prints its own start errors (127, 126) on stderr", () => {
    const nf = tsbox(root, ["run", "--rm", "busybox", "no-such-cmd"]);
    expect(nf.code).toBe(127);
    expect(nf.stderr).toContain('exec: "no-such-cmd": executable file not found in $PATH');
    const na = tsbox(root, ["run", "--rm", "busybox", "/etc"]);
    expect(na.code).toBe(126);
    expect(na.stderr).toContain("permission denied");
  });

  it("ends the container's writes when tsbox's stdout is closed (`tsbox run busybox yes | head -1`)", async () => {
    const p = spawn(process.execPath, [CLI, "--root", root, "run", "--rm", "busybox", "yes"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    p.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    const first = await new Promise<string>((done) => p.stdout.once("data", (d: Buffer) => done(d.toString())));
    p.stdout.destroy();
    const code = await new Promise<number | null>((done) => p.on("exit", (c) => done(c)));
    expect(first.startsWith("y\n")).toBe(true);
    // busybox's yes reports EPIPE and exits 1 (where SIGPIPE kills it: 141); tsbox itself says nothing.
    expect([1, 141]).toContain(code);
    expect(err).not.toMatch(/tsbox|Error|\n\s+at /);
  }, SLOW);

  it("keeps a pty with -t", () => {
    const r = tsbox(root, ["run", "--rm", "-t", "busybox", "sh", "-c", "for f in 0 1 2; do readlink /proc/self/fd/$f; done"]);
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\r/g, "")).toMatch(/^\/dev\/pts\/\d+\n\/dev\/pts\/\d+\n\/dev\/pts\/\d+\n$/);
  });
});

describe("exec: stdio behaviour", () => {
  beforeAll(() => {
    if (!containerIds(root).some((i) => stateOf(root, i).name === "sx")) {
      expect(tsbox(root, ["run", "-d", "--name", "sx", "busybox", "sleep", "1000"]).code).toBe(0);
    }
  });

  it("-i passes stdin and its EOF", () => {
    expect(tsbox(root, ["exec", "-i", "sx", "cat"], { input: "hi\n" })).toMatchObject({ code: 0, stdout: "hi\n" });
  });

  it("does not wait forever for a background process that keeps the output pipe open (as Docker: 2 s)", () => {
    // spawnSync returns once tsbox's stdout pipe closes: before the fix the background sleep held it.
    const r = spawnSync(process.execPath, [CLI, "--root", root, "exec", "sx", "sh", "-c", "sleep 300 & echo started"],
      { encoding: "utf8", timeout: 30_000 });
    tsbox(root, ["exec", "sx", "pkill", "-f", "sleep 300"]);
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ status: 0, stdout: "started\n" });
  }, SLOW);

  it("copies all output to a reader slower than that, background process or not", () => {
    // The reader starts 3 s after the command exited with MBs still to copy: the copy waits for it.
    const cli = `"${process.execPath}" "${CLI}" --root "${root}" exec sx sh -c`;
    const r = spawnSync("/bin/sh", ["-c", `${cli} 'head -c 3000000 /dev/zero; sleep 301 &' | (sleep 3; wc -c)`],
      { encoding: "utf8", timeout: 60_000 });
    tsbox(root, ["exec", "sx", "pkill", "-f", "sleep 301"]);
    expect(r.stdout.trim()).toBe("3000000");
  }, SLOW);
});

describe("run -d: the monitor gives the container its own pipes or pty", () => {
  it("never the CLI's fds, with or without -i or -t", () => {
    const file = hostFile("detached-in", "original\n");
    const out = hostFile("detached-out", "secret\n");
    for (const flags of [[], ["-i"], ["-t"]]) {  // -i -t needs a terminal
      const r = withOpen(file, "r", (i) => withOpen(out, "a", (o) => withFds(
        ["run", "-d", "--name", "sd", ...flags, "busybox", "sh", "-c", DETACHED],
        [i, o, "pipe"])));
      expect(r.code).toBe(0);
      const id = readFileSync(out, "utf8").trim().split("\n").pop()!;
      expect(tsbox(root, ["wait", "sd"]).stdout).toBe("0\n");
      const logs = tsbox(root, ["logs", "sd"]).stdout.replace(/\r/g, "");
      expect(readFileSync(file, "utf8")).toBe("original\n");
      expect(readFileSync(out, "utf8")).toBe(`secret\n${id}\n`);
      const links = logs.split("\n").filter((l) => l.startsWith("/") || l.startsWith("pipe:"));
      expect(links).toHaveLength(4); // fd 0 twice, then 1 and 2
      for (const l of links) expect(l).toMatch(/^((\/dev)?\/null|pipe:\[\d+\]|\/dev\/pts\/\d+)$/);
      expect(logs).toContain("found=0");
      expect(tsbox(root, ["rm", "-f", "sd"]).code).toBe(0);
      writeFileSync(out, "secret\n");
    }
  }, SLOW);
});
