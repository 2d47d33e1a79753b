import { describe, expect, it } from "vitest";
import { buildPlan, CLONE, type PlanContext } from "../src/oci/build-plan.js";
import { buildSpec } from "../src/oci/specconv.js";
import { encodePlan, type Op } from "../src/native/launch-plan.js";
import { capMask, capNames } from "../src/native/capabilities.js";
import { MS, mountFlags } from "../src/oci/mount-options.js";
import { cgroupMountInfo } from "../src/runtime/launch.js";

const spec = (over: Record<string, unknown> = {}) => buildSpec({ Cmd: ["/bin/sh"] }, {
  cmd: [], env: [], interactive: false, tty: false, init: false, readOnly: false, privileged: false,
  volumes: ["/srv/data:/data:ro"], tmpfs: ["/scratch"], ...over,
}, {
  id: "f".repeat(64), etcFiles: { hostname: "/c/hostname", hosts: "/c/hosts", resolvConf: "/c/resolv.conf" },
  hostEnv: {}, thermalThrottle: [],
});
const ctx: PlanContext = {
  rootfs: "/var/lib/tsbox/containers/x/rootfs",
  overlay: { linkDir: "/var/lib/tsbox/l", lowers: ["TOP", "BOTTOM"], upper: "/u", work: "/w" },
  cgroup: { version: "v2" }, stdin: "null", id: "c0ffee", bindIsDir: (p) => p === "/srv/data",
};
const names = (ops: Op[]): string[] => ops.map((o) => o.op);
const index = (ops: Op[], pred: (o: Op) => boolean): number => ops.findIndex(pred);

describe("buildPlan", () => {
  it("clones the namespaces and enters the cgroup namespace only after release", () => {
    const p = buildPlan(spec(), ctx);
    expect(p.cloneFlags).toBe(CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS);
    expect(names(p.ops).slice(0, 4)).toEqual(["STDIO", "KEYRING", "UNSHARE", "PRIVATE"]);
    expect(p.ops[2]).toEqual({ op: "UNSHARE", flags: CLONE.NEWCGROUP });
  });

  it("mounts the overlay with short lowerdirs, opens bind sources, then pivots", () => {
    const ops = buildPlan(spec(), ctx).ops;
    const overlay = ops.find((o) => o.op === "MOUNT" && o.fstype === "overlay");
    expect(overlay).toMatchObject({ target: ctx.rootfs, data: "lowerdir=TOP:BOTTOM,upperdir=/u,workdir=/w" });
    const pivot = index(ops, (o) => o.op === "PIVOT");
    const opens = ops.flatMap((o, i) => (o.op === "OPENPATH" ? [i] : []));
    expect(opens.length).toBe(4);
    expect(Math.max(...opens)).toBeLessThan(pivot);
    // every container mount happens after the pivot: paths resolve inside the new root
    const proc = index(ops, (o) => o.op === "MOUNT" && o.fstype === "proc");
    expect(proc).toBeGreaterThan(pivot);
    expect(ops[proc - 1]).toEqual({ op: "CHECKDIR", path: "/proc" });
  });

  it("mounts the root nodev when asked (device rules not enforced)", () => {
    const overlay = (c: PlanContext) => buildPlan(spec(), c).ops.find((o) => o.op === "MOUNT" && o.fstype === "overlay");
    expect(overlay({ ...ctx, rootNodev: true })).toMatchObject({ flags: MS.NODEV });
    expect(overlay(ctx)).toMatchObject({ flags: 0 });
  });

  it("makes bind destinations of the source's kind and applies ro", () => {
    const ops = buildPlan(spec(), ctx).ops;
    const i = index(ops, (o) => o.op === "BINDFD" && o.target === "/data");
    expect(ops[i - 1]).toEqual({ op: "MKDIR", path: "/data", mode: 0o755 });
    expect(ops[i]).toMatchObject({ flags: MS.REC | MS.RDONLY });
    const h = index(ops, (o) => o.op === "BINDFD" && o.target === "/etc/hostname");
    expect(ops[h - 1]).toEqual({ op: "ENSUREFILE", path: "/etc/hostname" });
  });

  it("creates /dev nodes right after /dev is mounted", () => {
    const ops = buildPlan(spec(), ctx).ops;
    const dev = index(ops, (o) => o.op === "MOUNT" && o.target === "/dev");
    expect(ops[dev + 1]).toEqual({ op: "MKNOD", path: "/dev/null", mode: 0o020666, major: 1, minor: 3 });
    expect(ops.filter((o) => o.op === "MKNOD").length).toBe(6);
  });

  it("masks, sets read-only paths, drops caps before changing user, and execs last", () => {
    const ops = buildPlan(spec({ readOnly: true, init: true }), { ...ctx, init: "/usr/bin/tini-static" }).ops;
    const n = names(ops);
    expect(n.indexOf("MASK")).toBeGreaterThan(n.indexOf("PIVOT"));
    expect(n.indexOf("CAPBSET")).toBeLessThan(n.indexOf("USER"));
    expect(n.indexOf("USER")).toBeLessThan(n.indexOf("CAPS"));
    expect(n.slice(-2)).toEqual(["INIT", "EXEC"]);
    expect(ops.at(-2)).toEqual({ op: "INIT", path: "/usr/bin/tini-static" });
    expect(ops[1]).toEqual({ op: "KEYRING", name: "_ses.c0ffee" });
    expect(ops).toContainEqual({ op: "REMOUNT", path: "/", flags: MS.BIND | MS.RDONLY });
    const bset = ops.find((o) => o.op === "CAPBSET");
    expect(bset && bset.op === "CAPBSET" && capNames(bset.keep)).toHaveLength(14);
  });

  it("lays out v1 cgroup mounts with links for co-mounted controllers", () => {
    const info = cgroupMountInfo({ version: "v1", mounts: new Map([
      ["cpu", "/sys/fs/cgroup/cpu,cpuacct"], ["cpuacct", "/sys/fs/cgroup/cpu,cpuacct"],
      ["memory", "/sys/fs/cgroup/memory"], ["name=systemd", "/sys/fs/cgroup/systemd"]]) } as never);
    expect(info.v1).toEqual([{ dir: "cpu,cpuacct", data: "cpu,cpuacct" }, { dir: "memory", data: "memory" }, { dir: "systemd", data: "name=systemd" }]);
    expect(info.v1Links).toEqual([{ name: "cpu", target: "cpu,cpuacct" }, { name: "cpuacct", target: "cpu,cpuacct" }]);
    const ops = buildPlan(spec(), { ...ctx, cgroup: info }).ops;
    expect(ops).toContainEqual({ op: "MOUNT", source: "cgroup", target: "/sys/fs/cgroup/memory", fstype: "cgroup", flags: MS.RDONLY | MS.NOSUID | MS.NOEXEC | MS.NODEV, data: "memory" });
  });

  it("encodes to the wire format", () => {
    const wire = encodePlan({ cloneFlags: 1, ops: [{ op: "EXEC", path: "sh", argv: ["sh", "-c", "x"], env: ["A=1"] }, { op: "RLIMIT", resource: 7, soft: 1024n, hard: 524288n }] });
    expect(wire).toEqual(["tsbox-plan/1", "1", "EXEC", "sh", "3", "sh", "-c", "x", "1", "A=1", "RLIMIT", "7", "1024", "524288"]);
    expect(() => encodePlan({ cloneFlags: 0, ops: [{ op: "HOSTNAME", name: "a\0b" }] })).toThrow(/NUL/);
  });

  it("maps options to flags", () => {
    expect(mountFlags(["nosuid", "noexec", "mode=755", "size=65536k", "rprivate"])).toEqual({ flags: MS.NOSUID | MS.NOEXEC, data: "mode=755,size=65536k" });
    expect(capMask(["CAP_KILL", "CAP_CHOWN"])).toBe((1n << 5n) | 1n);
  });
});

describe("buildPlan with a user namespace (tsbox-runc)", () => {
  const userSpec = (namespaces: { type: string; path?: string }[] = [{ type: "user" }]) => {
    const s = spec();
    s.linux.namespaces = [...s.linux.namespaces.filter((n) => n.type !== "cgroup"), ...namespaces] as typeof s.linux.namespaces;
    if (!namespaces.some((n) => n.path)) {
      s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }, { containerID: 65536, hostID: 300000, size: 10 }];
      s.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    }
    s.linux.devices = [{ path: "/dev/fuse", type: "c", major: 10, minor: 229, uid: 5, gid: 5 }, { path: "/dev/fifo", type: "p", major: 0, minor: 0 }];
    s.process.oomScoreAdj = -100;
    return s;
  };
  const bctx: PlanContext = { ...ctx, overlay: undefined, rootPropagation: MS.SLAVE | MS.REC, execFifo: "/run/x/exec.fifo", deviceOwners: true };
  delete (bctx as { overlay?: unknown }).overlay;

  it("clones it with the others; the launcher writes the maps and oom_score_adj; root of it before anything on the bundle", () => {
    const p = buildPlan(userSpec(), bctx);
    expect(p.cloneFlags & CLONE.NEWUSER).toBe(CLONE.NEWUSER);
    expect(p.ops.slice(1, 4)).toEqual([
      { op: "PROCWRITE", file: "uid_map", value: "0 100000 65536\n65536 300000 10" },
      { op: "PROCWRITE", file: "gid_map", value: "0 200000 65536" },
      { op: "PROCWRITE", file: "oom_score_adj", value: "-100" },
    ]);
    expect(p.ops.some((o) => o.op === "WRITEFILE" && o.path.endsWith("oom_score_adj"))).toBe(false);
    const n = names(p.ops);
    // The fifo (the runtime's own directory) and the host paths to bind as the host's root
    // (runc's mount fds: a source only root may enter is reached); the rest as the namespace's root.
    expect(n.indexOf("FIFO")).toBeLessThan(n.indexOf("NSROOT"));
    expect(n.lastIndexOf("OPENPATH")).toBeLessThan(n.indexOf("NSROOT"));
    expect(n.indexOf("NSROOT")).toBeLessThan(n.indexOf("KEYRING"));
    expect(n.indexOf("NSROOT")).toBeLessThan(n.indexOf("FSMOUNT"));
    expect(n.indexOf("NSROOT")).toBeLessThan(n.indexOf("MOUNT"));
  });

  it("binds the host's device nodes instead of mknod (never chowned), makes proc and sysfs before PIVOT", () => {
    const ops = buildPlan(userSpec(), bctx).ops;
    const pivot = index(ops, (o) => o.op === "PIVOT");
    expect(ops.filter((o) => o.op === "MKNOD")).toEqual([{ op: "MKNOD", path: "/dev/fifo", mode: 0o010666, major: 0, minor: 0 }]);
    expect(ops.some((o) => o.op === "CHOWN")).toBe(false);
    const opened = (path: string): number => {
      const o = ops.find((x) => x.op === "OPENPATH" && x.path === path);
      expect(o && index(ops, (x) => x === o)).toBeLessThan(pivot);
      return o && o.op === "OPENPATH" ? o.slot : -1;
    };
    for (const dev of ["/dev/null", "/dev/tty", "/dev/fuse"]) {
      expect(ops).toContainEqual({ op: "BINDFD", slot: opened(dev), target: dev, flags: 0 });
      expect(index(ops, (o) => o.op === "ENSUREFILE" && o.path === dev)).toBeGreaterThan(pivot);
    }
    const fsmounts = ops.filter((o) => o.op === "FSMOUNT");
    expect(fsmounts.map((o) => o.op === "FSMOUNT" && o.fstype)).toEqual(["proc", "sysfs"]);
    expect(Math.max(...fsmounts.map((o) => ops.indexOf(o)))).toBeLessThan(pivot);
    const proc = fsmounts[0]!;
    expect(ops).toContainEqual({ op: "BINDFD", slot: proc.op === "FSMOUNT" ? proc.slot : -1, target: "/proc", flags: MS.NOSUID | MS.NOEXEC | MS.NODEV });
    const slots = ops.flatMap((o) => (o.op === "OPENPATH" || o.op === "FSMOUNT" ? [o.slot] : []));
    expect(new Set(slots).size).toBe(slots.length);
  });

  it("without a network namespace /sys is the host's, recursively; without a cgroup namespace the cgroup dirs are bound", () => {
    const s = userSpec([{ type: "user" }]);
    s.linux.namespaces = s.linux.namespaces.filter((n) => n.type !== "network");
    const info = cgroupMountInfo({ version: "v1", mounts: new Map([["memory", "/sys/fs/cgroup/memory"]]) } as never);
    const ops = buildPlan(s, { ...bctx, cgroup: { ...info, path: "/tsbox/runc/x", host: "/sys/fs/cgroup" } }).ops;
    const sys = ops.find((o) => o.op === "OPENPATH" && o.path === "/sys");
    expect(ops).toContainEqual({ op: "BINDFD", slot: sys?.op === "OPENPATH" ? sys.slot : -1, target: "/sys", flags: MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY | MS.REC });
    const mem = ops.find((o) => o.op === "OPENPATH" && o.path === "/sys/fs/cgroup/memory/tsbox/runc/x");
    expect(mem).toBeDefined();
    expect(ops.some((o) => o.op === "MOUNT" && (o.fstype === "cgroup" || o.fstype === "sysfs"))).toBe(false);
    expect(ops.some((o) => o.op === "LOUP")).toBe(false);
  });

  it("joins a user namespace by path first, then makes the others inside it (the PID one by a fork)", () => {
    const p = buildPlan(userSpec([{ type: "user", path: "/proc/7/ns/user" }]), bctx);
    expect(p.cloneFlags).toBe(0);
    expect(p.ops.slice(0, 5)).toEqual([
      { op: "STDIO", stdin: "null" },
      { op: "PROCWRITE", file: "oom_score_adj", value: "-100" },
      { op: "SETNS", path: "/proc/7/ns/user", flag: CLONE.NEWUSER },
      { op: "UNSHARE", flags: CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS },
      { op: "PIDNS", path: "" },
    ]);
    expect(names(p.ops)).toContain("NSROOT");
    expect(names(p.ops)).toContain("LOUP");
    expect(p.ops.some((o) => o.op === "PROCWRITE" && o.file !== "oom_score_adj")).toBe(false);
  });
});
