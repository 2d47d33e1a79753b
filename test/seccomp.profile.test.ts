// Docker's profile → OCI linux.seccomp (moby's setupSeccomp, ported), the
// rules handed to libseccomp, where the launch plans load the filter, and
// --security-opt parsing. Pure, except the last block, which compiles with the
// real build/tsbox-seccomp and checks the cache.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildPlan, type PlanContext } from "../src/oci/build-plan.js";
import { buildExecPlan } from "../src/oci/exec-plan.js";
import { encodePlan, type Op } from "../src/native/launch-plan.js";
import { compilerPath, seccompProgram, seccompRules, type SeccompProgram } from "../src/native/seccomp-compiler.js";
import { defaultProfile, hostPlatform, parseProfile, setupSeccomp } from "../src/oci/seccomp/docker-profile.js";
import { containerSeccomp, inlineSecurityOpts, parseSecurityOpts } from "../src/oci/seccomp/security-opt.js";
import { buildSpec, type RunFlags } from "../src/oci/specconv.js";
import { DEFAULT_CAPABILITIES, type LinuxSeccomp, type LinuxSyscall } from "../src/oci/spec.js";

const AMD64 = { arch: "amd64", kernel: "6.1.0-18-amd64" };
const ARM64 = { arch: "arm64", kernel: "6.6.3" };
const DOCKER_CAPS = [...DEFAULT_CAPABILITIES];

const rulesFor = (s: LinuxSeccomp, name: string): LinuxSyscall[] => (s.syscalls ?? []).filter((r) => r.names.includes(name));
const allowed = (s: LinuxSeccomp, name: string): boolean => rulesFor(s, name).some((r) => r.action === "SCMP_ACT_ALLOW" && !r.args);

describe("setupSeccomp on Docker's default profile", () => {
  const plain = setupSeccomp(defaultProfile(), DOCKER_CAPS, AMD64)!;
  const admin = setupSeccomp(defaultProfile(), [...DOCKER_CAPS, "CAP_SYS_ADMIN"], AMD64)!;

  it("denies by default with EPERM, for the host's architecture family", () => {
    expect(plain.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(plain.defaultErrnoRet).toBe(1);
    expect(plain.architectures).toEqual(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    expect(setupSeccomp(defaultProfile(), DOCKER_CAPS, ARM64)!.architectures).toEqual(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
  });

  it("without CAP_SYS_ADMIN: no mount/unshare/setns, clone only without namespace flags, clone3 → ENOSYS", () => {
    for (const n of ["mount", "umount2", "unshare", "setns", "bpf", "perf_event_open", "keyctl", "add_key", "kexec_load", "userfaultfd"]) {
      expect(rulesFor(plain, n), n).toEqual([]);
    }
    expect(rulesFor(plain, "clone")).toEqual([{ names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 2114060288, op: "SCMP_CMP_MASKED_EQ" }] }]);
    expect(rulesFor(plain, "clone3")).toEqual([{ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 }]);
    expect(rulesFor(plain, "personality").map((r) => r.args?.[0]?.value)).toEqual([0, 8, 131072, 131080, 4294967295]);
    expect(rulesFor(plain, "socket").map((r) => `${r.args?.[0]?.op} ${r.args?.[0]?.value}`))
      .toEqual(["SCMP_CMP_LT 38", "SCMP_CMP_EQ 39", "SCMP_CMP_GT 40"]);
    expect(allowed(plain, "read")).toBe(true);
    expect(allowed(plain, "chroot")).toBe(true);  // CAP_SYS_CHROOT is one of Docker's 14
    expect(allowed(plain, "arch_prctl")).toBe(true);
  });

  it("with CAP_SYS_ADMIN added: mount, unshare, setns and any clone (clone with CLONE_NEWUSER included)", () => {
    for (const n of ["mount", "umount2", "unshare", "setns", "clone", "clone3", "bpf", "perf_event_open", "sethostname"]) expect(allowed(admin, n), n).toBe(true);
    expect(rulesFor(admin, "clone").some((r) => r.args)).toBe(false);
    expect(rulesFor(admin, "clone3").some((r) => r.action === "SCMP_ACT_ERRNO")).toBe(false);
  });

  it("capability groups follow the bounding set", () => {
    expect(allowed(plain, "kcmp")).toBe(false);
    expect(allowed(setupSeccomp(defaultProfile(), [...DOCKER_CAPS, "CAP_SYS_PTRACE"], AMD64)!, "kcmp")).toBe(true);
    expect(allowed(setupSeccomp(defaultProfile(), ["CAP_CHOWN"], AMD64)!, "chroot")).toBe(false);
    expect(allowed(setupSeccomp(defaultProfile(), [...DOCKER_CAPS, "CAP_SYS_TIME"], AMD64)!, "settimeofday")).toBe(true);
  });

  it("arch and kernel conditions", () => {
    const arm = setupSeccomp(defaultProfile(), DOCKER_CAPS, ARM64)!;
    expect(allowed(arm, "arm_fadvise64_64")).toBe(true);
    expect(allowed(arm, "arch_prctl")).toBe(false);
    expect(allowed(plain, "arm_fadvise64_64")).toBe(false);
    expect(allowed(plain, "ptrace")).toBe(true);  // minKernel 4.8
    expect(allowed(setupSeccomp(defaultProfile(), DOCKER_CAPS, { arch: "amd64", kernel: "4.4.0" })!, "ptrace")).toBe(false);
  });

  it("maps Node's architecture names to libseccomp's", () => {
    expect(hostPlatform("x64", "6.1").arch).toBe("amd64");
    expect(hostPlatform("arm64", "6.1").arch).toBe("arm64");
  });
});

describe("custom profiles (Docker's JSON format)", () => {
  it("takes `name`, `architectures`, and refuses what moby refuses", () => {
    const p = parseProfile(JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [{ name: "mkdir", action: "SCMP_ACT_ERRNO" }] }));
    expect(setupSeccomp(p, [], AMD64)).toEqual({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }] });
    expect(setupSeccomp(parseProfile("{}"), [], AMD64)).toBeUndefined();
    expect(() => setupSeccomp(parseProfile(JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ name: "a", names: ["b"], action: "SCMP_ACT_ERRNO" }] })), [], AMD64))
      .toThrow("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'");
    expect(() => setupSeccomp(parseProfile(JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86"], archMap: [{ architecture: "SCMP_ARCH_X86_64", subArchitectures: null }] })), [], AMD64))
      .toThrow("both 'architectures' and 'archMap'");
    expect(() => parseProfile("{nope")).toThrow(/^Decoding seccomp profile failed: /);
    expect(() => parseProfile(JSON.stringify({ syscalls: [{ names: "read" }] }))).toThrow("Decoding seccomp profile failed: syscalls[0].names must be a list of strings");
    expect(() => parseProfile(JSON.stringify({ syscalls: [{ names: ["read"], includes: { minKernel: "4" } }] }))).toThrow(/invalid kernel version/);
  });
});

describe("the rules libseccomp compiles", () => {
  const plain = setupSeccomp(defaultProfile(), DOCKER_CAPS, AMD64)!;
  const text = seccompRules(plain);

  it("numeric actions, architectures, one rule per name, conditions as index/op/a/b", () => {
    const lines = text.trim().split("\n");
    expect(lines[0]).toBe(`default ${0x00050001}`);
    expect(lines.at(-1)).toBe("enosys");
    expect(lines.slice(1, 4)).toEqual(["arch x86_64", "arch x86", "arch x32"]);
    expect(lines).toContain(`rule ${0x7fff0000} read 0`);
    expect(lines).toContain(`rule ${0x7fff0000} clone 1 0 7 2114060288 0`);
    expect(lines).toContain(`rule ${0x00050026} clone3 0`);
    expect(lines.filter((l) => / socket /.test(l))).toEqual([
      `rule ${0x7fff0000} socket 1 0 2 38 0`, `rule ${0x7fff0000} socket 1 0 4 39 0`, `rule ${0x7fff0000} socket 1 0 6 40 0`,
    ]);
  });

  it("drops rules equal to the default action and splits conditions on one argument (as runc)", () => {
    const s: LinuxSeccomp = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        { names: ["getpid"], action: "SCMP_ACT_ERRNO" },
        { names: ["kill"], action: "SCMP_ACT_ALLOW", args: [{ index: 1, value: 9, op: "SCMP_CMP_EQ" }, { index: 1, value: 15, op: "SCMP_CMP_EQ" }] },
        { names: ["tee"], action: "SCMP_ACT_ERRNO", errnoRet: 22, args: [{ index: 0, value: 1, op: "SCMP_CMP_NE" }, { index: 1, value: 3, op: "SCMP_CMP_MASKED_EQ", valueTwo: 1 }] },
      ],
    };
    expect(seccompRules(s)).toBe([
      `default ${0x00050001}`,
      `rule ${0x7fff0000} kill 1 1 4 9 0`, `rule ${0x7fff0000} kill 1 1 4 15 0`,
      `rule ${0x00050016} tee 2 0 1 1 0 1 7 3 1`,
      "enosys",
    ].join("\n") + "\n");
    expect(seccompRules({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }] }))
      .toBe(`default ${0x7fff0000}\nrule ${0x00050001} mkdir 0\n`);
  });

  it("one-line errors for what libseccomp cannot take", () => {
    expect(() => seccompRules({ defaultAction: "SCMP_ACT_NOPE" })).toThrow('seccomp profile: unknown action "SCMP_ACT_NOPE" in defaultAction');
    expect(() => seccompRules({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_VAX"] })).toThrow('unknown architecture "SCMP_ARCH_VAX"');
    expect(() => seccompRules({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 1, op: "SCMP_CMP_SOON" }] }] }))
      .toThrow('unknown operator "SCMP_CMP_SOON" in syscalls[0].args[0]');
    expect(() => seccompRules({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read; rm"], action: "SCMP_ACT_ERRNO" }] })).toThrow("bad syscall name");
  });
});

describe("where the plans load the filter", () => {
  const prog: SeccompProgram = { bpf: Buffer.from("0001020304050607", "hex"), flags: 0 };
  const flags = (over: Partial<RunFlags> = {}): RunFlags => ({
    cmd: [], env: [], interactive: false, tty: false, init: false, readOnly: false, volumes: [], tmpfs: [], privileged: false, ...over,
  });
  const spec = (over: Partial<RunFlags> = {}) => buildSpec({ Cmd: ["/bin/sh"] }, flags(over), {
    id: "f".repeat(64), etcFiles: { hostname: "/c/hostname", hosts: "/c/hosts", resolvConf: "/c/resolv.conf" },
    hostEnv: {}, thermalThrottle: [], platform: AMD64,
  });
  const ctx: PlanContext = {
    id: "f".repeat(64), rootfs: "/r", overlay: { linkDir: "/l", lowers: ["A"], upper: "/u", work: "/w" },
    cgroup: { version: "v2" }, stdin: "null", init: "/usr/bin/tini-static", bindIsDir: () => true, seccomp: prog,
  };
  const names = (ops: Op[]): string[] => ops.map((o) => o.op);

  it("run: before the capability drop without no_new_privs; after it, just before INIT/EXEC, with it", () => {
    const s = spec();
    expect(s.linux.seccomp?.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(names(buildPlan(s, ctx).ops).slice(-8)).toEqual(["CWD", "SECCOMP", "CAPBSET", "USER", "CAPS", "CWD", "INIT", "EXEC"]);
    const nnp = spec({ securityOpt: ["no-new-privileges"] });
    expect(nnp.process.noNewPrivileges).toBe(true);
    expect(names(buildPlan(nnp, ctx).ops).slice(-8)).toEqual(["CAPBSET", "USER", "CAPS", "NONEWPRIVS", "CWD", "SECCOMP", "INIT", "EXEC"]);
    expect(names(buildPlan(s, { ...ctx, seccomp: undefined }).ops)).not.toContain("SECCOMP");
    const enc = encodePlan(buildPlan(s, ctx));
    expect(enc.slice(enc.indexOf("SECCOMP"), enc.indexOf("SECCOMP") + 3)).toEqual(["SECCOMP", "0", "0001020304050607"]);
  });

  it("exec: the same places, after JOIN", () => {
    const s = spec();
    const proc = { args: ["ls"], env: [], cwd: "/", user: { uid: 0, gid: 0, additionalGids: [] }, capabilities: s.process.capabilities };
    expect(names(buildExecPlan(s, proc, { id: "f".repeat(64), pid: 9, stdin: "null", detach: false, seccomp: prog }).ops))
      .toEqual(["STDIO", "JOIN", "KEYRING", "RLIMIT", "CWD", "SECCOMP", "CAPBSET", "USER", "CAPS", "CWD", "EXEC"]);
    const nnp = spec({ securityOpt: ["no-new-privileges=true"] });
    expect(names(buildExecPlan(nnp, proc, { id: "f".repeat(64), pid: 9, stdin: "null", detach: true, seccomp: prog }).ops))
      .toEqual(["STDIO", "JOIN", "KEYRING", "RLIMIT", "CWD", "CAPBSET", "USER", "CAPS", "NONEWPRIVS", "CWD", "SECCOMP", "DETACH", "EXEC"]);
  });

  it("spec: unconfined and privileged have no filter; privileged with a profile keeps it (as moby)", () => {
    expect(spec({ securityOpt: ["seccomp=unconfined"] }).linux.seccomp).toBeUndefined();
    expect(spec({ privileged: true }).linux.seccomp).toBeUndefined();
    const custom = `seccomp=${JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }] })}`;
    expect(spec({ privileged: true, securityOpt: [custom] }).linux.seccomp?.syscalls).toEqual([{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }]);
    expect(spec({ securityOpt: ["seccomp=builtin"] }).linux.seccomp?.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(containerSeccomp({ seccompProfile: "", noNewPrivileges: false }, false, ["CAP_SYS_ADMIN"], AMD64)?.syscalls
      ?.some((r) => r.names.includes("mount"))).toBe(true);
  });
});

describe("--security-opt", () => {
  it("parses as moby's daemon does", () => {
    expect(parseSecurityOpts([])).toEqual({ seccompProfile: "", noNewPrivileges: false });
    expect(parseSecurityOpts(["no-new-privileges", "seccomp=unconfined"])).toEqual({ seccompProfile: "unconfined", noNewPrivileges: true });
    expect(parseSecurityOpts(["no-new-privileges=true", "no-new-privileges=false"]).noNewPrivileges).toBe(false);
    expect(parseSecurityOpts(["seccomp:unconfined"]).seccompProfile).toBe("unconfined");
    expect(() => parseSecurityOpts(["foo=bar"])).toThrow('invalid --security-opt 2: "foo=bar"');
    expect(() => parseSecurityOpts(["apparmor=x"])).toThrow('invalid --security-opt 2: "apparmor=x"');
    expect(() => parseSecurityOpts(["no-new-privileges=yes"])).toThrow('invalid --security-opt 2: "no-new-privileges=yes"');
    expect(() => parseSecurityOpts(["nonsense"])).toThrow('invalid --security-opt 1: "nonsense"');
  });

  it("the client inlines a profile file as compact JSON", () => {
    const read = (p: string): string => {
      if (p === "/p.json") return '{ "defaultAction" : "SCMP_ACT_ALLOW" }';
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: "ENOENT" });
    };
    expect(inlineSecurityOpts(["seccomp=/p.json", "seccomp=unconfined", "no-new-privileges"], read))
      .toEqual(['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}', "seccomp=unconfined", "no-new-privileges"]);
    expect(() => inlineSecurityOpts(["seccomp=/x.json"], read)).toThrow("opening seccomp profile (/x.json) failed: open /x.json: no such file or directory");
    expect(() => inlineSecurityOpts(["seccomp="], read)).toThrow('invalid --security-opt: "seccomp="');
  });
});

describe.skipIf(!existsSync(compilerPath()))("compiling with libseccomp, and the cache", () => {
  const root = mkdtempSync(join(tmpdir(), "tsbox-seccomp-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("compiles Docker's profile to BPF once, then reads it from the cache; a damaged entry is recompiled", () => {
    const s = setupSeccomp(defaultProfile(), DOCKER_CAPS, hostPlatform(process.arch, "6.1"))!;
    const first = seccompProgram(root, s);
    expect(first.bpf.length % 8).toBe(0);
    expect(first.bpf.length).toBeGreaterThan(8 * 100);
    const dir = join(root, "cache", "seccomp");
    const [file] = readdirSync(dir);
    expect(file).toMatch(/^[0-9a-f]+-[0-9a-f]+\.bpf$/);
    const again = seccompProgram(root, s);
    expect(again.bpf.equals(first.bpf)).toBe(true);
    const whole = readFileSync(join(dir, file!));
    writeFileSync(join(dir, file!), whole.subarray(0, whole.length - 3));
    expect(seccompProgram(root, s).bpf.equals(first.bpf)).toBe(true);
    expect(readFileSync(join(dir, file!)).equals(whole)).toBe(true);
    // A different filter is a different entry.
    seccompProgram(root, { ...s, defaultErrnoRet: 13 });
    expect(readdirSync(dir).filter((f) => f.endsWith(".bpf"))).toHaveLength(2);
  });

  it("skips syscall names libseccomp does not know; reports its own errors in one line", () => {
    const p = seccompProgram(root, { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "no_such_syscall"], action: "SCMP_ACT_ERRNO" }] });
    expect(p.bpf.length % 8).toBe(0);
    const bad = spawnSync(compilerPath(), [], { input: "rule 2147418112 read 0\n", encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe("seccomp: the first directive must be default\n");
    const arch = spawnSync(compilerPath(), [], { input: "default 0\narch vax\n", encoding: "utf8" });
    expect(arch.stderr).toBe("seccomp: unknown architecture vax\n");
  });
});
