// run, start and exec against recording fakes of the shim and the monitor and a
// cgroup hierarchy in memory (test/fakes/native.ts): the sequencing of each
// verb — the plan it hands over, where the cgroup placement happens, what is
// undone after a failed start — with no clone, no root and no kernel cgroups.
// The container store and the image store are real files in a temp dir.

import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LaunchError } from "../src/errors.js";
import { importImage } from "../src/image/index.js";
import { encodePlan, type Op, type Plan } from "../src/native/launch-plan.js";
import type { Spec } from "../src/oci/spec.js";
import type { RunFlags } from "../src/oci/specconv.js";
import { execInContainer, type ExecRequest } from "../src/runtime/exec.js";
import { runContainer, type RunRequest } from "../src/runtime/run.js";
import { startContainer } from "../src/runtime/start.js";
import { containerPaths, readState, writeState } from "../src/state/container-store.js";
import { fakeHost } from "./fakes/native.js";
import { makeRoot, removeRoot, tarball } from "./helpers.js";

let root: string;

beforeAll(async () => {
  root = makeRoot();
  // A one-layer image (the verbs read its config and /etc/passwd; nothing runs it),
  // owned by this user so that unpacking it needs no root either.
  const own = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const body = await tarball([
    [{ name: "etc/", type: "directory", mode: 0o755, ...own }],
    [{ name: "etc/passwd", mode: 0o644, ...own }, "root:x:0:0:root:/root:/bin/sh\n"],
    [{ name: "bin/", type: "directory", mode: 0o755, ...own }],
    [{ name: "bin/app", mode: 0o755, ...own }, "#!/bin/sh\n"],
  ]);
  await importImage(root, Readable.from([body]), "tiny");
});

afterAll(() => removeRoot(root));

function flags(over: Partial<RunFlags> = {}): RunFlags {
  return {
    cmd: ["/bin/app", "one", "two"], env: ["GREETING=hello"], interactive: false, tty: false, init: false,
    readOnly: false, volumes: [], tmpfs: [], privileged: false, ...over,
  };
}

function request(over: Partial<RunRequest> = {}): RunRequest {
  return { root, image: "tiny", flags: flags(), autoRemove: false, ...over };
}

const readPlan = (path: string): string | undefined => (existsSync(path) ? readFileSync(path, "utf8") : undefined);
const onDisk = (plan: Plan): string => encodePlan(plan).join("\0") + "\0";
const specOf = (id: string): Spec => JSON.parse(readFileSync(containerPaths(root, id).config, "utf8")) as Spec;
const containers = (): string[] => {
  try { return readdirSync(join(root, "containers")); } catch { return []; }
};
const cgroupDir = (id: string): string => `/sys/fs/cgroup/tsbox/${id}`;
/** The id of the one container a run made (the store had `before`). */
const madeSince = (before: string[]): string => {
  const made = containers().filter((c) => !before.includes(c));
  expect(made).toHaveLength(1);
  return made[0]!;
};
const indexOf = (journal: string[], prefix: string): number => {
  const i = journal.findIndex((l) => l.startsWith(prefix));
  expect(i, `journal has "${prefix}…": ${journal.join(" | ")}`).toBeGreaterThanOrEqual(0);
  return i;
};

describe("run in the foreground", () => {
  it("hands the shim the plan of the container's spec, its ops in the spec's order, and settles the exit", async () => {
    const host = fakeHost({ native: { pids: [4242], exitCode: 3 } });
    const before = containers();
    expect(await runContainer(request(), host)).toBe(3);
    const id = madeSince(before);
    const spec = specOf(id);

    const [plan, ...more] = host.native.plans();
    expect(more).toEqual([]);
    const ops = plan!.ops;
    // The spec's mounts in its order, its masked and read-only paths, its hostname, and its process last.
    expect(ops.flatMap((o) => (o.op === "TARGET" ? [o.path] : []))).toEqual(spec.mounts.map((m) => m.destination));
    expect(ops.flatMap((o) => (o.op === "MASK" ? [o.path] : []))).toEqual(spec.linux.maskedPaths);
    expect(ops.flatMap((o) => (o.op === "READONLY" ? [o.path] : []))).toEqual(spec.linux.readonlyPaths);
    expect(ops.find((o) => o.op === "HOSTNAME")).toEqual({ op: "HOSTNAME", name: spec.hostname });
    expect(ops.at(-1)).toEqual({ op: "EXEC", path: "/bin/app", argv: ["/bin/app", "one", "two"], env: spec.process.env });
    expect(spec.process.env).toContain("GREETING=hello");
    const at = (op: Op["op"]): number => ops.findIndex((o) => o.op === op);
    expect(at("PIVOT")).toBeLessThan(at("MASK"));
    expect(at("MASK")).toBeLessThan(at("CAPS"));
    expect(at("SECCOMP")).toBeLessThan(at("EXEC"));
    // Cloned straight into its cgroup (v2: CLONEINTO, the launcher's op, right after the stdio);
    // the plan kept for `start` is the same without it.
    const j = host.journal;
    const cg = cgroupDir(id);
    expect(ops[1]).toEqual({ op: "CLONEINTO", path: cg });
    expect(readFileSync(containerPaths(root, id).plan, "utf8")).toBe(onDisk({ ...plan!, ops: ops.filter((o) => o.op !== "CLONEINTO") }));

    // The cgroup made before the clone, no pid written to it after; it goes after the exit.
    expect(indexOf(j, `cgroup.mkdir ${cg}`)).toBeLessThan(indexOf(j, "native.spawnWithPipes 4242"));
    expect(j.filter((l) => l.startsWith(`cgroup.write ${cg}/cgroup.procs`))).toEqual([]);
    expect(indexOf(j, "native.spawnWithPipes")).toBeLessThan(indexOf(j, "native.start 4242"));
    expect(indexOf(j, "native.start")).toBeLessThan(indexOf(j, "native.copyStdio"));
    expect(indexOf(j, "native.wait 4242")).toBeLessThan(indexOf(j, `cgroup.rmdir ${cg}`));
    expect(host.native.names()).not.toContain("abort");
    expect(host.fs.dirs.has(cg)).toBe(false);

    const state = readState(root, id)!;
    expect(state).toMatchObject({ status: "exited", exitCode: 3, oomKilled: false });
    expect(state.pid).toBeUndefined();
    expect(state.owner).toBeUndefined();
  });

  it("a failed start (127) is the LaunchError; the child is aborted, the cgroup destroyed, the container removed", async () => {
    const host = fakeHost({ native: { pids: [777], start: { ok: false, code: 127, message: "exec: \"nope\": executable file not found in $PATH" } } });
    const before = containers();
    const err = await runContainer(request({ name: "failing", flags: flags({ cmd: ["nope"] }) }), host).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect((err as LaunchError).exitCode).toBe(127);
    expect((err as LaunchError).message).toMatch(/executable file not found/);

    const j = host.journal;
    expect(host.native.names()).toEqual(expect.arrayContaining(["spawnWithPipes", "start", "abort"]));
    expect(host.native.names()).not.toContain("wait");
    expect(host.native.names()).not.toContain("copyStdio");
    expect(indexOf(j, "native.start 777")).toBeLessThan(indexOf(j, "native.abort 777"));
    expect(indexOf(j, "native.abort 777")).toBeLessThan(indexOf(j, "cgroup.rmdir /sys/fs/cgroup/tsbox/"));
    expect([...host.fs.dirs].filter((d) => d.startsWith("/sys/fs/cgroup/tsbox/"))).toEqual([]);
    // Nothing left in the store: no directory, no name.
    expect(containers()).toEqual(before);
    expect(existsSync(join(root, "names", "failing"))).toBe(false);
  });

  it("a failed clone leaves nothing either", async () => {
    const host = fakeHost({ native: { spawnError: new LaunchError("launch failed: EAGAIN") } });
    const before = containers();
    await expect(runContainer(request(), host)).rejects.toThrow("launch failed: EAGAIN");
    expect(host.native.names()).not.toContain("start");
    expect([...host.fs.dirs].filter((d) => d.startsWith("/sys/fs/cgroup/tsbox/"))).toEqual([]);
    expect(containers()).toEqual(before);
  });
});

describe("run -d and start: the launch path through a monitor", () => {
  it("run -d: the monitor gets the plan on disk and the cgroup; the container is recorded running under it", async () => {
    const host = fakeHost({ monitor: { pid: 9001 }, readPlan });
    const before = containers();
    let detached: string | undefined;
    expect(await runContainer(request({ detach: (id) => { detached = id; }, autoRemove: true }), host)).toBe(0);
    const id = madeSince(before);
    expect(detached).toBe(id);
    expect(host.native.plans()).toEqual([]); // the monitor clones, not the CLI
    const [req] = host.monitor.requests;
    expect(req).toMatchObject({ cgroupDirs: [cgroupDir(id)], tty: false, restartPolicy: { name: "no", maximumRetryCount: 0 } });
    expect(req!.paths.dir).toBe(containerPaths(root, id).dir);
    // --rm: the monitor removes the container (and its anonymous volumes) through this tsbox once it is gone.
    expect(req!.exitCommand?.slice(-6)).toEqual(["--root", root, "rm", "-f", "-v", id]);
    // The plan was on disk when the monitor started, ending in the container's process.
    const plan = host.monitor.plansOnDisk[0]!;
    expect(plan.split("\0")).toEqual(expect.arrayContaining(["EXEC", "/bin/app", "3", "/bin/app", "one", "two"]));
    expect(readState(root, id)).toMatchObject({ status: "running", pid: 9001, owner: { pid: process.pid }, detached: true, autoRemove: true });
    expect(host.fs.dirs.has(cgroupDir(id))).toBe(true);
  });

  it("run -d with a failing monitor: its error, and nothing left", async () => {
    const host = fakeHost({ monitor: { failure: { message: "monitor: launch failed", code: 125 } } });
    const before = containers();
    await expect(runContainer(request({ detach: () => {} }), host)).rejects.toThrow("monitor: launch failed");
    expect(host.monitor.requests).toHaveLength(1);
    expect(containers()).toEqual(before);
    expect([...host.fs.dirs].filter((d) => d.startsWith("/sys/fs/cgroup/tsbox/"))).toEqual([]);
  });

  it("start: an exited container is relaunched through the monitor with its cgroup, and recorded running", async () => {
    const host = fakeHost({ native: { exitCode: 1 }, monitor: { pid: 6060 }, readPlan });
    const before = containers();
    await runContainer(request({ name: "restartable" }), host);
    const id = madeSince(before);
    expect(readState(root, id)).toMatchObject({ status: "exited", exitCode: 1 });
    const kept = readFileSync(containerPaths(root, id).plan, "utf8");

    const running = await startContainer(root, "restartable", host);
    expect(running).toMatchObject({ id, status: "running", pid: 6060, owner: { pid: process.pid } });
    expect(running.exitCode).toBeUndefined();
    expect(readState(root, id)).toMatchObject({ status: "running", pid: 6060, detached: true, restartCount: 0 });
    const [req] = host.monitor.requests;
    expect(req).toMatchObject({ cgroupDirs: [cgroupDir(id)], tty: false });
    expect(req!.exitCommand).toBeUndefined();
    expect(host.monitor.plansOnDisk[0]).toBe(kept); // the plan run kept, unchanged
    expect(host.fs.dirs.has(cgroupDir(id))).toBe(true);
    expect(indexOf(host.journal, `cgroup.mkdir ${cgroupDir(id)}`)).toBeLessThan(indexOf(host.journal, "monitor.launch"));

    // Running (owned by a live process): a second start does nothing.
    await startContainer(root, id, host);
    expect(host.monitor.requests).toHaveLength(1);
  });

  it("start with a failing monitor: the error, the cgroup destroyed, the container exited with its code", async () => {
    const host = fakeHost({ monitor: { failure: { message: "exec: \"gone\": no such file", code: 127 } } });
    const before = containers();
    await runContainer(request({ name: "unstartable" }), host);
    const id = madeSince(before);
    const err = await startContainer(root, id, host).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect((err as LaunchError).exitCode).toBe(127);
    expect(host.fs.dirs.has(cgroupDir(id))).toBe(false);
    expect(readState(root, id)).toMatchObject({ status: "exited", exitCode: 127 });
    expect(readState(root, id)!.owner).toBeUndefined();
  });
});

describe("exec", () => {
  /** A container recorded running, its init this process (alive), in a cgroup of the host's fake hierarchy. */
  async function runningContainer(host: ReturnType<typeof fakeHost>, name: string): Promise<string> {
    const before = containers();
    await runContainer(request({ name }), fakeHost());
    const id = madeSince(before);
    const s = readState(root, id)!;
    writeState(root, { ...s, status: "running", pid: process.pid, owner: { pid: process.pid, startTime: "" }, exitCode: undefined });
    if (!host.fs.dirs.has("/sys/fs/cgroup/tsbox")) host.fs.mkdir("/sys/fs/cgroup/tsbox");
    host.fs.mkdir(cgroupDir(id));
    host.fs.writeFile(`${cgroupDir(id)}/cgroup.procs`, String(process.pid));
    host.journal.length = 0;
    return id;
  }

  function execRequest(container: string, over: Partial<ExecRequest> = {}): ExecRequest {
    return { root, container, cmd: ["/bin/app", "x"], interactive: false, tty: false, detach: false, env: ["E=1"], ...over };
  }

  it("a JOIN plan of the container's init; the process inside is placed in the cgroup between startJoin and start", async () => {
    const host = fakeHost({ native: { pids: [300], joinPid: 301, exitCode: 5 } });
    const id = await runningContainer(host, "exec-target");

    expect(await execInContainer(execRequest("exec-target"), host)).toBe(5);
    const [plan] = host.native.plans();
    const join = plan!.ops.find((o) => o.op === "JOIN");
    expect(join).toMatchObject({ op: "JOIN", pid: process.pid });
    expect(plan!.ops.at(-1)).toMatchObject({ op: "EXEC", path: "/bin/app", argv: ["/bin/app", "x"] });
    expect((plan!.ops.at(-1) as Extract<Op, { op: "EXEC" }>).env).toContain("E=1");

    const j = host.journal;
    const pid = host.native.calls.find((c) => c.fn === "spawnWithPipes")!.pid;
    expect(indexOf(j, "native.spawnWithPipes")).toBeLessThan(indexOf(j, `native.startJoin ${pid}`));
    expect(indexOf(j, "native.startJoin")).toBeLessThan(indexOf(j, `cgroup.write ${cgroupDir(id)}/cgroup.procs 301`));
    expect(indexOf(j, `cgroup.write ${cgroupDir(id)}/cgroup.procs 301`)).toBeLessThan(indexOf(j, `native.start ${pid}`));
    expect(indexOf(j, "native.start ")).toBeLessThan(indexOf(j, "native.wait"));
    // The shim's child itself (the reaper outside) is never placed.
    expect(j.filter((l) => l.includes("cgroup.procs"))).toEqual([`cgroup.write ${cgroupDir(id)}/cgroup.procs 301`]);
  });

  it("a failed start (126): the LaunchError, the child aborted, nothing waited on", async () => {
    const host = fakeHost({ native: { joinPid: 401, start: { ok: false, code: 126, message: "exec: permission denied" } } });
    await runningContainer(host, "exec-fails");
    const err = await execInContainer(execRequest("exec-fails"), host).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect((err as LaunchError).exitCode).toBe(126);
    expect(host.native.names()).toEqual(["spawnWithPipes", "startJoin", "start", "abort"]);
  });

  it("-d: a DETACH plan, waited only until handed over", async () => {
    const host = fakeHost({ native: { joinPid: 501, exitCode: 9 } });
    await runningContainer(host, "exec-detached");
    expect(await execInContainer(execRequest("exec-detached", { detach: true }), host)).toBe(0);
    const [plan] = host.native.plans();
    expect(plan!.ops.some((o) => o.op === "DETACH")).toBe(true);
    expect(host.native.names()).toEqual(["spawnWithPipes", "startJoin", "start", "wait"]);
  });
});
