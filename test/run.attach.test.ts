// run -a, --sig-proxy=false, and the detach keys of `run -it` and `attach`
// (Ctrl-P Ctrl-Q, --detach-keys), driven through a real pseudo-terminal (a
// small python3 pty driver: each step waits for a text, then types); Docker
// side by side where a daemon answers.
import { spawn, spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, busyboxTarball, containerIds, removeRoot, rootWithBusybox, tsbox, until, type Result } from "./helpers.js";

const SLOW = 120_000;
let root: string;
const dockerImage = `tsbox-attach-busybox:${process.pid}`;
const dockerNames: string[] = [];
let dockerSkip: string | undefined;

function docker(args: string[], input?: string): Result {
  const r = spawnSync("docker", args, { encoding: "utf8", timeout: 60_000, ...(input !== undefined ? { input } : {}) });
  return { code: r.status ?? 128 + 9, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

function withDocker(fn: () => void): void {
  if (dockerSkip !== undefined) {
    console.log(`docker side of the test skipped: ${dockerSkip}`);
    return;
  }
  fn();
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

// Runs argv on a pty: for each step, waits (20 s at most) until the output holds `wait`, then types `send`.
const PTY_DRIVER = `
import json, os, pty, select, sys, time
steps = json.loads(sys.argv[1]); argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out = b""
def read(t):
    global out
    r, _, _ = select.select([fd], [], [], t)
    if r:
        try:
            d = os.read(fd, 65536)
        except OSError:
            return False
        if not d:
            return False
        out += d
    return True
for s in steps:
    end = time.time() + 20
    while s["wait"].encode() not in out and time.time() < end and read(0.05):
        pass
    os.write(fd, s["send"].encode("latin1"))
end = time.time() + 30
code = None
while time.time() < end:
    read(0.05)
    w, st = os.waitpid(pid, os.WNOHANG)
    if w:
        code = os.waitstatus_to_exitcode(st)
        break
while read(0.05):
    pass
sys.stdout.write(json.dumps({"out": out.decode("utf8", "replace"), "code": code}))
`;

function underPty(argv: string[], steps: { wait: string; send: string }[]): { out: string; code: number | null } {
  const r = spawnSync("python3", ["-c", PTY_DRIVER, JSON.stringify(steps), ...argv], { encoding: "utf8", timeout: 90_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { out: string; code: number | null };
}

const TSBOX = [process.execPath, "--", CLI];
const CTRL_P_Q = "\x10\x11";

describe("run -it and attach: the detach keys", () => {
  it("Ctrl-P Ctrl-Q detaches run -it (exit 0) and attach (`read escape sequence`, exit 1); the container runs on", async () => {
    const run = underPty([...TSBOX, "--root", root, "run", "-it", "--name", "d1", "busybox", "sh"],
      [{ wait: "# ", send: "echo mark-$((6*7))\r" }, { wait: "mark-42", send: CTRL_P_Q }]);
    expect(run.code).toBe(0);
    expect(run.out).toContain("mark-42");
    expect(run.out).not.toContain("read escape sequence");
    expect(tsbox(root, ["inspect", "d1"]).stdout).toContain('"Status": "running"');
    const att = underPty([...TSBOX, "--root", root, "attach", "d1"], [{ wait: "", send: "echo again-$((2*3))\r" }, { wait: "again-6", send: CTRL_P_Q }]);
    expect(att.code).toBe(1);
    expect(att.out).toContain("again-6");
    expect(att.out).toContain("read escape sequence");
    // The output typed in both attaches is in its log.
    expect(tsbox(root, ["logs", "d1"]).stdout).toContain("again-6");
    // --detach-keys, then the container's own end: its exit code.
    const keys = underPty([...TSBOX, "--root", root, "attach", "--detach-keys", "ctrl-a,x", "d1"],
      [{ wait: "", send: "\x10\x11echo still-$((1+1))\r" }, { wait: "still-2", send: "\x01x" }]);
    expect([keys.code, keys.out.includes("read escape sequence")]).toEqual([1, true]);
    const end = underPty([...TSBOX, "--root", root, "attach", "d1"], [{ wait: "", send: "exit 5\r" }]);
    expect(end.code).toBe(5);
    expect(tsbox(root, ["rm", "d1"]).code).toBe(0);
    withDocker(() => {
      const n = `d1-${process.pid}`;
      dockerNames.push(n);
      const d = underPty(["docker", "run", "-it", "--name", n, dockerImage, "sh"], [{ wait: "# ", send: "echo mark-$((6*7))\r" }, { wait: "mark-42", send: CTRL_P_Q }]);
      expect(d.code).toBe(run.code);
      const da = underPty(["docker", "attach", n], [{ wait: "", send: "echo again-$((2*3))\r" }, { wait: "again-6", send: CTRL_P_Q }]);
      expect(da.code).toBe(att.code);
      expect(da.out).toContain("read escape sequence");
    });
  }, SLOW);

  it("run -it of a short command still shows its output and exit code, and --rm removes it", () => {
    const before = containerIds(root).length;
    const r = underPty([...TSBOX, "--root", root, "run", "-it", "--rm", "busybox", "sh", "-c", "echo first line; exit 3"], []);
    expect(r.code).toBe(3);
    expect(r.out).toContain("first line");
    expect(containerIds(root).length).toBe(before);
  }, SLOW);

  it("a bad --detach-keys is refused", () => {
    const r = tsbox(root, ["run", "-it", "--detach-keys", "ctrl-", "busybox", "true"], { input: "" });
    expect(r.code).not.toBe(0);
    const pty = underPty([...TSBOX, "--root", root, "run", "-it", "--rm", "--detach-keys", "ctrl-1", "busybox", "true"], []);
    expect(pty.code).toBe(125);
    expect(pty.out).toContain("Invalid detach keys (ctrl-1) provided");
  }, SLOW);
});

describe("run -a", () => {
  it("attaches only the streams named (any case); the log keeps them all", () => {
    const script = ["sh", "-c", "echo out; echo err >&2"];
    for (const [flags, out, err] of [
      [["-a", "stderr"], "", "err\n"],
      [["-a", "STDOUT"], "out\n", ""],
      [["-a", "stdout", "-a", "stderr"], "out\n", "err\n"],
    ] as const) {
      const r = tsbox(root, ["run", "--name", "a1", ...flags, "busybox", ...script]);
      expect([r.code, r.stdout, r.stderr]).toEqual([0, out, err]);
      const logs = tsbox(root, ["logs", "a1"]);
      expect([logs.stdout, logs.stderr]).toEqual(["out\n", "err\n"]);
      expect(tsbox(root, ["rm", "a1"]).code).toBe(0);
      withDocker(() => {
        const d = docker(["run", "--rm", ...flags, dockerImage, ...script]);
        expect([d.code, d.stdout, d.stderr]).toEqual([0, out, err]);
      });
    }
  }, SLOW);

  it("stdin with -i, whatever -a says (as Docker's client); -a stdin alone opens none", () => {
    for (const [flags, out] of [
      [["-i", "-a", "stdout"], "piped\n"],
      [["-i", "-a", "stdin", "-a", "stdout"], "piped\n"],
      [["-a", "stdin", "-a", "stdout"], ""],
    ] as const) {
      const r = tsbox(root, ["run", "--rm", ...flags, "busybox", "cat"], { input: "piped\n" });
      expect([r.code, r.stdout]).toEqual([0, out]);
      withDocker(() => {
        const d = docker(["run", "--rm", ...flags, dockerImage, "cat"], "piped\n");
        expect([d.code, d.stdout]).toEqual([0, out]);
      });
    }
  }, SLOW);

  it("refuses a bad stream (125) and -a with -d (1) as Docker, leaving nothing", () => {
    const bad = tsbox(root, ["run", "--rm", "-a", "foo", "busybox", "true"]);
    expect([bad.code, bad.stderr]).toEqual([125, 'tsbox: invalid argument "foo" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR\n']);
    const both = tsbox(root, ["run", "-d", "-a", "stdout", "busybox", "true"]);
    expect([both.code, both.stderr]).toEqual([1, "tsbox: conflicting options: cannot specify both --attach and --detach\n"]);
    expect(tsbox(root, ["ps", "-a", "-q"]).stdout).toBe("");
    withDocker(() => {
      const d = docker(["run", "--rm", "-a", "foo", dockerImage, "true"]);
      expect(d.code).toBe(125);
      expect(d.stderr).toContain('invalid argument "foo" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR');
      const db = docker(["run", "-d", "-a", "stdout", dockerImage, "true"]);
      expect(db.code).toBe(both.code);
      expect(db.stderr).toContain("conflicting options: cannot specify both --attach and --detach");
    });
  }, SLOW);
});

describe("--sig-proxy", () => {
  const TRAP = ["sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done"];

  async function signalled(flags: string[]): Promise<Result> {
    const p = spawn(process.execPath, ["--", CLI, "--root", root, "run", "--rm", ...flags, "busybox", ...TRAP], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number>((resolve) => p.on("close", (code) => resolve(code ?? 137)));
    await until(() => stdout.includes("ready") || undefined, "the container's trap set");
    p.kill("SIGTERM");
    return { code: await exited, stdout, stderr };
  }

  it("by default a signal to the CLI reaches the container; with --sig-proxy=false it does not, and nothing is left", async () => {
    const before = containerIds(root).length;
    const proxied = await signalled([]);
    expect([proxied.code, proxied.stdout]).toEqual([7, "ready\ngot-term\n"]);
    const not = await signalled(["--sig-proxy=false"]);
    expect(not.stdout).toBe("ready\n");
    expect(not.code).toBe(137);
    expect(containerIds(root).length).toBe(before);
  }, SLOW);
});

describe("attach without a terminal", () => {
  async function attachSignalled(id: string, flags: string[]): Promise<Result> {
    const p = spawn(process.execPath, ["--", CLI, "--root", root, "attach", ...flags, id], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number>((resolve) => p.on("close", (code, sig) => resolve(code ?? (sig === "SIGTERM" ? 143 : 137))));
    await until(() => stdout.includes("tick") || undefined, "the attached output");
    p.kill("SIGTERM");
    return { code: await exited, stdout, stderr };
  }

  it("--sig-proxy (the default) sends the CLI's signals to the container; --sig-proxy=false leaves it running", async () => {
    const id = tsbox(root, ["run", "-d", "--network", "none", "busybox", "sh", "-c",
      "trap 'echo got-term; exit 7' TERM; while :; do echo tick; sleep 0.2; done"]).stdout.trim();
    try {
      const kept = await attachSignalled(id, ["--sig-proxy=false", "--no-stdin"]);
      expect(kept.code).not.toBe(7);
      expect(tsbox(root, ["inspect", "-f", "{{.State.Status}}", id]).stdout).toBe("running\n");
      const proxied = await attachSignalled(id, []);
      expect(proxied.code).toBe(7);
      expect(proxied.stdout).toMatch(/got-term\n$/);
      expect(tsbox(root, ["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id]).stdout).toBe("exited 7\n");
    } finally {
      tsbox(root, ["rm", "-f", id]);
    }
  }, SLOW);
});
