// Acceptance for `tsbox exec` and `tsbox top` (issue 5): an exec'd process is
// inside the container in every respect (namespaces, cgroup, caps, limits),
// exit codes and errors are Docker's, nothing is left behind, and a hostile
// container can reach neither the host's binaries nor any tsbox fd while an
// exec enters it (the CVE-2019-5736 and CVE-2024-21626 classes).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CLI, REPO, alive, cgroupDirsOf, containerIds, mountsUnder, removeRoot, rootWithBusybox, stateOf, tsbox, tsboxAsync, until,
} from "./helpers.js";

/** Waits sized for a loaded machine and the cgroup v2 qemu guest (software emulation, ~10x slower). */
const SLOW = 120_000;
// In the cgroup v2 guest (test/vm) the fd and /proc/PID/exe races are skipped: they do not depend on
// the cgroup version, take minutes under emulation, and the host suite runs them.
const IN_VM = process.env.TSBOX_IN_VM === "1";
let root: string;
const clis: ReturnType<typeof tsboxAsync>[] = [];

/** Starts `run --name NAME busybox ARGS...` in the background; resolves once its init runs. */
async function startContainer(name: string, args: string[], flags: string[] = []): Promise<{ id: string; pid: number; cli: ReturnType<typeof tsboxAsync>; out: () => string }> {
  const cli = tsboxAsync(root, ["run", "--name", name, ...flags, "busybox", ...args]);
  clis.push(cli);
  let out = "";
  cli.stdout.on("data", (d: Buffer) => { out += d.toString(); });
  cli.stderr.on("data", (d: Buffer) => { out += d.toString(); });
  const id = await until(() => containerIds(root).find((i) => stateOf(root, i).name === name && stateOf(root, i).status === "running"), `${name} running`, SLOW);
  return { id, pid: stateOf(root, id).pid as number, cli, out: () => out };
}

async function stopContainer(name: string, cli: ReturnType<typeof tsboxAsync>): Promise<void> {
  const exited = cli.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => cli.on("exit", () => r()));
  tsbox(root, ["rm", "-f", name]);
  await exited;
}

const exec = (args: string[], opts = {}) => tsbox(root, ["exec", ...args], opts);

/** exec without blocking the worker (long loops: vitest's worker RPC must keep turning). */
function execAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = tsboxAsync(root, ["exec", ...args]);
  let stdout = "";
  let stderr = "";
  p.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
  p.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
  return new Promise((r) => p.on("close", (code) => r({ code, stdout, stderr })));
}

/** Processes of the container's cgroup (host pids), from the first hierarchy that has the dir. */
function cgroupProcs(id: string): number[] {
  const dir = cgroupDirsOf(id).find((d) => existsSync(join(d, "cgroup.procs")));
  if (!dir) return [];
  return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number).sort((a, b) => a - b);
}

beforeAll(() => { root = rootWithBusybox(); });
// Let the worker's event loop turn between the synchronous (spawnSync) tests:
// vitest's worker RPC times out after 60 s without it (test/vm/README.md).
afterEach(() => new Promise<void>((r) => setImmediate(r)));
afterAll(async () => {
  for (const c of clis) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await new Promise((r) => setTimeout(r, 200));
  tsbox(root, ["images", "-q"]);  // any command releases containers whose owner died
  removeRoot(root);
});

describe("exec into a running container", () => {
  let c: Awaited<ReturnType<typeof startContainer>>;
  beforeAll(async () => {
    c = await startContainer("e1", ["sh", "-c", "echo from-init > /tmp/init-file; exec sleep 1000"]);
    await until(() => exec(["e1", "cat", "/tmp/init-file"]).stdout === "from-init\n" || undefined, "init wrote its file", SLOW);
  });
  afterAll(async () => { await stopContainer("e1", c.cli); });

  it("shares the container's PID namespace, hostname, filesystem and cgroup", () => {
    const r = exec(["e1", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; cat /tmp/init-file; echo $$"]);
    expect(r.code).toBe(0);
    const [cmdline, hostname, file, mypid] = r.stdout.split("\n");
    expect(cmdline).toBe("sleep 1000 ");
    expect(hostname).toBe(c.id.slice(0, 12));
    expect(file).toBe("from-init");
    expect(Number(mypid)).toBeGreaterThan(1);  // a pid of the container's namespace, not the host's
    expect(Number(mypid)).toBeLessThan(1000);

    // A file the exec writes is the container's.
    expect(exec(["e1", "sh", "-c", "echo from-exec > /tmp/exec-file"]).code).toBe(0);
    expect(exec(["e1", "cat", "/tmp/exec-file"]).stdout).toBe("from-exec\n");

    const cg = exec(["e1", "sh", "-c", "cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup"]).stdout.split("---\n");
    expect(cg[0]).toBe(cg[1]);
    expect(cg[0]).toMatch(/:\/\n/);  // its own cgroup namespace: the container's cgroup is its root
  });

  it("is in the container's cgroup on the host while it runs", async () => {
    const cli = tsboxAsync(root, ["exec", "e1", "sleep", "1000"]);
    const extra = await until(() => cgroupProcs(c.id).find((p) => p !== c.pid), "exec'd process in the cgroup", SLOW);
    // Only the exec'd process itself: the shim's intermediate never enters the cgroup.
    await until(() => (readFileSync(`/proc/${extra}/cmdline`, "utf8") === "sleep\u00001000\u0000" ? true : undefined), "exec'd", SLOW);
    expect(cgroupProcs(c.id)).toEqual([c.pid, extra].sort((a, b) => a - b));
    const exited = new Promise<number | null>((r) => cli.on("exit", (code) => r(code)));
    cli.kill("SIGTERM");  // forwarded to the exec'd process
    expect(await exited).toBe(128 + 15);
    await until(() => (cgroupProcs(c.id).length === 1 ? true : undefined), "only init left", SLOW);
    expect(cgroupProcs(c.id)).toEqual([c.pid]);
  });

  it("has the container's capabilities, bounding set and rlimits", () => {
    const r = exec(["e1", "sh", "-c", "grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb)' /proc/self/status; echo ---; grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb)' /proc/1/status; echo ---; grep 'open files' /proc/self/limits; echo ---; grep 'open files' /proc/1/limits"]);
    const [mine, init, myLimits, initLimits] = r.stdout.split("---\n");
    expect(mine).toBe(init);
    expect(mine).toMatch(/CapEff:\s+0*[1-9a-f][0-9a-f]*\n/);  // root's default set, not empty
    expect(myLimits).toBe(initLimits);
  });

  it("-e, --env-file, -w and -u", () => {
    const envFile = join(root, "exec.env");
    writeFileSync(envFile, "FROMFILE=yes\n# comment\n");
    const r = exec(["-e", "FOO=bar", "--env-file", envFile, "-w", "/etc", "-u", "nobody", "e1", "sh", "-c",
      "echo $FOO $FROMFILE $HOSTNAME; pwd; id -u; id -g; grep CapEff /proc/self/status"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe(`bar yes ${c.id.slice(0, 12)}`);
    expect(lines[1]).toBe("/etc");
    expect(lines[2]).toBe("65534");
    expect(lines[3]).toBe("65534");
    expect(lines[4]).toMatch(/CapEff:\s+0+$/);
    // numeric user:group without a passwd entry, and the container's own workdir/user by default
    expect(exec(["-u", "1234:5678", "e1", "sh", "-c", "id -u; id -g"]).stdout).toBe("1234\n5678\n");
    expect(exec(["e1", "sh", "-c", "pwd; id -u"]).stdout).toBe("/\n0\n");
    expect(exec(["-w", "relative", "e1", "true"]).code).toBe(125);
    // A working directory that is not there: Docker's "OCI runtime exec failed", 126 (it was 125).
    const missing = exec(["-w", "/missing", "e1", "true"]);
    expect(missing.code).toBe(126);
    expect(missing.stderr).toMatch(/chdir \/missing: No such file or directory/);
    const bad = exec(["-u", "nosuchuser", "e1", "true"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/unable to find user nosuchuser/);
  });

  it("passes exit codes through: 0, 3, 126, 127, 137", () => {
    expect(exec(["e1", "true"]).code).toBe(0);
    expect(exec(["e1", "sh", "-c", "exit 3"]).code).toBe(3);
    const ne = exec(["e1", "/etc/passwd"]);
    expect(ne.code).toBe(126);
    expect(ne.stderr).toMatch(/exec: "\/etc\/passwd": permission denied/);
    const nf = exec(["e1", "nope"]);
    expect(nf.code).toBe(127);
    expect(nf.stderr.trim()).toBe('tsbox: exec: "nope": executable file not found in $PATH');
    expect(exec(["e1", "/no/such"]).code).toBe(127);
    expect(exec(["e1", "sh", "-c", "kill -9 $$"]).code).toBe(137);
  });

  it("-i forwards stdin; without it stdin is empty", () => {
    expect(exec(["-i", "e1", "cat"], { input: "hello\n" }).stdout).toBe("hello\n");
    expect(exec(["e1", "cat"], { input: "ignored" }).stdout).toBe("");
  });

  it("-t gives a terminal from the container's devpts, TERM=xterm, and no mount is left behind", () => {
    const before = exec(["e1", "cat", "/proc/1/mountinfo"]).stdout;
    const r = spawnSync("script", ["-qec", `stty cols 91 rows 27; ${process.execPath} ${CLI} --root ${root} exec -t e1 sh -c 'tty; stty size; echo $TERM; exit 5'; echo "rc=$?"`, "/dev/null"], { encoding: "utf8" });
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+\r*\n27 91\r*\nxterm\r*\n/);
    expect(r.stdout).toContain("rc=5");
    expect(exec(["e1", "cat", "/proc/1/mountinfo"]).stdout).toBe(before);
  });

  it("-d returns at once and hands the process to the container", async () => {
    const r = exec(["-d", "e1", "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done > /tmp/detached"]);
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    // Still waiting for /tmp/go after the CLI returned: the CLI did not wait for it.
    // (It may still be on its way through the trampoline to execve when the CLI returns: /tmp/go does
    // not exist yet, so it cannot have finished, and it must show up.)
    const waiting = await until(() => cgroupProcs(c.id).find((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, "utf8").startsWith("sh\u0000-c\u0000while"); } catch { return false; }
    }), "the detached sh in the container's cgroup", SLOW);
    // Its parent is the container's init, not a host process of tsbox.
    const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${waiting}/status`, "utf8"))![1]);
    expect(ppid).toBe(c.pid);
    exec(["e1", "touch", "/tmp/go"]);
    await until(() => exec(["e1", "cat", "/tmp/detached"]).stdout === "done\n" || undefined, "detached process finished", SLOW);
  });

  it.skipIf(IN_VM)("an exec'd process has only fds 0, 1 and 2, and a cwd through a leaked fd is refused", async () => {
    // ls's own directory fd is 3; nothing else may be there.
    const r = exec(["e1", "ls", "/proc/self/fd"]);
    expect(r.stdout.split("\n").filter(Boolean).sort()).toEqual(["0", "1", "2", "3"]);
    const links = exec(["e1", "sh", "-c", "ls -l /proc/$$/fd"]).stdout;
    expect(links).not.toMatch(/cgroup|tsbox|node|\/var\/lib|\/work\//);
    for (let n = 3; n < 25; n++) {
      const w = await execAsync(["-w", `/proc/self/fd/${n}`, "e1", "pwd"]);
      expect(w.code, `-w /proc/self/fd/${n}: ${w.stdout}${w.stderr}`).not.toBe(0);
      expect(w.stdout).toBe("");
    }
  }, 600_000);

  it("never runs the host's node binary: /proc/self/exe, as a command or a #! interpreter", () => {
    const nodeExe = statSync(realpathSync(process.execPath));
    const direct = exec(["e1", "/proc/self/exe", "-e", "console.log(1)"]);
    expect(direct.code).toBe(126);
    expect(direct.stdout).toBe("");
    expect(exec(["e1", "sh", "-c", "printf '#!/proc/self/exe\\nconsole.log(1)\\n' > /tmp/evil; chmod +x /tmp/evil"]).code).toBe(0);
    const script = exec(["e1", "/tmp/evil"]);
    expect(script.code).toBe(126);
    expect(script.stdout).toBe("");
    // The same for a container's first process (run goes through the trampoline too).
    const run = tsbox(root, ["run", "--rm", "busybox", "/proc/self/exe", "-e", "console.log(1)"]);
    expect(run.code).toBe(126);
    expect(run.stdout).toBe("");
    // What an exec'd process sees as its exe is the container's binary, never node's inode.
    const ino = exec(["e1", "stat", "-L", "-c", "%d %i", "/proc/self/exe"]).stdout.trim();
    expect(ino).not.toBe(`${nodeExe.dev} ${nodeExe.ino}`);
  });

  it("top lists the container's processes with host pids, like docker top", () => {
    const r = tsbox(root, ["top", "e1"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]!.split(/\s+/)).toEqual(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
    const init = lines.slice(1).map((l) => l.split(/\s+/)).find((f) => Number(f[1]) === c.pid);
    expect(init?.slice(-2)).toEqual(["sleep", "1000"]);
    const o = tsbox(root, ["top", "e1", "-o", "pid,comm"]).stdout.trim().split("\n");
    expect(o[0]!.split(/\s+/)).toEqual(["PID", "COMMAND"]);
    expect(o.slice(1).map((l) => Number(l.trim().split(/\s+/)[0]))).toContain(c.pid);
    expect(o.slice(1).map((l) => Number(l.trim().split(/\s+/)[0]))).toEqual([c.pid]);
  });

  it("a killed exec CLI takes its process with it; nothing stays in the cgroup", async () => {
    const cli = tsboxAsync(root, ["exec", "e1", "sleep", "1000"]);
    const extra = await until(() => cgroupProcs(c.id).find((p) => p !== c.pid), "exec'd process", SLOW);
    cli.kill("SIGKILL");
    await until(() => (!alive(extra) ? true : undefined), "exec'd process gone", SLOW);
    await until(() => (cgroupProcs(c.id).length === 1 ? true : undefined), "only init left", SLOW);
  });
});

describe("exec errors (Docker's wording and exit codes)", () => {
  it("an unknown container", () => {
    const r = exec(["nosuch", "true"]);
    expect(r).toMatchObject({ code: 1, stdout: "" });
    expect(r.stderr.trim()).toBe("tsbox: No such container: nosuch");
    expect(tsbox(root, ["top", "nosuch"]).code).toBe(1);
  });

  it("a stopped container", () => {
    expect(tsbox(root, ["run", "--name", "stopped", "busybox", "true"]).code).toBe(0);
    const id = containerIds(root).find((i) => stateOf(root, i).name === "stopped")!;
    const r = exec(["stopped", "true"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`tsbox: Container ${id} is not running`);
    expect(tsbox(root, ["top", "stopped"]).stderr.trim()).toBe(`tsbox: Container ${id} is not running`);
    expect(tsbox(root, ["rm", "stopped"]).code).toBe(0);
  });

  it("usage errors exit 125", () => {
    expect(exec(["x"]).code).toBe(125);
  });

  it("a paused container: refused at once, as Docker (it hung until unpaused, then ran the command)", () => {
    const r0 = tsbox(root, ["run", "-d", "--name", "paused", "busybox", "sleep", "600"]);
    expect(r0.code, r0.stderr).toBe(0);
    const id = r0.stdout.trim();
    expect(tsbox(root, ["pause", "paused"]).code).toBe(0);
    for (const flags of [[], ["-d"]]) {
      // Bounded: before the fix it hung in uninterruptible sleep.
      const r = tsbox(root, ["exec", ...flags, "paused", "touch", "/ran"], { timeout: 10_000, killSignal: "SIGKILL" });
      expect(r.code, `exec ${flags.join(" ")}: ${r.stderr}`).toBe(1);
      expect(r.stderr.trim()).toBe(`tsbox: Container ${id} is paused, unpause the container before exec`);
    }
    expect(tsbox(root, ["unpause", "paused"]).code).toBe(0);
    expect(exec(["paused", "ls", "/ran"]).code).toBe(1); // never ran
    expect(tsbox(root, ["rm", "-f", "paused"]).code).toBe(0);
  });
});

// A hostile container's PID 1 scans /proc in a tight loop while many execs
// enter it: no exe it can open may be the host's node binary, and no fd of any
// exec'd process beyond stdio may be reachable, at any moment.
describe.skipIf(IN_VM)("CVE-2019-5736 / CVE-2024-21626 classes under a real race", () => {
  const probeDir = join(REPO, ".tmp", "test", "prober");
  const prober = join(probeDir, "prober");
  const cc = spawnSync("cc", ["--version"]).status === 0;
  beforeAll(() => {
    if (!cc) return;
    mkdirSync(probeDir, { recursive: true });
    rmSync(join(probeDir, "stop"), { force: true });
    const tmp = `${prober}.${process.pid}`;
    const r = spawnSync("cc", ["-static", "-O2", "-o", tmp, join(REPO, "test", "fixtures", "proc-prober.c")], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`building the prober failed: ${r.stderr}`);
    spawnSync("mv", [tmp, prober]);
  });

  it.skipIf(!cc)("never hands the container the host's node binary or a tsbox fd", async () => {
    const node = statSync(realpathSync(process.execPath));
    const c = await startContainer("hostile", ["/probe/prober", String(node.dev), String(node.ino), "1800"],
      ["-v", `${probeDir}:/probe`]);
    await until(() => c.out().includes("READY") || undefined, "prober ready", SLOW);
    const codes: (number | null)[] = [];
    const execsDone: Promise<void>[] = [];
    for (let worker = 0; worker < 3; worker++) {
      execsDone.push((async () => {
        // Stop every worker at the first failure: no exec may outlive the test.
        for (let i = 0; i < 20 && !codes.some((x) => x !== 0); i++) {
          const p = tsboxAsync(root, ["exec", "hostile", "true"]);
          codes.push(await new Promise<number | null>((r) => p.on("exit", (x) => r(x))));
        }
      })());
    }
    await Promise.all(execsDone);
    expect(codes.filter((x) => x !== 0)).toEqual([]);
    writeFileSync(join(probeDir, "stop"), "");
    await new Promise<void>((r) => (c.cli.exitCode !== null ? r() : c.cli.on("exit", () => r())));
    rmSync(join(probeDir, "stop"), { force: true });
    const out = c.out();
    const summary = /SUMMARY pids=(\d+) denied=(\d+)/.exec(out);
    expect(summary, out).not.toBeNull();
    // The race was real: the prober saw (most of) the 60 exec'd processes come and go.
    expect(Number(summary![1])).toBeGreaterThan(10);
    expect(out).not.toMatch(/HOSTEXE/);
    expect(out.split("\n").filter((l) => l.startsWith("FD "))).toEqual([]);
    for (const line of out.split("\n").filter((l) => l.startsWith("EXE "))) {
      const [, , dev, ino] = line.split(" ");
      expect(`${dev} ${ino}`).not.toBe(`${node.dev} ${node.ino}`);
    }
    tsbox(root, ["rm", "hostile"]);
  }, 900_000);
});

describe("leftovers", () => {
  it("no mount, cgroup or process of the test's containers remains", async () => {
    await until(() => (containerIds(root).every((i) => stateOf(root, i).status !== "running") ? true : undefined), "containers stopped", SLOW);
    expect(mountsUnder(root)).toEqual([]);
    for (const id of containerIds(root)) expect(cgroupDirsOf(id)).toEqual([]);
    expect(readdirSync("/proc").filter((p) => /^\d+$/.test(p)).some((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`${root}\u0000exec`); } catch { return false; }
    })).toBe(false);
  });
});
