// Unit tests (no root): the exec plan built from a container's spec, the
// exec'd process's user/env/caps, the wire encoding, and top's ps parsing.
import { describe, expect, it } from "vitest";
import { CLONE } from "../src/oci/build-plan.js";
import { capMask } from "../src/native/capabilities.js";
import { buildExecPlan, execEnv, joinedNamespaces } from "../src/oci/exec-plan.js";
import { encodePlan, type Op } from "../src/native/launch-plan.js";
import { execProcess, type ExecRequest } from "../src/runtime/exec.js";
import { buildSpec } from "../src/oci/specconv.js";
import { formatTop, parsePsOutput } from "../src/runtime/top.js";

const PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n";
const GROUP = "root:x:0:\nstaff:x:50:alice\nnogroup:x:65534:\nalice:x:1000:\n";
const spec = (over: Record<string, unknown> = {}) => buildSpec({ Cmd: ["/bin/sh"], Env: ["IMG=1"], WorkingDir: "/srv" }, {
  cmd: [], env: ["RUN=1"], interactive: false, tty: false, init: false, readOnly: false, privileged: false, volumes: [], tmpfs: [], ...over,
}, {
  id: "a".repeat(64), etcFiles: { hostname: "/c/hostname", hosts: "/c/hosts", resolvConf: "/c/resolv.conf" },
  hostEnv: {}, thermalThrottle: [], passwd: PASSWD, group: GROUP,
});
const req = (over: Partial<ExecRequest> = {}): ExecRequest => ({
  root: "/r", container: "c", cmd: ["ls", "-l"], interactive: false, tty: false, detach: false, env: [], ...over,
});
const etc = (name: "passwd" | "group") => (name === "passwd" ? PASSWD : GROUP);
const names = (ops: Op[]) => ops.map((o) => o.op);

describe("buildExecPlan", () => {
  it("joins every namespace of the spec, then applies the container's process settings, and execs last", () => {
    const s = spec();
    const p = buildExecPlan(s, execProcess(s, req(), {}, etc), { id: "c0ffee", pid: 4242, stdin: "null", detach: false });
    expect(p.cloneFlags).toBe(0);
    expect(names(p.ops)).toEqual(["STDIO", "JOIN", "KEYRING", "RLIMIT", "CWD", "CAPBSET", "USER", "CAPS", "CWD", "EXEC"]);
    expect(p.ops[1]).toEqual({ op: "JOIN", pid: 4242,
      namespaces: CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS | CLONE.NEWCGROUP });
    expect(p.ops[2]).toEqual({ op: "KEYRING", name: "_ses.c0ffee" });
    expect(p.ops[3]).toEqual({ op: "RLIMIT", resource: 7, soft: 1024n, hard: 524288n });
    const caps = capMask(s.process.capabilities.bounding);
    // The cwd as root first (a permission error left to the second try, as the user).
    expect(p.ops[4]).toEqual({ op: "CWD", path: "/srv", late: false });
    expect(p.ops[5]).toEqual({ op: "CAPBSET", keep: caps });
    expect(p.ops[7]).toMatchObject({ op: "CAPS", effective: caps, permitted: caps, ambient: 0n });
    expect(p.ops[8]).toEqual({ op: "CWD", path: "/srv", late: true });
    expect(p.ops[9]).toMatchObject({ op: "EXEC", path: "ls", argv: ["ls", "-l"] });
  });

  it("-t adds a PTY after JOIN (the container's devpts); -d detaches and has no PTY or stdio", () => {
    const s = spec();
    const t = buildExecPlan(s, execProcess(s, req({ tty: true }), {}, etc), { id: "c0ffee", pid: 1, stdin: "null", detach: false, tty: { rows: 24, cols: 80 } });
    expect(names(t.ops).indexOf("PTY")).toBeGreaterThan(names(t.ops).indexOf("JOIN"));
    const d = buildExecPlan(s, execProcess(s, req({ detach: true, tty: true }), {}, etc), { id: "c0ffee", pid: 1, stdin: "inherit", detach: true, tty: { rows: 24, cols: 80 } });
    expect(d.ops[0]).toEqual({ op: "STDIO", stdin: "detached" });
    expect(names(d.ops)).not.toContain("PTY");
    expect(names(d.ops).slice(-2)).toEqual(["DETACH", "EXEC"]);
  });

  it("keeps no_new_privs when the spec has it", () => {
    const s = spec();
    s.process.noNewPrivileges = true;
    const p = buildExecPlan(s, execProcess(s, req(), {}, etc), { id: "c0ffee", pid: 1, stdin: "null", detach: false });
    expect(names(p.ops).indexOf("NONEWPRIVS")).toBeGreaterThan(names(p.ops).indexOf("CAPS"));
  });

  it("encodes JOIN, DETACH, NONEWPRIVS and STDIO detached for the shim", () => {
    const enc = encodePlan({ cloneFlags: 0, ops: [
      { op: "STDIO", stdin: "detached" }, { op: "JOIN", pid: 12, namespaces: 3 }, { op: "NONEWPRIVS" }, { op: "DETACH" },
      { op: "EXEC", path: "true", argv: ["true"], env: [] },
    ] });
    expect(enc).toEqual(["tsbox-plan/1", "0", "STDIO", "detached", "JOIN", "12", "3", "NONEWPRIVS", "DETACH",
      "EXEC", "true", "1", "true", "0"]);
  });

  it("joinedNamespaces includes the user namespace only when the container has one", () => {
    const s = spec();
    expect(joinedNamespaces(s) & CLONE.NEWUSER).toBe(0);
    s.linux.namespaces.push({ type: "user" });
    expect(joinedNamespaces(s) & CLONE.NEWUSER).toBe(CLONE.NEWUSER);
  });
});

describe("execProcess", () => {
  it("the container's user, cwd and env by default", () => {
    const s = spec({ user: "alice" });
    const p = execProcess(s, req(), {}, etc);
    expect(p.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 50] });
    expect(p.cwd).toBe("/srv");
    expect(p.env).toEqual(s.process.env);
    expect(p.capabilities).toEqual(s.process.capabilities);
  });

  it("-u resolves in the container's passwd/group; a non-root user keeps only the bounding set; HOME follows", () => {
    const s = spec();
    const p = execProcess(s, req({ user: "nobody" }), {}, etc);
    expect(p.user).toEqual({ uid: 65534, gid: 65534, additionalGids: [65534] });
    expect(p.capabilities.effective).toEqual([]);
    expect(p.capabilities.permitted).toEqual([]);
    expect(p.capabilities.bounding).toEqual(s.process.capabilities.bounding);
    expect(p.env).toContain("HOME=/nonexistent");
    const root = execProcess(s, req({ user: "0:50" }), {}, etc);
    expect(root.user).toEqual({ uid: 0, gid: 50, additionalGids: [50] });
    expect(root.capabilities.effective).toEqual(s.process.capabilities.bounding);
    expect(() => execProcess(s, req({ user: "mallory" }), {}, etc)).toThrow(/unable to find user mallory/);
  });

  it("-e replaces by key, NAME alone takes the CLI's value, -w must be absolute", () => {
    const s = spec();
    const p = execProcess(s, req({ env: ["IMG=2", "NEW=x", "FROMHOST", "UNSET"], workdir: "/tmp" }), { FROMHOST: "h" }, etc);
    expect(p.env).toContain("IMG=2");
    expect(p.env).not.toContain("IMG=1");
    expect(p.env).toContain("RUN=1");
    expect(p.env).toContain("NEW=x");
    expect(p.env).toContain("FROMHOST=h");
    expect(p.env.some((e) => e.startsWith("UNSET"))).toBe(false);
    expect(p.cwd).toBe("/tmp");
    expect(() => execProcess(s, req({ workdir: "tmp" }), {}, etc)).toThrow(/needs to be an absolute path/);
    expect(() => execProcess(s, req({ env: ["=x"] }), {}, etc)).toThrow(/invalid environment variable/);
  });

  it("TERM=xterm with -t unless the container has one; -e HOME wins over -u's", () => {
    expect(execEnv(["PATH=/bin"], { env: [], tty: true })).toEqual(["PATH=/bin", "TERM=xterm"]);
    expect(execEnv(["TERM=vt100"], { env: [], tty: true })).toEqual(["TERM=vt100"]);
    expect(execEnv(["HOME=/root"], { env: ["HOME=/x"], tty: false, home: "/home/a" })).toEqual(["HOME=/x"]);
  });
});

describe("top", () => {
  const PS = [
    "UID          PID    PPID  C STIME TTY          TIME CMD",
    "root           1       0  0 04:00 ?        00:00:01 /sbin/init",
    "root        4509    4496  0 05:02 ?        00:00:00 sleep 1000",
    "root        4766    4509  0 05:02 ?        00:00:00 sh -c while true; do x; done",
    "",
  ].join("\n");

  it("keeps the container's pids and the whole command line", () => {
    const r = parsePsOutput(PS, new Set([4509, 4766]));
    expect(r.titles).toEqual(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
    expect(r.processes).toEqual([
      ["root", "4509", "4496", "0", "05:02", "?", "00:00:00", "sleep 1000"],
      ["root", "4766", "4509", "0", "05:02", "?", "00:00:00", "sh -c while true; do x; done"],
    ]);
  });

  it("needs a PID column", () => {
    expect(() => parsePsOutput("COMMAND\nsleep\n", new Set([1]))).toThrow(/Couldn't find PID field in ps output/);
  });

  it("lays out columns as docker top's tabwriter (min width 20, padding 3)", () => {
    const out = formatTop({ titles: ["PID", "COMMAND"], processes: [["12", "sleep 5"]] });
    expect(out).toBe(`${"PID".padEnd(20)}COMMAND\n${"12".padEnd(20)}sleep 5\n`);
  });
});
