// A container's json-file log, whether it ran in the foreground or under its
// monitor (-d), --log-driver none, and `logs --until`; side by side with
// Docker where a daemon answers (the same busybox tarball, `docker import`ed).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, busyboxTarball, removeRoot, rootWithBusybox, tsbox, type Result } from "./helpers.js";

const SLOW = 120_000;
let root: string;

// ---- Docker, when present ----
const dockerImage = `tsbox-logs-busybox:${process.pid}`;
const dockerNames: string[] = [];
let dockerSkip: string | undefined;

function docker(args: string[]): Result {
  const r = spawnSync("docker", args, { encoding: "utf8", timeout: 60_000 });
  return { code: r.status ?? 128 + 9, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

/** Runs `fn` with Docker, or prints why not and skips. */
function withDocker(fn: () => void): void {
  if (dockerSkip !== undefined) {
    console.log(`docker side of the test skipped: ${dockerSkip}`);
    return;
  }
  fn();
}

function dockerName(base: string): string {
  const n = `${base}-${process.pid}`;
  dockerNames.push(n);
  return n;
}

beforeAll(() => {
  root = rootWithBusybox();
  const info = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 30_000 });
  if (info.error || info.status !== 0) {
    dockerSkip = "no docker daemon answers `docker info`";
    return;
  }
  const imp = spawnSync("docker", ["import", busyboxTarball(), dockerImage], { encoding: "utf8", timeout: 60_000 });
  if (imp.status !== 0) dockerSkip = `docker import failed: ${imp.stderr}`;
}, SLOW);

afterAll(() => {
  removeRoot(root);
  if (dockerSkip === undefined) {
    if (dockerNames.length) docker(["rm", "-f", ...dockerNames]);
    docker(["rmi", "-f", dockerImage]);
  }
});

const OUT_ERR = ["sh", "-c", "echo out; echo err >&2; printf 'no newline'"];

function inspectField(name: string, field: string): string {
  const r = tsbox(root, ["inspect", name]);
  expect(r.code).toBe(0);
  const v = (JSON.parse(r.stdout) as Record<string, unknown>[])[0]?.[field];
  return String(v);
}

describe("a foreground container keeps its json-file log", () => {
  it("logs prints what a foreground run wrote, stdout and stderr apart, and LogPath names the log", () => {
    const run = tsbox(root, ["run", "--name", "fg1", "busybox", ...OUT_ERR]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("out\nno newline");
    expect(run.stderr).toBe("err\n");
    const logs = tsbox(root, ["logs", "fg1"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe("out\nno newline");
    expect(logs.stderr).toBe("err\n");
    const path = inspectField("fg1", "LogPath");
    expect(path).toMatch(/container\.log$/);
    const lines = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { log: string; stream: string; time: string });
    expect(lines.map((l) => [l.stream, l.log])).toEqual([["stdout", "out\n"], ["stderr", "err\n"], ["stdout", "no newline"]]);
    for (const l of lines) expect(Date.parse(l.time)).not.toBeNaN();
    withDocker(() => {
      const n = dockerName("fg1");
      const d = docker(["run", "--name", n, dockerImage, ...OUT_ERR]);
      expect(d.code).toBe(run.code);
      const dl = docker(["logs", n]);
      expect([dl.code, dl.stdout, dl.stderr]).toEqual([logs.code, logs.stdout, logs.stderr]);
    });
    expect(tsbox(root, ["rm", "fg1"]).code).toBe(0);
    expect(existsSync(path)).toBe(false);
  }, SLOW);

  it("a foreground -t run logs the terminal's output as stdout", () => {
    const run = tsbox(root, ["run", "-t", "--name", "fg2", "busybox", "sh", "-c", "echo on the tty"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("on the tty\r\n");
    const logs = tsbox(root, ["logs", "fg2"]);
    expect([logs.code, logs.stdout, logs.stderr]).toEqual([0, "on the tty\r\n", ""]);
    expect(tsbox(root, ["rm", "fg2"]).code).toBe(0);
  }, SLOW);

  it("a later start (under the monitor) appends to the foreground run's log", async () => {
    expect(tsbox(root, ["run", "--name", "fg3", "busybox", "echo", "once"]).code).toBe(0);
    expect(tsbox(root, ["start", "-a", "fg3"]).stdout).toBe("once\n");
    expect(tsbox(root, ["logs", "fg3"]).stdout).toBe("once\nonce\n");
    expect(tsbox(root, ["rm", "fg3"]).code).toBe(0);
  }, SLOW);

  it("--log-opt max-size and max-file rotate a foreground run's log", () => {
    const run = tsbox(root, ["run", "--name", "fg5", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "busybox",
      "sh", "-c", "for i in $(seq 1 40); do echo line $i; done"]);
    expect(run.code).toBe(0);
    const path = inspectField("fg5", "LogPath");
    expect(existsSync(`${path}.1`)).toBe(true);
    expect(existsSync(`${path}.2`)).toBe(false);
    expect(readFileSync(path).length).toBeLessThanOrEqual(1024);
    const logs = tsbox(root, ["logs", "fg5"]).stdout.trim().split("\n");
    expect(logs.at(-1)).toBe("line 40");
    expect(tsbox(root, ["rm", "fg5"]).code).toBe(0);
    expect(existsSync(`${path}.1`)).toBe(false);
  }, SLOW);

  it("large binary output reaches the terminal byte for byte and the log as JSON", () => {
    const script = "head -c 3000000 /dev/urandom > /tmp/b; cat /tmp/b; sha256sum /tmp/b >&2";
    const r = spawnSync(process.execPath, ["--", CLI, "--root", root, "run", "--name", "fg4", "busybox", "sh", "-c", script],
      { timeout: 60_000, maxBuffer: 64 << 20 });
    expect(r.status).toBe(0);
    const want = String(r.stderr).trim().split(/\s+/)[0];
    expect(createHash("sha256").update(r.stdout).digest("hex")).toBe(want);
    // Every byte is in the log too, 16 KiB a line at most (the JSON escapes decoded, invalid UTF-8 aside).
    const log = readFileSync(inspectField("fg4", "LogPath"), "utf8").trim().split("\n");
    expect(log.length).toBeGreaterThan(3_000_000 / 16384);
    expect(tsbox(root, ["rm", "fg4"]).code).toBe(0);
  }, SLOW);
});

describe("--log-driver none", () => {
  it.each([["foreground", []], ["detached", ["-d"]]])("%s: no log file, LogPath empty, logs refused with Docker's text and exit 1", async (_, flags) => {
    const name = `none${flags.length}`;
    const run = tsbox(root, ["run", ...flags, "--name", name, "--log-driver", "none", "busybox", "echo", "hi"]);
    expect(run.code).toBe(0);
    if (flags.length === 0) expect(run.stdout).toBe("hi\n");
    else expect(tsbox(root, ["wait", name]).stdout).toBe("0\n");
    expect(inspectField(name, "LogPath")).toBe("");
    const insp = JSON.parse(tsbox(root, ["inspect", name]).stdout) as { HostConfig: { LogConfig: unknown } }[];
    expect(insp[0]?.HostConfig.LogConfig).toEqual({ Type: "none", Config: {} });
    const id = JSON.parse(tsbox(root, ["inspect", name]).stdout)[0].Id as string;
    expect(existsSync(`${root}/containers/${id}/container.log`)).toBe(false);
    const logs = tsbox(root, ["logs", name]);
    expect([logs.code, logs.stdout, logs.stderr]).toEqual([1, "", "tsbox: configured logging driver does not support reading\n"]);
    withDocker(() => {
      const n = dockerName(name);
      expect(docker(["run", ...flags, "--name", n, "--log-driver", "none", dockerImage, "echo", "hi"]).code).toBe(0);
      docker(["wait", n]);
      const dl = docker(["logs", n]);
      expect(dl.code).toBe(logs.code);
      expect(dl.stderr).toBe("Error response from daemon: configured logging driver does not support reading\n");
      expect(docker(["inspect", "-f", "{{.LogPath}}", n]).stdout).toBe("\n");
    });
    expect(tsbox(root, ["rm", name]).code).toBe(0);
  }, SLOW);

  it("refuses an unknown driver and options for none, as Docker (125), leaving nothing", () => {
    for (const [args, text] of [
      [["--log-driver", "nope"], 'error looking up logging plugin nope: plugin "nope" not found'],
      [["--log-driver", "none", "--log-opt", "max-size=1k"], "invalid logging opts for driver none"],
    ] as const) {
      const r = tsbox(root, ["run", "--rm", ...args, "busybox", "true"]);
      expect([r.code, r.stderr]).toEqual([125, `tsbox: ${text}\n`]);
      withDocker(() => {
        const d = docker(["run", "--rm", ...args, dockerImage, "true"]);
        expect(d.code).toBe(125);
        expect(d.stderr).toContain(text);
      });
    }
    expect(tsbox(root, ["ps", "-a", "-q"]).stdout).toBe("");
  }, SLOW);
});

describe("logs --until", () => {
  it("shows only what was logged before the time, RFC 3339 or relative; a bad value is refused", () => {
    const run = tsbox(root, ["run", "--name", "until1", "busybox", "sh", "-c", "echo early; sleep 2; echo late"]);
    expect(run.code).toBe(0);
    const path = inspectField("until1", "LogPath");
    const times = readFileSync(path, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { time: string }).time);
    const between = new Date(Date.parse(times[0]!) + 1000).toISOString();
    expect(tsbox(root, ["logs", "--until", between, "until1"]).stdout).toBe("early\n");
    expect(tsbox(root, ["logs", "--since", between, "until1"]).stdout).toBe("late\n");
    expect(tsbox(root, ["logs", "--until", "0s", "until1"]).stdout).toBe("early\nlate\n");
    expect(tsbox(root, ["logs", "--until", "1h", "until1"]).stdout).toBe("");
    const bad = tsbox(root, ["logs", "--until", "yesterday", "until1"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toBe('tsbox: invalid value for "until": failed to parse value as time or duration: "yesterday"\n');
    withDocker(() => {
      const n = dockerName("until1");
      expect(docker(["run", "--name", n, dockerImage, "sh", "-c", "echo early; sleep 2; echo late"]).code).toBe(0);
      expect(docker(["logs", "--until", "1h", n]).stdout).toBe("");
      const d = docker(["logs", "--until", "yesterday", n]);
      expect(d.code).toBe(bad.code);
      expect(d.stderr).toContain('invalid value for "until": failed to parse value as time or duration: "yesterday"');
    });
    expect(tsbox(root, ["rm", "until1"]).code).toBe(0);
  }, SLOW);
});
