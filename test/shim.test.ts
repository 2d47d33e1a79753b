// The native launch shim against the real kernel (runs as root): namespaces,
// exit codes, exec errors, INIT, abort, stdio pipes, PTY, creds, pivot_root.

import { spawn as spawnProcess, spawnSync } from "node:child_process";
import {
  chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, readSync,
  rmSync, rmdirSync, statSync, symlinkSync, writeFileSync, closeSync, writeSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LaunchError } from "../src/errors.js";
import type { Op, Plan } from "../src/native/launch-plan.js";
import * as shim from "../src/native/shim.js";

const CLONE = { NEWNS: 0x20000, NEWCGROUP: 0x2000000, NEWUTS: 0x4000000, NEWIPC: 0x8000000, NEWPID: 0x20000000, NEWNET: 0x40000000 };
const MS = { RDONLY: 1, BIND: 4096, REC: 16384 };
const ALL_NS = CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWNS | CLONE.NEWNET;
const REPO = resolve(import.meta.dirname, "..");
const ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"];

let tmp: string;
let rootfs: string;
let mountsBefore: string;
let fdsBefore: string[];

const ownFds = (): string[] => readdirSync("/proc/self/fd").filter((fd) => {
  try { return !readlinkSync(`/proc/self/fd/${fd}`).startsWith("/proc/"); } catch { return false; }
}).sort();
// Other test files may mount elsewhere meanwhile: look only where these tests mount.
const mountPoints = (): string => readFileSync("/proc/self/mountinfo", "utf8").split("\n")
  .filter((l) => { const mp = l.split(" ")[4] ?? ""; return mp.startsWith(tmpdir()) || ["/", "/proc", "/dev", "/dev/pts", "/sys"].includes(mp); })
  .sort().join("\n");

function sh(script: string, ops: Op[] = [], cloneFlags = 0): Plan {
  return { cloneFlags, ops: [...ops, { op: "EXEC", path: "/bin/sh", argv: ["sh", "-c", script], env: ENV }] };
}

/** spawn + start + wait; returns the exit code or the start failure. */
async function run(plan: Plan): Promise<number | { code: number; message: string }> {
  const pid = shim.spawn(plan);
  const s = shim.start(pid);
  if (!s.ok) return { code: s.code, message: s.message };
  return shim.wait(pid);
}

function isGone(pid: number): boolean {
  try { return /^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return true; }
}

/** Everything buffered on a pty master whose slave side is gone; then closes it. */
function drain(master: number): string {
  let out = "";
  const buf = Buffer.alloc(4096);
  for (;;) {
    let n = 0;
    try { n = readSync(master, buf); } catch (e) { if ((e as { code?: string }).code === "EIO") break; throw e; }
    if (n === 0) break;
    out += buf.toString("utf8", 0, n);
  }
  closeSync(master);
  return out;
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

// Runs a plan in a separate Node process whose stdio is set up as tsbox's would be.
function helperScript(): string {
  const file = join(tmp, "helper.mts");
  writeFileSync(file, `
import { writeFileSync, readFileSync } from "node:fs";
import * as shim from ${JSON.stringify(join(REPO, "src/native/shim.ts"))};
process.stdout; process.stderr; // like tsbox: Node now sets O_NONBLOCK on pipe/socket stdio
const flags = (fd: number) => parseInt(/flags:\\s+(\\d+)/.exec(readFileSync("/proc/self/fdinfo/" + fd, "utf8"))![1]!, 8);
const before = flags(1);
const pid = shim.spawn(JSON.parse(process.env.PLAN!));
if (process.env.ORPHAN) { writeFileSync(process.env.RESULT!, String(pid)); process.exit(0); }
const start = shim.start(pid);
const code = await shim.wait(pid);
writeFileSync(process.env.RESULT!, JSON.stringify({ start, code, before, after: flags(1) }));
`);
  return file;
}

beforeAll(() => {
  mountsBefore = mountPoints();
  fdsBefore = ownFds();
  tmp = mkdtempSync(join(tmpdir(), "tsbox-shim-"));
  chmodSync(tmp, 0o755);
  // A busybox rootfs for the pivot_root tests.
  rootfs = join(tmp, "rootfs");
  for (const d of ["bin", "proc", "dev", "ro", "mnt", "etc"]) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync("/bin/busybox", join(rootfs, "bin/busybox"));
  chmodSync(join(rootfs, "bin/busybox"), 0o755);
  for (const a of ["sh", "ls", "cat", "echo", "touch", "grep", "mount", "wc", "head"]) symlinkSync("busybox", join(rootfs, "bin", a));
  writeFileSync(join(tmp, "hostfile"), "from the host\n");
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  for (const t of readdirSync("/proc/self/task")) expect(readFileSync(`/proc/self/task/${t}/children`, "utf8")).toBe("");
  expect(mountPoints()).toBe(mountsBefore);
  expect(ownFds()).toEqual(fdsBefore);
});

describe("namespaces and exec", () => {
  it("runs in new pid/uts/ipc/mnt/net namespaces with only fds 0-2 inherited", async () => {
    const out = join(tmp, "ns.out");
    const plan = sh(`exec >${out}; echo $$; hostname; ls /proc/self/fd; busybox ip link show lo`, [
      { op: "STDIO", stdin: "inherit" }, { op: "PRIVATE" }, { op: "HOSTNAME", name: "boxy" }, { op: "LOUP" },
    ], ALL_NS);
    expect(await run(plan)).toBe(0);
    const [pid, name, ...rest] = readFileSync(out, "utf8").trim().split("\n");
    expect(pid).toBe("1");
    expect(name).toBe("boxy");
    expect(rest.slice(0, 4)).toEqual(["0", "1", "2", "3"]);
    expect(rest[4]).toMatch(/^\d+: lo: <LOOPBACK,UP,LOWER_UP>/);
    expect(hostname()).not.toBe("boxy");
  });

  it("passes exit codes and signals through, and the environment in", async () => {
    expect(await run(sh("exit 3"))).toBe(3);
    expect(await run(sh("kill -9 $$"))).toBe(137);
    const out = join(tmp, "env.out");
    expect(await run({ cloneFlags: 0, ops: [{ op: "EXEC", path: "sh", argv: ["sh", "-c", `echo "$FOO" >${out}`], env: ["FOO=bar baz"] }] })).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("bar baz\n");
  });

  it("reports exec failures as 127/126 with Docker's messages", async () => {
    const exec = (path: string, env = ENV): Plan => ({ cloneFlags: 0, ops: [{ op: "EXEC", path, argv: [path], env }] });
    expect(await run(exec("nope-not-here"))).toEqual({ code: 127, message: 'exec: "nope-not-here": executable file not found in $PATH' });
    expect(await run(exec("/nope/x"))).toEqual({ code: 127, message: 'exec: "/nope/x": no such file or directory' });
    const noexec = join(tmp, "noexec");
    writeFileSync(noexec, "#!/bin/sh\n", { mode: 0o644 });
    expect(await run(exec(noexec))).toEqual({ code: 126, message: `exec: "${noexec}": permission denied` });
    expect(await run(exec("noexec", [`PATH=/nonexistent:${tmp}`]))).toEqual({ code: 126, message: 'exec: "noexec": permission denied' });
    expect(await run(exec(tmp))).toEqual({ code: 126, message: `exec: "${tmp}": permission denied` });
  });

  it("fails a setup op with 125 and a message naming it", async () => {
    const r = await run(sh("exit 0", [{ op: "PRIVATE" }, { op: "MOUNT", source: "", target: "/nonexistent/tsbox", fstype: "tmpfs", flags: 0, data: "" }], CLONE.NEWNS));
    expect(r).toEqual({ code: 125, message: "mount /nonexistent/tsbox: No such file or directory" });
    expect(await run(sh("exit 0", [{ op: "CHDIR", path: "/nonexistent" }]))).toEqual({ code: 125, message: "chdir /nonexistent: No such file or directory" });
    expect(await run(sh("exit 0", [{ op: "PIVOT" }], CLONE.NEWNS))).toMatchObject({ code: 125, message: /^pivot_root: / });
  });

  it("rejects malformed plans with a LaunchError", () => {
    expect(() => shim.spawn({ cloneFlags: 0, ops: [{ op: "PRIVATE" }] })).toThrow(LaunchError);
    expect(() => shim.spawn({ cloneFlags: 0, ops: [{ op: "PRIVATE" }] })).toThrow(/EXEC must be the last op/);
    expect(() => shim.spawn(sh("true", [{ op: "PRIVATE" }, { op: "STDIO", stdin: "null" }]))).toThrow(/bad STDIO op/);
    expect(() => shim.spawn(sh("true", [], 0x100 /* CLONE_VM */))).toThrow(/bad clone flags/);
    for (const hex of ["", "0600000000", "zz00000000ff7f00"]) {
      expect(() => shim.spawn(sh("true", [{ op: "SECCOMP", flags: 0, bpf: Buffer.from(hex, "hex") }]))).toThrow(/bad SECCOMP program/);
    }
  });

  it("SECCOMP loads a BPF program; a program the kernel refuses fails the launch", async () => {
    // BPF_RET|BPF_K SECCOMP_RET_ALLOW: a filter that allows everything
    const allow = Buffer.from("060000000000ff7f", "hex");
    const out = join(tmp, "seccomp-status");
    expect(await run(sh(`grep ^Seccomp: /proc/self/status >${out}`, [{ op: "SECCOMP", flags: 0, bpf: allow }]))).toBe(0);
    expect(readFileSync(out, "utf8")).toMatch(/^Seccomp:\s+2$/m);
    const invalid = Buffer.from("ffff000000000000", "hex");
    expect(await run(sh("exit 0", [{ op: "SECCOMP", flags: 0, bpf: invalid }]))).toEqual({ code: 125, message: "load seccomp filter: Invalid argument" });
  });
});

describe("CLONEINTO (cgroup v2)", () => {
  // Here the hybrid's v2 hierarchy (no controllers), or the v2 guest's only one.
  const v2 = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"].find((m) => existsSync(join(m, "cgroup.procs")) && existsSync(join(m, "cgroup.subtree_control")));
  it.skipIf(v2 === undefined)("clones the child straight into the cgroup; a missing one fails the launch by name", async () => {
    const dir = join(v2!, `tsbox-clone-into-${process.pid}`);
    mkdirSync(dir);
    try {
      const out = join(tmp, "cgroup-of-child");
      expect(await run(sh(`grep '^0::' /proc/self/cgroup > ${out}`, [{ op: "CLONEINTO", path: dir }]))).toBe(0);
      expect(readFileSync(out, "utf8")).toBe(`0::/${dir.slice(v2!.length + 1)}\n`);
      expect(() => shim.spawn(sh("true", [{ op: "CLONEINTO", path: `${dir}-missing` }])))
        .toThrow(`clone into cgroup ${dir}-missing: No such file or directory`);
    } finally {
      rmdirSync(dir);
    }
  });
});

describe("lifecycle", () => {
  it("INIT: tini is PID 1, the app its child, signals reach it, orphans are reaped", async () => {
    const out = join(tmp, "init.out");
    // The subshell leaves an orphan that exits quickly: PID 1 must reap it.
    const pid = shim.spawn(sh(`(sleep 0.05 &); echo $$ >${out}; exec sleep 10`, [{ op: "STDIO", stdin: "null" }, { op: "INIT", path: "/usr/bin/tini-static" }], CLONE.NEWPID | CLONE.NEWNS));
    expect(shim.start(pid)).toEqual({ ok: true });
    const waiting = shim.wait(pid);
    await until(() => existsSync(out) && readFileSync(out, "utf8").endsWith("\n"));
    expect(readFileSync(out, "utf8")).toBe("2\n");
    await new Promise((r) => setTimeout(r, 200));
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/);
    expect(children).toHaveLength(1);
    expect(readFileSync(`/proc/${children[0]}/comm`, "utf8").trim()).toBe("sleep");
    process.kill(pid, "SIGTERM");
    expect(await waiting).toBe(143);
  });

  it("abort() kills and reaps a child that was never started", () => {
    const pid = shim.spawn(sh("exit 0", [], ALL_NS));
    expect(isGone(pid)).toBe(false);
    shim.abort(pid);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(() => shim.abort(pid)).not.toThrow(); // idempotent: undo paths may call it twice
  });

  it("a pending child dies with its parent", async () => {
    const result = join(tmp, "orphan.pid");
    const r = spawnSync(process.execPath, ["--import", "tsx", helperScript()], {
      cwd: REPO, env: { ...process.env, ORPHAN: "1", RESULT: result, PLAN: JSON.stringify(sh("sleep 30", [], CLONE.NEWPID)) },
    });
    expect(r.status).toBe(0);
    const pid = Number(readFileSync(result, "utf8"));
    await until(() => isGone(pid));
  });
});

describe("stdio", () => {
  const BIG = 2_000_000; // far beyond a pipe's or socket's buffer
  const producer = (stdin: "inherit" | "null"): Plan => sh(`yes 0123456789 | head -c ${BIG}`, [{ op: "STDIO", stdin }], CLONE.NEWPID);
  const intact = (s: string): boolean => s.length === BIG && /^(0123456789\n)+0123456789\n?[0-9]*$/.test(s.slice(0, BIG));

  it("a FIFO stdout (Node made it O_NONBLOCK) gets its own blocking description", () => {
    const result = join(tmp, "fifo.json");
    const out = join(tmp, "fifo.out");
    // The slow reader makes a non-blocking writer hit EAGAIN.
    const r = spawnSync("/bin/sh", ["-c", `"${process.execPath}" --import tsx "${helperScript()}" | (sleep 0.3; cat >"${out}")`], {
      cwd: REPO, env: { ...process.env, RESULT: result, PLAN: JSON.stringify(producer("null")) }, encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    const res = JSON.parse(readFileSync(result, "utf8")) as { start: unknown; code: number; before: number; after: number };
    expect(res).toMatchObject({ start: { ok: true }, code: 0 });
    expect(res.before & 0o4000).toBe(0o4000);
    expect(res.after & 0o4000).toBe(0o4000); // Node's own description untouched
    expect(intact(readFileSync(out, "utf8"))).toBe(true);
  });

  it("a socket stdout (Node's stdio 'pipe') delivers everything", async () => {
    const result = join(tmp, "sock.json");
    const child = spawnProcess(process.execPath, ["--import", "tsx", helperScript()], {
      cwd: REPO, env: { ...process.env, RESULT: result, PLAN: JSON.stringify(producer("inherit")) }, stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "", err = "";
    child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((r) => child.on("close", r));
    await new Promise((r) => setTimeout(r, 300));
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    expect(await exited).toBe(0);
    expect(err).toBe("");
    expect(JSON.parse(readFileSync(result, "utf8"))).toMatchObject({ start: { ok: true }, code: 0 });
    expect(intact(out)).toBe(true);
  });

  it("spawnWithPipes: fds 0-2 are fresh pipes (stdin only for \"inherit\"), the caller gets its ends, Node's stay its own", async () => {
    const readAll = (fd: number): string => {
      let out = "";
      const buf = Buffer.alloc(65536);
      for (let n; (n = readSync(fd, buf)) > 0;) out += buf.toString("utf8", 0, n);
      closeSync(fd);
      return out;
    };
    const links = "for f in 0 1 2; do readlink /proc/self/fd/$f; done";
    const mine = [0, 1, 2].map((fd) => readlinkSync(`/proc/self/fd/${fd}`));
    const { pid, pipes } = shim.spawnWithPipes(sh(`${links}; read x; echo got $x >&2`, [{ op: "STDIO", stdin: "inherit" }], CLONE.NEWPID));
    expect(Object.keys(pipes).sort()).toEqual(["stderr", "stdin", "stdout"]);
    expect(shim.start(pid)).toEqual({ ok: true });
    writeSync(pipes.stdin!, "hello\n");
    closeSync(pipes.stdin!);
    expect(await shim.wait(pid)).toBe(0);
    expect(readAll(pipes.stdout!)).toMatch(/^pipe:\[\d+\]\npipe:\[\d+\]\npipe:\[\d+\]\n$/);
    expect(readAll(pipes.stderr!)).toBe("got hello\n");
    expect([0, 1, 2].map((fd) => readlinkSync(`/proc/self/fd/${fd}`))).toEqual(mine);

    // "null": no stdin pipe, /dev/null instead; "detached": no pipes at all.
    const n = shim.spawnWithPipes(sh(`${links} >&2`, [{ op: "STDIO", stdin: "null" }]));
    expect(pipes.stdin).toBeDefined();
    expect(n.pipes.stdin).toBeUndefined();
    expect(shim.start(n.pid)).toEqual({ ok: true });
    expect(await shim.wait(n.pid)).toBe(0);
    closeSync(n.pipes.stdout!);
    expect(readAll(n.pipes.stderr!)).toMatch(/^\/dev\/null\npipe:\[\d+\]\npipe:\[\d+\]\n$/);
    const d = shim.spawnWithPipes(sh("exit 0", [{ op: "STDIO", stdin: "detached" }]));
    expect(d.pipes).toEqual({});
    expect(shim.start(d.pid)).toEqual({ ok: true });
    expect(await shim.wait(d.pid)).toBe(0);
  });

  it("PTY: the container gets a controlling terminal, the parent its master", async () => {
    const pid = shim.spawn(sh("tty; read x; stty size; echo got $x", [
      { op: "STDIO", stdin: "null" }, { op: "PRIVATE" },
      { op: "MOUNT", source: "devpts", target: "/dev/pts", fstype: "devpts", flags: 0, data: "newinstance,ptmxmode=0666" },
      { op: "PTY", rows: 0, cols: 0 },
    ], CLONE.NEWNS | CLONE.NEWPID));
    expect(() => shim.ptyMaster(pid)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    expect(shim.start(pid)).toEqual({ ok: true });
    const master = shim.ptyMaster(pid);
    expect(master).toBeGreaterThan(2);
    shim.setWinsize(master, 40, 100);
    writeSync(master, "hello\n");
    expect(await shim.wait(pid)).toBe(0);
    const out = drain(master);
    // "hello" is echoed whenever it is written, maybe before `tty` runs
    const lines = out.split("\r\n");
    expect(lines.filter((l) => l !== "hello")).toEqual(["/dev/pts/0", "40 100", "got hello", ""]);
    expect(lines).toContain("hello");
  });

  it("PTY + INIT: the app leads the terminal's foreground process group", async () => {
    const pid = shim.spawn(sh("read pid comm state ppid pgrp sid tty tpgid rest </proc/self/stat; echo $pid $ppid $pgrp $tpgid", [
      { op: "STDIO", stdin: "null" }, { op: "PRIVATE" },
      { op: "MOUNT", source: "devpts", target: "/dev/pts", fstype: "devpts", flags: 0, data: "newinstance,ptmxmode=0666" },
      { op: "PTY", rows: 0, cols: 0 }, { op: "INIT", path: "/usr/bin/tini-static" },
    ], CLONE.NEWNS));
    expect(shim.start(pid)).toEqual({ ok: true });
    const master = shim.ptyMaster(pid);
    expect(await shim.wait(pid)).toBe(0);
    const [app, ppid, pgrp, tpgid] = drain(master).trim().split(" ").map(Number);
    expect(ppid).toBe(pid);
    expect(pgrp).toBe(app);
    expect(tpgid).toBe(app);
  });
});

describe("credentials and limits", () => {
  it("USER, CAPBSET, CAPS, RLIMIT, UNSHARE(cgroup)", async () => {
    const out = join(tmp, "creds.out");
    writeFileSync(out, "", { mode: 0o666 });
    chmodSync(out, 0o666);
    const NET_BIND = 1n << 10n;
    const plan = sh(`{ id -u; id -g; id -G; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | tr -d '\\t'; ulimit -n; ulimit -Hn; readlink /proc/self/ns/cgroup; } >>${out}`, [
      { op: "UNSHARE", flags: CLONE.NEWCGROUP },
      { op: "RLIMIT", resource: 7, soft: 100n, hard: 200n },
      { op: "CAPBSET", keep: NET_BIND },
      { op: "USER", uid: 1000, gid: 1001, groups: [5, 6] },
      { op: "CAPS", effective: NET_BIND, permitted: NET_BIND, inheritable: NET_BIND, ambient: NET_BIND },
    ]);
    expect(await run(plan)).toBe(0);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines.slice(0, 3)).toEqual(["1000", "1001", "1001 5 6"]);
    expect(lines.slice(3, 8)).toEqual([
      "CapInh:0000000000000400", "CapPrm:0000000000000400", "CapEff:0000000000000400",
      "CapBnd:0000000000000400", "CapAmb:0000000000000400",
    ]);
    expect(lines.slice(8, 10)).toEqual(["100", "200"]);
    expect(lines[10]).not.toBe(readlinkSync("/proc/self/ns/cgroup"));
  });
});

describe("filesystem ops", () => {
  it("pivots into a rootfs and runs the mount/file ops there", async () => {
    const out = "/out";
    writeFileSync(join(rootfs, "ro/file"), "x");
    const plan: Plan = {
      cloneFlags: ALL_NS,
      ops: [
        { op: "STDIO", stdin: "null" },
        { op: "PRIVATE" },
        { op: "MOUNT", source: rootfs, target: rootfs, fstype: "", flags: MS.BIND | MS.REC, data: "" },
        { op: "OPENPATH", slot: 3, path: join(tmp, "hostfile") },
        { op: "CHDIR", path: rootfs },
        { op: "PIVOT" },
        { op: "CHECKDIR", path: "/proc" },
        { op: "MOUNT", source: "proc", target: "/proc", fstype: "proc", flags: 0, data: "" },
        { op: "MOUNT", source: "tmpfs", target: "/dev", fstype: "tmpfs", flags: 2, data: "mode=755" },
        { op: "MKNOD", path: "/dev/null", mode: 0o20666, major: 1, minor: 3 },
        { op: "SYMLINK", target: "/proc/self/fd", path: "/dev/fd" },
        { op: "MKDIR", path: "/dev/a/b/c", mode: 0o700 },
        { op: "ENSUREFILE", path: "/etc/deep/hosts" },
        { op: "BINDFD", slot: 3, target: "/etc/deep/hosts", flags: MS.RDONLY },
        { op: "MASK", path: "/proc/timer_list" },
        { op: "MASK", path: "/proc/fs" },
        { op: "MASK", path: "/proc/does-not-exist" },
        { op: "READONLY", path: "/ro" },
        { op: "READONLY", path: "/does-not-exist" },
        { op: "EXEC", path: "sh", argv: ["sh", "-c", [
          "exec >" + out + " 2>&1",
          "echo pid=$$",
          "ls /proc | grep -c '^[0-9]'",
          "ls /",
          "ls -l /dev/null | head -c 10; echo",
          "cat /etc/deep/hosts",
          "echo y >/etc/deep/hosts || echo hosts-ro",
          "touch /ro/new || echo ro-ro",
          "wc -c </proc/timer_list",
          "ls /proc/fs | wc -l",
          "ls -ld /dev/a/b/c | head -c 10; echo",
          "ls /dev/fd/ | wc -l",
        ].join("; ")], env: ["PATH=/bin"] },
      ],
    };
    expect(await run(plan)).toBe(0);
    const lines = readFileSync(join(rootfs, out), "utf8").trim().split("\n");
    expect(lines[0]).toBe("pid=1");
    expect(Number(lines[1])).toBeLessThanOrEqual(3); // sh, ls, grep: only the container's processes
    expect(lines).toContain("crw-rw-rw-");
    expect(lines).toContain("from the host");
    expect(lines).toContain("hosts-ro");
    expect(lines).toContain("ro-ro");
    expect(lines).toContain("drwx------");
    const i = lines.indexOf("ro-ro");
    expect(lines.slice(i + 1, i + 3)).toEqual(["0", "0"]); // timer_list is /dev/null, fs an empty tmpfs
    expect(lines.some((l) => /^bin\s/.test(l) || l === "bin")).toBe(true);
    expect(existsSync(join(rootfs, "ro/new"))).toBe(false);
    expect(statSync(join(rootfs, "etc/deep/hosts")).size).toBe(0);
  });

  it("refuses /proc as a symlink after PIVOT and a non-directory in CHECKDIR", async () => {
    const evil = join(tmp, "evil");
    mkdirSync(join(evil, "etc"), { recursive: true });
    symlinkSync("/etc", join(evil, "proc"));
    const pre: Op[] = [
      { op: "PRIVATE" },
      { op: "MOUNT", source: evil, target: evil, fstype: "", flags: MS.BIND | MS.REC, data: "" },
      { op: "CHDIR", path: evil },
      { op: "PIVOT" },
    ];
    const mountProc: Op = { op: "MOUNT", source: "proc", target: "/proc", fstype: "proc", flags: 0, data: "" };
    expect(await run(sh("exit 0", [...pre, mountProc], CLONE.NEWNS | CLONE.NEWPID)))
      .toEqual({ code: 125, message: "mount /proc: must be mounted on ordinary directory" });
    expect(await run(sh("exit 0", [...pre, { op: "CHECKDIR", path: "/proc" }], CLONE.NEWNS)))
      .toEqual({ code: 125, message: "check directory /proc: Not a directory" });
  });

  it("mknod, lsetxattr and lgetxattrLen on the host", () => {
    const dev = join(tmp, "whiteout");
    shim.mknod(dev, 0o20000 | 0o644, 0, 0);
    const st = statSync(dev);
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(0);
    expect(() => shim.mknod(dev, 0o20000 | 0o644, 0, 0)).toThrow(expect.objectContaining({ code: "EEXIST", path: dev }));
    const dir = join(tmp, "opaque");
    mkdirSync(dir);
    expect(() => shim.lgetxattrLen(dir, "trusted.overlay.opaque")).toThrow(expect.objectContaining({ code: "ENODATA" }));
    shim.lsetxattr(dir, "trusted.overlay.opaque", "y");
    expect(shim.lgetxattrLen(dir, "trusted.overlay.opaque")).toBe(1);
    expect(() => shim.lsetxattr(join(tmp, "missing"), "trusted.x", "1")).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });
});
