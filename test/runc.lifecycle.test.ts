// tsbox-runc against the real kernel, as engines drive it: bundles of the
// busybox rootfs, create → state → start → kill → delete, the process waiting
// before exec until start, tsbox-runc gone after create while the container
// lives on, runc's error texts and exit status, and nothing left behind (no
// cgroup, mount, process or state directory) after delete.
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, rmdirSync, statSync, writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectHierarchy, hierarchyDirs } from "../src/cgroupfs/index.js";
import { REPO, alive, busyboxTarball, mountsUnder, until, type Result } from "./helpers.js";
import { RUNC, cgroupDirs, runcHarness } from "./runc.helpers.js";

let work: string;
let root: string;
let rootfs: string;
const { runc, bundle, state, newId, next } = runcHarness(() => ({ work, root, rootfs }), "t");

/** Everything a deleted container must not leave behind. */
function expectGone(id: string, pid: number, parent = "tsbox/runc"): void {
  expect(existsSync(join(root, id))).toBe(false);
  expect(cgroupDirs(parent, id)).toEqual([]);
  expect(mountsUnder(rootfs)).toEqual([]);
  if (pid > 0) expect(alive(pid)).toBe(false);
}

beforeAll(() => {
  work = mkdtempSync("/var/tmp/tsbox-runc-test-");
  root = join(work, "root");
  rootfs = join(work, "rootfs");
  mkdirSync(rootfs);
  const r = spawnSync("tar", ["-xf", busyboxTarball(), "-C", rootfs]);
  expect(r.status).toBe(0);
});

afterAll(() => {
  // Anything a failed test left: killed and deleted, then the files.
  for (const id of existsSync(root) ? readdirSync(root).filter((n) => !n.startsWith(".")) : []) runc(["delete", "--force", id]);
  spawnSync("umount", ["-R", work], { stdio: "ignore" });
  rmSync(work, { recursive: true, force: true });
});

describe("tsbox-runc create, start, state, kill, delete", () => {
  it("waits before exec until start, outlives the create, and leaves nothing after delete", async () => {
    const id = newId();
    const marker = join(rootfs, "tmp", `${id}.started`);
    const dir = bundle(["sh", "-c", `echo started > /tmp/${id}.started; exec sleep 1000`]);
    const created = runc(["create", "--bundle", dir, id]);
    expect(created.code, created.stderr).toBe(0);
    // tsbox-runc has exited (spawnSync returned); its container lives on.
    const s = state(id);
    expect(s).toMatchObject({ ociVersion: expect.stringMatching(/^1\./), id, status: "created", bundle: dir, rootfs });
    const pid = s.pid as number;
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(true);
    // Set up but not yet the command: no marker, and the process is not sleep.
    expect(existsSync(marker)).toBe(false);
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain("sleep");
    expect(cgroupDirs("tsbox/runc", id).length).toBeGreaterThan(0);
    for (const d of cgroupDirs("tsbox/runc", id)) expect(readFileSync(join(d, "cgroup.procs"), "utf8")).toContain(String(pid));

    const started = runc(["start", id]);
    expect(started.code, started.stderr).toBe(0);
    await until(() => existsSync(marker) || undefined, "the command to run");
    expect(state(id)).toMatchObject({ status: "running", pid });
    await until(() => readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("sleep") || undefined, "exec of sleep");
    expect(existsSync(join(root, id, "exec.fifo"))).toBe(false);

    const again = runc(["start", id]);
    expect(again).toMatchObject({ code: 1 });
    expect(again.stderr).toContain("cannot start an already running container");

    const refused = runc(["delete", id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`cannot delete container ${id} that is not stopped: running`);

    expect(runc(["kill", id, "KILL"]).code).toBe(0);
    await until(() => !alive(pid) || undefined, "the container to die");
    expect(state(id)).toMatchObject({ status: "stopped", pid: 0 });
    const dead = runc(["kill", id]);
    expect(dead.code).toBe(1);
    expect(dead.stderr).toContain("container not running");
    // Signal 0 is a signal (kill(2)'s "is anything left?"): with --all nothing is, and that is no error.
    expect(runc(["kill", "--all", id, "0"])).toMatchObject({ code: 0, stderr: "" });
    expect(runc(["kill", id, "0"]).stderr).toContain("container not running");
    const restart = runc(["start", id]);
    expect(restart.stderr).toContain("cannot start a container that has stopped");

    const deleted = runc(["delete", id]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expectGone(id, pid);
    rmSync(marker, { force: true });
  });

  it("deletes a created container that never started: its process killed, nothing left", () => {
    const id = newId();
    const created = runc(["create", "--bundle", bundle(["sh", "-c", `touch /tmp/${id}.ran`]), id]);
    expect(created.code, created.stderr).toBe(0);
    const pid = state(id).pid as number;
    expect(alive(pid)).toBe(true);
    const deleted = runc(["delete", id]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expectGone(id, pid);
    expect(existsSync(join(rootfs, "tmp", `${id}.ran`))).toBe(false);
  });

  it("delete --force kills a running container; kill sends names, SIG names and numbers", async () => {
    const id = newId();
    // The shell reports the signals it traps, then waits.
    const dir = bundle(["sh", "-c", `trap 'echo HUP >> /tmp/${id}.sigs' HUP; trap 'echo USR1 >> /tmp/${id}.sigs' USR1; `
      + `echo ready > /tmp/${id}.ready; while true; do sleep 0.1; done`]);
    expect(runc(["create", "--bundle", dir, id]).code).toBe(0);
    expect(runc(["start", id]).code).toBe(0);
    const pid = state(id).pid as number;
    await until(() => existsSync(join(rootfs, "tmp", `${id}.ready`)) || undefined, "the traps to be set");
    expect(runc(["kill", id, "HUP"]).code).toBe(0);
    await until(() => (readFileSync(join(rootfs, "tmp", `${id}.sigs`), { encoding: "utf8", flag: "a+" }).includes("HUP") || undefined), "HUP");
    expect(runc(["kill", id, "SIGUSR1"]).code).toBe(0);
    await until(() => (readFileSync(join(rootfs, "tmp", `${id}.sigs`), "utf8").includes("USR1") || undefined), "USR1");
    expect(runc(["kill", id, "10"]).code).toBe(0); // SIGUSR1 by number
    await until(() => (readFileSync(join(rootfs, "tmp", `${id}.sigs`), "utf8").split("USR1").length === 3 || undefined), "USR1 again");
    const bad = runc(["kill", id, "SIGNOPE"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown signal \\"SIGNOPE\\"');

    const deleted = runc(["delete", "--force", id]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expectGone(id, pid);
  });

  it("kill --all signals every process in the container's cgroup", async () => {
    const id = newId();
    const dir = bundle(["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    expect(runc(["create", "--bundle", dir, id]).code).toBe(0);
    expect(runc(["start", id]).code).toBe(0);
    const pid = state(id).pid as number;
    const procs = (): number[] => cgroupDirs("tsbox/runc", id).flatMap((d) =>
      readFileSync(join(d, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number));
    await until(() => new Set(procs()).size >= 3 || undefined, "three processes");
    const all = [...new Set(procs())];
    expect(runc(["kill", "--all", id, "KILL"]).code).toBe(0);
    await until(() => all.every((p) => !alive(p)) || undefined, "every process to die");
    expect(runc(["delete", id]).code).toBe(0);
    expectGone(id, pid);
  });

  it("writes --pid-file and places the container in the cgroup a relative cgroupsPath names, under tsbox's root", () => {
    const id = newId();
    const pidFile = join(work, `${id}.pid`);
    const dir = bundle(["sleep", "1000"], (c) => { c.linux.cgroupsPath = `runc-test-${id}/${id}-cg`; });
    const created = runc(["create", "--bundle", dir, "--pid-file", pidFile, id]);
    expect(created.code, created.stderr).toBe(0);
    const pid = state(id).pid as number;
    expect(readFileSync(pidFile, "utf8")).toBe(String(pid));
    const dirs = cgroupDirs(`tsbox/runc-test-${id}`, `${id}-cg`);
    expect(dirs.length).toBeGreaterThan(0);
    for (const d of dirs) expect(readFileSync(join(d, "cgroup.procs"), "utf8")).toContain(String(pid));
    expect(runc(["delete", "--force", id]).code).toBe(0);
    expectGone(id, pid, `tsbox/runc-test-${id}`);
    // The parent it made goes too, tsbox's own root stays.
    expect(cgroupDirs("tsbox", `runc-test-${id}`)).toEqual([]);
    expect(cgroupDirs("", "tsbox").length).toBeGreaterThan(0);
  });

  it("a level below tsbox's root that two containers share goes with the last one out, whichever made it", () => {
    const [a, b] = [newId(), newId()];
    const level = `runc-shared-${a}`;
    for (const id of [a, b]) {
      const r = runc(["create", "--bundle", bundle(["sleep", "1000"], (c) => { c.linux.cgroupsPath = `${level}/${id}`; }), id]);
      expect(r.code, r.stderr).toBe(0);
    }
    // a made the level; it stays while b is in it, and goes with b.
    expect(runc(["delete", "--force", a]).code).toBe(0);
    expect(cgroupDirs("tsbox", level).length).toBeGreaterThan(0);
    expect(runc(["delete", "--force", b]).code).toBe(0);
    expect(cgroupDirs("tsbox", level)).toEqual([]);
    expect(cgroupDirs("", "tsbox").length).toBeGreaterThan(0);
  });

  it("lists containers as runc does (table and JSON)", () => {
    const id = newId();
    expect(runc(["create", "--bundle", bundle(["true"]), id]).code).toBe(0);
    const table = runc(["list"]);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/);
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s+\\d+\\s+created\\s+`, "m"));
    const json = JSON.parse(runc(["list", "--format", "json"]).stdout) as { id: string; status: string; owner: string }[];
    expect(json.find((c) => c.id === id)).toMatchObject({ status: "created", owner: "root" });
    expect(runc(["delete", "--force", id]).code).toBe(0);
  });
});

describe("linux.cgroupsPath as engines mean it", () => {
  // A parent cgroup someone else made (a kubelet's pod cgroup), in every hierarchy tsbox uses.
  const hierarchies = (): string[] => hierarchyDirs(detectHierarchy());
  const theirs = `tsbox-runc-test-${process.pid}`;
  const made: string[] = [];
  const own = (rel: string): string[] => hierarchies().map((m) => join(m, rel));
  const mkdirTheirs = (rel: string): void => {
    for (const d of own(rel)) {
      mkdirSync(d);
      made.push(d);
      // As its owner would: a new v1 cpuset cgroup has no cpus or mems (no task can join below it);
      // v2's empty ones mean the parent's (and its root has none to copy).
      if (detectHierarchy().version === "v2") continue;
      for (const f of ["cpuset.cpus", "cpuset.mems"]) {
        if (existsSync(join(d, f))) writeFileSync(join(d, f), readFileSync(join(dirname(d), f)));
      }
    }
  };

  afterAll(() => {
    for (const d of made.reverse()) { try { rmdirSync(d); } catch { /* gone, or the test failed with something in it */ } }
  });

  it("an absolute path is taken literally below each hierarchy's root; delete removes what create made, deepest first, never a parent that was there", () => {
    mkdirTheirs(theirs);
    const id = newId();
    const path = `/${theirs}/${id}/pod/c`;
    const dir = bundle(["sleep", "1000"], (c) => { c.linux.cgroupsPath = path; c.linux.resources.pids = { limit: 77 }; });
    const created = runc(["create", "--bundle", dir, id]);
    expect(created.code, created.stderr).toBe(0);
    const pid = state(id).pid as number;
    // As /proc/PID/cgroup shows it, in every v1 hierarchy (or v2), and the limit in that very directory.
    const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n");
    for (const l of lines.filter((x) => /^\d+:[^:]*(pids|memory|cpu|devices|freezer)/.test(x))) expect(l).toMatch(new RegExp(`:${path}$`));
    for (const d of own(path)) expect(readFileSync(join(d, "cgroup.procs"), "utf8")).toContain(String(pid));
    expect(readFileSync(join(own(path).find((d) => existsSync(join(d, "pids.max")))!, "pids.max"), "utf8")).toBe("77\n");
    // A second container in the parent the first one made: that parent is not its to remove.
    const id2 = newId();
    const sibling = runc(["create", "--bundle", bundle(["sleep", "1000"], (c) => { c.linux.cgroupsPath = `/${theirs}/${id}/pod/c2`; }), id2]);
    expect(sibling.code, sibling.stderr).toBe(0);
    expect(runc(["delete", "--force", id]).code).toBe(0);
    expectGone(id, pid, `${theirs}/${id}/pod`);
    // Still holding the sibling: stays.
    for (const d of own(`${theirs}/${id}/pod`)) expect(existsSync(d)).toBe(true);
    expect(runc(["delete", "--force", id2]).code).toBe(0);
    for (const d of own(`${theirs}/${id}/pod/c2`)) expect(existsSync(d)).toBe(false);
    // (the parents the first container made are left to whoever made the pod: only what each create made is recorded)
    for (const d of [...own(`${theirs}/${id}`), ...own(`${theirs}/${id}/pod`)].reverse()) rmdirSync(d);

    // Alone: its parents go with it, the pre-existing one stays.
    const id3 = newId();
    const alone = runc(["create", "--bundle", bundle(["sleep", "1000"], (c) => { c.linux.cgroupsPath = `/${theirs}/${id3}/a/b`; }), id3]);
    expect(alone.code, alone.stderr).toBe(0);
    const pid3 = state(id3).pid as number;
    const recorded = (JSON.parse(readFileSync(join(root, id3, "state.json"), "utf8")) as { cgroup: { createdParents: string[] } }).cgroup;
    expect(recorded.createdParents.sort()).toEqual([...own(`${theirs}/${id3}`), ...own(`${theirs}/${id3}/a`)].sort());
    expect(runc(["delete", id3]).code).toBe(0);
    expectGone(id3, pid3, `${theirs}/${id3}/a`);
    for (const d of own(`${theirs}/${id3}`)) expect(existsSync(d)).toBe(false);
    for (const d of own(theirs)) expect(existsSync(d)).toBe(true);
  });

  it("refuses a cgroup that already exists (someone else's) with one line, and leaves it and its parents as they were", () => {
    const id = newId();
    mkdirTheirs(`${theirs}-leaf`);
    mkdirTheirs(`${theirs}-leaf/x`);
    const r = runc(["create", "--bundle", bundle(["true"], (c) => { c.linux.cgroupsPath = `/${theirs}-leaf/x`; }), id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^time="[^"]+" level=error msg="cgroup: \/sys\/fs\/cgroup\/[^ ]+\/x already exists \(tsbox does not join a cgroup it did not create\)"\n$/);
    for (const d of own(`${theirs}-leaf/x`)) {
      expect(existsSync(d)).toBe(true);
      expect(readFileSync(join(d, "cgroup.procs"), "utf8")).toBe("");
    }
    expect(existsSync(join(root, id))).toBe(false);
    // Found in the last hierarchy only, after it made the parent and the leaf in the others: both removed again.
    const last = hierarchies().at(-1)!;
    for (const rel of [`${theirs}-leaf/p`, `${theirs}-leaf/p/z`]) { mkdirSync(join(last, rel)); made.push(join(last, rel)); }
    const partly = runc(["create", "--bundle", bundle(["true"], (c) => { c.linux.cgroupsPath = `/${theirs}-leaf/p/z`; }), id]);
    expect(partly.code).toBe(1);
    expect(partly.stderr).toContain(`${join(last, theirs)}-leaf/p/z already exists`);
    expect(own(`${theirs}-leaf/p`).filter((d) => existsSync(d))).toEqual([join(last, `${theirs}-leaf/p`)]);
    expect(existsSync(join(last, `${theirs}-leaf/p/z`))).toBe(true);
    expect(existsSync(join(root, id))).toBe(false);
  });

  it("--systemd-cgroup: slice:prefix:name as systemd lays it out, literally", () => {
    const id = newId();
    const slice = `tsboxtest${process.pid}`;
    const dir = bundle(["sleep", "1000"], (c) => { c.linux.cgroupsPath = `${slice}-a.slice:tsboxtest:${id}`; });
    const r = spawnSync(process.execPath, ["--", RUNC, "--root", root, "--systemd-cgroup", "create", "--bundle", dir, id], { stdio: "ignore" });
    expect(r.status).toBe(0);
    const pid = state(id).pid as number;
    const leaf = own(`${slice}.slice/${slice}-a.slice/tsboxtest-${id}.scope`);
    for (const d of leaf) expect(readFileSync(join(d, "cgroup.procs"), "utf8")).toContain(String(pid));
    expect(runc(["delete", "--force", id]).code).toBe(0);
    for (const d of [...leaf, ...own(`${slice}.slice`)]) expect(existsSync(d)).toBe(false);
  });
});

describe("tsbox-runc run", () => {
  it("in the foreground: the engine's stdio untouched, the exit code, and the container deleted", () => {
    const id = newId();
    const r = runc(["run", "--bundle", bundle(["sh", "-c", "echo out; echo err >&2; exit 3"]), id]);
    expect(r).toMatchObject({ code: 3, stdout: "out\n", stderr: "err\n" });
    expect(existsSync(join(root, id))).toBe(false);
    expect(cgroupDirs("tsbox/runc", id)).toEqual([]);
  });

  it("gives 128+N for a container killed by signal N, and reads its stdin from the caller's", () => {
    const id = newId();
    // Without a PID namespace of its own the shell is no init, which would ignore its own TERM.
    const dir = bundle(["sh", "-c", "read line; echo got $line; kill -TERM $$"], (c) => {
      c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== "pid");
    });
    const r = runc(["run", "--bundle", dir, id], { input: "hi\n" });
    expect(r).toMatchObject({ code: 128 + 15, stdout: "got hi\n" });
  });

  it("--detach: returns once the container runs", async () => {
    const id = newId();
    const r = runc(["run", "--detach", "--bundle", bundle(["sleep", "1000"]), id]);
    expect(r.code, r.stderr).toBe(0);
    const s = state(id);
    expect(s.status).toBe("running");
    await until(() => readFileSync(`/proc/${s.pid as number}/cmdline`, "utf8").startsWith("sleep") || undefined, "sleep");
    expect(runc(["delete", "--force", id]).code).toBe(0);
    expectGone(id, s.pid as number);
  });
});

describe("the bundle's configuration, honoured inside the container", () => {
  it("user, cwd, env, hostname, domainname, umask, oomScoreAdj, sysctl, rlimits, capabilities, no_new_privs, read-only root, masks, binds and seccomp", () => {
    const id = newId();
    const shared = join(work, `${id}-shared`);
    mkdirSync(shared);
    writeFileSync(join(shared, "hello"), "from the host\n");
    const script = [
      "id -u; id -g; id -G; pwd; echo $GREETING; hostname; cat /proc/sys/kernel/domainname; umask",
      "cat /proc/self/oom_score_adj; cat /proc/sys/net/ipv4/ip_forward; ulimit -n",
      "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status",
      "touch /rootfs-write 2>/dev/null && echo root-writable || echo root-read-only",
      "cat /proc/kcore 2>/dev/null | wc -c; cat /data/hello; touch /data/x 2>/dev/null && echo data-writable || echo data-read-only",
      "mkdir /tmp/x 2>&1 | grep -o 'Operation not permitted'",
    ].join("; ");
    const dir = bundle(["sh", "-c", script], (c) => {
      c.root.readonly = true;
      c.process.user = { uid: 1000, gid: 1000, additionalGids: [5], umask: 0o027 };
      c.process.cwd = "/home/app";
      c.process.env.push("GREETING=hi there");
      c.process.oomScoreAdj = 123;
      c.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 321, hard: 321 }];
      c.process.capabilities = { bounding: ["CAP_KILL", "CAP_CHOWN"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"],
        inheritable: ["CAP_KILL"], ambient: ["CAP_KILL"] };
      c.hostname = "box";
      c.domainname = "example.org";
      c.linux.sysctl = { "net.ipv4.ip_forward": "1" };
      c.mounts.push({ destination: "/data", type: "bind", source: shared, options: ["rbind", "ro"] });
      c.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid"] });
      c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }] };
    });
    const r = runc(["run", "--bundle", dir, id]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")).toEqual([
      "1000", "1000", "1000 5", "/home/app", "hi there", "box", "example.org", "0027",
      "123", "1", "321",
      "CapEff:\t0000000000000020", "CapBnd:\t0000000000000021", "NoNewPrivs:\t1", "Seccomp:\t2",
      "root-read-only", "0", "from the host", "data-read-only", "Operation not permitted", "",
    ]);
  });
});

describe("tsbox-runc exec", () => {
  it("runs a process in the container: its namespaces and cgroup, exec's flags over the container's process, its exit code", () => {
    const id = newId();
    expect(runc(["run", "--detach", "--bundle", bundle(["sleep", "1000"], (c) => { c.hostname = "execbox"; }), id]).code).toBe(0);
    const pid = state(id).pid as number;
    // No cgroup namespace in runc's default spec: /proc/self/cgroup shows the host's paths.
    const r = runc(["exec", "--env", "FOO=bar", "--cwd", "/tmp", "--user", "1000:1000", id,
      "sh", "-c", `echo $FOO; pwd; id -u; id -g; hostname; echo $$; grep -c :/tsbox/runc/${id}$ /proc/self/cgroup; exit 7`]);
    expect(r.stderr).toBe("");
    const lines = r.stdout.split("\n");
    expect(r.code).toBe(7);
    expect(lines.slice(0, 5)).toEqual(["bar", "/tmp", "1000", "1000", "execbox"]);
    // In the container's PID namespace (its init is 1), and in its cgroup in every hierarchy.
    expect(Number(lines[5])).toBeGreaterThan(1);
    expect(Number(lines[6])).toBe(cgroupDirs("tsbox/runc", id).length);

    const file = join(work, `${id}-process.json`);
    writeFileSync(file, JSON.stringify({ user: { uid: 65534, gid: 65534 }, args: ["sh", "-c", "id -u; echo $X; ulimit -n"],
      env: ["X=from-file", "PATH=/bin"], cwd: "/", rlimits: [{ type: "RLIMIT_NOFILE", soft: 77, hard: 77 }] }));
    expect(runc(["exec", "--process", file, id])).toMatchObject({ code: 0, stdout: "65534\nfrom-file\n77\n" });

    // exec's own failures exit 255 (runc's "exec failed: …"); the process's exit 1 stays 1.
    expect(runc(["exec", id, "false"]).code).toBe(1);
    const missing = runc(["exec", id, "nope"]);
    expect(missing.code).toBe(255);
    expect(missing.stderr).toContain('exec failed: exec: \\"nope\\": executable file not found in $PATH');
    const badPidFile = runc(["exec", "--pid-file", "/non-existent/directory", id, "true"]);
    expect(badPidFile.code).toBe(255);
    expect(badPidFile.stderr).toContain("exec failed: writing the pid file /non-existent/directory");
    expect(runc(["exec", "no-such-container", "true"])).toMatchObject({ code: 255 });
    expect(runc(["delete", "--force", id]).code).toBe(0);
    expectGone(id, pid);
  });

  it("--detach --pid-file: the process outlives tsbox-runc, in the container's cgroup, and goes with the container", () => {
    const id = newId();
    expect(runc(["run", "--detach", "--bundle", bundle(["sleep", "1000"]), id]).code).toBe(0);
    const pid = state(id).pid as number;
    const pidFile = join(work, `${id}-exec.pid`);
    const r = runc(["exec", "--detach", "--pid-file", pidFile, id, "sleep", "999"]);
    expect(r.code, r.stderr).toBe(0);
    const exec = Number(readFileSync(pidFile, "utf8"));
    expect(alive(exec)).toBe(true);
    // The exec trampoline may still be between its own start and the command's execve.
    for (let i = 0; i < 100 && readFileSync(`/proc/${exec}/cmdline`, "utf8").startsWith("tsbox-exec"); i++) spawnSync("sleep", ["0.02"]);
    expect(readFileSync(`/proc/${exec}/cmdline`, "utf8")).toBe("sleep\u0000999\u0000");
    expect(readlinkSync(`/proc/${exec}/ns/pid`)).toBe(readlinkSync(`/proc/${pid}/ns/pid`));
    for (const d of cgroupDirs("tsbox/runc", id)) expect(readFileSync(join(d, "cgroup.procs"), "utf8")).toContain(String(exec));
    expect(runc(["delete", "--force", id]).code).toBe(0);
    expectGone(id, pid);
    expect(alive(exec)).toBe(false);
  });

  it("reaches the cwd as root first (runc's order): a directory only root may enter, or only the process's user", () => {
    const id = newId();
    const rootOnly = join(rootfs, `cwd-root-${id}`);
    const userOnly = join(rootfs, `cwd-user-${id}`);
    mkdirSync(rootOnly, { mode: 0o700 });
    mkdirSync(userOnly, { mode: 0o700 });
    try {
      spawnSync("chown", ["42:42", userOnly]);
      // User 42 cannot enter rootOnly, but the cwd is reached before the user switch.
      const r = runc(["run", "--bundle", bundle(["sh", "-c", "pwd; id -u"], (c) => {
        c.process.cwd = `/cwd-root-${id}`;
        c.process.user = { uid: 42, gid: 42 };
      }), id]);
      expect(r).toMatchObject({ code: 0, stdout: `/cwd-root-${id}\n42\n` });
      // Root without CAP_DAC_OVERRIDE (runc's default capabilities) exec'ing into user 42's directory.
      const id2 = newId();
      expect(runc(["run", "--detach", "--bundle", bundle(["sleep", "1000"], (c) => {
        c.process.cwd = `/cwd-user-${id}`;
        c.process.user = { uid: 42, gid: 42 };
      }), id2]).code).toBe(0);
      const pid = state(id2).pid as number;
      expect(runc(["exec", "--user", "0", id2, "pwd"])).toMatchObject({ code: 0, stdout: `/cwd-user-${id}\n` });
      // A missing cwd still fails with the kernel's reason.
      const missing = runc(["exec", "--cwd", "/nonexistent-cwd", "--user", "0", id2, "true"]);
      expect(missing.code).toBe(255);
      expect(missing.stderr).toContain("chdir /nonexistent-cwd: No such file or directory");
      expect(runc(["delete", "--force", id2]).code).toBe(0);
      expectGone(id2, pid);
    } finally {
      rmdirSync(rootOnly);
      rmdirSync(userOnly);
    }
  });

  it("refuses a stopped container", async () => {
    const id = newId();
    expect(runc(["create", "--bundle", bundle(["true"]), id]).code).toBe(0);
    expect(runc(["start", id]).code).toBe(0);
    await until(() => state(id).status === "stopped" || undefined, "the container to stop");
    const r = runc(["exec", id, "true"]);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain("exec failed: cannot exec in a stopped container");
    expect(runc(["delete", id]).code).toBe(0);
  });

  it("refuses a paused container; --ignore-paused runs the process once the container is resumed", async () => {
    const id = newId();
    expect(runc(["run", "--detach", "--bundle", bundle(["sleep", "1000"]), id]).code).toBe(0);
    expect(runc(["pause", id]).code).toBe(0);
    const refused = runc(["exec", id, "echo", "ok"]);
    expect(refused.code).toBe(255);
    expect(refused.stderr).toContain("cannot exec in a paused container");
    const out = join(work, `ignore-paused-${id}`);
    const fd = openSync(out, "w");
    const exec = spawn(process.execPath, ["--", RUNC, "--root", root, "exec", "--ignore-paused", id, "echo", "ok"], { stdio: ["ignore", fd, "pipe"] });
    closeSync(fd);
    const exited = new Promise<number | null>((r) => exec.on("exit", (code) => r(code)));
    // Frozen with the container: nothing until it is resumed.
    await new Promise((r) => setTimeout(r, 300));
    expect(readFileSync(out, "utf8")).toBe("");
    expect(runc(["resume", id]).code).toBe(0);
    expect(await exited).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("ok\n");
    expect(runc(["delete", "--force", id]).code).toBe(0);
  });
});

describe("tsbox-runc ps, pause, resume, update", () => {
  it("lists the container's processes, freezes and thaws them, and changes its limits", async () => {
    const id = newId();
    expect(runc(["run", "--detach", "--bundle", bundle(["sleep", "1000"]), id]).code).toBe(0);
    const pid = state(id).pid as number;
    expect(JSON.parse(runc(["ps", "--format", "json", id]).stdout)).toEqual([pid]);
    const table = runc(["ps", id, "-o", "pid,comm"]).stdout.split("\n");
    expect(table[0]!.trim()).toBe("PID COMMAND");
    expect(table.slice(1).filter(Boolean).map((l) => l.trim())).toEqual([`${pid} sleep`]);

    expect(runc(["pause", id]).code).toBe(0);
    expect(state(id).status).toBe("paused");
    await until(() => /\bState:\s+[DST]/.test(readFileSync(`/proc/${pid}/status`, "utf8")) || undefined, "the task to freeze");
    expect(runc(["resume", id]).code).toBe(0);
    expect(state(id).status).toBe("running");
    const again = runc(["resume", id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("container not paused");

    const memory = cgroupDirs("tsbox/runc", id).find((d) => existsSync(join(d, "memory.limit_in_bytes")) || existsSync(join(d, "memory.max")));
    const pids = cgroupDirs("tsbox/runc", id).find((d) => existsSync(join(d, "pids.max")));
    const file = join(work, `${id}-resources.json`);
    writeFileSync(file, JSON.stringify({ memory: { limit: 100 << 20 }, pids: { limit: 50 } }));
    expect(runc(["update", "--resources", file, id]).code).toBe(0);
    const limit = (): string => readFileSync(join(memory!, existsSync(join(memory!, "memory.max")) ? "memory.max" : "memory.limit_in_bytes"), "utf8").trim();
    expect(limit()).toBe(String(100 << 20));
    expect(readFileSync(join(pids!, "pids.max"), "utf8").trim()).toBe("50");
    // runc's flags win over --resources.
    const r = runc(["update", "--resources", file, "--pids-limit", "60", "--memory", "200m", id]);
    expect(r.code, r.stderr).toBe(0);
    expect(limit()).toBe(String(200 << 20));
    expect(readFileSync(join(pids!, "pids.max"), "utf8").trim()).toBe("60");
    expect(JSON.parse(readFileSync(join(root, id, "config.json"), "utf8")).linux.resources.pids).toEqual({ limit: 60 });
    // A limit given alone is set with the recorded ones (v1: a swap limit needs the memory limit).
    const swapFile = ["memory.memsw.limit_in_bytes", "memory.swap.max"].map((f) => join(memory!, f)).find((f) => existsSync(f));
    if (swapFile !== undefined) {
      const swap = runc(["update", "--memory-swap", "300m", id]);
      expect(swap.code, swap.stderr).toBe(0);
      // v2's memory.swap.max is the swap alone, v1's memsw the sum.
      expect(readFileSync(swapFile, "utf8").trim()).toBe(String(swapFile.endsWith("swap.max") ? 100 << 20 : 300 << 20));
      // --memory -1 without a swap limit lifts both, as runc does.
      expect(runc(["update", "--memory", "-1", id]).code).toBe(0);
      expect(limit()).toMatch(/^(max|\d{16,})$/);
    }

    expect(runc(["delete", "--force", id]).code).toBe(0);
    expectGone(id, pid);
  });

  it("events: one stats reading with --stats; the stream ends when the container stops", () => {
    const id = newId();
    // Runs until told to stop: once the stream has written a line (no timing assumed: the v2 guest is slow).
    const stop = `/tmp/stop-${id}`;
    expect(runc(["run", "--detach", "--bundle", bundle(["sh", "-c", `until [ -e ${stop} ]; do sleep 0.1; done`]), id]).code).toBe(0);
    const once = runc(["events", "--stats", id]);
    expect(once.code, once.stderr).toBe(0);
    const e = JSON.parse(once.stdout) as { type: string; id: string; data: { pids: { current: number }; memory: { usage: { usage: number } } } };
    expect(e).toMatchObject({ type: "stats", id });
    expect(e.data.pids.current).toBeGreaterThanOrEqual(1);
    expect(e.data.memory.usage.usage).toBeGreaterThan(0);
    const out = join(work, `events-${id}`);
    writeFileSync(out, "");
    const stopper = spawn("sh", ["-c", `until [ -s ${out} ]; do sleep 0.1; done; touch ${join(rootfs, stop)}`], { stdio: "ignore" });
    const fd = openSync(out, "a");
    const stream = spawnSync(process.execPath, ["--", RUNC, "--root", root, "events", "--interval", "200ms", id], { stdio: ["ignore", fd, "pipe"], timeout: 120_000 });
    closeSync(fd);
    stopper.kill();
    rmSync(join(rootfs, stop), { force: true });
    expect(stream.status, String(stream.stderr)).toBe(0);
    const lines = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.type === "stats")).toBe(true);
    expect(runc(["delete", id]).code).toBe(0);
  });

  it("deletes a paused container with --force", () => {
    const id = newId();
    expect(runc(["run", "--detach", "--bundle", bundle(["sleep", "1000"]), id]).code).toBe(0);
    const pid = state(id).pid as number;
    expect(runc(["pause", id]).code).toBe(0);
    expect(runc(["delete", id]).stderr).toContain("that is not stopped: paused");
    expect(runc(["delete", "--force", id]).code).toBe(0);
    expectGone(id, pid);
  });
});

/**
 * An engine's console socket (containerd's, conmon's): receives the pty master
 * by SCM_RIGHTS (Node's net cannot), writes `input` to it and records what the
 * container's terminal shows until it closes. Python's socket.recv_fds.
 */
const CONSOLE_RECEIVER = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
open(sys.argv[1] + ".ready", "w").close()
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 1024, 1)
out = open(sys.argv[2], "wb")
out.write(b"name " + msg + b"\\n"); out.flush()
os.write(fds[0], sys.argv[3].encode())
while True:
    try:
        b = os.read(fds[0], 4096)
    except OSError:
        break
    if not b: break
    out.write(b); out.flush()
out.write(b"<closed>"); out.close()
`;

function consoleSocket(name: string, input: string): { socket: string; output: string } {
  const socket = join(work, `${name}.sock`);
  const output = join(work, `${name}.tty`);
  const script = join(work, "console-receiver.py");
  writeFileSync(script, CONSOLE_RECEIVER);
  spawn("python3", [script, socket, output, input], { stdio: "ignore", detached: true }).unref();
  return { socket, output };
}

describe("terminals: --console-socket", () => {
  it("create sends the container's pty master to the engine's socket; the command runs on that terminal", async () => {
    const id = newId();
    const { socket, output } = consoleSocket(id, "hello\n");
    await until(() => existsSync(`${socket}.ready`) || undefined, "the console socket");
    const dir = bundle(["sh", "-c", "tty; stty size; read x; echo got $x"], (c) => {
      c.process.terminal = true;
      c.process.consoleSize = { height: 30, width: 100 };
    });
    expect(runc(["create", "--bundle", dir, id]).stderr).toContain("cannot allocate tty if runc will detach without setting console socket");
    const created = runc(["create", "--bundle", dir, "--console-socket", socket, id]);
    expect(created.code, created.stderr).toBe(0);
    expect(runc(["start", id]).code).toBe(0);
    const shown = await until(() => {
      const t = existsSync(output) ? readFileSync(output, "utf8") : "";
      return t.includes("<closed>") ? t : undefined;
    }, "the terminal to close");
    expect(shown.replaceAll("\r", "")).toBe("name /dev/ptmx\nhello\n/dev/pts/0\n30 100\ngot hello\n<closed>");
    expect(runc(["delete", id]).code).toBe(0);
    expectGone(id, 0);
  });

  it("exec --tty --console-socket: the exec'd process gets a terminal of the container's devpts", async () => {
    const id = newId();
    expect(runc(["run", "--detach", "--bundle", bundle(["sleep", "1000"]), id]).code).toBe(0);
    const pid = state(id).pid as number;
    const { socket, output } = consoleSocket(`${id}-exec`, "x\n");
    await until(() => existsSync(`${socket}.ready`) || undefined, "the console socket");
    const r = runc(["exec", "--tty", "--detach", "--console-socket", socket, id, "sh", "-c", "tty; read y; echo y=$y"]);
    expect(r.code, r.stderr).toBe(0);
    const shown = await until(() => {
      const t = existsSync(output) ? readFileSync(output, "utf8") : "";
      return t.includes("<closed>") ? t : undefined;
    }, "the terminal to close");
    // The terminal echoes the input whenever it arrives: before or after the tty line.
    expect(shown.replaceAll("\r", "").split("\n").sort()).toEqual(["/dev/pts/0", "<closed>", "name /dev/ptmx", "x", "y=x"]);
    expect(runc(["delete", "--force", id]).code).toBe(0);
    expectGone(id, pid);
  });
});

describe("recursive mount attributes", () => {
  it("rbind,rro makes the mount and every mount below it read-only (ro alone only the top); rnoexec too", () => {
    const vol = join(work, `vol-${next()}`);
    mkdirSync(vol);
    expect(spawnSync("mount", ["-t", "tmpfs", "none", vol]).status).toBe(0);
    try {
      mkdirSync(join(vol, "sub"));
      expect(spawnSync("mount", ["-t", "tmpfs", "none", join(vol, "sub")]).status).toBe(0);
      const touch = "touch /mnt/top 2>&1; echo top=$?; touch /mnt/sub/x 2>&1; echo sub=$?";
      const run = (options: string[], script = touch): Result => runc(["run", "--bundle", bundle(["sh", "-c", script], (c) => {
        c.mounts.push({ destination: "/mnt", type: "bind", source: vol, options });
      }), newId()]);
      const ro = run(["rbind", "ro"]);
      expect(ro.code, ro.stderr).toBe(0);
      expect(ro.stdout).toMatch(/Read-only file system\ntop=1\nsub=0\n$/);
      for (const options of [["rbind", "rro"], ["rbind", "ro", "rro"]]) {
        const rro = run(options);
        expect(rro.code, rro.stderr).toBe(0);
        expect(rro.stdout.match(/Read-only file system/g)).toHaveLength(2);
        expect(rro.stdout).toMatch(/top=1\n(?:.*\n)*sub=1\n$/);
      }
      // The submount's flags as the container sees them.
      const flags = run(["rbind", "rnoexec", "rnosuid"], "grep ' /mnt/sub ' /proc/self/mountinfo");
      expect(flags.stdout).toMatch(/ \/mnt\/sub rw,nosuid,(?:nodev,)?noexec/);
      expect(mountsUnder(rootfs)).toEqual([]);
    } finally {
      spawnSync("umount", ["-R", vol]);
      rmdirSync(vol);
    }
  });
});

describe("a read-only /dev", () => {
  it("is made with its devices and links, then remounted read-only", () => {
    const r = runc(["run", "--bundle", bundle(["sh", "-c", "grep '^tmpfs /dev ' /proc/mounts; echo x > /dev/null && echo null-ok; ls /dev/fd >/dev/null && echo fd-ok; touch /dev/new 2>&1; true"], (c) => {
      for (const m of c.mounts) if (m.destination === "/dev") m.options.push("ro");
    }), newId()]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^tmpfs \/dev tmpfs ro,/);
    expect(lines.slice(1, 4)).toEqual(["null-ok", "fd-ok", "touch: /dev/new: Read-only file system"]);
    expect(mountsUnder(rootfs)).toEqual([]);
  });
});

describe("seccomp defaultErrnoRet", () => {
  it("a filter whose errno is not EPERM neither breaks tsbox's own steps (close_range) nor is lost for the process", () => {
    // An allowlist (Docker's unconditional one, with arch_prctl and clone) without close_range and mkdir: both fail with ENXIO.
    const profile = JSON.parse(readFileSync(join(REPO, "src", "oci", "seccomp", "default.json"), "utf8")) as { syscalls: Array<{ names: string[]; action: string; args?: unknown; includes?: unknown }> };
    const names = [...profile.syscalls[0]!.names, "arch_prctl", "clone", "clone3"].filter((n) => n !== "close_range" && !n.startsWith("mkdir"));
    expect(profile.syscalls[0]!.names).toContain("close_range");
    const r = runc(["run", "--bundle", bundle(["sh", "-c", "mkdir /tmp/nope 2>&1; echo ran"], (c) => {
      c.linux.seccomp = { defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 6, architectures: ["SCMP_ARCH_X86_64"],
        syscalls: [{ names, action: "SCMP_ACT_ALLOW" }] };
    }), newId()]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toBe("mkdir: can't create directory '/tmp/nope': No such device or address\nran\n");
  });
});

describe("seccomp notify (linux.seccomp.listenerPath)", () => {
  let agentBin: string;
  beforeAll(() => {
    agentBin = join(work, "seccomp-agent");
    const r = spawnSync("cc", ["-O2", "-o", agentBin, join(REPO, "test", "fixtures", "seccomp-agent.c")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
  });
  /** An agent on a fresh socket; the message it got lands in the returned file. */
  async function agent(): Promise<{ socket: string; message: string; proc: ReturnType<typeof spawn> }> {
    const n = next();
    const socket = join(work, `agent-${n}.sock`);
    const message = join(work, `agent-${n}.json`);
    const proc = spawn(agentBin, [socket, message], { stdio: "ignore" });
    await until(() => existsSync(socket) || undefined, "the agent's socket");
    return { socket, message, proc };
  }
  const notify = (socket: string, nnp: boolean) => (c: Record<string, any>): void => {
    c.process.noNewPrivileges = nnp;
    c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", listenerPath: socket, listenerMetadata: "meta",
      architectures: ["SCMP_ARCH_X86_64"], syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY" }] };
  };

  it("hands the filter's listener and the process's state to the agent, which answers the notified calls (run and exec, with and without no_new_privs)", async () => {
    for (const nnp of [false, true]) {
      const a = await agent();
      const id = newId();
      const r = runc(["run", "--bundle", bundle(["sh", "-c", "mkdir /tmp/notified; echo rc=$?"], notify(a.socket, nnp)), id]);
      expect(r.stdout).toBe("rc=1\n");
      expect(r.stderr).toContain("No medium found");
      const m = JSON.parse(readFileSync(a.message, "utf8")) as { fds: string[]; pid: number; metadata: string; state: { id: string; status: string; pid: number } };
      expect(m).toMatchObject({ fds: ["seccompFd"], metadata: "meta", state: { id, status: "creating" } });
      expect(m.pid).toBeGreaterThan(0);
      expect(m.state.pid).toBe(m.pid);
      a.proc.kill();
    }
    // exec: its own filter and listener, its state "running".
    const id = newId();
    const init = await agent();
    expect(runc(["run", "--detach", "--bundle", bundle(["sleep", "1000"], notify(init.socket, false)), id]).code).toBe(0);
    const a = await agent();
    // The exec's filter is the container's: its listenerPath names the first agent; point it at the second.
    const config = join(root, id, "config.json");
    const spec = JSON.parse(readFileSync(config, "utf8"));
    spec.linux.seccomp.listenerPath = a.socket;
    writeFileSync(config, JSON.stringify(spec));
    const e = runc(["exec", id, "sh", "-c", "mkdir /tmp/x; echo rc=$?"]);
    expect(e.stdout).toBe("rc=1\n");
    expect(JSON.parse(readFileSync(a.message, "utf8"))).toMatchObject({ state: { id, status: "running" } });
    expect(runc(["delete", "--force", id]).code).toBe(0);
    for (const x of [init, a]) x.proc.kill();
  });

  it("refuses what cannot work, as runc: no agent listening, write notified, no listenerPath; nothing is left", () => {
    const id = newId();
    const missing = runc(["run", "--bundle", bundle(["true"], notify(join(work, "no-agent.sock"), false)), id]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("failed to connect with seccomp agent specified in the seccomp profile");
    expectGone(id, 0);
    const write = runc(["run", "--bundle", bundle(["true"], (c) => {
      notify(join(work, "no-agent.sock"), false)(c);
      c.linux.seccomp.syscalls[0].names.push("write");
    }), newId()]);
    expect(write.stderr).toContain("SCMP_ACT_NOTIFY cannot be used for the write syscall");
    const unset = runc(["run", "--bundle", bundle(["true"], (c) => { notify("", false)(c); }), newId()]);
    expect(unset.stderr).toContain("SCMP_ACT_NOTIFY needs listenerPath");
  });
});

describe("--preserve-fds", () => {
  /** tsbox-runc with `fd3` as its fd 3 (and nothing else beyond 0-2), its stdout returned. */
  const withFd3 = (args: string[], fd3: string): Result => {
    const out = join(work, `pf-out-${next()}`);
    const fds = [openSync(out, "w+"), openSync(fd3, "r")] as const;
    let r: ReturnType<typeof spawnSync>;
    try {
      r = spawnSync(process.execPath, ["--", RUNC, "--root", root, ...args], { stdio: ["ignore", fds[0], "pipe", fds[1]], encoding: "utf8", timeout: 60_000 });
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    const result = { code: r.status ?? 137, stdout: readFileSync(out, "utf8"), stderr: String(r.stderr) };
    rmSync(out);
    return result;
  };

  it("create --preserve-fds N and exec --preserve-fds N pass fds 3..3+N-1 into the container; without, none", () => {
    const file = join(work, `pf-${next()}`);
    writeFileSync(file, "from fd 3\n");
    const id = newId();
    const r = withFd3(["run", "--preserve-fds", "1", "--bundle", bundle(["sh", "-c", "cat <&3; readlink /proc/self/fd/4 || echo no-fd-4"]), id], file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("from fd 3\nno-fd-4\n");
    // Without the flag the fd stays out.
    const none = withFd3(["run", "--bundle", bundle(["sh", "-c", "cat <&3 2>/dev/null || echo no-fd-3"]), newId()], file);
    expect(none.stdout).toBe("no-fd-3\n");

    const id2 = newId();
    expect(runc(["run", "--detach", "--bundle", bundle(["sleep", "1000"]), id2]).code).toBe(0);
    const pid = state(id2).pid as number;
    const e = withFd3(["exec", "--preserve-fds", "1", id2, "sh", "-c", "cat <&3"], file);
    expect(e).toMatchObject({ code: 0, stdout: "from fd 3\n" });
    expect(withFd3(["exec", id2, "sh", "-c", "cat <&3 2>/dev/null || echo no-fd-3"], file).stdout).toBe("no-fd-3\n");
    expect(runc(["delete", "--force", id2]).code).toBe(0);
    expectGone(id2, pid);
  });
});

describe("/proc bound from the host", () => {
  it("a procfs may be bound over /proc (host PID namespace, as runc's isProc); any other bind there is refused", () => {
    const procBind = (source: string) => bundle(["sh", "-c", "readlink /proc/self/ns/pid; test -d /proc/1"], (c) => {
      c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== "pid");
      c.mounts = c.mounts.map((m: { type: string }) => (m.type === "proc"
        ? { destination: "/proc", type: "none", source, options: ["rbind", "nosuid", "nodev", "noexec"] } : m));
    });
    const r = runc(["run", "--bundle", procBind("/proc"), newId()]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout.trim()).toBe(readlinkSync("/proc/self/ns/pid"));
    const refused = runc(["run", "--bundle", procBind(work), newId()]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("cannot be mounted because it is not of type proc");
    expect(mountsUnder(rootfs)).toEqual([]);
  });
});

describe("terminals: owner", () => {
  const shownOn = (output: string): Promise<string> => until(() => {
    const t = existsSync(output) ? readFileSync(output, "utf8") : "";
    return t.includes("<closed>") ? t.replaceAll("\r", "") : undefined;
  }, "the terminal to close");

  it("the process's user owns its terminal (group: devpts's tty group), for run and exec; a process.json without user is root's", async () => {
    const id = newId();
    const { socket, output } = consoleSocket(id, "");
    await until(() => existsSync(`${socket}.ready`) || undefined, "the console socket");
    const dir = bundle(["sh", "-c", "stat -c %u:%g $(tty); sleep 1000"], (c) => {
      c.process.terminal = true;
      c.process.user = { uid: 1000, gid: 100 };
    });
    const r = runc(["run", "--detach", "--console-socket", socket, "--bundle", dir, id]);
    expect(r.code, r.stderr).toBe(0);
    const pid = state(id).pid as number;
    await until(() => (existsSync(output) && readFileSync(output, "utf8").includes(":5")) || undefined, "the owner line");
    expect(readFileSync(output, "utf8").replaceAll("\r", "")).toBe("name /dev/ptmx\n1000:5\n");

    const execOut = consoleSocket(`${id}-exec`, "");
    await until(() => existsSync(`${execOut.socket}.ready`) || undefined, "the console socket");
    const e = runc(["exec", "--tty", "--detach", "--user", "1234:100", "--console-socket", execOut.socket, id, "sh", "-c", "stat -c %u:%g $(tty)"]);
    expect(e.code, e.stderr).toBe(0);
    expect(await shownOn(execOut.output)).toBe("name /dev/ptmx\n1234:5\n<closed>");

    // runc reads a missing process.user as root (Go's zero values).
    const file = join(work, `${id}-process.json`);
    writeFileSync(file, JSON.stringify({ terminal: true, args: ["sh", "-c", "id -u; id -g; stat -c %u:%g $(tty)"], cwd: "/" }));
    const rootOut = consoleSocket(`${id}-root`, "");
    await until(() => existsSync(`${rootOut.socket}.ready`) || undefined, "the console socket");
    const p = runc(["exec", "--detach", "--console-socket", rootOut.socket, "--process", file, id]);
    expect(p.code, p.stderr).toBe(0);
    expect(await shownOn(rootOut.output)).toBe("name /dev/ptmx\n0\n0\n0:5\n<closed>");
    expect(runc(["delete", "--force", id]).code).toBe(0);
    expectGone(id, pid);
  });
});

describe("hooks run by tsbox-runc", () => {
  /** A hook that records its stdin (the state) and what it sees of the container's process. */
  const recorder = (file: string, extra = ""): { path: string; args: string[]; env: string[] } => ({
    path: "/bin/sh",
    args: ["sh", "-c", `cat > ${file}; pid=$(sed 's/.*"pid":\\([0-9]*\\).*/\\1/' ${file}); `
      + `readlink /proc/$pid/ns/net >> ${file}.ns; echo "$HOOKVAR" >> ${file}.env; ${extra}`],
    env: ["HOOKVAR=set", "PATH=/usr/bin:/bin"],
  });

  it("prestart and createRuntime on the created namespaces before the command, poststart after it, poststop after delete", async () => {
    const id = newId();
    const f = (n: string): string => join(work, `${id}.${n}`);
    const dir = bundle(["sh", "-c", `echo ran > /tmp/${id}.ran; exec sleep 1000`], (c) => {
      c.hooks = { prestart: [recorder(f("prestart"))], createRuntime: [recorder(f("createRuntime"))],
        poststart: [recorder(f("poststart"))], poststop: [recorder(f("poststop"))] };
    });
    const created = runc(["create", "--bundle", dir, id]);
    expect(created.code, created.stderr).toBe(0);
    const pid = state(id).pid as number;
    for (const kind of ["prestart", "createRuntime"]) {
      const [line] = readFileSync(f(kind), "utf8").split("\n");
      expect(JSON.parse(line!)).toEqual({ ociVersion: expect.any(String), id, pid, status: "creating", bundle: dir });
      // The container's own network namespace, already there.
      expect(readFileSync(`${f(kind)}.ns`, "utf8").trim()).toBe(readlinkSync(`/proc/${pid}/ns/net`));
      expect(readFileSync(`${f(kind)}.env`, "utf8")).toBe("set\n");
    }
    expect(existsSync(join(rootfs, "tmp", `${id}.ran`))).toBe(false);
    expect(existsSync(f("poststart"))).toBe(false);
    expect(runc(["start", id]).code).toBe(0);
    expect(JSON.parse(readFileSync(f("poststart"), "utf8"))).toMatchObject({ id, pid, status: "running" });
    expect(existsSync(f("poststop"))).toBe(false);
    expect(runc(["delete", "--force", id]).code).toBe(0);
    expect(JSON.parse(readFileSync(f("poststop"), "utf8"))).toMatchObject({ id, status: "stopped" });
    expectGone(id, pid);
  });

  it("a failing or hanging prestart hook fails the create and leaves nothing; a failing poststop does not stop the delete", () => {
    const id = newId();
    const failing = bundle(["true"], (c) => { c.hooks = { prestart: [{ path: "/bin/sh", args: ["sh", "-c", "echo boom >&2; exit 3"] }] }; });
    const r = runc(["create", "--bundle", failing, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error running prestart hook #0: exit status 3, stdout: , stderr: boom");
    expectGone(id, 0);
    const hanging = bundle(["true"], (c) => { c.hooks = { createRuntime: [{ path: "/bin/sleep", args: ["sleep", "100"], timeout: 1 }] }; });
    const t = runc(["create", "--bundle", hanging, id]);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain("error running createRuntime hook #0: timeout after 1 seconds");
    expectGone(id, 0);
    const poststop = bundle(["sleep", "1000"], (c) => { c.hooks = { poststop: [{ path: "/bin/false" }] }; });
    expect(runc(["run", "--detach", "--bundle", poststop, id]).code).toBe(0);
    const pid = state(id).pid as number;
    const d = runc(["delete", "--force", id]);
    expect(d.code).toBe(0);
    expect(d.stderr).toContain("error running poststop hook #0");
    expectGone(id, pid);
  });
});

describe("createContainer and startContainer hooks, run in the container's namespaces", () => {
  it("createContainer before pivot_root (host path, cwd the rootfs), startContainer after start and before the command, each with the state on stdin", () => {
    const id = newId();
    const f = (n: string): string => join(work, `${id}.${n}`);
    const dir = bundle(["sh", "-c", `cat /tmp/${id}.started > /tmp/${id}.seen; exec sleep 1000`], (c) => {
      c.annotations = { "org.example": "x" };
      c.hooks = {
        // On the host's filesystem: the file goes to the host's work dir; what it sees of itself, from the host's /proc.
        createContainer: [{ path: "/bin/sh", args: ["sh", "-c",
          `cat > ${f("cc")}; pwd > ${f("cc.cwd")}; readlink /proc/self/ns/mnt /proc/self/ns/pid /proc/self/ns/uts > ${f("cc.ns")}; echo "$V" > ${f("cc.env")}`],
          env: ["V=hook"] }],
        // Inside the container: its busybox, its /tmp.
        startContainer: [{ path: "/bin/sh", args: ["sh", "-c", `cat > /tmp/${id}.started`] }],
      };
    });
    const created = runc(["create", "--bundle", dir, id]);
    expect(created.code, created.stderr).toBe(0);
    const pid = state(id).pid as number;
    expect(JSON.parse(readFileSync(f("cc"), "utf8"))).toEqual({
      ociVersion: expect.any(String), id, status: "creating", pid: 1, bundle: dir, annotations: { "org.example": "x" },
    });
    expect(readFileSync(f("cc.cwd"), "utf8").trim()).toBe(rootfs);
    expect(readFileSync(f("cc.ns"), "utf8").trim().split("\n"))
      .toEqual(["mnt", "pid", "uts"].map((n) => readlinkSync(`/proc/${pid}/ns/${n}`)));
    expect(readFileSync(f("cc.env"), "utf8")).toBe("hook\n");
    expect(existsSync(join(rootfs, "tmp", `${id}.started`))).toBe(false);
    expect(runc(["start", id]).code).toBe(0);
    // The command saw what the hook wrote: it ran first. (start returns once the process is
    // released; the command itself may write a little later, seconds in the emulated guest.)
    const seenFile = join(rootfs, "tmp", `${id}.seen`);
    for (let i = 0; i < 250 && !(existsSync(seenFile) && statSync(seenFile).size > 0); i++) spawnSync("sleep", ["0.02"]);
    const seen = JSON.parse(readFileSync(seenFile, "utf8")) as Record<string, unknown>;
    expect(seen).toMatchObject({ id, status: "created", pid: 1, bundle: dir });
    expect(runc(["delete", "--force", id]).code).toBe(0);
    expectGone(id, pid);
  });

  it("startContainer hooks run under the container's seccomp filter (no_new_privs: loaded before them, as runc 1.1)", () => {
    const id = newId();
    const dir = bundle(["true"], (c) => {
      expect(c.process.noNewPrivileges).toBe(true);
      c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_KILL" }] };
      c.hooks = { startContainer: [{ path: "/bin/sh", args: ["sh", "-c", "mkdir /tmp/hook-dir"] }] };
    });
    const r = runc(["run", "--bundle", dir, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error running startContainer hook #0: signal: bad system call");
    expect(existsSync(join(rootfs, "tmp", "hook-dir"))).toBe(false);
    expectGone(id, 0);
  });

  it("a failing or hanging createContainer hook fails the create; a failing startContainer hook fails the start and stops the container", () => {
    const id = newId();
    const failing = bundle(["true"], (c) => { c.hooks = { createContainer: [{ path: "/bin/sh", args: ["sh", "-c", "echo out; echo boom >&2; exit 3"] }] }; });
    const r = runc(["create", "--bundle", failing, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error running createContainer hook #0: exit status 3, stdout: out, stderr: boom");
    expectGone(id, 0);
    const missing = bundle(["true"], (c) => { c.hooks = { createContainer: [{ path: "/no/such/hook" }] }; });
    expect(runc(["create", "--bundle", missing, id]).stderr)
      .toContain("error running createContainer hook #0: fork/exec /no/such/hook: no such file or directory");
    expectGone(id, 0);
    const hanging = bundle(["true"], (c) => { c.hooks = { createContainer: [{ path: "/bin/sleep", args: ["sleep", "100"], timeout: 1 }] }; });
    const t = runc(["create", "--bundle", hanging, id]);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain("error running createContainer hook #0: timeout after 1 seconds");
    expectGone(id, 0);
    const start = bundle(["sh", "-c", `touch /tmp/${id}.ran`], (c) => {
      c.hooks = { startContainer: [{ path: "/bin/true" }, { path: "/bin/sh", args: ["sh", "-c", "echo nope >&2; exit 4"] }] };
    });
    expect(runc(["create", "--bundle", start, id]).code).toBe(0);
    const pid = state(id).pid as number;
    const s = runc(["start", id]);
    expect(s.code).toBe(1);
    expect(s.stderr).toContain("error running startContainer hook #1: exit status 4, stdout: , stderr: nope");
    expect(existsSync(join(rootfs, "tmp", `${id}.ran`))).toBe(false);
    expect(state(id).status).toBe("stopped");
    expect(runc(["delete", id]).code).toBe(0);
    expectGone(id, pid);
  });
});

describe("a pod: containers sharing namespaces by path", () => {
  it("joins the network, IPC and UTS namespaces of another container, and creates the rest", () => {
    const sandbox = newId();
    expect(runc(["create", "--bundle", bundle(["sleep", "1000"], (c) => { c.hostname = "pod"; }), sandbox]).code).toBe(0);
    const spid = state(sandbox).pid as number;
    const app = newId();
    const dir = bundle(["sleep", "1000"], (c) => {
      delete c.hostname;
      c.linux.namespaces = [{ type: "pid" }, { type: "mount" }, { type: "network", path: `/proc/${spid}/ns/net` },
        { type: "ipc", path: `/proc/${spid}/ns/ipc` }, { type: "uts", path: `/proc/${spid}/ns/uts` }];
    });
    const created = runc(["create", "--bundle", dir, app]);
    expect(created.code, created.stderr).toBe(0);
    const apid = state(app).pid as number;
    const ns = (pid: number, n: string): string => readlinkSync(`/proc/${pid}/ns/${n}`);
    for (const n of ["net", "ipc", "uts"]) expect(ns(apid, n), n).toBe(ns(spid, n));
    for (const n of ["pid_for_children", "mnt"]) expect(ns(apid, n), n).not.toBe(ns(spid, n));
    expect(ns(apid, "net")).not.toBe(ns(process.pid, "net"));
    for (const id of [app, sandbox]) expect(runc(["delete", "--force", id]).code).toBe(0);
    expectGone(app, apid);
    expectGone(sandbox, spid);
  });

  it("joins the PID namespace of another container (forked into it), in the foreground too", () => {
    const sandbox = newId();
    expect(runc(["run", "--detach", "--bundle", bundle(["sleep", "1000"]), sandbox]).code).toBe(0);
    const spid = state(sandbox).pid as number;
    const app = newId();
    const dir = bundle(["sh", "-c", "cat /proc/1/cmdline; echo; echo $$"], (c) => {
      c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) => (n.type === "pid" ? { type: "pid", path: `/proc/${spid}/ns/pid` } : n));
    });
    // The sandbox's sleep is PID 1 of the namespace the app joined; the app's shell is another process in it.
    const r = runc(["run", "--bundle", dir, app]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [init, self] = r.stdout.split("\n");
    expect(init).toBe("sleep\u00001000\u0000");
    expect(Number(self)).toBeGreaterThan(1);
    expect(existsSync(join(root, app))).toBe(false);
    expect(runc(["delete", "--force", sandbox]).code).toBe(0);
    expectGone(sandbox, spid);
  });
});

describe("the container's /sys/fs/cgroup without a cgroup namespace", () => {
  it("shows the container's own cgroup (its limits), read-only, as runc mounts it", () => {
    const id = newId();
    const pids = detectHierarchy().version === "v2" ? "/sys/fs/cgroup" : "/sys/fs/cgroup/pids";
    const dir = bundle(["sh", "-c", `cat ${pids}/pids.max; touch ${pids}/x 2>/dev/null || echo read-only`],
      (c) => { c.linux.resources.pids = { limit: 42 }; });
    const r = runc(["run", "--bundle", dir, id]);
    expect(r).toMatchObject({ code: 0, stdout: "42\nread-only\n", stderr: "" });
  });
});

describe("tsbox-runc errors, as engines read them", () => {
  it("an unknown id: one line saying it does not exist, exit 1, for every verb; delete --force of one succeeds", () => {
    for (const args of [["state", "nope"], ["start", "nope"], ["kill", "nope"], ["delete", "nope"]]) {
      const r = runc(args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr).toMatch(/^time="[^"]+" level=error msg="container with id nope does not exist"\n$/);
    }
    expect(runc(["delete", "--force", "nope"]).code).toBe(0);
  });

  it("--log-format json: the error as a JSON line with level and msg, in the --log file (stderr then gets the message)", () => {
    const r = runc(["--log-format", "json", "state", "nope"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stderr)).toMatchObject({ level: "error", msg: "container with id nope does not exist" });
    const log = join(work, "log.json");
    const l = runc(["--log", log, "--log-format", "json", "kill", "nope", "KILL"]);
    expect(l).toMatchObject({ code: 1, stderr: "container with id nope does not exist\n" });
    const lines = readFileSync(log, "utf8").trim().split("\n");
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ level: "error", msg: "container with id nope does not exist" });
  });

  it("a command that cannot be found fails the create, and leaves nothing", () => {
    const id = newId();
    const r = runc(["create", "--bundle", bundle(["/no/such/command"]), id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('exec: \\"/no/such/command\\": no such file or directory');
    expectGone(id, 0);
  });

  it("refuses what it cannot honour by name, before creating anything", () => {
    const id = newId();
    const r = runc(["create", "--bundle", bundle(["true"], (c) => { c.linux.intelRdt = { closID: "x" }; }), id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("linux.intelRdt is not supported by tsbox-runc");
    expectGone(id, 0);
    const dup = runc(["create", "--bundle", bundle(["true"]), id]);
    expect(dup.code, dup.stderr).toBe(0);
    const twice = runc(["create", "--bundle", bundle(["true"]), id]);
    expect(twice.stderr).toContain(`container with id exists: ${id}`);
    expect(runc(["delete", "--force", id]).code).toBe(0);
  });

  it("prints runc-style version lines: version, commit (of the bundle's build), spec", () => {
    const r = runc(["--version"]);
    expect(r.stdout).toMatch(/^tsbox-runc version \d+\.\d+\.\d+\ncommit: ([0-9a-f]{12}|unknown)\nspec: 1\.\d+\.\d+\n/);
  });
});

describe("a container without a mount namespace (runc's chroot)", () => {
  const noMountNs = (c: Record<string, any>): void => {
    c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== "mount");
    c.linux.maskedPaths = [];
    c.linux.readonlyPaths = [];
  };

  it("is chrooted into its root with its mounts made in the host's namespace, unmounted by delete; exec takes the same root", () => {
    const id = newId();
    expect(runc(["create", "--bundle", bundle(["sleep", "1000"], noMountNs), id]).code).toBe(0);
    const pid = state(id).pid as number;
    expect(readlinkSync(`/proc/${pid}/ns/mnt`)).toBe(readlinkSync("/proc/self/ns/mnt"));
    expect(readlinkSync(`/proc/${pid}/root`)).toBe(rootfs);
    // proc, /dev and the rest are the host's mounts now, below the rootfs.
    expect(mountsUnder(`${rootfs}/proc `).length).toBe(1);
    expect(runc(["start", id]).code).toBe(0);
    const r = runc(["exec", id, "sh", "-c", "ls /bin/busybox && readlink /proc/1/exe"]);
    expect(r).toMatchObject({ code: 0, stdout: "/bin/busybox\n/bin/busybox\n" });
    expect(runc(["delete", "--force", id]).code).toBe(0);
    expectGone(id, pid);
  });

  it("a failed create unmounts what the child mounted before it failed", () => {
    const id = newId();
    // The last mount fails, after proc, /dev and the rest were made.
    const dir = bundle(["true"], (c) => {
      noMountNs(c);
      c.mounts.push({ destination: "/mnt", type: "nosuchfs", source: "none" });
    });
    const r = runc(["create", "--bundle", dir, id]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("/mnt");
    expectGone(id, 0);
  });

  it("refuses masked paths, as runc does: they would act on the host's mounts", () => {
    const id = newId();
    const dir = bundle(["true"], (c) => { noMountNs(c); c.linux.maskedPaths = ["/proc/kcore"]; });
    const r = runc(["create", "--bundle", dir, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unable to restrict sys entries without a private MNT namespace");
    expectGone(id, 0);
  });
});
