// Namespaces shared with another container (issue 16, item 5): `--ipc
// shareable` with its /dev/shm on a host tmpfs that `--ipc container:` joiners
// bind, and `--pid container:` joining a running container's PID namespace.
// What each one sees, the donor's and the joiner's ends (stop, kill, rm -f,
// --rm, a SIGKILLed CLI or monitor), Docker's refusals, and nothing left behind:
// no mount, no cgroup, no process.
import { execFileSync, spawnSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { alive, CLI, cgroupDirsOf, containerIds, mountsUnder, removeRoot, rootWithBusybox, stateOf, tsbox, tsboxAsync, until } from "./helpers.js";

let root: string;
beforeAll(() => { root = rootWithBusybox(); });
afterAll(() => { removeRoot(root); });
afterEach(() => {
  const left = containerIds(root);
  if (left.length > 0) tsbox(root, ["rm", "-f", ...left]);
  expect(mountsUnder(root)).toEqual([]);
  for (const id of left) expect(cgroupDirsOf(id)).toEqual([]);
});

const NONE = ["--network", "none"];
const ok = (args: string[]): string => {
  const r = tsbox(root, args);
  if (r.code !== 0) throw new Error(`tsbox ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};
const idOf = (ref: string): string => ok(["inspect", "-f", "{{.Id}}", ref]).trim();
const shmDir = (id: string): string => join(root, "containers", id, "shm");
/** The host's mounts of a container's shm tmpfs: its mountinfo lines. */
const shmMounts = (id: string): string[] => mountsUnder(shmDir(id));
const pidOf = (ref: string): number => stateOf(root, idOf(ref)).pid as number;

/** A foreground `tsbox run` in the background, resolved once its command printed `ready`. */
async function foreground(args: string[]): Promise<{ cli: ReturnType<typeof tsboxAsync>; exit: Promise<number>; output: () => string }> {
  const cli = tsboxAsync(root, ["run", ...args]);
  let out = "";
  cli.stdout.setEncoding("utf8");
  cli.stdout.on("data", (s: string) => { out += s; });
  cli.stderr.setEncoding("utf8");
  cli.stderr.on("data", (s: string) => { out += s; });
  const exit = new Promise<number>((done) => cli.on("exit", (code, sig) => done(code ?? 128 + (sig === "SIGKILL" ? 9 : 15))));
  await until(() => out.includes("ready") || undefined, `"ready" from tsbox run ${args.join(" ")}`);
  return { cli, exit, output: () => out };
}

describe("--ipc shareable and --ipc container:", () => {
  it("the donor's /dev/shm is a host tmpfs of --shm-size under its directory; a joiner sees its files and SysV segments", () => {
    ok(["run", "-d", ...NONE, "--name", "donor", "--ipc", "shareable", "--shm-size", "10m", "busybox", "sleep", "100000"]);
    const donor = idOf("donor");
    const [line] = shmMounts(donor);
    expect(line).toMatch(/\/shm rw,nosuid,nodev,noexec,.* - tmpfs shm rw,size=10240k/);
    ok(["exec", "donor", "sh", "-c", "echo from-donor > /dev/shm/posix-shm"]);
    // A SysV segment made in the donor's IPC namespace (busybox has no ipcmk).
    const key = execFileSync("nsenter", [`--ipc=/proc/${pidOf("donor")}/ns/ipc`, "ipcmk", "-M", "4096"], { encoding: "utf8" });
    expect(key).toMatch(/Shared memory id: \d+/);
    const joiner = tsbox(root, ["run", "--rm", ...NONE, "--ipc", "container:donor", "busybox", "sh", "-c",
      "cat /dev/shm/posix-shm; df -k /dev/shm | tail -1; tail -n +2 /proc/sysvipc/shm | wc -l; echo from-joiner > /dev/shm/back"]);
    expect(joiner.stderr).toBe("");
    expect(joiner.stdout).toMatch(/^from-donor\nshm\s+10240\s+4\s.*\/dev\/shm\n1\n$/);
    expect(ok(["exec", "donor", "cat", "/dev/shm/back"])).toBe("from-joiner\n");
    // A private container sees neither.
    expect(ok(["run", "--rm", ...NONE, "busybox", "sh", "-c", "ls /dev/shm; tail -n +2 /proc/sysvipc/shm | wc -l"])).toBe("0\n");
    // Docker's 64m without --shm-size.
    ok(["run", "-d", ...NONE, "--name", "dflt", "--ipc", "shareable", "busybox", "sleep", "100000"]);
    expect(shmMounts(idOf("dflt"))[0]).toMatch(/size=65536k/);
    ok(["rm", "-f", "donor", "dflt"]);
    expect(shmMounts(donor)).toEqual([]);
  });

  it("a joiner keeps the donor's /dev/shm after the donor stops; the donor's tmpfs is unmounted at its stop", () => {
    ok(["run", "-d", ...NONE, "--name", "donor", "--ipc", "shareable", "busybox", "sleep", "100000"]);
    const donor = idOf("donor");
    ok(["run", "-d", ...NONE, "--name", "joiner", "--ipc", "container:donor", "busybox", "sleep", "100000"]);
    ok(["exec", "donor", "sh", "-c", "echo kept > /dev/shm/f"]);
    ok(["kill", "donor"]);
    expect(ok(["wait", "donor"])).toBe("137\n");
    expect(shmMounts(donor)).toEqual([]);
    expect(ok(["exec", "joiner", "cat", "/dev/shm/f"])).toBe("kept\n");
    // Started again: a fresh tmpfs, as Docker's (the old contents went with the stop).
    ok(["start", "donor"]);
    expect(shmMounts(donor)).toHaveLength(1);
    expect(tsbox(root, ["exec", "donor", "ls", "/dev/shm"]).stdout).toBe("");
  });

  it("a restart by the policy gets a new, empty tmpfs of the same size, as Docker's; one mount at a time, none after the end", async () => {
    // Each run lists /dev/shm, leaves a file in it and fails: Docker's restarts print an empty list every time.
    const id = ok(["run", "-d", ...NONE, "--name", "again", "--ipc", "shareable", "--shm-size", "6m", "--restart", "on-failure:2", "busybox", "sh", "-c",
      "echo \"ls:$(ls /dev/shm) df:$(df -k /dev/shm | tail -1 | awk '{print $2}')\"; echo x > /dev/shm/left; exit 3"]).trim();
    await until(() => ok(["inspect", "-f", "{{.State.Status}}", "again"]) === "exited\n" || undefined, "the container to stop restarting");
    expect(ok(["logs", "again"])).toBe("ls: df:6144\n".repeat(3));
    expect(ok(["inspect", "-f", "{{.RestartCount}} {{.State.ExitCode}}", "again"])).toBe("2 3\n");
    expect(shmMounts(id)).toEqual([]);
  });

  it("the host tmpfs is gone after each way a container ends: exit, stop, rm -f, --rm, start and stop again", async () => {
    // Foreground: mounted while it runs, gone once it exited (kept as a stopped container).
    const fg = await foreground([...NONE, "--name", "fg", "--ipc", "shareable", "busybox", "sh", "-c", "echo ready; sleep 100000"]);
    const fgId = idOf("fg");
    expect(shmMounts(fgId)).toHaveLength(1);
    ok(["kill", "fg"]);
    expect(await fg.exit).toBe(137);
    expect(shmMounts(fgId)).toEqual([]);
    // start (a monitor's) mounts it again; stop (the monitor's end) unmounts it.
    ok(["start", "fg"]);
    expect(shmMounts(fgId)).toHaveLength(1);
    ok(["stop", "-t", "0", "fg"]);
    expect(shmMounts(fgId)).toEqual([]);
    ok(["rm", "fg"]);
    // run -d --rm: gone with the container.
    const rmId = ok(["run", "-d", "--rm", ...NONE, "--ipc", "shareable", "busybox", "sleep", "100000"]).trim();
    expect(shmMounts(rmId)).toHaveLength(1);
    ok(["stop", "-t", "0", rmId]);
    await until(() => !containerIds(root).includes(rmId) || undefined, "the --rm container to be removed");
    expect(shmMounts(rmId)).toEqual([]);
    // Foreground --rm.
    expect(ok(["run", "--rm", ...NONE, "--ipc", "shareable", "busybox", "sh", "-c", "grep -c ' /dev/shm ' /proc/mounts"])).toBe("1\n");
    // rm -f of a running one.
    const fId = ok(["run", "-d", ...NONE, "--ipc", "shareable", "busybox", "sleep", "100000"]).trim();
    expect(shmMounts(fId)).toHaveLength(1);
    ok(["rm", "-f", fId]);
    expect(shmMounts(fId)).toEqual([]);
    expect(containerIds(root)).toEqual([]);
  });

  it("after a SIGKILLed foreground CLI or monitor, the next command's recovery unmounts it", async () => {
    const fg = await foreground([...NONE, "--name", "fg", "--ipc", "shareable", "busybox", "sh", "-c", "echo ready; sleep 100000"]);
    const fgId = idOf("fg");
    expect(shmMounts(fgId)).toHaveLength(1);
    fg.cli.kill("SIGKILL");
    await fg.exit;
    ok(["ps", "-a"]);
    expect(shmMounts(fgId)).toEqual([]);
    expect(cgroupDirsOf(fgId)).toEqual([]);

    const dId = ok(["run", "-d", ...NONE, "--ipc", "shareable", "busybox", "sleep", "100000"]).trim();
    const st = stateOf(root, dId);
    process.kill((st.owner as { pid: number }).pid, "SIGKILL");
    await until(() => !alive(st.pid as number) || undefined, "the container to die with its monitor");
    ok(["ps", "-a"]);
    expect(shmMounts(dId)).toEqual([]);

    // A CLI killed right after the monitor started (before it recorded it).
    const before = new Set(containerIds(root));
    const crashed = tsbox(root, ["run", "-d", ...NONE, "--ipc", "shareable", "busybox", "sleep", "100000"],
      { env: { ...process.env, TSBOX_TEST_CRASH_AT: "started" } });
    expect(crashed.code).toBe(137);
    const [cId] = containerIds(root).filter((i) => !before.has(i));
    ok(["ps", "-a"]);
    expect(shmMounts(cId!)).toEqual([]);
    expect(cgroupDirsOf(cId!)).toEqual([]);
  });

  it("refuses a donor that is unknown, stopped or not shareable, in Docker's words, leaving nothing behind", () => {
    ok(["create", "--name", "stopped", "--ipc", "shareable", "busybox", "true"]);
    ok(["run", "-d", ...NONE, "--name", "priv", "busybox", "sleep", "100000"]);
    const [stopped, priv] = [idOf("stopped"), idOf("priv")];
    const before = containerIds(root).sort();
    const run = (mode: string) => tsbox(root, ["run", "--rm", "--ipc", mode, "busybox", "true"]);
    expect(run("container:nosuch")).toMatchObject({ code: 125, stderr: "tsbox: No such container: nosuch\n" });
    expect(run("container:stopped")).toMatchObject({
      code: 125, stderr: `tsbox: can't join IPC of container ${stopped}: container ${stopped} is not running\n`,
    });
    expect(run("container:priv")).toMatchObject({
      code: 125, stderr: `tsbox: can't join IPC of container ${priv}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)\n`,
    });
    expect(containerIds(root).sort()).toEqual(before);
  });
});

describe("create, then start", () => {
  it("create takes a donor that does not run yet, as Docker checks it at start; start joins the donor of now", () => {
    ok(["create", "--name", "donor", "--ipc", "shareable", "busybox", "sleep", "100000"]);
    ok(["create", "--name", "joiner", "--pid", "container:donor", "--ipc", "container:donor", "busybox", "sh", "-c",
      "tr '\\0' ' ' < /proc/1/cmdline; echo; ls /dev/shm"]);
    const donor = idOf("donor");
    expect(tsbox(root, ["start", "joiner"])).toMatchObject({
      code: 1, stderr: `tsbox: can't join IPC of container ${donor}: container ${donor} is not running\n`,
    });
    ok(["start", "donor"]);
    ok(["exec", "donor", "touch", "/dev/shm/made"]);
    expect(tsbox(root, ["start", "-a", "joiner"])).toMatchObject({ code: 0, stdout: "sleep 100000 \nmade\n" });
    // An unknown donor is refused at create (Docker's daemon error: 1); a private one at start.
    expect(tsbox(root, ["create", "--pid", "container:nosuch", "busybox", "true"])).toMatchObject({ code: 1, stderr: "tsbox: No such container: nosuch\n" });
    ok(["run", "-d", ...NONE, "--name", "priv", "busybox", "sleep", "100000"]);
    ok(["create", "--name", "j2", "--ipc", "container:priv", "busybox", "true"]);
    expect(tsbox(root, ["start", "j2"])).toMatchObject({
      code: 1, stderr: `tsbox: can't join IPC of container ${idOf("priv")}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)\n`,
    });
  });
});

describe("--network container:", () => {
  it("start joins the donor's network namespace of now: a --network none donor restarted has a new one", () => {
    ok(["run", "-d", ...NONE, "--name", "netdonor", "busybox", "sleep", "100000"]);
    ok(["create", "--name", "netjoiner", "--network", "container:netdonor", "busybox", "readlink", "/proc/self/ns/net"]);
    ok(["restart", "-t", "0", "netdonor"]);
    const now = readlinkSync(`/proc/${pidOf("netdonor")}/ns/net`);
    expect(tsbox(root, ["start", "-a", "netjoiner"])).toMatchObject({ code: 0, stdout: `${now}\n` });
    ok(["stop", "-t", "0", "netdonor"]);
    expect(tsbox(root, ["start", "netjoiner"])).toMatchObject({
      code: 1, stderr: `tsbox: cannot join network of a non running container: ${idOf("netdonor")}\n`,
    });
  });
});

describe("--pid container:", () => {
  it("the joiner sees the donor's processes, the donor's init as PID 1; foreground, -t and -d; exec into it too", () => {
    ok(["run", "-d", ...NONE, "--name", "donor", "busybox", "sleep", "100000"]);
    const fg = tsbox(root, ["run", "--rm", ...NONE, "--pid", "container:donor", "busybox", "sh", "-c",
      "tr '\\0' ' ' < /proc/1/cmdline; echo; test $$ -gt 1 && echo not-pid-1"]);
    expect(fg).toMatchObject({ code: 0, stdout: "sleep 100000 \nnot-pid-1\n", stderr: "" });
    // With a terminal (the pty comes from the shim's child, the process is the one it forked).
    const tty = spawnSync("script", ["-qec", `${process.execPath} ${CLI} --root ${root} run --rm -t --network none --pid container:donor busybox sh -c 'tty; tr "\\0" " " < /proc/1/cmdline; echo; exit 3'; echo "rc=$?"`, "/dev/null"], { encoding: "utf8" });
    expect(tty.stdout.replace(/\r/g, "")).toMatch(/^\/dev\/pts\/0\nsleep 100000 \nrc=3\n$/);
    ok(["run", "-d", ...NONE, "--name", "joiner", "--pid", "container:donor", "busybox", "sleep", "200000"]);
    expect(ok(["exec", "donor", "ps", "-o", "comm,args"])).toMatch(/sleep +sleep 100000\n.*sleep +sleep 200000\n/s);
    expect(ok(["exec", "joiner", "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline"])).toBe("sleep 100000 ");
    const ns = (pid: number): string => readlinkSync(`/proc/${pid}/ns/pid`);
    expect(ns(pidOf("joiner"))).toBe(ns(pidOf("donor")));
    expect(ok(["inspect", "-f", "{{.HostConfig.PidMode}}", "joiner"])).toBe("container:donor\n");
  });

  it("stop and kill of the joiner leave the donor; the donor's end (stop, rm -f) kills the joiners, foreground and -d", async () => {
    ok(["run", "-d", ...NONE, "--name", "donor", "busybox", "sleep", "100000"]);
    ok(["run", "-d", ...NONE, "--name", "j1", "--pid", "container:donor", "busybox", "sleep", "100000"]);
    ok(["stop", "-t", "1", "j1"]);
    expect(ok(["inspect", "-f", "{{.State.ExitCode}}", "j1"])).toBe("143\n");
    ok(["start", "j1"]);
    ok(["kill", "j1"]);
    expect(ok(["wait", "j1"])).toBe("137\n");
    expect(ok(["inspect", "-f", "{{.State.Status}}", "donor"])).toBe("running\n");
    expect(ok(["exec", "donor", "ps", "-o", "comm"])).toBe("COMMAND\nsleep\nps\n");

    ok(["start", "j1"]);
    const fg = await foreground([...NONE, "--name", "j2", "--pid", "container:donor", "busybox", "sh", "-c", "echo ready; sleep 100000"]);
    const [j1, j2] = [pidOf("j1"), pidOf("j2")];
    ok(["stop", "-t", "0", "donor"]);
    expect(await fg.exit).toBe(137);
    expect(ok(["wait", "j1"])).toBe("137\n");
    expect(alive(j1) || alive(j2)).toBe(false);
    // rm -f of a donor: the same.
    ok(["start", "donor"]);
    ok(["start", "j1"]);
    ok(["rm", "-f", "donor"]);
    expect(ok(["wait", "j1"])).toBe("137\n");
  });

  it("--rm, processes the joiner left behind, a SIGKILLed CLI: nothing of the joiner is left", async () => {
    ok(["run", "-d", ...NONE, "--name", "donor", "busybox", "sleep", "100000"]);
    // The live sleeps in the donor's namespace (its init, a sleep, reaps no zombie): its own alone.
    const count = () => Number(ok(["exec", "donor", "sh", "-c", "ps -o stat,comm | grep -v '^Z' | grep -c sleep"]).trim());
    expect(count()).toBe(1);
    // Its shell's child outlives it, reparented to the donor's init: killed with the joiner's cgroup.
    expect(tsbox(root, ["run", "--rm", ...NONE, "--pid", "container:donor", "busybox", "sh", "-c", "sleep 100000 & exit 4"]).code).toBe(4);
    const d = ok(["run", "-d", "--rm", ...NONE, "--pid", "container:donor", "busybox", "sh", "-c", "sleep 100000 & exit 5"]).trim();
    await until(() => !containerIds(root).includes(d) || undefined, "the --rm joiner to be removed");
    expect(cgroupDirsOf(d)).toEqual([]);
    await until(() => count() === 1 || undefined, "the joiners' processes to be gone");
    // A SIGKILLed foreground CLI: its container process dies with it (parent-death signal).
    const fg = await foreground([...NONE, "--name", "fgj", "--pid", "container:donor", "busybox", "sh", "-c", "echo ready; sleep 100000"]);
    const fgPid = pidOf("fgj");
    const fgId = idOf("fgj");
    fg.cli.kill("SIGKILL");
    await fg.exit;
    await until(() => !alive(fgPid) || undefined, "the joiner's process to die with its CLI");
    expect(ok(["ps", "-a", "--filter", "name=fgj", "--format", "{{.Status}}"])).toMatch(/^Exited \(137\)/);
    expect(cgroupDirsOf(fgId)).toEqual([]);
    expect(count()).toBe(1);
  });

  it("refuses a donor that is unknown or not running, in Docker's words, leaving nothing behind", () => {
    ok(["create", "--name", "stopped", "busybox", "true"]);
    const stopped = idOf("stopped");
    expect(tsbox(root, ["run", "--rm", "--pid", "container:nosuch", "busybox", "true"]))
      .toMatchObject({ code: 125, stderr: "tsbox: No such container: nosuch\n" });
    expect(tsbox(root, ["run", "--rm", "--pid", "container:stopped", "busybox", "true"]))
      .toMatchObject({ code: 125, stderr: `tsbox: container ${stopped} is not running\n` });
    expect(tsbox(root, ["run", "--rm", "--pid", "container:", "busybox", "true"]))
      .toMatchObject({ code: 125, stderr: "tsbox: --pid: invalid PID mode\n" });
    expect(containerIds(root)).toEqual([stopped]);
  });
});
