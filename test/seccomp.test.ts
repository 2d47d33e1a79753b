// Docker's default seccomp profile on the real kernel: a static probe makes ~60
// syscalls inside a container and prints what each returned. Blocked calls
// answer EPERM (clone3: ENOSYS, so libc falls back to clone) in a foreground
// container, through `exec`, and in a `run -d` container launched by the
// monitor; --security-opt seccomp=unconfined lifts the filter, a custom
// profile applies, no-new-privileges sets the bit.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, removeRoot, rootWithBusybox, tsbox } from "./helpers.js";

const probeDir = join(REPO, ".tmp", "test", "seccomp-probe");
const probe = join(probeDir, "probe");
const cc = spawnSync("cc", ["--version"]).status === 0;
let root: string;

/** What Docker's default profile answers for a container with Docker's 14 capabilities. */
const BLOCKED: Record<string, string> = Object.fromEntries([
  "unshare_user", "unshare_mount", "clone_newuser", "clone_newns", "personality_bad", "socket_vsock",
  "keyctl", "add_key", "request_key", "perf_event_open", "mount", "umount2", "pivot_root", "kexec_load",
  "kexec_file_load", "open_by_handle_at", "bpf", "userfaultfd", "setns", "fsopen", "open_tree",
  "fanotify_init", "io_uring_setup", "swapon", "swapoff", "reboot", "init_module", "finit_module",
  "delete_module", "acct", "settimeofday", "clock_settime", "sethostname", "setdomainname", "vhangup",
  "syslog", "get_mempolicy", "set_mempolicy", "kcmp", "pidfd_getfd", "process_madvise", "quotactl",
  "lookup_dcookie", "ustat", "nfsservctl",
  ...(process.arch === "x64" ? ["iopl", "ioperm", "uselib", "sysctl"] : []),
].map((n) => [n, "EPERM"]));
BLOCKED.clone3 = "ENOSYS";
BLOCKED.newer_than_profile = "ENOSYS";
/** Allowed calls whose own result is OK inside a default container. */
const ALLOWED_OK = [
  "getpid", "clone", "memfd_create", "close_range", "personality_query", "personality_linux",
  "socket_inet", "socket_unix", "chroot", "process_vm_readv", "fcntl_getfd",
];

function results(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const [name, res] = line.trim().split(" ");
    if (name && res) r[name] = res;
  }
  return r;
}

function expectDefaultProfile(out: string): void {
  const r = results(out);
  for (const [name, want] of Object.entries(BLOCKED)) expect(`${name} ${r[name]}`).toBe(`${name} ${want}`);
  for (const name of ALLOWED_OK) expect(`${name} ${r[name]}`).toBe(`${name} OK`);
}

const vol = (): string[] => ["-v", `${probeDir}:/probe:ro`];

beforeAll(() => {
  root = rootWithBusybox();
  if (!cc) return;
  mkdirSync(probeDir, { recursive: true });
  const tmp = `${probe}.${process.pid}`;
  const r = spawnSync("cc", ["-static", "-O2", "-o", tmp, join(REPO, "test", "fixtures", "seccomp-probe.c")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the probe failed: ${r.stderr}`);
  spawnSync("mv", [tmp, probe]);
});
afterAll(() => {
  for (const id of tsbox(root, ["ps", "-aq"]).stdout.split("\n").filter(Boolean)) tsbox(root, ["rm", "-f", id]);
  removeRoot(root);
});

describe.skipIf(!cc)("Docker's default seccomp profile", () => {
  it("blocks what Docker blocks in a foreground container, and busybox still works", () => {
    const r = tsbox(root, ["run", "--rm", ...vol(), "busybox", "/probe/probe"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expectDefaultProfile(r.stdout);
    const sh = tsbox(root, ["run", "--rm", "busybox", "sh", "-c", "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; mkdir /tmp/d && ls / | wc -l; echo hi | cat"]);
    expect(sh.stderr).toBe("");
    expect(sh.stdout).toMatch(/^Seccomp:\s+2$/m);
    expect(sh.stdout).toMatch(/^NoNewPrivs:\s+0$/m);
    expect(sh.stdout).toMatch(/^hi$/m);
  });

  it("applies to `exec` and to a `run -d` container (launched by the monitor)", () => {
    const d = tsbox(root, ["run", "-d", "--name", "sc-d", ...vol(), "busybox", "sleep", "600"]);
    expect(d.stderr).toBe("");
    expect(d.code).toBe(0);
    const pid1 = tsbox(root, ["exec", "sc-d", "grep", "^Seccomp:", "/proc/1/status"]);
    expect(pid1.stdout).toMatch(/^Seccomp:\s+2$/m);
    const e = tsbox(root, ["exec", "sc-d", "/probe/probe"]);
    expect(e.stderr).toBe("");
    expect(e.code).toBe(0);
    expectDefaultProfile(e.stdout);
    // A stopped detached container relaunched by `start` keeps its filter.
    tsbox(root, ["stop", "-t", "1", "sc-d"]);
    expect(tsbox(root, ["start", "sc-d"]).code).toBe(0);
    expect(tsbox(root, ["exec", "sc-d", "grep", "^Seccomp:", "/proc/1/status"]).stdout).toMatch(/^Seccomp:\s+2$/m);
    tsbox(root, ["rm", "-f", "sc-d"]);
  });

  it("--security-opt seccomp=unconfined lifts the filter (run and exec)", () => {
    const r = tsbox(root, ["run", "--rm", "--security-opt", "seccomp=unconfined", ...vol(), "busybox", "/probe/probe"]);
    expect(r.code).toBe(0);
    const got = results(r.stdout);
    expect(got.clone3).not.toBe("ENOSYS");
    expect(got.personality_bad).toBe("OK");
    expect(got.get_mempolicy).toBe("OK");
    const st = tsbox(root, ["run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "grep", "^Seccomp:", "/proc/self/status"]);
    expect(st.stdout).toMatch(/^Seccomp:\s+0$/m);
    tsbox(root, ["run", "-d", "--name", "sc-u", "--security-opt", "seccomp=unconfined", "busybox", "sleep", "600"]);
    expect(tsbox(root, ["exec", "sc-u", "grep", "^Seccomp:", "/proc/self/status"]).stdout).toMatch(/^Seccomp:\s+0$/m);
    tsbox(root, ["rm", "-f", "sc-u"]);
  });

  it("a custom profile (Docker's JSON format) that blocks mkdir makes busybox mkdir fail with EPERM", () => {
    const file = join(probeDir, "no-mkdir.json");
    writeFileSync(file, JSON.stringify({
      defaultAction: "SCMP_ACT_ALLOW",
      archMap: [{ architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
        { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] }],
      syscalls: [{ names: ["mkdir", "mkdirat", "no_such_syscall"], action: "SCMP_ACT_ERRNO" }],
    }));
    const r = tsbox(root, ["run", "--rm", "--security-opt", `seccomp=${file}`, "busybox", "sh", "-c", "mkdir /tmp/x; echo rc=$?"]);
    expect(r.stderr).toMatch(/Operation not permitted/);
    expect(r.stdout).toBe("rc=1\n");
    const insp = tsbox(root, ["run", "-d", "--name", "sc-c", "--security-opt", `seccomp=${file}`, "busybox", "sleep", "600"]);
    expect(insp.code).toBe(0);
    const [info] = JSON.parse(tsbox(root, ["inspect", "sc-c"]).stdout) as { HostConfig: { SecurityOpt: string[] } }[];
    const opts = info!.HostConfig.SecurityOpt;
    expect(opts).toHaveLength(1);
    expect(opts[0]).toMatch(/^seccomp=\{"defaultAction":"SCMP_ACT_ALLOW",/);
    expect(tsbox(root, ["exec", "sc-c", "mkdir", "/tmp/y"]).stderr).toMatch(/Operation not permitted/);
    tsbox(root, ["rm", "-f", "sc-c"]);
  });

  it("no-new-privileges sets NoNewPrivs (and keeps the filter)", () => {
    for (const opt of ["no-new-privileges", "no-new-privileges=true"]) {
      const r = tsbox(root, ["run", "--rm", "--security-opt", opt, ...vol(), "busybox", "sh", "-c",
        "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; /probe/probe"]);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/^NoNewPrivs:\s+1$/m);
      expect(r.stdout).toMatch(/^Seccomp:\s+2$/m);
      expectDefaultProfile(r.stdout);
    }
    const off = tsbox(root, ["run", "--rm", "--security-opt", "no-new-privileges=false", "busybox", "grep", "^NoNewPrivs:", "/proc/self/status"]);
    expect(off.stdout).toMatch(/^NoNewPrivs:\s+0$/m);
  });

  it("refuses unknown or malformed options with Docker's message, exit 125", () => {
    const bad = tsbox(root, ["run", "--rm", "--security-opt", "foo=bar", "busybox", "true"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/invalid --security-opt 2: "foo=bar"/);
    const nnp = tsbox(root, ["run", "--rm", "--security-opt", "no-new-privileges=maybe", "busybox", "true"]);
    expect(nnp.code).toBe(125);
    expect(nnp.stderr).toMatch(/invalid --security-opt 2: "no-new-privileges=maybe"/);
    const missing = tsbox(root, ["run", "--rm", "--security-opt", "seccomp=/nonexistent.json", "busybox", "true"]);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/opening seccomp profile \(\/nonexistent.json\) failed/);
    const file = join(probeDir, "bad.json");
    writeFileSync(file, JSON.stringify({ defaultAction: "SCMP_ACT_NOPE", syscalls: [] }));
    const badProfile = tsbox(root, ["run", "--rm", "--security-opt", `seccomp=${file}`, "busybox", "true"]);
    expect(badProfile.code).toBe(125);
    expect(badProfile.stderr.trim().split("\n")).toHaveLength(1);
    expect(badProfile.stderr).toMatch(/SCMP_ACT_NOPE/);
    expect(tsbox(root, ["ps", "-aq"]).stdout).toBe("");
  });
});
