// Acceptance (issue 5): detached containers kept by tsbox-monitor, and the
// lifecycle commands around them: run -d → ps → logs → stop → start → restart
// → kill → wait → rm; restart policies; log rotation; Docker's errors.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { fdsUnder } from "./lifecycle.helpers.js";
import { alive, CLI, cgroupDirsOf, containerIds, mountsUnder, removeRoot, rootWithBusybox, stateOf, tsbox, until } from "./helpers.js";

let root: string;
beforeAll(() => { root = rootWithBusybox(); });
afterAll(() => { removeRoot(root); });

const ok = (args: string[]): string => {
  const r = tsbox(root, args);
  if (r.code !== 0) throw new Error(`tsbox ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};
const runD = (args: string[]): string => ok(["run", "-d", ...args]).trim();
const monitorJson = (id: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(root, "containers", id, "monitor.json"), "utf8")) as Record<string, unknown>;
const inspect = (ref: string): Record<string, any> => (JSON.parse(ok(["inspect", ref])) as Record<string, any>[])[0]!;

/** What a container leaves when it is gone: nothing. */
function expectGone(id: string, pids: number[] = []): void {
  expect(existsSync(join(root, "containers", id))).toBe(false);
  expect(cgroupDirsOf(id)).toEqual([]);
  for (const p of pids) expect(alive(p)).toBe(false);
}
afterEach(() => {
  expect(mountsUnder(root)).toEqual([]);
});

describe("run -d and the lifecycle matrix", () => {
  it("run -d → ps → logs → stop → start → restart → kill → wait → rm", async () => {
    const id = runD(["--name", "matrix", "busybox", "sh", "-c", "trap 'echo bye; exit 0' TERM; echo out; echo err >&2; while true; do sleep 0.1; done"]);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const first = stateOf(root, id);
    const monitorPid = (first.owner as { pid: number }).pid;
    const pid = first.pid as number;
    expect(alive(monitorPid)).toBe(true);
    expect(alive(pid)).toBe(true);
    // The container is the monitor's child, in its cgroup.
    expect(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]).toBe(String(monitorPid));
    expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toContain(`/tsbox/${id}`);

    const ps = ok(["ps"]);
    expect(ps.split("\n")[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    // moby's listing quotes an argument with a space ('…'), then the client cuts at 20.
    expect(ps).toMatch(new RegExp(`${id.slice(0, 12)}\\s+busybox\\s+"sh -c 'trap 'echo b…"\\s+.*\\s+Up .*\\s+matrix`));
    expect(ok(["ps", "-q", "--no-trunc"]).split("\n")).toContain(id);

    await until(() => tsbox(root, ["logs", "matrix"]).stdout === "out\n" || undefined, "stdout in the log");
    const logs = tsbox(root, ["logs", id.slice(0, 8)]);
    expect(logs.stdout).toBe("out\n");
    expect(logs.stderr).toBe("err\n");
    const line = JSON.parse(readFileSync(join(root, "containers", id, "container.log"), "utf8").split("\n")[0]!);
    expect(Object.keys(line).sort()).toEqual(["log", "stream", "time"]);
    expect(ok(["logs", "-t", "--tail", "1", "matrix"]).concat(tsbox(root, ["logs", "-t", "matrix"]).stderr))
      .toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (out|err)\n/);

    expect(ok(["stop", "matrix"])).toBe("matrix\n");
    let s = inspect("matrix");
    expect(s.State).toMatchObject({ Status: "exited", Running: false, ExitCode: 0, Pid: 0, OOMKilled: false });
    expect(alive(monitorPid)).toBe(false);
    expect(alive(pid)).toBe(false);
    expect(cgroupDirsOf(id)).toEqual([]);
    expect(ok(["ps", "-a", "--filter", "status=exited", "-q"]).trim()).toBe(id.slice(0, 12));
    expect(ok(["ps", "-q"]).trim()).toBe("");
    expect(ok(["logs", "matrix"])).toBe("out\nbye\n");

    expect(ok(["start", "matrix"])).toBe("matrix\n");
    s = inspect("matrix");
    expect(s.State.Status).toBe("running");
    const pid2 = s.State.Pid as number;
    expect(pid2).not.toBe(pid);
    expect(alive(pid2)).toBe(true);

    ok(["restart", "-t", "5", "matrix"]);
    const pid3 = inspect("matrix").State.Pid as number;
    expect(pid3).not.toBe(pid2);
    expect(alive(pid2)).toBe(false);

    expect(ok(["kill", "matrix"])).toBe("matrix\n");
    expect(ok(["wait", "matrix"])).toBe("137\n");
    expect(inspect("matrix").State).toMatchObject({ Status: "exited", ExitCode: 137 });
    const k = tsbox(root, ["kill", "matrix"]);
    expect(k.code).toBe(1);
    expect(k.stderr).toMatch(/container .* is not running/);

    expect(ok(["rm", "matrix"])).toBe("matrix\n");
    expectGone(id, [pid, pid2, pid3, monitorPid]);
    expect(fdsUnder(root)).toEqual([]);
  });

  it("rm refuses a running container; rm -f takes the monitor, the container and the cgroup", () => {
    const id = runD(["busybox", "sleep", "1000"]);
    const st = stateOf(root, id);
    const r = tsbox(root, ["rm", id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/container is running: stop the container before removing or force remove/);
    ok(["rm", "-f", "-v", id.slice(0, 10)]);
    expectGone(id, [st.pid as number, (st.owner as { pid: number }).pid]);
  });

  it("the exit code and OOM kill are recorded by the monitor", async () => {
    const id = runD(["busybox", "sh", "-c", "exit 3"]);
    expect(ok(["wait", id])).toBe("3\n");
    expect(inspect(id).State).toMatchObject({ Status: "exited", ExitCode: 3, OOMKilled: false });
    expect(ok(["ps", "-a", "--format", "json", "--filter", `id=${id}`])).toMatch(/"State":"exited","Status":"Exited \(3\) /);
    const oom = runD(["-m", "8m", "--memory-swap", "8m", "busybox", "sh", "-c", "x=a; while true; do x=$x$x; done"]);
    ok(["wait", oom]);
    expect(inspect(oom).State.OOMKilled).toBe(true);
    ok(["rm", id, oom]);
    expectGone(id);
    expectGone(oom);
  });

  it("-t gives the container a terminal whose output is logged", async () => {
    const id = runD(["-t", "busybox", "sh", "-c", "tty; echo done"]);
    expect(ok(["wait", id])).toBe("0\n");
    expect(ok(["logs", id])).toMatch(/^\/dev\/pts\/\d+\r?\ndone\r?\n$/);
    ok(["rm", id]);
  });

  it("start -a -i and attach give the container's terminal through the monitor's socket", async () => {
    const id = runD(["-t", "busybox", "sh", "-c", "read x; echo got $x; exit 4"]);
    const attach = (args: string[]) => new Promise<{ code: number; out: string }>((resolve) => {
      const p = spawn(process.execPath, [CLI, "--root", root, ...args], { stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      p.stdout.on("data", (d: Buffer) => {
        out += d.toString();
      });
      p.on("close", (code) => resolve({ code: code ?? 137, out }));
      // Typed once the attach is up: the monitor's socket exists from its start.
      setTimeout(() => p.stdin.write("hello\n"), 1500);
    });
    const a = await attach(["attach", id]);
    expect(a.code).toBe(4);
    expect(a.out).toContain("got hello\r\n");
    const b = await attach(["start", "-a", "-i", id]);
    expect(b.code).toBe(4);
    expect(b.out).toContain("got hello\r\n");
    expect(tsbox(root, ["attach", id]).stderr).toMatch(/You cannot attach to a stopped container, start it first/);
    ok(["rm", id]);
  });

  it("start -a streams the output of that run and exits with its code", () => {
    const id = runD(["busybox", "sh", "-c", "echo run; echo oops >&2; exit 5"]);
    ok(["wait", id]);
    const r = tsbox(root, ["start", "-a", id]);
    expect(r).toMatchObject({ code: 5, stdout: "run\n", stderr: "oops\n" });
    ok(["rm", id]);
  });

  it("--rm with -d removes the container when it exits (the monitor's exit command)", async () => {
    const id = runD(["--rm", "busybox", "true"]);
    await until(() => !existsSync(join(root, "containers", id)) || undefined, "auto-removal", 30_000);
    expectGone(id);
  });

  it("a failing command fails run -d with Docker's code and leaves nothing", () => {
    const before = containerIds(root);
    const r = tsbox(root, ["run", "-d", "busybox", "nope"]);
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/exec: "nope": executable file not found in \$PATH/);
    expect(containerIds(root)).toEqual(before);
  });
});

describe("restart policies", () => {
  it("on-failure:N restarts a failing container N times, then leaves it exited", async () => {
    const id = runD(["--restart", "on-failure:3", "busybox", "sh", "-c", "echo run; exit 2"]);
    expect(ok(["wait", id])).toBe("2\n");
    expect(inspect(id)).toMatchObject({ RestartCount: 3, HostConfig: { RestartPolicy: { Name: "on-failure", MaximumRetryCount: 3 } } });
    expect(ok(["logs", id])).toBe("run\nrun\nrun\nrun\n");
    expect(monitorJson(id).restartCount).toBe(3);
    ok(["rm", id]);
  });

  it("on-failure does not restart a clean exit; always does until stopped", async () => {
    const clean = runD(["--restart", "on-failure", "busybox", "true"]);
    expect(ok(["wait", clean])).toBe("0\n");
    expect(inspect(clean).RestartCount).toBe(0);
    const always = runD(["--restart", "always", "busybox", "sh", "-c", "echo up; sleep 0.2"]);
    await until(() => (inspect(always).RestartCount as number) >= 2 || undefined, "two restarts", 30_000);
    ok(["stop", "-t", "1", always]);
    const s = inspect(always);
    expect(s.State.Status).toBe("exited");
    const count = s.RestartCount as number;
    await new Promise((r) => setTimeout(r, 500));
    expect(inspect(always).RestartCount).toBe(count);
    ok(["rm", clean, always]);
    expectGone(always);
  });

  it("rm -f of a restarting container stops the cycle", async () => {
    const id = runD(["--restart", "always", "busybox", "false"]);
    await until(() => (inspect(id).RestartCount as number) >= 1 || undefined, "a restart", 30_000);
    const monitor = (stateOf(root, id).owner as { pid: number }).pid;
    ok(["rm", "-f", id]);
    expectGone(id, [monitor]);
  });

  it("bad policies are refused as Docker refuses them", () => {
    for (const [flag, msg] of [
      ["sometimes", /invalid restart policy: unknown policy 'sometimes'/],
      ["on-failure:x", /maximum retry count must be an integer/],
      ["always:3", /maximum retry count can only be used with 'on-failure'/],
    ] as const) {
      const r = tsbox(root, ["run", "-d", "--restart", flag, "busybox", "true"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(msg);
    }
    expect(tsbox(root, ["run", "--rm", "--restart", "always", "busybox", "true"]).stderr).toMatch(/Conflicting options: --restart and --rm/);
  });
});

describe("logs", () => {
  it("are rotated at max-size, keeping max-file files", async () => {
    const id = runD(["--log-opt", "max-size=2k", "--log-opt", "max-file=3", "busybox", "sh", "-c",
      "i=0; while [ $i -lt 400 ]; do echo line $i; i=$((i+1)); done"]);
    ok(["wait", id]);
    const dir = join(root, "containers", id);
    const files = readdirSync(dir).filter((f) => f.startsWith("container.log")).sort();
    expect(files).toEqual(["container.log", "container.log.1", "container.log.2"]);
    for (const f of files) expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(2048);
    const out = ok(["logs", id]).trim().split("\n");
    expect(out.at(-1)).toBe("line 399");
    // What is left is the newest, in order.
    const nums = out.map((l) => Number(l.split(" ")[1]));
    expect(nums).toEqual(nums.map((_, i) => nums[0]! + i));
    expect(ok(["logs", "--tail", "2", id])).toBe("line 398\nline 399\n");
    expect(ok(["logs", "--since", "2000-01-01T00:00:00Z", "--tail", "1", id])).toBe("line 399\n");
    expect(ok(["logs", "--since", String(Math.floor(Date.now() / 1000) + 3600), id])).toBe("");
    ok(["rm", id]);
  });

  it("-f follows until the container exits", () => {
    const id = runD(["busybox", "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.3; done"]);
    expect(ok(["logs", "-f", id])).toBe("1\n2\n3\n");
    ok(["rm", id]);
  });
});

describe("a detached terminal", () => {
  it("run -dit with stdin not a terminal: the monitor holds the terminal, as Docker (it was refused: not a TTY)", async () => {
    const r = tsbox(root, ["run", "-dit", "busybox", "sh"], { stdio: ["ignore", "pipe", "pipe"] });
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    await new Promise((done) => setTimeout(done, 500));
    expect(inspect(id).State.Status).toBe("running"); // sh on its terminal, waiting for input
    expect(ok(["exec", id, "readlink", "/proc/1/fd/0"]).trim()).toMatch(/^\/dev\/pts\/\d+$/); // its sh reads the terminal
    ok(["rm", "-f", id]);
  });
});

describe("names, IDs and errors", () => {
  it("prefix and name select; unknown and ambiguous ones get Docker's wording", () => {
    const id = runD(["--name", "named", "busybox", "true"]);
    ok(["wait", "named"]);
    expect(inspect(id.slice(0, 5)).Name).toBe("/named");
    for (const cmd of [["stop"], ["start"], ["kill"], ["wait"], ["rm"], ["logs"], ["restart"]]) {
      const r = tsbox(root, [...cmd, "nosuchthing"]);
      expect(r.code, cmd[0]).not.toBe(0);
      expect(r.stderr, cmd[0]).toMatch(/No such container: nosuchthing/);
    }
    // As Docker's client: rm -f says so, removes the others, and exits 0 (it exited 1).
    const other = runD(["busybox", "true"]);
    const rf = tsbox(root, ["rm", "-f", "nosuchthing", other]);
    expect(rf).toMatchObject({ code: 0, stdout: `${other}\n`, stderr: "tsbox: No such container: nosuchthing\n" });
    const r = tsbox(root, ["inspect", "nosuchthing"]);
    expect(r.stdout.trim()).toBe("[]");
    expect(r.stderr).toMatch(/No such object: nosuchthing/);
    expect(inspect("busybox").RepoTags).toEqual(["busybox:latest"]);
    const dup = tsbox(root, ["run", "-d", "--name", "named", "busybox", "true"]);
    expect(dup.code).toBe(125);
    expect(dup.stderr).toMatch(/Conflict. The container name "\/named" is already in use/);
    ok(["rename", "named", "renamed"]);
    expect(inspect(id).Name).toBe("/renamed");
    expect(tsbox(root, ["inspect", "--type", "container", "named"]).stderr).toMatch(/No such container: named/);
    ok(["rm", "renamed"]);
  });

  it("container prune removes stopped containers only", () => {
    const stopped = runD(["busybox", "true"]);
    const running = runD(["busybox", "sleep", "1000"]);
    ok(["wait", stopped]);
    const out = ok(["container", "prune", "-f"]);
    expect(out).toContain(stopped);
    expect(out).not.toContain(running);
    expect(out).toMatch(/Total reclaimed space: /);
    expectGone(stopped);
    ok(["rm", "-f", running]);
  });
});

describe("pause and unpause", () => {
  const cpuTicks = (pid: number): number => {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(f[11]) + Number(f[12]); // utime + stime
  };

  it("pause freezes the container's CPU use (measured), unpause resumes it", async () => {
    const id = runD(["busybox", "sh", "-c", "while true; do :; done"]);
    const pid = stateOf(root, id).pid as number;
    await until(() => cpuTicks(pid) > 0 || undefined, "some CPU use");
    expect(ok(["pause", id])).toBe(`${id}\n`);
    expect(inspect(id).State).toMatchObject({ Status: "paused", Paused: true, Running: true });
    expect(ok(["ps"])).toMatch(/Up .* \(Paused\)/);
    const frozenAt = cpuTicks(pid);
    await new Promise((r) => setTimeout(r, 1000));
    expect(cpuTicks(pid)).toBe(frozenAt);
    expect(tsbox(root, ["pause", id]).stderr).toMatch(/is already paused/);
    ok(["unpause", id]);
    expect(inspect(id).State).toMatchObject({ Status: "running", Paused: false });
    await until(() => cpuTicks(pid) > frozenAt || undefined, "CPU use after unpause");
    expect(tsbox(root, ["unpause", id]).stderr).toMatch(/is not paused/);
    // A paused container still stops and goes.
    ok(["pause", id]);
    ok(["rm", "-f", id]);
    expectGone(id, [pid]);
  });
});

describe("the monitor", () => {
  it("stays at or under 1 MiB resident and holds a handful of fds", () => {
    const id = runD(["busybox", "sleep", "1000"]);
    const monitor = (stateOf(root, id).owner as { pid: number }).pid;
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${monitor}/status`, "utf8"))![1]);
    expect(rss).toBeLessThanOrEqual(1024);
    expect(readdirSync(`/proc/${monitor}/fd`).length).toBeLessThanOrEqual(8);
    ok(["rm", "-f", id]);
  });
});
