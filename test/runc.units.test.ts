// The pure parts of tsbox-runc: a bundle's config.json → Spec (runc's reading
// and tsbox's refusals), cgroupsPath → tsbox's cgroup layout, the root's mount
// propagation, the launch plan of a bundle (bound root, exec fifo), the error
// lines engines parse and runc's list table. No root, no kernel.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPlan, CLONE, withCgroupJoin } from "../src/oci/build-plan.js";
import { buildExecPlan } from "../src/oci/exec-plan.js";
import { BundleError, checkContainerId, readBundle, rootPropagationFlags } from "../src/oci/bundle.js";
import { defaultBundleConfig } from "../src/oci/default-config.js";
import { MOUNT_ATTR, MS, mountFlags, recursiveAttrs } from "../src/oci/mount-options.js";
import type { Op } from "../src/native/launch-plan.js";
import { bundleCgroupPath } from "../src/runtime/bundle/cgroup-path.js";
import { mountOf, mountsBelow, rootMountSetup } from "../src/runtime/bundle/root-mount.js";
import { buildProgram, earlySink, VERB_GROUPS } from "../src/runc/index.js";
import { errorLine } from "../src/runc/errors.js";
import { textLine } from "../src/log.js";
import { unknownHelpTopic } from "../src/runc/help.js";
import { listTable } from "../src/runc/info.js";
import { REPO } from "./helpers.js";

let dir: string;
let n = 0;

/** A bundle directory with `tsbox-runc spec`'s config.json, edited. */
function bundle(edit: (c: Record<string, any>) => void = () => {}): string {
  const b = join(dir, `b${++n}`);
  mkdirSync(join(b, "rootfs"), { recursive: true });
  const c = defaultBundleConfig() as Record<string, any>;
  edit(c);
  writeFileSync(join(b, "config.json"), JSON.stringify(c));
  return b;
}

const refusal = (edit: (c: Record<string, any>) => void): string => {
  try {
    readBundle(bundle(edit));
  } catch (e) {
    expect(e).toBeInstanceOf(BundleError);
    return (e as Error).message;
  }
  throw new Error("the bundle was accepted");
};

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), "tsbox-runc-units-")); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a bundle's config.json", () => {
  it("reads runc's default spec: root relative to the bundle, runc's defaults filled in", () => {
    const b = bundle();
    const { spec, rootfs } = readBundle(b);
    expect(rootfs).toBe(join(b, "rootfs"));
    expect(spec.root).toEqual({ path: join(b, "rootfs"), readonly: true });
    expect(spec.process.user).toMatchObject({ uid: 0, gid: 0, umask: 0o022, additionalGids: [] });
    // runc spec lists ambient capabilities without inheritable ones: the kernel would refuse them.
    expect(spec.process.capabilities.ambient).toEqual([]);
    expect(spec.process.capabilities.bounding).toEqual(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    // runc's always-allowed devices follow the spec's deny-all.
    expect(spec.linux.resources.devices?.[0]).toEqual({ allow: false, type: "a", access: "rwm" });
    expect(spec.linux.resources.devices).toContainEqual({ allow: true, type: "c", major: 1, minor: 3, access: "rwm" });
    expect(spec.linux.cgroupsPath).toBe("");
    expect(rootPropagationFlags(spec)).toBe(MS.SLAVE | MS.REC);
  });

  it("ignores a capability it does not know, as runc does (a newer profile on an older kernel)", () => {
    const b = bundle((c) => {
      c.process.capabilities.bounding.push("CAP_TEST");
      c.process.capabilities.effective.push("CAP_TEST");
    });
    const caps = readBundle(b).spec.process.capabilities;
    expect(caps.bounding).toEqual(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    expect(caps.effective).toEqual(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
  });

  it("takes binds by type or by option, relative sources from the bundle", () => {
    const b = bundle((c) => {
      c.mounts.push({ destination: "/a", type: "none", source: "data", options: ["rbind", "ro"] },
        { destination: "b", source: "/srv", options: ["bind"] });
    });
    const mounts = readBundle(b).spec.mounts;
    expect(mounts.at(-2)).toEqual({ destination: "/a", type: "bind", source: join(b, "data"), options: ["rbind", "ro"] });
    expect(mounts.at(-1)).toEqual({ destination: "/b", type: "bind", source: "/srv", options: ["bind"] });
  });

  it("refuses, by name, what tsbox-runc does not honour", () => {
    expect(refusal((c) => { c.hooks = { afterEverything: [{ path: "/x" }] }; })).toBe("hooks.afterEverything is not supported by tsbox-runc");
    expect(refusal((c) => { c.hooks = { startContainer: [{ path: "x" }] }; })).toContain("is not absolute");
    expect(refusal((c) => { c.hooks = { poststart: [{ path: "x" }] }; })).toContain("is not absolute");
    expect(refusal((c) => { c.linux.namespaces.push({ type: "time" }); })).toContain("time namespace");
    const noMountNs = (c: Record<string, any>): void => {
      c.linux.namespaces = c.linux.namespaces.filter((x: { type: string }) => x.type !== "mount");
    };
    expect(refusal((c) => { noMountNs(c); c.linux.maskedPaths = ["/proc/kcore"]; }))
      .toBe("unable to restrict sys entries without a private MNT namespace");
    expect(refusal((c) => { noMountNs(c); c.linux.maskedPaths = []; c.linux.readonlyPaths = []; c.root.readonly = true; }))
      .toBe("root.readonly needs a private MNT namespace");
    expect(refusal((c) => { c.linux.resources.hugepageLimits = [{ pageSize: "2MB", limit: 1 }]; })).toContain("hugepageLimits");
  });

  it("takes a container without a mount namespace when nothing in it would act on the host's mounts", () => {
    const { spec } = readBundle(bundle((c) => {
      c.linux.namespaces = c.linux.namespaces.filter((x: { type: string }) => x.type !== "mount");
      c.linux.maskedPaths = [];
      c.linux.readonlyPaths = [];
      c.root.readonly = false;
    }));
    expect(spec.linux.namespaces.map((n) => n.type)).not.toContain("mount");
  });

  it("takes a user namespace with its maps, as runc checks them", () => {
    const maps = (c: Record<string, any>): void => {
      c.linux.namespaces.push({ type: "user" });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    };
    const { spec } = readBundle(bundle(maps));
    expect(spec.linux.uidMappings).toEqual([{ containerID: 0, hostID: 100000, size: 65536 }]);
    expect(spec.linux.gidMappings).toEqual([{ containerID: 0, hostID: 200000, size: 65536 }]);
    expect(refusal((c) => { c.linux.namespaces.push({ type: "user" }); })).toContain("no uid mappings found");
    expect(refusal((c) => { c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]; }))
      .toContain("set but there is no user namespace");
    expect(refusal((c) => { maps(c); c.linux.gidMappings[0].containerID = 1; })).toContain("no root user mapping found");
    expect(refusal((c) => { maps(c); c.process.user.additionalGids = [70000]; })).toBe("process.user gid 70000 is not mapped by linux.gidMappings");
    expect(refusal((c) => { c.linux.namespaces.push({ type: "user", path: "/proc/1/ns/user" }); c.linux.uidMappings = [{ containerID: 0, hostID: 1, size: 1 }]; }))
      .toContain("cannot be applied to an existing user namespace");
    const joined = readBundle(bundle((c) => { c.linux.namespaces.push({ type: "user", path: "/proc/1/ns/user" }); })).spec;
    expect(joined.linux.namespaces).toContainEqual({ type: "user", path: "/proc/1/ns/user" });
    expect(joined.linux.uidMappings).toBeUndefined();
  });

  it("checks what runc checks: args, cwd, hostname without UTS, sysctls and their namespaces, the rootfs, the JSON", () => {
    expect(refusal((c) => { c.process.args = []; })).toBe("args must not be empty");
    expect(refusal((c) => { c.process.cwd = "tmp"; })).toContain("not an absolute path");
    expect(refusal((c) => { c.linux.namespaces = [{ type: "mount" }]; })).toBe("unable to set hostname without a private UTS namespace");
    expect(refusal((c) => { c.linux.sysctl = { "kernel.domainname": "x" }; })).toContain('conflicts with the OCI "uts" namespace');
    expect(refusal((c) => { c.linux.sysctl = { "vm.swappiness": "1" }; })).toContain("not in a separate kernel namespace");
    expect(refusal((c) => {
      c.linux.namespaces = c.linux.namespaces.filter((x: { type: string }) => x.type !== "network");
      c.linux.sysctl = { "net.ipv4.ip_forward": "1" };
    })).toContain('conflicts with the OCI "network" namespace');
    expect(refusal((c) => { c.root.path = "nowhere"; })).toMatch(/^rootfs \(.*nowhere\) does not exist$/);
    expect(refusal((c) => { c.process.user.uid = "0"; })).toContain("$.process.user.uid: expected an integer");
    const b = bundle();
    writeFileSync(join(b, "config.json"), "{");
    expect(() => readBundle(b)).toThrow(/invalid .*config.json: \$: expected JSON/);
    expect(() => readBundle(join(dir, "none"))).toThrow(/config.json not found/);
  });

  it("accepts runc's container ids and no hidden or path-like ones", () => {
    expect(checkContainerId("abc-1_2.3+x")).toBe("abc-1_2.3+x");
    for (const bad of ["", ".", "..", ".cache", "a/b", "a b"]) expect(() => checkContainerId(bad)).toThrow(BundleError);
  });
});

describe("the cgroup of a bundle's container (linux.cgroupsPath)", () => {
  it("takes an absolute cgroupsPath literally below the hierarchy's root, never above it", () => {
    expect(bundleCgroupPath("/docker/abc", "abc", false)).toEqual({ parent: "/docker", name: "abc" });
    expect(bundleCgroupPath("/kubepods/burstable/pod1/c1", "c1", false)).toEqual({ parent: "/kubepods/burstable/pod1", name: "c1" });
    expect(bundleCgroupPath("/cgrouptest", "x", false)).toEqual({ parent: "/", name: "cgrouptest" });
    expect(bundleCgroupPath("/../../etc/x", "x", false)).toEqual({ parent: "/etc", name: "x" });
    expect(bundleCgroupPath("//a//b/", "x", false)).toEqual({ parent: "/a", name: "b" });
    expect(() => bundleCgroupPath("/", "x", false)).toThrow(/names no cgroup/);
  });

  it("takes a relative cgroupsPath below tsbox's root, and none as tsbox/runc/<id>", () => {
    expect(bundleCgroupPath("kubepods/pod1/c1", "c1", false)).toEqual({ parent: "tsbox/kubepods/pod1", name: "c1" });
    expect(bundleCgroupPath("../../etc/x", "x", false)).toEqual({ parent: "tsbox/etc", name: "x" });
    expect(bundleCgroupPath("c1", "c1", false)).toEqual({ parent: "tsbox", name: "c1" });
    expect(bundleCgroupPath("", "c9", false)).toEqual({ parent: "tsbox/runc", name: "c9" });
    expect(bundleCgroupPath("", "c9", true)).toEqual({ parent: "tsbox/system.slice", name: "runc-c9.scope" });
  });

  it("lays out systemd's slice:prefix:name literally, as systemd would", () => {
    expect(bundleCgroupPath("system.slice:docker:abc", "abc", true)).toEqual({ parent: "/system.slice", name: "docker-abc.scope" });
    expect(bundleCgroupPath("kubepods-besteffort-pod1.slice:cri-containerd:c1", "c1", true)).toEqual({
      parent: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice", name: "cri-containerd-c1.scope",
    });
    expect(bundleCgroupPath(":docker:abc", "abc", true)).toEqual({ parent: "/system.slice", name: "docker-abc.scope" });
    expect(bundleCgroupPath("-.slice:docker:abc", "abc", true)).toEqual({ parent: "/", name: "docker-abc.scope" });
    // runc's getUnitName: a name that is a slice is the unit itself.
    expect(bundleCgroupPath("kubepods.slice:x:kubepods-pod2.slice", "c", true)).toEqual({
      parent: "/kubepods.slice", name: "kubepods-pod2.slice",
    });
    expect(() => bundleCgroupPath("/docker/abc", "abc", true)).toThrow(/slice:prefix:name/);
    expect(() => bundleCgroupPath("a--b.slice:docker:abc", "abc", true)).toThrow(/invalid slice name/);
  });
});

describe("the root's mount propagation", () => {
  const mountinfo = [
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
    "30 22 0:25 / /run rw,nosuid shared:5 - tmpfs tmpfs rw",
    "31 22 0:26 / /var/lib/x rw master:7 - tmpfs tmpfs rw",
  ].join("\n");

  it("finds the mount a path is on", () => {
    expect(mountOf("/run/b/rootfs", mountinfo)).toEqual({ mountPoint: "/run", shared: true });
    expect(mountOf("/var/lib/x/r", mountinfo)).toEqual({ mountPoint: "/var/lib/x", shared: false });
    expect(mountOf("/srv/r", mountinfo)).toEqual({ mountPoint: "/", shared: true });
  });

  it("lists the mounts strictly below a root, last mounted first", () => {
    expect(mountsBelow("/run", mountinfo)).toEqual([]);
    expect(mountsBelow("/var/lib", mountinfo)).toEqual(["/var/lib/x"]);
    expect(mountsBelow("/", mountinfo)).toEqual(["/var/lib/x", "/run"]);
    expect(mountsBelow("/var/li", mountinfo)).toEqual([]);
  });

  it("makes the rootfs's mount private only when it would still be shared", () => {
    expect(rootMountSetup("/", MS.SLAVE | MS.REC, mountinfo)).toEqual({ rootPropagation: MS.SLAVE | MS.REC });
    expect(rootMountSetup("/", MS.SHARED | MS.REC, mountinfo)).toEqual({ rootPropagation: MS.SHARED | MS.REC, privateParent: "/" });
    // Not recursive: / changes, the host's shared /run stays shared.
    expect(rootMountSetup("/run", MS.SLAVE, mountinfo)).toEqual({ rootPropagation: MS.SLAVE, privateParent: "/run" });
  });
});

describe("the launch plan of a bundle", () => {
  const names = (ops: Op[]): string[] => ops.map((o) => o.op);

  it("binds the root on itself after the propagation, opens the fifo before PIVOT and waits on it after the last CHDIR", () => {
    const b = bundle((c) => {
      c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW" };
      c.process.oomScoreAdj = 100;
      c.linux.sysctl = { "net.ipv4.ip_forward": "1" };
      c.domainname = "example";
    });
    const { spec, rootfs } = readBundle(b);
    const { ops, cloneFlags } = buildPlan(spec, {
      id: "c1", rootfs, rootPropagation: MS.SLAVE | MS.REC, execFifo: "/run/x/c1/exec.fifo", newKeyring: false,
      cgroup: { version: "v2" }, stdin: "inherit", bindIsDir: () => true,
      seccomp: { bpf: Buffer.alloc(8), flags: 0 },
    });
    expect(cloneFlags).toBe(CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS);
    expect(ops.slice(0, 6)).toEqual([
      { op: "STDIO", stdin: "inherit" },
      { op: "WRITEFILE", path: "/proc/self/oom_score_adj", value: "100" },
      { op: "FIFO", path: "/run/x/c1/exec.fifo" },
      { op: "MOUNT", source: "", target: "/", fstype: "", flags: MS.SLAVE | MS.REC, data: "" },
      { op: "MOUNT", source: rootfs, target: rootfs, fstype: "", flags: MS.BIND | MS.REC, data: "" },
      { op: "CHDIR", path: rootfs },
    ]);
    expect(names(ops)).not.toContain("KEYRING");
    expect(names(ops)).not.toContain("PRIVATE");
    const at = (op: string): number => names(ops).indexOf(op);
    expect(at("WRITEFILE")).toBeLessThan(at("PIVOT"));
    const sysctl = ops.findIndex((o) => o.op === "WRITEFILE" && o.path === "/proc/sys/net/ipv4/ip_forward");
    expect(sysctl).toBeGreaterThan(at("PIVOT"));
    expect(sysctl).toBeLessThan(at("READONLY"));
    expect(ops).toContainEqual({ op: "DOMAINNAME", name: "example" });
    expect(ops).toContainEqual({ op: "UMASK", mask: 0o022 });
    // noNewPrivileges: the filter after the wait, as close to exec as runc puts it.
    expect(names(ops).slice(-4)).toEqual(["CWD", "FIFOWAIT", "SECCOMP", "EXEC"]);
  });

  it("without a mount namespace leaves the host's / alone and chroots instead of PIVOT, its exec too", () => {
    const { spec, rootfs } = readBundle(bundle((c) => {
      c.linux.namespaces = c.linux.namespaces.filter((x: { type: string }) => x.type !== "mount");
      c.linux.maskedPaths = [];
      c.linux.readonlyPaths = [];
      c.root.readonly = false;
    }));
    const { ops, cloneFlags } = buildPlan(spec, { id: "c", rootfs, rootPropagation: MS.SLAVE | MS.REC, cgroup: { version: "v2" }, stdin: "inherit", bindIsDir: () => true });
    expect(cloneFlags & CLONE.NEWNS).toBe(0);
    expect(names(ops)).not.toContain("PIVOT");
    expect(ops.filter((o) => o.op === "MOUNT" && (o.target === "/" || o.target === rootfs))).toEqual([]);
    const chroot = names(ops).indexOf("CHROOT");
    expect(ops[chroot - 1]).toEqual({ op: "CHDIR", path: rootfs });
    // The spec's mounts come after it: resolved inside the root, made in the host's namespace.
    expect(ops.findIndex((o) => o.op === "MOUNT" && o.fstype === "proc")).toBeGreaterThan(chroot);
    const exec = buildExecPlan(spec, { args: ["sh"], env: [], cwd: "/", user: { uid: 0, gid: 0, additionalGids: [] }, capabilities: spec.process.capabilities }, { id: "c", pid: 42, stdin: "null", detach: false });
    expect(names(exec.ops).slice(2, 5)).toEqual(["KEYRING", "CHDIR", "CHROOT"]);
    expect(exec.ops[3]).toEqual({ op: "CHDIR", path: "/proc/42/root" });
  });

  it("lets the process join its v1 cgroup itself (CGOPEN, CGJOIN): first thing, or inside after an exec's JOIN; never with a new user namespace or PIDNS", () => {
    const { spec, rootfs } = readBundle(bundle());
    const ctx = { id: "c", rootfs, cgroup: { version: "v1" as const }, stdin: "inherit" as const, bindIsDir: () => true, preserveFds: 2 };
    const files = ["/sys/fs/cgroup/pids/tsbox/c/tasks", "/sys/fs/cgroup/memory/tsbox/c/tasks"];
    const run = withCgroupJoin(buildPlan(spec, ctx), files);
    expect(run.joined).toBe(true);
    expect(names(run.plan.ops).slice(0, 5)).toEqual(["STDIO", "PRESERVEFDS", "CGOPEN", "CGOPEN", "CGJOIN"]);
    expect(run.plan.ops[2]).toEqual({ op: "CGOPEN", path: files[0] });
    expect(withCgroupJoin(buildPlan(spec, ctx), [])).toMatchObject({ joined: false });

    const proc = { args: ["sh"], env: [], cwd: "/", user: { uid: 0, gid: 0, additionalGids: [] }, capabilities: spec.process.capabilities };
    const exec = withCgroupJoin(buildExecPlan(spec, proc, { id: "c", pid: 42, stdin: "null", detach: false }), files);
    const n = names(exec.plan.ops);
    expect(n.slice(n.indexOf("JOIN") - 2, n.indexOf("JOIN") + 2)).toEqual(["CGOPEN", "CGOPEN", "JOIN", "CGJOIN"]);

    const userns = readBundle(bundle((c) => {
      c.linux.namespaces.push({ type: "user" });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    })).spec;
    expect(withCgroupJoin(buildPlan(userns, ctx), files)).toMatchObject({ joined: false });
    const podPid = readBundle(bundle((c) => {
      c.linux.namespaces = c.linux.namespaces.map((x: { type: string }) => (x.type === "pid" ? { type: "pid", path: "/proc/1/ns/pid" } : x));
    })).spec;
    expect(withCgroupJoin(buildPlan(podPid, ctx), files)).toMatchObject({ joined: false });
    // v2: the launcher clones the child into its cgroup (not for an exec: JOIN forks inside).
    const v2 = withCgroupJoin(buildPlan(spec, ctx), [], "/sys/fs/cgroup/tsbox/c");
    expect(v2.joined).toBe(true);
    expect(v2.plan.ops[2]).toEqual({ op: "CLONEINTO", path: "/sys/fs/cgroup/tsbox/c" });
    expect(withCgroupJoin(buildExecPlan(spec, proc, { id: "c", pid: 42, stdin: "null", detach: false }), [], "/sys/fs/cgroup/tsbox/c").joined).toBe(false);
    expect(withCgroupJoin(buildPlan(podPid, ctx), [], "/sys/fs/cgroup/tsbox/c").joined).toBe(false);
  });

  it("joins a namespace given by path (a pod's network namespace) instead of creating it", () => {
    const { spec, rootfs } = readBundle(bundle((c) => {
      c.linux.namespaces[1].path = "/var/run/netns/pod1";
      c.linux.namespaces.push({ type: "cgroup", path: "/proc/1/ns/cgroup" });
    }));
    const { ops, cloneFlags } = buildPlan(spec, { id: "c", rootfs, cgroup: { version: "v2" }, stdin: "inherit", bindIsDir: () => true });
    expect(cloneFlags & CLONE.NEWNET).toBe(0);
    expect(ops[1]).toEqual({ op: "SETNS", path: "/var/run/netns/pod1", flag: CLONE.NEWNET });
    expect(names(ops)).not.toContain("LOUP");
    expect(ops).toContainEqual({ op: "SETNS", path: "/proc/1/ns/cgroup", flag: CLONE.NEWCGROUP });
    expect(names(ops)).not.toContain("UNSHARE");
  });

  it("binds the container's own cgroup over each hierarchy when it has no cgroup namespace", () => {
    const { spec, rootfs } = readBundle(bundle());
    const cgroup = { version: "v1" as const, v1: [{ dir: "memory", data: "memory" }], path: "/tsbox/runc/c" };
    const ops = buildPlan(spec, { id: "c", rootfs, cgroup, stdin: "inherit", bindIsDir: () => true }).ops;
    const at = ops.findIndex((o) => o.op === "MOUNT" && o.fstype === "cgroup");
    expect(ops[at + 1]).toEqual({ op: "MOUNT", source: "/sys/fs/cgroup/memory/tsbox/runc/c", target: "/sys/fs/cgroup/memory",
      fstype: "", flags: MS.BIND | MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RELATIME | MS.RDONLY, data: "" });
    spec.linux.namespaces.push({ type: "cgroup" });
    const withNs = buildPlan(spec, { id: "c", rootfs, cgroup, stdin: "inherit", bindIsDir: () => true }).ops;
    expect(withNs.filter((o) => o.op === "MOUNT" && o.source.startsWith("/sys/fs/cgroup/"))).toEqual([]);
  });

  it("forks into a PID namespace given by path, and joins a mount namespace by path after opening the host's paths", () => {
    const b = bundle((c) => {
      c.linux.namespaces = [{ type: "pid", path: "/proc/9/ns/pid" }, { type: "mount", path: "/proc/9/ns/mnt" },
        { type: "ipc", path: "/proc/9/ns/ipc" }, { type: "uts" }];
      c.mounts.push({ destination: "/data", type: "bind", source: "/srv", options: ["rbind"] });
    });
    const { spec, rootfs } = readBundle(b);
    const { ops, cloneFlags } = buildPlan(spec, {
      id: "c", rootfs, cgroup: { version: "v2" }, stdin: "inherit", bindIsDir: () => true, execFifo: "/run/f",
    });
    expect(cloneFlags).toBe(CLONE.NEWUTS);
    expect(names(ops).slice(0, 8)).toEqual(["STDIO", "SETNS", "PIDNS", "KEYRING", "FIFO", "OPENPATH", "SETNS", "MOUNT"]);
    expect(ops[2]).toEqual({ op: "PIDNS", path: "/proc/9/ns/pid" });
    expect(ops[6]).toEqual({ op: "SETNS", path: "/proc/9/ns/mnt", flag: CLONE.NEWNS });
  });

  it("sets no hostname without a UTS namespace of its own", () => {
    const { spec, rootfs } = readBundle(bundle((c) => {
      delete c.hostname;
      c.linux.namespaces = c.linux.namespaces.filter((x: { type: string }) => x.type !== "uts");
    }));
    const ops = buildPlan(spec, { id: "c", rootfs, cgroup: { version: "v2" }, stdin: "inherit", bindIsDir: () => true }).ops;
    expect(names(ops)).not.toContain("HOSTNAME");
  });
});

describe("tsbox-runc's verbs", () => {
  it("are declared by their group: all for help or an unknown verb, only the called verb's group otherwise", () => {
    const names = (verb?: string): string[] => buildProgram({ format: "text" }, () => {}, verb).commands.map((c) => c.name()).sort();
    expect(names()).toEqual(VERB_GROUPS.flatMap(([v]) => v).sort());
    expect(names("nonsense")).toEqual(names());
    expect(names("state")).toEqual(["create", "delete", "kill", "run", "start", "state"]);
    expect(names("exec")).toEqual(["exec"]);
  });
});

describe("the text log format", () => {
  it("writes pino's lines as logrus's logfmt (runc's --log-format text): time, level, msg, then the fields", () => {
    expect(textLine('{"level":"debug","time":"2026-12-02T22:32:14.939Z","id":"c9","ops":94,"path":"/a b","msg":"creating"}'))
      .toBe('time="2026-12-02T22:32:14Z" level=debug msg="creating" id=c9 ops=94 path="/a b"\n');
  });
});

describe("tsbox-runc's output", () => {
  it("writes runc's error lines", () => {
    const at = new Date("2026-01-02T03:04:05.678Z");
    expect(errorLine('no "x"', "text", at)).toBe('time="2026-01-02T03:04:05Z" level=error msg="no \\"x\\""\n');
    expect(JSON.parse(errorLine("gone", "json", at))).toEqual({ level: "error", msg: "gone", time: "2026-01-02T03:04:05Z" });
  });

  it("finds --log and --log-format before the verb only", () => {
    expect(earlySink(["node", "r", "--log", "/l.json", "--log-format=json", "state", "x"])).toEqual({ format: "json", logFile: "/l.json" });
    expect(earlySink(["node", "r", "list", "--format", "json"])).toEqual({ format: "text" });
  });

  it("pads the list table as Go's tabwriter (minimum 12, padding 3)", () => {
    expect(listTable([["ID", "PID"], ["a-long-container-id", "7"]])).toBe("ID                    PID\na-long-container-id   7\n");
  });

  it("prints help in runc's layout, for the program and each verb, and refuses help on an unknown verb", () => {
    const help = (...args: string[]) => spawnSync(process.execPath, ["--", join(REPO, "bin", "tsbox-runc.js"), ...args], { encoding: "utf8" });
    for (const flag of ["-h", "--help"]) {
      const r = help(flag);
      expect(r.status).toBe(0);
      expect(r.stdout.split("\n").slice(0, 2)).toEqual(["NAME:", "   tsbox-runc - Open Container Initiative runtime (runc-compatible) on tsbox's executor"]);
      expect(r.stdout).toMatch(/^COMMANDS:\n(?:.*\n)*   delete +delete any resources/m);
    }
    for (const verb of ["checkpoint", "delete", "exec", "list", "restore", "run", "update"]) {
      const r = help(verb, "-h");
      expect(r.status, verb).toBe(0);
      expect(r.stdout.split("\n")[1], verb).toMatch(new RegExp(`^   tsbox-runc ${verb} - `));
    }
    expect(help("kill", "-h").stdout).toContain("USAGE:\n   tsbox-runc kill [command options] <container-id> [signal]\n");
    const foo = help("foo", "-h");
    expect(foo.status).toBe(1);
    expect(foo.stdout).toBe("");
    expect(foo.stderr).toContain("No help topic for 'foo'");
    const cp = help("checkpoint", "c1");
    expect(cp.status).toBe(1);
    expect(cp.stderr).toContain("checkpoint/restore is not supported by tsbox-runc");
  });

  it("tells an unknown verb asked for help from a value of a global option", () => {
    const verbs = ["run", "state"];
    expect(unknownHelpTopic(["node", "r", "foo", "-h"], verbs)).toBe("foo");
    expect(unknownHelpTopic(["node", "r", "--root", "foo", "run", "-h"], verbs)).toBeUndefined();
    expect(unknownHelpTopic(["node", "r", "--debug", "bar", "--help"], verbs)).toBe("bar");
    expect(unknownHelpTopic(["node", "r", "foo"], verbs)).toBeUndefined();
  });

  it("reads runc's recursive mount options as mount_setattr attributes, not as mount data", () => {
    expect(recursiveAttrs(["rbind", "ro"])).toBeUndefined();
    expect(recursiveAttrs(["rbind", "rro", "rnosuid"])).toEqual({ set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID, clear: 0 });
    expect(recursiveAttrs(["rro", "rrw"])).toEqual({ set: 0, clear: MOUNT_ATTR.RDONLY });
    // The atime mode is one field: setting one clears the field.
    expect(recursiveAttrs(["rnoatime"])).toEqual({ set: MOUNT_ATTR.NOATIME, clear: MOUNT_ATTR.ATIME });
    expect(mountFlags(["rbind", "rro", "size=1m"])).toEqual({ flags: MS.BIND | MS.REC, data: "size=1m" });
  });
});
