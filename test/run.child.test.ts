// What the container's process gets from its launch, beyond namespaces: its own
// session keyring, tini as PID 1 with --init, and mount targets that can never
// land on the root, inside /proc or (for binds) /sys.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, REPO, busyboxTarball, containerIds, mountsUnder, removeRoot, rootWithBusybox, tsbox } from "./helpers.js";

let root: string;
beforeAll(() => { root = rootWithBusybox(); });
afterAll(() => { removeRoot(root); });

const probeDir = join(REPO, ".tmp", "test", "keyring-probe");
const probe = join(probeDir, "keyring-probe");

interface ProbeView { session: string; desc: string; read: string; search: string }

/** The probe's lines after a "== name" marker in the script's output. */
function section(out: string, name: string): ProbeView {
  const lines = out.split(`== ${name}\n`)[1]?.split("== ")[0] ?? "";
  const field = (k: string): string => new RegExp(`^${k} (.*)$`, "m").exec(lines)?.[1] ?? `missing ${k} in ${JSON.stringify(out)}`;
  return { session: field("SESSION"), desc: field("DESC"), read: field("READ"), search: field("SEARCH") };
}

describe("session keyring", () => {
  beforeAll(() => {
    mkdirSync(probeDir, { recursive: true });
    const tmp = `${probe}.${process.pid}`;
    const r = spawnSync("cc", ["-static", "-O2", "-o", tmp, join(REPO, "test", "fixtures", "keyring-probe.c")], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`building the keyring probe failed: ${r.stderr}`);
    spawnSync("mv", [tmp, probe]);
  });

  it("is the container's own for run, run -d and exec: the host session's keys are out of reach", () => {
    const desc = `tsbox-canary-${randomBytes(6).toString("hex")}`;
    const t = (args: string): string => `${process.execPath} -- ${CLI} --root ${root} ${args}`;
    const p = `/probe/keyring-probe "$id" ${desc}`;
    // Without the seccomp filter, which answers every keyctl with EPERM (seccomp.test.ts):
    // the keyring must be the container's own even where keyctl is allowed.
    const vol = `--security-opt seccomp=unconfined -v ${probeDir}:/probe`;
    // A fresh anonymous session keyring (keyctl session -) for the whole
    // script: the machine's own keyrings are never touched; the canary goes
    // with it (and is unlinked explicitly too).
    const script = [
      "set -u",
      `id=$(keyctl add user ${desc} secret @s)`,
      `echo "== host"; ${probe} "$id" ${desc}`,
      `echo "== run"; ${t(`run --rm ${vol} busybox ${p}`)}`,
      // The monitor's container probes as PID 1, then waits for the execs.
      `${t(`run -d --name kd ${vol} busybox sh -c "${p} >/tmp/out; touch /tmp/done; exec sleep 1000"`)} >/dev/null`,
      `echo "== detached"; ${t("exec kd sh -c 'while [ ! -e /tmp/done ]; do sleep 0.05; done; cat /tmp/out'")}`,
      `echo "== exec"; ${t(`exec kd ${p}`)}`,
      `echo "== exec2"; ${t(`exec kd ${p}`)}; ${t("rm -f kd")} >/dev/null`,
      `keyctl unlink "$id" @s >/dev/null`,
    ].join("\n");
    const r = spawnSync("keyctl", ["session", "-", "bash", "-c", script], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const host = section(r.stdout, "host");
    expect(host.read).toBe("ok"); // the probe can see a canary it may see
    expect(Number(host.search)).toBeGreaterThan(0);
    for (const name of ["run", "detached", "exec", "exec2"]) {
      const c = section(r.stdout, name);
      expect(c.session, name).not.toBe(host.session);
      expect(Number(c.session), name).toBeGreaterThan(0);
      expect(c.desc, name).toMatch(/^keyring;0;0;[0-9a-f]+;_ses\.[0-9a-f]{64}$/);
      expect(c.read, name).not.toBe("ok");
      expect(c.search, name).toMatch(/^errno/);
    }
    // exec joins its container's session keyring (runc's: the same `_ses.<id>` name, made searchable).
    expect(section(r.stdout, "exec").session).toBe(section(r.stdout, "detached").session);
    expect(section(r.stdout, "exec2").session).toBe(section(r.stdout, "detached").session);
    expect(section(r.stdout, "run").session).not.toBe(section(r.stdout, "detached").session);
    expect(containerIds(root)).toEqual([]);
  });
});

describe("--init", () => {
  const cmdline = (out: string): string[] => out.split("\0").filter((s) => s !== "");
  const hostish = /node|tsbox|\/work|\/var\/tmp|\/usr\/bin|monitor/;

  it("runs tini from a sealed memfd as PID 1, not a fork of the CLI", () => {
    const r = tsbox(root, ["run", "--rm", "--init", "busybox", "sh", "-c",
      "cat /proc/1/cmdline; echo; readlink /proc/1/exe; cat /proc/1/comm; grep -c . /proc/1/mountinfo >/dev/null; cat /proc/1/mountinfo"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(""); // no warning from tini: as PID 1 it reaps
    const [argv, exe, comm, ...mountinfo] = r.stdout.split("\n");
    expect(cmdline(argv!)).toEqual(["tini", "--", "sh", "-c", expect.stringContaining("cat /proc/1/cmdline")]);
    expect(argv).not.toMatch(hostish);
    expect(exe).toMatch(/^\/memfd:/);
    expect(comm).not.toMatch(/node|tsbox/);
    expect(mountinfo.join("\n")).not.toMatch(/tini/);
  });

  it("reaps orphaned zombies and passes the exit code and a signal death on", () => {
    // An orphan that exits is re-parented to PID 1, which must reap it.
    // Waits (at most 10 s) until the orphan's /proc entry is gone, which only its reaping does.
    const r = tsbox(root, ["run", "--rm", "--init", "busybox", "sh", "-c",
      "(true & echo $! > /tmp/orphan); p=$(cat /tmp/orphan); i=0; " +
      "while [ -e /proc/$p ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; " +
      "if [ -e /proc/$p ]; then echo zombie; else echo reaped; fi; exit 7"]);
    expect(r).toMatchObject({ code: 7, stdout: "reaped\n" });
    expect(tsbox(root, ["run", "--rm", "--init", "busybox", "sh", "-c", "kill -TERM $$"]).code).toBe(143);
    // tini forwards a signal to PID 1 (tsbox stop's SIGTERM) to the command.
    const name = `sig-${randomBytes(3).toString("hex")}`;
    expect(tsbox(root, ["run", "-d", "--init", "--name", name, "busybox", "sleep", "1000"]).code).toBe(0);
    expect(tsbox(root, ["stop", "-t", "30", name]).code).toBe(0);
    expect(tsbox(root, ["wait", name]).stdout.trim()).toBe("143");
    expect(tsbox(root, ["rm", name]).code).toBe(0);
  });

  it("is tini under the monitor (run -d) and after a restart (start)", () => {
    const name = `init-${randomBytes(3).toString("hex")}`;
    expect(tsbox(root, ["run", "-d", "--init", "--name", name, "busybox", "sh", "-c", "cat /proc/1/cmdline; echo"]).code).toBe(0);
    expect(tsbox(root, ["wait", name]).stdout.trim()).toBe("0");
    expect(tsbox(root, ["start", name]).code).toBe(0);
    expect(tsbox(root, ["wait", name]).stdout.trim()).toBe("0");
    const logs = tsbox(root, ["logs", name]).stdout;
    expect(tsbox(root, ["rm", name]).code).toBe(0);
    const runs = logs.split("\n").filter((l) => l !== "");
    expect(runs.length, logs).toBe(2);
    for (const l of runs) {
      expect(cmdline(l)).toEqual(["tini", "--", "sh", "-c", "cat /proc/1/cmdline; echo"]);
      expect(l).not.toMatch(hostish);
    }
  });

  it("without tini exits 125 naming the package", () => {
    const r = tsbox(root, ["run", "--rm", "--init", "busybox", "true"], { env: { ...process.env, TSBOX_INIT_PATH: "/nonexistent/tini" } });
    expect(r.code).toBe(125);
    expect(r.stderr.trim()).toMatch(/^tsbox: .*--init needs tini: install Debian's tini package/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    const dyn = tsbox(root, ["run", "--rm", "--init", "busybox", "true"], { env: { ...process.env, TSBOX_INIT_PATH: "/usr/bin/tini" } });
    expect(dyn.code).toBe(125);
    expect(dyn.stderr).toMatch(/not a static executable/);
  });
});

describe("mount targets", () => {
  let evilRoot: string;
  let src: string;
  beforeAll(() => {
    // busybox plus symlinks to /, /proc and /sys, as an image may ship them.
    const dir = mkdtempSync("/var/tmp/tsbox-evil-");
    try {
      const tar = join(dir, "evil.tar");
      copyFileSync(busyboxTarball(), tar);
      const links = join(dir, "links");
      mkdirSync(links);
      symlinkSync("/", join(links, "toroot"));
      symlinkSync("/proc", join(links, "toproc"));
      symlinkSync("../../sys", join(links, "tosys"));
      execFileSync("tar", ["--owner=0", "--group=0", "-C", links, "-rf", tar, "toroot", "toproc", "tosys"]);
      const r = tsbox(root, ["import", tar, "evil"]);
      if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    evilRoot = root;
    src = mkdtempSync("/var/tmp/tsbox-vol-");
    writeFileSync(join(src, "marker"), "x");
  });
  afterAll(() => { rmSync(src, { recursive: true, force: true }); });

  const refused = (image: string, target: string, message: RegExp): void => {
    const r = tsbox(evilRoot, ["run", "--rm", "-v", `${src}:${target}`, image, "true"]);
    expect(r.code, `${target}: ${r.stderr}`).toBe(125);
    expect(r.stderr.trim().split("\n"), target).toHaveLength(1);
    expect(r.stderr, target).toMatch(message);
    expect(mountsUnder(src), target).toEqual([]);
    expect(mountsUnder(evilRoot), target).toEqual([]);
    expect(containerIds(evilRoot), target).toEqual([]);
    expect(readdirSync(src), target).toEqual(["marker"]);
  };

  it("refuses / and targets inside /proc or /sys before anything is created", () => {
    refused("busybox", "/", /invalid mount config for type "bind": invalid specification: destination can't be '\/'/);
    refused("busybox", "/proc/sys", /"\/proc\/sys" cannot be mounted because it is inside \/proc/);
    refused("busybox", "/proc", /"\/proc" cannot be mounted because it is not of type proc/);
    refused("busybox", "/sys/kernel", /"\/sys\/kernel" cannot be mounted because it is inside \/sys/);
    refused("busybox", "/sys/../proc/./sys", /"\/proc\/sys" cannot be mounted because it is inside \/proc/);
  });

  it("refuses targets that reach /, /proc or /sys through a symlink in the image", () => {
    refused("evil", "/toroot", /mount destination \/toroot: resolves to the container's root/);
    refused("evil", "/toproc/sys", /\/toproc\/sys: "\/proc\/sys" cannot be mounted because it is inside \/proc/);
    refused("evil", "/toproc", /\/toproc: "\/proc" cannot be mounted because it is not of type proc/);
    refused("evil", "/toproc/newdir", /\/toproc\/newdir: "\/proc\/newdir" cannot be mounted because it is inside \/proc/);
    refused("evil", "/tosys/kernel", /\/tosys\/kernel: "\/sys\/kernel" cannot be mounted because it is inside \/sys/);
  });

  it("still mounts a symlinked target inside the root, and the few /proc files lxcfs emulates", () => {
    const r = tsbox(evilRoot, ["run", "--rm", "-v", `${src}:/toroot/data`, "-v", `${join(src, "marker")}:/proc/uptime:ro`,
      "evil", "sh", "-c", "cat /data/marker; cat /proc/uptime"]);
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: "xx" });
    expect(existsSync(join(src, "data"))).toBe(false);
    expect(mountsUnder(src)).toEqual([]);
  });
});
