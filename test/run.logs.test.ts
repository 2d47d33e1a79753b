// A container's json-file log, whether it ran in the foreground or under its
// monitor (-d), --log-driver none, and `logs --until`; side by side with
// Docker where a daemon answers (the same busybox tarball, `docker import`ed).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, busyboxTarball, removeRoot, rootWithBusybox, tsbox, until, type Result } from "./helpers.js";

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
      // --details: the (empty) attributes field and its space before each line, after -t's time
      const dd = docker(["logs", "--details", n]);
      const td = tsbox(root, ["logs", "--details", "fg1"]);
      expect([td.stdout, td.stderr]).toEqual([dd.stdout, dd.stderr]);
      const norm = (s: string): string => s.replace(/^\S+Z/gm, "TIME");
      expect(norm(tsbox(root, ["logs", "-t", "--details", "fg1"]).stdout)).toBe(norm(docker(["logs", "-t", "--details", n]).stdout));
    });
    expect(tsbox(root, ["logs", "--details", "fg1"]).stdout).toBe(" out\n no newline");
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
    // start -a of it runs and waits; its output is kept nowhere to show (no terminal, no log).
    expect(tsbox(root, ["start", "-a", name]).code).toBe(0);
    expect(existsSync(`${root}/containers/${id}/container.log`)).toBe(false);
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

// ---- Health checks ----

interface Health { Status: string; FailingStreak: number; Log: { Start: string; End: string; ExitCode: number; Output: string }[] }

function healthOf(name: string): Health | undefined {
  const r = tsbox(root, ["inspect", name]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { State: { Health?: Health } }[])[0]?.State.Health;
}

/** Host pids of health probes of the container (their argv names it). */
function probesOf(id: string): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, "utf8").includes("health-check.cjs") && readFileSync(`/proc/${p}/cmdline`, "utf8").includes(id); }
    catch { return false; }
  }).map(Number);
}

function idOf(name: string): string {
  return (JSON.parse(tsbox(root, ["inspect", name]).stdout) as { Id: string }[])[0]!.Id;
}

describe("health checks", () => {
  it("run -d --health-cmd: starting, then healthy with the probes' log; ps shows it; unhealthy once stopped, its probes gone", async () => {
    const run = tsbox(root, ["run", "-d", "--name", "h1", "--health-cmd", "echo checking; exit 0", "--health-interval", "300ms", "busybox", "sleep", "1000"]);
    expect(run.code).toBe(0);
    const first = healthOf("h1");
    expect(first?.Status).toMatch(/^(starting|healthy)$/);
    const h = await until(() => { const x = healthOf("h1"); return x && x.Log.length >= 2 ? x : undefined; }, "two probes");
    expect(h.Status).toBe("healthy");
    expect(h.FailingStreak).toBe(0);
    expect(h.Log[0]).toMatchObject({ ExitCode: 0, Output: "checking\n" });
    expect(Date.parse(h.Log[0]!.End)).toBeGreaterThanOrEqual(Date.parse(h.Log[0]!.Start));
    expect(tsbox(root, ["ps", "--format", "json"]).stdout).toMatch(/"Status":"Up [^"]* \(healthy\)"/);
    const insp = JSON.parse(tsbox(root, ["inspect", "h1"]).stdout) as { Config: { Healthcheck: unknown } }[];
    expect(insp[0]?.Config.Healthcheck).toEqual({ Test: ["CMD-SHELL", "echo checking; exit 0"], Interval: 300e6 });
    await until(() => healthOf("h1")!.Log.length === 5 || undefined, "five probes");
    await new Promise((r) => setTimeout(r, 700));
    expect(healthOf("h1")!.Log.length).toBe(5); // Docker keeps the last 5
    const id = idOf("h1");
    expect(tsbox(root, ["stop", "-t", "1", "h1"]).code).toBe(0);
    expect(healthOf("h1")?.Status).toBe("unhealthy");
    await until(() => probesOf(id).length === 0 || undefined, "no probe left");
    expect(tsbox(root, ["rm", "h1"]).code).toBe(0);
  }, SLOW);

  it("a failing check turns unhealthy after --health-retries, with the exit code and output", async () => {
    expect(tsbox(root, ["run", "-d", "--name", "h2", "--health-cmd", "echo bad >&2; exit 3", "--health-interval", "200ms",
      "--health-retries", "2", "busybox", "sleep", "1000"]).code).toBe(0);
    const h = await until(() => { const x = healthOf("h2"); return x?.Status === "unhealthy" ? x : undefined; }, "unhealthy");
    expect(h.FailingStreak).toBeGreaterThanOrEqual(2);
    expect(h.Log[0]).toMatchObject({ ExitCode: 3, Output: "bad\n" });
    expect(tsbox(root, ["ps"]).stdout).toMatch(/Up .* \(unhealthy\)/);
    expect(tsbox(root, ["rm", "-f", "h2"]).code).toBe(0);
  }, SLOW);

  it("a probe past --health-timeout is -1 with Docker's message; one still running when the container goes is killed", async () => {
    expect(tsbox(root, ["run", "-d", "--name", "h3", "--health-cmd", "sleep 30", "--health-interval", "100ms",
      "--health-timeout", "300ms", "busybox", "sleep", "1000"]).code).toBe(0);
    const h = await until(() => { const x = healthOf("h3"); return x?.Log.length ? x : undefined; }, "a probe");
    expect(h.Log[0]).toMatchObject({ ExitCode: -1, Output: "Health check exceeded timeout (300ms)" });
    // The timed-out probe's process was killed, as moby does: no `sleep 30` piles up in the container.
    await until(() => (healthOf("h3")?.Log.length ?? 0) >= 3 || undefined, "three probes");
    const procs = tsbox(root, ["exec", "h3", "ps", "-o", "args"]).stdout;
    expect(procs.split("\n").filter((l) => l.trim() === "sleep 30").length).toBeLessThanOrEqual(1);
    withDocker(() => {
      const n = dockerName("h3");
      expect(docker(["run", "-d", "--name", n, "--health-cmd", "sleep 30", "--health-interval", "100ms", "--health-timeout", "300ms",
        dockerImage, "sleep", "1000"]).code).toBe(0);
      let out = "";
      for (let i = 0; i < 100 && !out.includes("Health check"); i++) {
        spawnSync("sleep", ["0.1"]);
        out = docker(["inspect", "-f", "{{json .State.Health.Log}}", n]).stdout;
      }
      expect(out).toContain("Health check exceeded timeout (300ms)");
      expect(out).toContain('"ExitCode":-1');
      docker(["rm", "-f", n]);
    });
    const id = idOf("h3");
    // A long probe (60 s timeout) in flight, then the container goes.
    const rm = tsbox(root, ["rm", "-f", "h3"]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(tsbox(root, ["run", "-d", "--name", "h3b", "--health-cmd", "sleep 30", "--health-interval", "100ms",
      "--health-timeout", "60s", "busybox", "sleep", "1000"]).code).toBe(0);
    const id2 = idOf("h3b");
    await until(() => probesOf(id2).length > 0 || undefined, "a probe running");
    expect(tsbox(root, ["rm", "-f", "h3b"]).code).toBe(0);
    await until(() => probesOf(id2).length === 0 && probesOf(id).length === 0 || undefined, "the probes gone with their containers");
  }, SLOW);

  it("a foreground run is probed by the CLI, and no probe outlives it", () => {
    const r = tsbox(root, ["run", "--name", "h4", "--health-cmd", "true", "--health-interval", "200ms", "busybox", "sleep", "2"]);
    expect(r.code).toBe(0);
    const h = healthOf("h4")!;
    expect(h.Log.length).toBeGreaterThanOrEqual(2);
    expect(h.Log.every((p) => p.ExitCode === 0)).toBe(true);
    expect(h.Status).toBe("unhealthy"); // as Docker reports a stopped container's
    expect(probesOf(idOf("h4"))).toEqual([]);
    expect(tsbox(root, ["rm", "h4"]).code).toBe(0);
  }, SLOW);

  it("the image's HEALTHCHECK runs; --health-* flags override it; --no-healthcheck disables it", async () => {
    const ctx = mkdtempSync("/var/tmp/tsbox-health-ctx-");
    try {
      writeFileSync(join(ctx, "Dockerfile"), "FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD echo from-image\n");
      const b = tsbox(root, ["build", "-q", "-t", "hcimg", ctx]);
      expect(b.code, b.stderr).toBe(0);
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
    expect(tsbox(root, ["run", "-d", "--name", "h5", "hcimg", "sleep", "1000"]).code).toBe(0);
    const h = await until(() => { const x = healthOf("h5"); return x?.Log.length ? x : undefined; }, "the image's probe");
    expect(h.Log[0]?.Output).toBe("from-image\n");
    expect(tsbox(root, ["run", "-d", "--name", "h6", "--health-cmd", "echo from-flag", "hcimg", "sleep", "1000"]).code).toBe(0);
    const insp = JSON.parse(tsbox(root, ["inspect", "h6"]).stdout) as { Config: { Healthcheck: unknown } }[];
    expect(insp[0]?.Config.Healthcheck).toEqual({ Test: ["CMD-SHELL", "echo from-flag"], Interval: 200e6, Retries: 1 });
    expect(tsbox(root, ["run", "-d", "--name", "h7", "--no-healthcheck", "hcimg", "sleep", "1000"]).code).toBe(0);
    expect(healthOf("h7")).toBeUndefined();
    const rows = tsbox(root, ["ps", "--format", "json"]).stdout.trim().split("\n").map((l) => JSON.parse(l) as { Names: string; Status: string });
    expect(rows.find((r) => r.Names === "h7")?.Status).toMatch(/^Up [^(]*$/);
    for (const n of ["h5", "h6", "h7"]) expect(tsbox(root, ["rm", "-f", n]).code).toBe(0);
    expect(tsbox(root, ["rmi", "hcimg"]).code).toBe(0);
  }, SLOW);

  it("refuses bad --health-* values as Docker (125), leaving nothing", () => {
    for (const [args, text] of [
      [["--no-healthcheck", "--health-cmd", "true"], "--no-healthcheck conflicts with --health-* options"],
      [["--health-interval", "-1s"], "--health-interval cannot be negative"],
      [["--health-timeout", "soon"], 'invalid argument "soon" for "--health-timeout" flag: time: invalid duration "soon"'],
      [["--health-retries", "-2"], "--health-retries cannot be negative"],
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
