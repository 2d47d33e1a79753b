// The remaining `run` flags (issue 16, item 5): each one's effect seen from
// inside the container, inspect's HostConfig and Config fields, and Docker's
// error texts and exit codes for bad values (side by side with `docker` where
// it runs here). Nothing is left behind by a refused flag.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  busyboxTarball, cgroupDirsOf, containerIds, hex, mountsUnder, removeRoot, rootWithBusybox, sha256, tarball, tsbox,
} from "./helpers.js";

let root: string;
let dir: string;
beforeAll(() => {
  root = rootWithBusybox();
  dir = mkdtempSync(join(tmpdir(), "tsbox-host-flags-"));
});
afterAll(() => {
  removeRoot(root);
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  expect(mountsUnder(root)).toEqual([]);
  for (const id of containerIds(root)) expect(cgroupDirsOf(id)).toEqual([]);
});

const sh = (flags: string[], script: string) => tsbox(root, ["run", "--rm", ...flags, "busybox", "sh", "-c", script]);

interface Inspected { HostConfig: Record<string, unknown>; Config: Record<string, unknown> }
function inspectRun(flags: string[]): Inspected {
  const id = tsbox(root, ["create", ...flags, "busybox", "true"]).stdout.trim();
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  const out = JSON.parse(tsbox(root, ["inspect", id]).stdout) as Inspected[];
  expect(tsbox(root, ["rm", id]).code).toBe(0);
  return out[0]!;
}

describe("the flags' effect in the container", () => {
  it("--ulimit: the process's limits (-1 unlimited); nofile keeps Docker's default otherwise", () => {
    const r = sh(["--ulimit", "nofile=100:200", "--ulimit", "core=-1"], "ulimit -n; ulimit -Hn; ulimit -c");
    expect(r).toMatchObject({ code: 0, stdout: "100\n200\nunlimited\n" });
    expect(sh([], "ulimit -n").stdout).toBe("1024\n");
  });

  it("--shm-size: the size of /dev/shm (Docker's 64m by default); --ipc none: no /dev/shm", () => {
    expect(sh(["--shm-size", "10m"], "df -k /dev/shm | tail -1").stdout).toMatch(/^shm\s+10240\s/);
    expect(sh([], "df -k /dev/shm | tail -1").stdout).toMatch(/^shm\s+65536\s/);
    expect(sh(["--ipc", "none"], "grep -c ' /dev/shm ' /proc/mounts").stdout).toBe("0\n");
  });

  it("--sysctl: set in the container's namespaces, not the host's", () => {
    const host = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8");
    const flip = host.trim() === "1" ? "0" : "1";
    expect(sh(["--sysctl", `net.ipv4.ip_forward=${flip}`], "cat /proc/sys/net/ipv4/ip_forward").stdout).toBe(`${flip}\n`);
    expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8")).toBe(host);
    expect(sh(["--sysctl", "kernel.shmmax=4096"], "cat /proc/sys/kernel/shmmax").stdout).toBe("4096\n");
  });

  it("--group-add: numbers as they are, names through the image's /etc/group", () => {
    const r = sh(["--group-add", "10", "--group-add", "nogroup"], "id -G");
    expect(r.code).toBe(0);
    const gids = r.stdout.trim().split(" ");
    expect(gids).toContain("10");
    expect(gids).toContain("65534");
  });

  it("--pid host: the host's processes; --uts host: the host's name; --ipc host: the host's IPC namespace", () => {
    const pids = sh(["--pid", "host"], `test -d /proc/${process.pid} && echo sees-host`);
    expect(pids.stdout).toBe("sees-host\n");
    expect(sh([], `test -d /proc/${process.pid} && echo sees-host || echo own`).stdout).toBe("own\n");
    expect(sh(["--uts", "host"], "hostname").stdout).toBe(`${hostname()}\n`);
    const hostIpc = spawnSync("readlink", ["/proc/self/ns/ipc"], { encoding: "utf8" }).stdout;
    expect(sh(["--ipc", "host"], "readlink /proc/self/ns/ipc").stdout).toBe(hostIpc);
    expect(sh([], "readlink /proc/self/ns/ipc").stdout).not.toBe(hostIpc);
  });

  it("--ipc container:NAME joins a shareable container's IPC namespace; a private one is refused", () => {
    const donor = tsbox(root, ["run", "-d", "--name", "donor", "--ipc", "shareable", "busybox", "sleep", "100000"]);
    tsbox(root, ["run", "-d", "--name", "priv", "busybox", "sleep", "100000"]);
    try {
      expect(donor.code).toBe(0);
      const theirs = tsbox(root, ["exec", "donor", "readlink", "/proc/self/ns/ipc"]).stdout;
      expect(theirs).toMatch(/^ipc:/);
      expect(sh(["--ipc", "container:donor"], "readlink /proc/self/ns/ipc").stdout).toBe(theirs);
      const refused = sh(["--ipc", "container:priv"], "true");
      const priv = tsbox(root, ["inspect", "-f", "{{.Id}}", "priv"]).stdout.trim();
      expect(refused).toMatchObject({
        code: 125, stderr: `tsbox: can't join IPC of container ${priv}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)\n`,
      });
    } finally {
      tsbox(root, ["rm", "-f", "donor", "priv"]);
    }
    expect(sh(["--ipc", "container:donor"], "true")).toMatchObject({ code: 125, stderr: "tsbox: No such container: donor\n" });
  });

  it("--device: the node in the container's /dev, usable as its permissions say, and no other", () => {
    const dev = "/dev/cpu_dma_latency"; // 10:259, outside Docker's default device list
    if (!existsSync(dev) || !statSync(dev).isCharacterDevice()) {
      console.warn(`run.host-flags: --device skipped: no ${dev} on this host`);
      return;
    }
    expect(sh(["--device", `${dev}:/dev/lat`], "od -An -tu4 -N4 /dev/lat >/dev/null && echo read").stdout).toBe("read\n");
    const ro = sh(["--device", `${dev}:/dev/lat:r`], "od -An -N4 /dev/lat >/dev/null && echo read; printf '\\0\\0\\0\\0' > /dev/lat || echo refused");
    expect(ro.stdout).toBe("read\nrefused\n");
    expect(ro.stderr).toMatch(/Operation not permitted/);
    expect(sh([], "test -e /dev/lat || echo absent").stdout).toBe("absent\n");
  });

  it("--device DIR: every device node under it, at the same place under the container's path (moby's DevicesFromPath)", () => {
    const dir = mkdtempSync("/var/tmp/tsbox-devdir-");
    try {
      mkdirSync(join(dir, "sub"));
      execFileSync("mknod", ["-m", "0640", join(dir, "sub", "lat"), "c", "10", "259"]); // /dev/cpu_dma_latency's numbers
      execFileSync("mknod", ["-m", "0666", join(dir, "zero"), "c", "1", "5"]);
      writeFileSync(join(dir, "plain"), "not a device\n");
      symlinkSync("/dev/null", join(dir, "link")); // not followed under a directory
      const r = sh(["--device", `${dir}:/dev/grp`], "cd /dev/grp && find . | sort && stat -c '%n %t:%T %a' sub/lat zero && head -c 3 zero | od -An -tx1");
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toBe(".\n./sub\n./sub/lat\n./zero\nsub/lat a:103 640\nzero 1:5 666\n 00 00 00\n");
      const empty = join(dir, "empty");
      mkdirSync(empty);
      expect(sh(["--device", empty], "true")).toMatchObject({
        code: 125, stderr: `tsbox: error gathering device information while adding custom device "${empty}": not a device node\n`,
      });
      // Docker makes a node outside /dev in the root filesystem; tsbox says it does not, rather than leave it out
      expect(sh(["--device", "/dev/null:/tmp/x"], "true")).toMatchObject({
        code: 125, stderr: "tsbox: device /tmp/x: a device node outside /dev is not supported\n",
      });
      const id = tsbox(root, ["create", "--device", `${dir}:/dev/grp`, "busybox", "true"]).stdout.trim();
      try {
        // inspect shows the flag as given, not each node found under it
        expect(JSON.parse(tsbox(root, ["inspect", "-f", "{{json .HostConfig.Devices}}", id]).stdout))
          .toEqual([{ PathOnHost: dir, PathInContainer: "/dev/grp", CgroupPermissions: "rwm" }]);
      } finally {
        tsbox(root, ["rm", "-f", id]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--domainname: the UTS namespace's NIS domain name; --oom-score-adj: the process's", () => {
    const r = sh(["--network", "none", "--domainname", "example.com", "--oom-score-adj", "500"], "cat /proc/sys/kernel/domainname /proc/self/oom_score_adj");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("example.com\n500\n");
    expect(sh(["--network", "none"], "cat /proc/self/oom_score_adj").stdout).toBe("0\n");
  });

  it("--stop-signal and --stop-timeout: what stop sends first, and how long it waits", () => {
    const id = tsbox(root, ["run", "-d", "--stop-signal", "USR1", "--stop-timeout", "30", "busybox", "sh", "-c",
      "trap 'echo got USR1; exit 0' USR1; while :; do sleep 0.1; done"]).stdout.trim();
    expect(tsbox(root, ["stop", id]).code).toBe(0);
    expect(tsbox(root, ["logs", id]).stdout).toBe("got USR1\n");
    expect(tsbox(root, ["wait", id]).stdout).toBe("0\n");
    // stop -s and restart -s send their own signal instead; a bad one is refused before anything is sent
    expect(tsbox(root, ["start", id]).code).toBe(0);
    expect(tsbox(root, ["stop", "-s", "BOGUS", id])).toMatchObject({ code: 1, stderr: "tsbox: Invalid signal: BOGUS\n" });
    expect(tsbox(root, ["restart", "-s", "USR2", "--timeout", "1", id]).code).toBe(0);
    expect(tsbox(root, ["stop", "--signal", "KILL", "--time", "1", id]).code).toBe(0);
    expect(tsbox(root, ["wait", id]).stdout).toBe("137\n");
    expect(tsbox(root, ["logs", id]).stdout).toBe("got USR1\n");
    tsbox(root, ["rm", id]);
  });

  it("--cidfile: the ID written once the container exists; an existing file refused with nothing made", () => {
    const file = join(dir, "cid");
    const r = tsbox(root, ["run", "-d", "--cidfile", file, "busybox", "sleep", "100000"]);
    expect(readFileSync(file, "utf8")).toBe(r.stdout.trim());
    const before = containerIds(root);
    const again = tsbox(root, ["run", "--rm", "--cidfile", file, "busybox", "true"]);
    expect(again).toMatchObject({
      code: 125, stderr: `tsbox: container ID file found, make sure the other container isn't running or delete ${file}\n`,
    });
    expect(containerIds(root)).toEqual(before);
    tsbox(root, ["rm", "-f", r.stdout.trim()]);
    // A run that fails takes its file away.
    rmSync(file);
    expect(tsbox(root, ["run", "--rm", "--cidfile", file, "busybox", "/nonexistent"]).code).toBe(127);
    expect(existsSync(file)).toBe(true);
    rmSync(file);
    expect(tsbox(root, ["run", "--rm", "--cidfile", file, "--group-add", "nosuchgroup", "busybox", "true"]).code).toBe(125);
    expect(existsSync(file)).toBe(false);
  });
});

describe("inspect", () => {
  it("HostConfig's and Config's fields of the flags, as Docker shows them", () => {
    writeFileSync(join(dir, "labels"), "# a comment\nfrom=file\nboth=file\n");
    const i = inspectRun([
      "--ulimit", "nofile=100:200", "--ulimit", "core=-1", "--shm-size", "10m", "--sysctl", "net.ipv4.ip_forward=1",
      "--group-add", "10", "--label-file", join(dir, "labels"), "--label", "both=flag", "-l", "bare",
      "--stop-signal", "SIGUSR1", "--stop-timeout", "5", "--pid", "host", "--ipc", "shareable", "--uts", "host",
      "--device", "/dev/null:/dev/other:r",
    ]);
    expect(i.HostConfig).toMatchObject({
      Devices: [{ PathOnHost: "/dev/null", PathInContainer: "/dev/other", CgroupPermissions: "r" }],
      Ulimits: [{ Name: "core", Hard: -1, Soft: -1 }, { Name: "nofile", Hard: 200, Soft: 100 }],
      ShmSize: 10485760, Sysctls: { "net.ipv4.ip_forward": "1" }, GroupAdd: ["10"],
      PidMode: "host", IpcMode: "shareable", UTSMode: "host",
    });
    expect(i.Config).toMatchObject({ Labels: { from: "file", both: "flag", bare: "" }, StopSignal: "SIGUSR1", StopTimeout: 5 });

    const d = inspectRun([]);
    expect(d.HostConfig).toMatchObject({
      Devices: [], Ulimits: [], ShmSize: 67108864, GroupAdd: null, PidMode: "", IpcMode: "private", UTSMode: "",
    });
    expect(d.HostConfig.Sysctls).toBeUndefined();
    expect(d.Config.Labels).toEqual({});
    expect(d.Config.StopSignal).toBeUndefined();
    expect(d.Config.StopTimeout).toBeUndefined();
  });
});

/** Bad values, Docker's words (after its "docker: " or the flag's own prefix) and exit codes. */
const BAD: [string[], string, number][] = [
  [["--ulimit", "bogus"], `invalid argument "bogus" for "--ulimit" flag: invalid ulimit argument: bogus`, 125],
  [["--ulimit", "nofile=abc"], `invalid argument "nofile=abc" for "--ulimit" flag: strconv.ParseInt: parsing "abc": invalid syntax`, 125],
  [["--ulimit", "nofile=10:5"], `invalid argument "nofile=10:5" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: 10 > 5`, 125],
  [["--ulimit", "foo=1"], `invalid argument "foo=1" for "--ulimit" flag: invalid ulimit type: foo`, 125],
  [["--shm-size", "bogus"], `invalid argument "bogus" for "--shm-size" flag: invalid size: 'bogus'`, 125],
  [["--sysctl", "kernel.foo=1"], `invalid argument "kernel.foo=1" for "--sysctl" flag: sysctl 'kernel.foo=1' is not allowed`, 125],
  [["--label", "=x"], `invalid argument "=x" for "-l, --label" flag: invalid label '=x': empty name`, 125],
  [["--stop-timeout", "abc"], `invalid argument "abc" for "--stop-timeout" flag: strconv.ParseInt: parsing "abc": invalid syntax`, 125],
  [["--pid", "bogus"], "--pid: invalid PID mode", 125],
  [["--uts", "bogus"], "--uts: invalid UTS mode", 125],
  [["--ipc", "bogus"], "Invalid IPC mode: bogus", 125],
  [["--stop-signal", "BOGUS"], "Invalid signal: BOGUS", 125],
  [["--group-add", "nosuchgroup"], "Unable to find group nosuchgroup: no matching entries in group file", 125],
  [["--device", "/dev/null:rel"], "rel is not an absolute path", 125],
  [["--device", "/dev/null:/dev/x:bogus"], "bad mode specified: bogus", 125],
  [["--device", "/dev/nosuch"], `error gathering device information while adding custom device "/dev/nosuch": no such file or directory`, 127],
  [["-h", "foo", "--uts", "host"], "conflicting options: hostname and the UTS mode", 125],
  [["--oom-score-adj", "x"], `invalid argument "x" for "--oom-score-adj" flag: strconv.ParseInt: parsing "x": invalid syntax`, 125],
  [["--oom-score-adj", "1001"], "Invalid value 1001, range for oom score adj is [-1000, 1000]", 125],
];

describe("bad values", () => {
  it("are refused with Docker's text and exit code, leaving nothing behind", () => {
    for (const [flags, text, code] of BAD) {
      const r = tsbox(root, ["run", "--rm", ...flags, "busybox", "true"]);
      expect({ flags, code: r.code, stderr: r.stderr }).toEqual({ flags, code, stderr: `tsbox: ${text}\n` });
    }
    const host = tsbox(root, ["run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "true"]);
    expect(host).toMatchObject({ code: 125, stderr: `tsbox: sysctl "net.ipv4.ip_forward" not allowed in host network namespace\n` });
    expect(containerIds(root)).toEqual([]);
  });

  it("side by side with docker: the same texts and exit codes", () => {
    if (spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status !== 0) {
      console.warn("run.host-flags: Docker comparison skipped: `docker info` failed");
      return;
    }
    const image = "tsbox-host-flags-test:latest";
    spawnSync("docker", ["import", busyboxTarball(), image], { stdio: "ignore" });
    for (const [flags, text, code] of BAD) {
      const d = spawnSync("docker", ["run", "--rm", ...flags, image, "true"], { encoding: "utf8" });
      expect({ flags, code: d.status }).toEqual({ flags, code });
      // Docker's first line: "docker: TEXT" or the daemon's "docker: Error response from daemon: TEXT", or the flag's own.
      expect({ flags, first: d.stderr.split("\n")[0]!.replace(/^docker: (Error response from daemon: )?/, "").replace(/\.$/, "") })
        .toEqual({ flags, first: text });
    }
  });
});

describe("--platform", () => {
  /** A `docker save` archive of one image of `architecture`, named `name`. */
  async function foreignImage(name: string, architecture: string): Promise<string> {
    const layer = await tarball([[{ name: "hello", type: "file", mode: 0o644 }, "hi\n"]]);
    const config = Buffer.from(JSON.stringify({
      created: "2024-01-02T03:04:05Z", architecture, os: "linux", config: { Cmd: ["/hello"] },
      rootfs: { type: "layers", diff_ids: [sha256(layer)] },
    }));
    const file = join(dir, `${architecture}.tar`);
    writeFileSync(file, await tarball([
      [{ name: `${hex(sha256(config))}.json` }, config],
      [{ name: "layer/layer.tar" }, layer],
      [{ name: "manifest.json" }, JSON.stringify([{ Config: `${hex(sha256(config))}.json`, RepoTags: [name], Layers: ["layer/layer.tar"] }])],
    ]));
    return file;
  }

  it("takes the host's platform; warns, as Docker does, of an image of another when none was asked for", async () => {
    const host = process.arch === "arm64" ? "linux/arm64" : "linux/amd64";
    expect(tsbox(root, ["run", "--rm", "--platform", host, "busybox", "echo", "ok"])).toMatchObject({ code: 0, stdout: "ok\n", stderr: "" });
    const other = process.arch === "arm64" ? "amd64" : "arm64";
    expect(tsbox(root, ["load", "-i", await foreignImage("foreign:1", other)]).code).toBe(0);
    const c = tsbox(root, ["create", "foreign:1"]);
    expect(c.code).toBe(0);
    expect(c.stderr).toMatch(new RegExp(`^WARNING: The requested image's platform \\(linux/${other}\\) does not match the detected host platform \\(${host}(/v[1-4])?\\) and no specific platform was requested\\n$`));
    tsbox(root, ["rm", c.stdout.trim()]);
    // Asked for, the other platform's image is what was wanted: no warning.
    const asked = tsbox(root, ["create", "--platform", `linux/${other}`, "foreign:1"]);
    expect(asked).toMatchObject({ code: 0, stderr: "" });
    tsbox(root, ["rm", asked.stdout.trim()]);
  });

  it("refuses a store image of another platform than asked for when it may not pull, and a platform it cannot parse", () => {
    const other = process.arch === "arm64" ? "linux/amd64" : "linux/arm64";
    const host = process.arch === "arm64" ? "linux/arm64" : "linux/amd64";
    const r = tsbox(root, ["run", "--rm", "--pull", "never", "--platform", other, "busybox", "true"]);
    expect(r).toMatchObject({
      code: 125,
      stderr: `tsbox: image with reference busybox was found but does not match the specified platform: wanted ${other}, actual: ${host}\n`,
    });
    expect(tsbox(root, ["run", "--rm", "--platform", "bogus", "busybox", "true"])).toMatchObject({
      code: 125, stderr: `tsbox: error parsing specified platform: "bogus": unknown operating system or architecture: invalid argument\n`,
    });
    expect(containerIds(root)).toEqual([]);
  });
});
