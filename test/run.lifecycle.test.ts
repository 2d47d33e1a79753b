// Acceptance: exit codes, signals, stdio, flags, bad input and clean-up (issue 2).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, statfsSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  alive, busyboxTarball, cgroupDirsOf, containerIds, mountsUnder, removeRoot, rootWithBusybox, stateOf, tsbox, tsboxAsync, until,
} from "./helpers.js";

let root: string;
beforeAll(() => { root = rootWithBusybox(); });
afterAll(() => { removeRoot(root); });

/** Nothing of any container may outlive it: no mount, cgroup or process. */
function expectNoLeftovers(ids: string[] = containerIds(root)): void {
  expect(mountsUnder(root)).toEqual([]);
  for (const id of ids) expect(cgroupDirsOf(id)).toEqual([]);
}
afterEach(() => { expectNoLeftovers(); });

const sh = (script: string, flags: string[] = [], opts = {}) => tsbox(root, ["run", "--rm", ...flags, "busybox", "sh", "-c", script], opts);

describe("exit status", () => {
  it("passes the container's exit code through", () => {
    expect(sh("exit 0").code).toBe(0);
    expect(sh("exit 3").code).toBe(3);
  });

  it("127 for a command that does not exist, 126 for one that is not executable", () => {
    const nf = tsbox(root, ["run", "--rm", "busybox", "nope"]);
    expect(nf.code).toBe(127);
    expect(nf.stderr.trim().split("\n")).toHaveLength(1);
    expect(nf.stderr).toMatch(/exec: "nope": executable file not found in \$PATH/);
    const ne = tsbox(root, ["run", "--rm", "busybox", "/etc/passwd"]);
    expect(ne.code).toBe(126);
    expect(ne.stderr).toMatch(/permission denied/);
    expect(containerIds(root)).toEqual([]);
  });

  it("137 when the container is killed, and the CLI's signals reach the process", async () => {
    const cli = tsboxAsync(root, ["run", "--rm", "--name", "sig", "busybox", "sh", "-c",
      "trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.05; done"]);
    let out = "";
    cli.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    await until(() => out.includes("ready"), "container ready");
    const exited = new Promise<number | null>((r) => cli.on("exit", (c) => r(c)));
    cli.kill("SIGTERM");
    expect(await exited).toBe(7);
    expect(out).toContain("got TERM");

    const k = tsboxAsync(root, ["run", "--rm", "--name", "k9", "busybox", "sleep", "30"]);
    const id = await until(() => containerIds(root).find((i) => stateOf(root, i).pid), "container running");
    const pid = stateOf(root, id).pid as number;
    const kexit = new Promise<number | null>((r) => k.on("exit", (c) => r(c)));
    process.kill(pid, "SIGKILL");
    expect(await kexit).toBe(137);
  });
});

describe("stdio", () => {
  it("shares stdin with -i and pipes stdout and stderr", () => {
    const r = tsbox(root, ["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo err >&2"], { input: "hi\n" });
    expect(r).toMatchObject({ code: 0, stdout: "hi\n", stderr: "err\n" });
    expect(tsbox(root, ["run", "--rm", "busybox", "cat"], { input: "ignored" }).stdout).toBe("");
  });

  it("gives -t a terminal with its size", () => {
    const r = spawnSync("script", ["-qec", `stty cols 97 rows 31; ${process.execPath} ${join(import.meta.dirname, "..", "bin", "tsbox.js")} --root ${root} run --rm -t busybox sh -c 'tty; stty size'`, "/dev/null"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\/dev\/pts\/0\r*\n31 97/);
  });

  it("-it puts the CLI's terminal in raw mode and restores it on exit", () => {
    const cli = `${process.execPath} ${join(import.meta.dirname, "..", "bin", "tsbox.js")} --root ${root}`;
    const r = spawnSync("script", ["-qec", `stty cols 80 rows 24 icanon echo; ${cli} run --rm -it busybox sh -c 'exit 4'; echo "rc=$?"; stty -a`, "/dev/null"], { encoding: "utf8", input: "" });
    expect(r.stdout).toContain("rc=4");
    const modes = r.stdout.slice(r.stdout.indexOf("rc=4")).split(/\s+/);
    expect(modes).toContain("icanon");
    expect(modes).toContain("echo");
    expect(modes).not.toContain("-icanon");
  });
});

describe("flags", () => {
  it("applies -e, --env-file, -w, -u and the image's settings", () => {
    const dir = mkdtempSync("/var/tmp/tsbox-env-");
    writeFileSync(join(dir, "env"), "# comment\nFROMFILE=1\n");
    const r = sh("echo $A $FROMFILE $HOME; pwd; id -u", ["-e", "A=x", "--env-file", join(dir, "env"), "-w", "/tmp/wd", "-u", "app"]);
    expect(r.stdout).toBe("x 1 /home/app\n/tmp/wd\n1000\n");
    rmSync(dir, { recursive: true });
  });

  it("-v creates a missing host directory, as Docker does", () => {
    const dir = mkdtempSync("/var/tmp/tsbox-vol-");
    try {
      const r = sh("touch /new/x && echo ok", ["-v", `${dir}/a/b:/new`]);
      expect(r.stdout).toBe("ok\n");
      expect(readdirSync(join(dir, "a", "b"))).toEqual(["x"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("-v binds a single host file onto a file in the image", () => {
    const dir = mkdtempSync("/var/tmp/tsbox-vol-");
    try {
      writeFileSync(join(dir, "motd"), "from a host file\n");
      const r = sh("cat /etc/motd", ["-v", `${join(dir, "motd")}:/etc/motd:ro`]);
      expect(r.stdout).toBe("from a host file\n");
      expect(readdirSync(dir)).toEqual(["motd"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bind mounts host directories, read-only with :ro", () => {
    const dir = mkdtempSync("/var/tmp/tsbox-vol-");
    writeFileSync(join(dir, "in"), "from host\n");
    const r = sh("cat /data/in; echo out > /data/out; touch /ro/x", ["-v", `${dir}:/data`, "-v", `${dir}:/ro:ro`]);
    expect(r.stdout).toBe("from host\n");
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(readdirSync(dir).sort()).toEqual(["in", "out"]);
    rmSync(dir, { recursive: true });
  });

  it("applies -m, --cpus and --pids-limit to the container's cgroup", () => {
    const v2 = statfsSync("/sys/fs/cgroup").type === 0x63677270; // CGROUP2_SUPER_MAGIC
    const r = sh(v2 ? "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max"
      : "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max",
    ["-m", "32m", "--cpus", "0.5", "--pids-limit", "20"]);
    expect(r.stdout).toBe(`${32 * 1024 * 1024}\n${v2 ? "50000 100000" : "50000"}\n20\n`);
  });
});

describe("bad input: one line, exit 125, nothing left behind", () => {
  const cases: [string, string[], RegExp, number][] = [
    ["unknown image (--pull never: run would pull it; run.pull.test.ts)", ["run", "--rm", "--pull", "never", "nosuchimage"], /No such image: nosuchimage/, 125],
    ["unknown flag", ["run", "--bogus", "busybox", "true"], /unknown option '--bogus'/, 125],
    ["bad memory", ["run", "-m", "1x", "busybox", "true"], /invalid size: '1x'/, 125],
    ["unknown user", ["run", "-u", "nobody2", "busybox", "true"], /unable to find user nobody2/, 125],
    ["relative workdir", ["run", "-w", "rel", "busybox", "true"], /needs to be an absolute path/, 125],
    ["invalid volume name", ["run", "-v", "da ta:/x", "busybox", "true"], /"da ta" includes invalid characters for a local volume name/, 125],
  ];
  for (const [what, args, message, code] of cases) {
    it(what, () => {
      const r = tsbox(root, args);
      expect(r.code).toBe(code);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(containerIds(root)).toEqual([]);
    });
  }

  it("an image without a command, and one whose entrypoint does not exist", () => {
    const none = tsbox(root, ["run", "--rm", "busybox"]);
    expect(none.code).toBe(125);
    expect(none.stderr).toMatch(/no command specified/);
    expect(tsbox(root, ["import", "-c", 'ENTRYPOINT ["/nope"]', busyboxTarball(), "badep"]).code).toBe(0);
    const ep = tsbox(root, ["run", "--rm", "badep", "arg"]);
    expect(ep.code).toBe(127);
    expect(ep.stderr).toMatch(/"\/nope": no such file or directory/);
    expect(tsbox(root, ["rmi", "badep"]).code).toBe(0);
  });

  it("a malformed import tarball changes nothing in the store", () => {
    const dir = mkdtempSync("/var/tmp/tsbox-bad-");
    writeFileSync(join(dir, "bad.tar"), Buffer.alloc(3000, 7));
    const before = spawnSync("find", [root], { encoding: "utf8" }).stdout;
    const r = tsbox(root, ["import", join(dir, "bad.tar"), "bad"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(spawnSync("find", [root], { encoding: "utf8" }).stdout).toBe(before);
    rmSync(dir, { recursive: true });
  });

  it("refuses to run without root", () => {
    const r = tsbox(root, ["images"], { uid: 65534, gid: 65534 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/needs root/);
  });
});

describe("clean-up", () => {
  it("run --rm leaves no directory, mount, cgroup or process", () => {
    const r = tsbox(root, ["run", "--rm", "busybox", "sh", "-c", "sleep 0.1 & sleep 0.1 & echo done"]);
    expect(r.stdout).toBe("done\n");
    expect(containerIds(root)).toEqual([]);
  });

  it("after SIGKILL of tsbox, the container dies and the next command releases everything", async () => {
    const cli = tsboxAsync(root, ["run", "--name", "victim", "busybox", "sh", "-c", "sleep 100 & sleep 100"]);
    const id = await until(() => containerIds(root).find((i) => stateOf(root, i).status === "running"), "container running");
    const pid = stateOf(root, id).pid as number;
    expect(cgroupDirsOf(id).length).toBeGreaterThan(0);
    cli.kill("SIGKILL");
    await until(() => !alive(pid), "container's PID 1 to die with tsbox");
    const procs = spawnSync("sh", ["-c", `cat ${cgroupDirsOf(id).map((d) => `${d}/cgroup.procs`).join(" ")} 2>/dev/null`], { encoding: "utf8" }).stdout.trim();
    expect(procs === "" || procs.split("\n").every((p) => !alive(Number(p)))).toBe(true);
    // the next tsbox command finds it and releases its cgroup
    expect(tsbox(root, ["images"]).code).toBe(0);
    expect(cgroupDirsOf(id)).toEqual([]);
    expect(stateOf(root, id)).toMatchObject({ status: "exited", exitCode: 137 });
    expect(tsbox(root, ["rm", "victim"]).code).toBe(0);
    expect(containerIds(root)).toEqual([]);
  });

  it("rm -f kills a running container", async () => {
    const cli = tsboxAsync(root, ["run", "--name", "forced", "busybox", "sleep", "100"]);
    await until(() => containerIds(root).find((i) => stateOf(root, i).status === "running"), "container running");
    const exited = new Promise<number | null>((r) => cli.on("exit", (c) => r(c)));
    expect(tsbox(root, ["rm", "forced"]).code).toBe(1);
    expect(tsbox(root, ["rm", "-f", "forced"]).code).toBe(0);
    expect(await exited).toBe(137);
    expect(containerIds(root)).toEqual([]);
  });
});
