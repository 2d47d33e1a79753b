// Acceptance: --cap-add, --cap-drop and --privileged on the real kernel, what
// `exec` inherits, and what `inspect` shows (Docker's behaviour).
import { existsSync, readFileSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCapEff } from "../src/native/capabilities.js";
import { cgroupDirsOf, containerIds, mountsUnder, removeRoot, rootWithBusybox, tsbox } from "./helpers.js";

const SYS_ADMIN = 1n << 21n;
// What tsbox (root, like this test) holds: what --privileged grants, as Docker
// grants its daemon's own set. On a full root host: every bit up to cap_last_cap.
const OURS = parseCapEff(readFileSync("/proc/self/status", "utf8"))!;
const LAST_CAP = Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8"));
const hex = (m: bigint): string => m.toString(16).padStart(16, "0");

let root: string;
beforeAll(() => { root = rootWithBusybox(); });
afterAll(() => { removeRoot(root); });

const run = (args: string[]) => tsbox(root, ["run", "--rm", ...args]);
const sh = (flags: string[], script: string) => run([...flags, "busybox", "sh", "-c", script]);
const capEff = (flags: string[]): bigint => {
  const r = sh(flags, "grep CapEff /proc/self/status");
  expect(r.code, r.stderr).toBe(0);
  return parseCapEff(r.stdout)!;
};

describe("--cap-add / --cap-drop", () => {
  it("--cap-drop ALL leaves no capability in any set", () => {
    const r = sh(["--cap-drop", "ALL"], "grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status");
    expect(r.stdout).toBe("CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n");
  });

  it("--cap-add SYS_ADMIN in every spelling sets bit 21", () => {
    expect(capEff([]) & SYS_ADMIN).toBe(0n);
    for (const name of ["SYS_ADMIN", "cap_sys_admin", "CAP_SYS_ADMIN", "Sys_Admin"]) {
      expect(capEff(["--cap-add", name]) & SYS_ADMIN).toBe(SYS_ADMIN);
    }
  });

  it("with CAP_SYS_ADMIN added, the container can mount; without, it cannot", () => {
    expect(sh([], "mkdir /tmp/m && mount -t tmpfs none /tmp/m").code).not.toBe(0);
    expect(sh(["--cap-add", "SYS_ADMIN"], "mkdir /tmp/m && mount -t tmpfs none /tmp/m && grep -c ' /tmp/m tmpfs' /proc/mounts"))
      .toMatchObject({ code: 0, stdout: "1\n" });
  });

  it("--cap-drop chown: chown fails; without it, chown works", () => {
    expect(sh([], "chown 1:1 /tmp && stat -c %u /tmp")).toMatchObject({ code: 0, stdout: "1\n" });
    const r = sh(["--cap-drop", "chown"], "chown 1:1 /tmp");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Operation not permitted/);
  });

  it("--cap-drop ALL --cap-add keeps only the added", () => {
    expect(capEff(["--cap-drop", "ALL", "--cap-add", "net_raw", "--cap-add", "KILL"])).toBe((1n << 13n) | (1n << 5n));
  });

  it("an unknown capability is one line, exit 125, and leaves nothing behind", () => {
    const before = containerIds(root);
    for (const [flag, list] of [["--cap-add", "CapAdd"], ["--cap-drop", "CapDrop"]] as const) {
      const r = tsbox(root, ["run", "--name", "bogus", flag, "BOGUS", "busybox", "true"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toBe(`tsbox: invalid ${list}: unknown capability: "CAP_BOGUS"\n`);
      expect(r.stdout).toBe("");
    }
    expect(containerIds(root)).toEqual(before);
    expect(existsSync(`${root}/names/bogus`)).toBe(false);
    expect(mountsUnder(root)).toEqual([]);
  });
});

describe("--privileged", () => {
  it("grants every capability tsbox holds, in every set but inheritable and ambient", () => {
    // This test runs as tsbox does; on a full-root host that is bits 0..cap_last_cap.
    expect(OURS & ~((1n << BigInt(LAST_CAP + 1)) - 1n)).toBe(0n);
    const r = sh(["--privileged"], "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status");
    expect(r.stdout).toBe(`CapInh:\t${hex(0n)}\nCapPrm:\t${hex(OURS)}\nCapEff:\t${hex(OURS)}\nCapBnd:\t${hex(OURS)}\nCapAmb:\t${hex(0n)}\n`);
    // As Docker: --cap-drop (and --cap-add) are ignored next to --privileged.
    expect(capEff(["--privileged", "--cap-drop", "ALL"])).toBe(OURS);
  });

  it("masks nothing and makes nothing read-only in /proc", () => {
    const masked = ["/proc/interrupts", "/proc/timer_list", "/proc/sched_debug", "/proc/keys"].filter((p) => existsSync(p));
    expect(masked.length).toBeGreaterThan(0);
    const script = `for f in ${masked.join(" ")}; do wc -c < $f; done; grep -cE ' /proc/[^ ]+ ' /proc/self/mountinfo; echo 1 > /proc/sys/kernel/printk_ratelimit_burst; echo $?`;
    const plain = sh([], script).stdout.trim().split("\n");
    expect(plain.slice(0, masked.length)).toEqual(masked.map(() => "0"));
    expect(plain.at(-1)).not.toBe("0"); // /proc/sys read-only
    const priv = sh(["--privileged"], script.replace("echo 1 >", "cat /proc/sys/kernel/printk_ratelimit_burst >")).stdout.trim().split("\n");
    expect(priv.slice(0, masked.length).map(Number).every((n) => n > 0)).toBe(true);
    expect(priv.slice(masked.length)).toEqual(["0", "0"]); // no mount below /proc; /proc/sys writable
  });

  it("mounts /sys and the cgroup filesystem read-write; the container can make a cgroup", () => {
    const script = "awk '$2==\"/sys\" || $3 ~ /^cgroup/ {print $2, substr($4,1,2)}' /proc/mounts;"
      + " d=$(awk '$3 ~ /^cgroup/ {print $2; exit}' /proc/mounts); mkdir $d/probe && rmdir $d/probe && echo made";
    const plain = sh([], script).stdout;
    expect(plain).toMatch(/^\/sys ro$/m);
    expect(plain).not.toContain("made");
    const priv = sh(["--privileged"], script).stdout.trim().split("\n");
    expect(priv.at(-1)).toBe("made");
    expect(priv.slice(0, -1).length).toBeGreaterThan(1);
    expect(priv.slice(0, -1).every((l) => l.endsWith(" rw"))).toBe(true);
  });

  it("creates the host's device nodes, and every device may be opened", () => {
    const st = statSync("/dev/loop-control");
    const want = `${Math.floor(st.rdev / 256) & 0xfff}:${st.rdev & 0xff}`;
    const script = "[ -e /dev/loop-control ] && stat -c '%t:%T' /dev/loop-control | awk -F: '{printf \"%d:%d\\n\", \"0x\"$1, \"0x\"$2}' && exec 3</dev/loop-control && echo opened";
    expect(sh([], script).stdout).toBe("");
    // busybox awk takes hex with 0x; the node carries the host's numbers
    const r = sh(["--privileged"], script);
    expect(r.stdout).toBe(`${want}\nopened\n`);
    const disk = readFileSync("/proc/partitions", "utf8").split("\n").slice(2).map((l) => l.trim().split(/\s+/)[3]).find((n) => n && existsSync(`/dev/${n}`));
    if (disk) expect(sh(["--privileged"], `[ -b /dev/${disk} ] && echo block`).stdout).toBe("block\n");
    // nested host directories come along; /dev's own layout stays Docker's
    expect(sh(["--privileged"], "[ -L /dev/ptmx ] && readlink /dev/ptmx; [ -d /dev/pts ] && [ -c /dev/null ] && echo ok").stdout).toBe("pts/ptmx\nok\n");
  });

  it("can mount a tmpfs", () => {
    expect(sh(["--privileged"], "mkdir /tmp/m && mount -t tmpfs none /tmp/m && touch /tmp/m/x && echo ok")).toMatchObject({ code: 0, stdout: "ok\n" });
  });
});

describe("inspect and exec", () => {
  it("inspect shows CapAdd and CapDrop as given (null when empty) and Privileged", () => {
    expect(tsbox(root, ["run", "--name", "i1", "--cap-add", "sys_admin", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN", "busybox", "true"]).code).toBe(0);
    expect(tsbox(root, ["run", "--name", "i2", "--privileged", "busybox", "true"]).code).toBe(0);
    try {
      const [a, b] = JSON.parse(tsbox(root, ["inspect", "i1", "i2"]).stdout) as { HostConfig: Record<string, unknown> }[];
      expect(a!.HostConfig).toMatchObject({ CapAdd: ["sys_admin", "NET_ADMIN"], CapDrop: ["CHOWN"], Privileged: false });
      expect(b!.HostConfig).toMatchObject({ CapAdd: null, CapDrop: null, Privileged: true });
    } finally {
      tsbox(root, ["rm", "-f", "i1", "i2"]);
    }
  });

  it("exec takes the container's capabilities; exec --privileged takes all for that process", () => {
    expect(tsbox(root, ["run", "-d", "--name", "e1", "--privileged", "busybox", "sleep", "60"]).code).toBe(0);
    expect(tsbox(root, ["run", "-d", "--name", "e2", "--cap-drop", "ALL", "--cap-add", "SYS_ADMIN", "busybox", "sleep", "60"]).code).toBe(0);
    try {
      const eff = (args: string[]) => parseCapEff(tsbox(root, ["exec", ...args, "grep", "CapEff", "/proc/self/status"]).stdout);
      expect(eff(["e1"])).toBe(OURS);
      expect(eff(["e2"])).toBe(SYS_ADMIN);
      expect(eff(["--privileged", "e2"])).toBe(OURS);
      expect(eff(["e2"])).toBe(SYS_ADMIN); // only that process
    } finally {
      const ids = containerIds(root);
      tsbox(root, ["rm", "-f", "e1", "e2"]);
      for (const id of ids) expect(cgroupDirsOf(id)).toEqual([]);
    }
  });
});
