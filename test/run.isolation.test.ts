// Acceptance: what a process sees inside a container (issue 2).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, statfsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grantableRlimits } from "../src/oci/rlimits.js";
import { detectHierarchy, devicesEnforced } from "../src/cgroupfs/index.js";
import { attachDeviceFilter } from "../src/native/shim.js";
import { busyboxTarball, containerIds, removeRoot, rootWithBusybox, tsbox } from "./helpers.js";

const V2 = statfsSync("/sys/fs/cgroup").type === 0x63677270; // CGROUP2_SUPER_MAGIC
// Docker's 14 capabilities; without enforced device rules (cgroup v2 where the
// BPF device filter cannot be loaded) CAP_MKNOD (bit 27) is withheld.
const ENFORCED = devicesEnforced(detectHierarchy(), attachDeviceFilter);
const DOCKER_CAPS = ENFORCED ? "00000000a80425fb" : "00000000a00425fb";

let root: string;
beforeAll(() => { root = rootWithBusybox(); });
afterAll(() => { removeRoot(root); });

const run = (args: string[], opts = {}) => tsbox(root, ["run", "--rm", ...args], opts);
const sh = (script: string, flags: string[] = []) => run([...flags, "busybox", "sh", "-c", script]);

describe("namespaces", () => {
  it("runs the command as PID 1, or as PID 1's child with --init", () => {
    expect(sh("echo $$")).toMatchObject({ code: 0, stdout: "1\n" });
    const r = sh("echo $$; cat /proc/1/comm", ["--init"]);
    expect(r.code).toBe(0);
    const [pid, comm] = r.stdout.trim().split("\n");
    expect(Number(pid)).toBeGreaterThan(1);
    expect(comm).not.toBe("sh");
  });

  it("shows only the container's processes", () => {
    const r = run(["busybox", "ps", "-o", "pid,comm"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").slice(1).map((l) => l.trim())).toEqual(["1 ps"]);
  });

  it("has its own hostname, defaulting to the short container ID", () => {
    expect(sh("hostname; cat /etc/hostname", ["--hostname", "box1"]).stdout).toBe("box1\nbox1\n");
    const r = tsbox(root, ["run", "--name", "hn", "busybox", "hostname"]);
    const id = containerIds(root).find((i) => readFileSync(join(root, "containers", i, "state.json"), "utf8").includes('"hn"'));
    expect(r.stdout.trim()).toBe(id?.slice(0, 12));
    expect(tsbox(root, ["rm", "hn"]).code).toBe(0);
  });

  it("has only the loopback interface, up, with --network none", () => {
    const r = sh("ls /sys/class/net; cat /sys/class/net/lo/operstate; cat /sys/class/net/lo/flags", ["--network", "none"]);
    const [ifaces, , flags] = r.stdout.trim().split("\n");
    expect(ifaces).toBe("lo");
    expect(Number(flags) & 1).toBe(1); // IFF_UP
  });

  it("--network none has only lo; --network host is the host's stack, name, hosts and resolvers", () => {
    expect(sh("ls /sys/class/net", ["--network", "none"]).stdout.trim()).toBe("lo");
    const host = sh("ls /sys/class/net; echo ---; hostname; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; readlink /proc/self/ns/net", ["--network", "host"]);
    expect(host.code, host.stderr).toBe(0);
    const [ifaces, name, hosts, resolv, netns] = host.stdout.split("---\n");
    const read = (f: string): string => { try { return readFileSync(f, "utf8"); } catch { return ""; } };
    expect(ifaces!.trim().split("\n").sort()).toEqual(readdirSync("/sys/class/net").sort());
    expect(name!.trim()).toBe(hostname());
    expect(hosts!.trim()).toBe(read("/etc/hosts").trim());
    expect(resolv!.trim()).toBe(read("/etc/resolv.conf").trim());
    expect(netns!.trim()).toBe(readlinkSync("/proc/self/ns/net"));
    // exec joins the container's namespaces: on the host's network, the host's.
    const id = tsbox(root, ["run", "-d", "--network", "host", "busybox", "sleep", "1000"]).stdout.trim();
    expect(tsbox(root, ["exec", id, "readlink", "/proc/self/ns/net"]).stdout.trim()).toBe(readlinkSync("/proc/self/ns/net"));
    const inspect = JSON.parse(tsbox(root, ["inspect", id]).stdout) as Array<{ HostConfig: { NetworkMode: string } }>;
    expect(inspect[0]!.HostConfig.NetworkMode).toBe("host");
    expect(tsbox(root, ["rm", "-f", id]).code).toBe(0);
  });

  it("refuses networks it does not have, by name, as one line (125)", () => {
    for (const [mode, text] of [["nosuchnet", "network nosuchnet not found"], ["container:nosuch", "No such container: nosuch"]] as const) {
      const r = sh("true", ["--network", mode]);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(text);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  it("has its own, empty, SysV IPC namespace", () => {
    const key = execFileSync("ipcmk", ["-M", "4096"], { encoding: "utf8" }).match(/(\d+)\s*$/)?.[1];
    try {
      expect(readFileSync("/proc/sysvipc/shm", "utf8").trim().split("\n").length).toBeGreaterThan(1);
      expect(sh("cat /proc/sysvipc/shm").stdout.trim().split("\n")).toHaveLength(1); // header only
    } finally {
      if (key) execFileSync("ipcrm", ["-m", key]);
    }
  });

  it("shows no host mount and no way back to the old root", () => {
    const r = sh("cat /proc/self/mountinfo");
    const points = r.stdout.trim().split("\n").map((l) => l.split(" ")[4]!);
    expect(points[0]).toBe("/");
    for (const p of points) {
      expect(p === "/" || /^\/(proc|dev|sys|etc\/(hostname|hosts|resolv\.conf))(\/|$)/.test(p), p).toBe(true);
    }
    const ls = sh("cd /..; pwd; ls; ls /");
    const [pwd, ...rest] = ls.stdout.trim().split("\n");
    expect(pwd).toBe("/");
    expect(rest.slice(0, rest.length / 2)).toEqual(rest.slice(rest.length / 2));
    expect(ls.stdout).not.toMatch(/\bwork\b|\bboot\b/);
  });

  it("leaks no host file descriptor", () => {
    expect(run(["busybox", "ls", "/proc/self/fd"]).stdout.trim().split(/\s+/)).toEqual(["0", "1", "2", "3"]);
    expect(run(["-i", "busybox", "ls", "/proc/self/fd"], { input: "" }).stdout.trim().split(/\s+/)).toEqual(["0", "1", "2", "3"]);
  });
});

describe("hardening", () => {
  it("grants Docker's 14 capabilities as bounding and effective sets", () => {
    const status = sh("grep -E '^Cap(Bnd|Eff|Prm|Inh)' /proc/self/status").stdout;
    expect(status).toContain(`CapBnd:\t${DOCKER_CAPS}`);
    expect(status).toContain(`CapEff:\t${DOCKER_CAPS}`);
    expect(status).toContain("CapInh:\t0000000000000000");
  });

  it("gives a non-root user no effective capabilities", () => {
    const status = sh("id; grep -E '^Cap(Bnd|Eff)' /proc/self/status", ["-u", "app"]).stdout;
    expect(status).toContain("uid=1000(app) gid=1000(app)");
    expect(status).toContain(`CapBnd:\t${DOCKER_CAPS}`);
    expect(status).toContain("CapEff:\t0000000000000000");
  });

  it("masks Docker's masked paths and keeps /proc/sys read-only", () => {
    // Masked only where the host kernel has them (this one has no /proc/kcore).
    const masked = ["/proc/keys", "/proc/timer_list", "/proc/kcore", "/proc/sched_debug"].filter((p) => existsSync(p));
    expect(masked.length).toBeGreaterThan(0);
    expect(readFileSync("/proc/keys", "utf8").length).toBeGreaterThan(0);
    const r = sh(`for f in ${masked.join(" ")}; do wc -c < $f; done; ls -A /sys/firmware | wc -l`);
    expect(r.stdout.trim().split(/\s+/)).toEqual([...masked.map(() => "0"), "0"]);
    const w = sh("echo 1 > /proc/sys/vm/drop_caches");
    expect(w.code).not.toBe(0);
    expect(w.stderr).toMatch(/Read-only file system/);
  });

  it("sets RLIMIT_NOFILE as Docker does (1024:524288, capped where tsbox may not raise it)", () => {
    const [want] = grantableRlimits([{ type: "RLIMIT_NOFILE", soft: 1024, hard: 524288 }]);
    expect(sh("ulimit -n; ulimit -Hn").stdout).toBe(`${want!.soft}\n${want!.hard}\n`);
  });

  it("provides Docker's /dev", () => {
    const r = sh("ls /dev | sort | tr '\\n' ' '; echo; stat -c '%t:%T %a' /dev/null /dev/tty; ls -A /dev/pts");
    expect(r.stdout.split("\n")[0]).toBe("core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero ");
    expect(r.stdout).toContain("1:3 666\n5:0 666");
    const mounts = sh("grep -E ' /(dev|sys|proc)' /proc/self/mountinfo").stdout;
    expect(mounts).toMatch(/ \/sys ro,nosuid,nodev,noexec/);
    expect(mounts).toMatch(V2 ? / \/sys\/fs\/cgroup ro,.* - cgroup2 / : / \/sys\/fs\/cgroup\/memory ro,/);
    expect(mounts).toMatch(/ \/dev\/pts rw,nosuid,noexec.* - devpts devpts rw.*gid=5,mode=620,ptmxmode=666/);
    expect(mounts).toMatch(/ \/proc rw,nosuid,nodev,noexec/);
  });

  it("refuses device access outside Docker's allow list", () => {
    const r = sh("mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Operation not permitted/);
  });

  it.skipIf(!ENFORCED)("with enforced rules (v1 devices cgroup / v2 BPF filter): mknod works as in Docker, opening the node does not", () => {
    const r = sh("mknod /tmp/sda b 8 0 && echo mknod-ok; head -c 1 /tmp/sda; mknod /tmp/fuse c 10 229 && head -c 1 /tmp/fuse; echo ok > /dev/null && echo null-ok");
    expect(r.stdout).toBe("mknod-ok\nnull-ok\n");
    expect(r.stderr).toMatch(/\/tmp\/sda.*Operation not permitted/);
    expect(r.stderr).toMatch(/\/tmp\/fuse.*Operation not permitted/);
  });
});

describe("copy-on-write root", () => {
  function layerHash(): string {
    const h = createHash("sha256");
    const walk = (d: string): void => {
      for (const n of readdirSync(d).sort()) {
        const p = join(d, n);
        const st = lstatSync(p);
        h.update(`${p} ${st.mode} ${st.uid} ${st.size} ${st.mtimeMs}\n`);
        if (st.isDirectory()) walk(p);
        else if (st.isFile()) h.update(readFileSync(p));
      }
    };
    walk(join(root, "layers"));
    return h.digest("hex");
  }

  it("writes only to the container's upper dir; layers stay byte-identical; containers don't share writes", () => {
    const before = layerHash();
    const r = tsbox(root, ["run", "--name", "w1", "busybox", "sh", "-c", "echo hello > /newfile && rm /bin/true && echo x >> /etc/passwd"]);
    expect(r.code).toBe(0);
    const id = containerIds(root).find((i) => readFileSync(join(root, "containers", i, "state.json"), "utf8").includes('"w1"'))!;
    const upper = join(root, "containers", id, "upper");
    expect(readFileSync(join(upper, "newfile"), "utf8")).toBe("hello\n");
    expect(lstatSync(join(upper, "bin", "true")).isCharacterDevice()).toBe(true); // whiteout
    expect(layerHash()).toBe(before);
    const other = sh("cat /newfile; ls /bin/true; tail -c 2 /etc/passwd | od -c | head -1");
    expect(other.stdout).not.toContain("hello");
    expect(other.stdout).toContain("/bin/true");
    expect(tsbox(root, ["rm", "w1"]).code).toBe(0);
    expect(existsSync(join(root, "containers", id))).toBe(false);
  });

  it("resolves mount destinations inside the root: an image's symlink cannot point a mount out", () => {
    // An image whose /escape is a symlink climbing out, and /abs one to an absolute
    // path that exists on the host too: resolved on the host, mounts would land there.
    const dir = mkdtempSync("/var/tmp/tsbox-esc-");
    try {
      const tar = join(dir, "evil.tar");
      copyFileSync(busyboxTarball(), tar);
      symlinkSync("../../../../../../tmp", join(dir, "escape"));
      symlinkSync("/tmp", join(dir, "abs"));
      execFileSync("tar", ["-rf", tar, "-C", dir, "escape", "abs"]);
      expect(tsbox(root, ["import", tar, "evil"]).code).toBe(0);
      const src = join(dir, "src");
      mkdirSync(src);
      writeFileSync(join(src, "secret"), "host file\n");
      const r = run(["-v", `${src}:/escape/mnt`, "--tmpfs", "/abs/t", "evil", "sh", "-c",
        "cat /escape/mnt/secret && ls -d /tmp/mnt && touch /abs/t/x && ls /abs/t"]);
      expect(r.stdout).toBe("host file\n/tmp/mnt\nx\n");
      // nothing appeared on the host where the symlinks point
      expect(existsSync("/tmp/mnt")).toBe(false);
      expect(existsSync("/tmp/t")).toBe(false);
    } finally {
      tsbox(root, ["rmi", "evil"]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--read-only makes the root read-only, --tmpfs and -v still writable", () => {
    const r = sh("touch /x 2>&1; touch /scratch/y && echo tmpfs-ok", ["--read-only", "--tmpfs", "/scratch"]);
    expect(r.stdout).toMatch(/Read-only file system/);
    expect(r.stdout).toContain("tmpfs-ok");
  });

  it("-w with --read-only: a missing working directory is made before the root turns read-only, as Docker", () => {
    const r = sh("pwd; touch /newdir/f 2>&1", ["--read-only", "-w", "/newdir"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^\/newdir\n.*Read-only file system/s);
  });
});
