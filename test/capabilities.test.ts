// --cap-add / --cap-drop / --privileged → the spec and the launch plan, as
// Docker computes them (moby daemon/pkg/oci/caps, WithMounts, WithDevices). Pure.
import { describe, expect, it } from "vitest";
import { containerCapabilities, normalizeCapabilities } from "../src/oci/capabilities.js";
import { buildSpec, type RunFlags } from "../src/oci/specconv.js";
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS } from "../src/oci/spec.js";
import { KNOWN_CAPABILITIES, capMask, currentCapabilities, parseCapEff } from "../src/native/capabilities.js";
import { buildPlan, type PlanContext } from "../src/oci/build-plan.js";
import { MS } from "../src/oci/mount-options.js";
import { cgroupMountInfo } from "../src/runtime/launch.js";
import { hostDevices } from "../src/runtime/host-devices.js";
import { UsageError } from "../src/errors.js";

const ALL = KNOWN_CAPABILITIES;
const basics = [...DEFAULT_CAPABILITIES];
const flags = (over: Partial<RunFlags> = {}): RunFlags => ({
  cmd: [], env: [], interactive: false, tty: false, init: false, readOnly: false, volumes: [], tmpfs: [], privileged: false, ...over,
});
const ctx = {
  id: "f".repeat(64), etcFiles: { hostname: "/c/hostname", hosts: "/c/hosts", resolvConf: "/c/resolv.conf" },
  hostEnv: {}, thermalThrottle: ["/sys/devices/system/cpu/cpu0/thermal_throttle"],
  passwd: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
};
const spec = (over: Partial<RunFlags> = {}, extra: Record<string, unknown> = {}) =>
  buildSpec({ Cmd: ["/bin/sh"] }, flags(over), { ...ctx, ...extra });

describe("capability names (moby NormalizeLegacyCapabilities)", () => {
  it("takes names with or without CAP_, in any case, and ALL", () => {
    expect(normalizeCapabilities(["sys_admin", "CAP_NET_ADMIN", "cap_chown", "Mknod", "all"], "CapAdd", ALL))
      .toEqual(["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_CHOWN", "CAP_MKNOD", "ALL"]);
  });

  it("refuses an unknown name with moby's words, naming the list", () => {
    expect(() => normalizeCapabilities(["BOGUS"], "CapAdd", ALL)).toThrow('invalid CapAdd: unknown capability: "CAP_BOGUS"');
    expect(() => normalizeCapabilities(["cap_nope"], "CapDrop", ALL)).toThrow('invalid CapDrop: unknown capability: "CAP_NOPE"');
    expect(() => normalizeCapabilities(["BOGUS"], "CapAdd", ALL)).toThrow(UsageError);
  });

  it("refuses a known capability tsbox itself does not hold", () => {
    expect(() => normalizeCapabilities(["SYS_RESOURCE"], "CapAdd", ["CAP_CHOWN"]))
      .toThrow('invalid CapAdd: capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"');
  });
});

describe("the capability set (moby TweakCapabilities)", () => {
  it("is Docker's 14 without flags", () => {
    expect(containerCapabilities(basics, {}, ALL)).toEqual(basics);
  });

  it("drops, then adds", () => {
    const c = containerCapabilities(basics, { capAdd: ["SYS_ADMIN"], capDrop: ["chown", "CAP_KILL"] }, ALL);
    expect(c).toEqual([...basics.filter((x) => x !== "CAP_CHOWN" && x !== "CAP_KILL"), "CAP_SYS_ADMIN"]);
  });

  it("--cap-drop ALL keeps only what is added", () => {
    expect(containerCapabilities(basics, { capDrop: ["ALL"] }, ALL)).toEqual([]);
    expect(containerCapabilities(basics, { capDrop: ["all"], capAdd: ["net_raw", "chown"] }, ALL)).toEqual(["CAP_NET_RAW", "CAP_CHOWN"]);
  });

  it("--cap-add ALL takes everything available but the dropped", () => {
    const c = containerCapabilities(basics, { capAdd: ["ALL"], capDrop: ["SYS_ADMIN"] }, ALL);
    expect(c).toEqual(ALL.filter((x) => x !== "CAP_SYS_ADMIN"));
    expect(containerCapabilities(basics, { capAdd: ["ALL"] }, ["CAP_CHOWN", "CAP_KILL"])).toEqual(["CAP_CHOWN", "CAP_KILL"]);
  });

  it("lists an added default once", () => {
    expect(containerCapabilities(basics, { capAdd: ["CHOWN"] }, ALL)).toEqual(basics);
  });

  it("--privileged: everything tsbox holds, --cap-add/--cap-drop ignored but still checked (as Docker)", () => {
    expect(containerCapabilities(basics, { privileged: true, capDrop: ["CHOWN"] }, ALL)).toEqual([...ALL]);
    expect(containerCapabilities(basics, { privileged: true }, ["CAP_CHOWN"])).toEqual(["CAP_CHOWN"]);
    expect(() => containerCapabilities(basics, { privileged: true, capAdd: ["BOGUS"] }, ALL)).toThrow(/unknown capability/);
  });

  it("checks --cap-add before --cap-drop", () => {
    expect(() => containerCapabilities(basics, { capAdd: ["A1"], capDrop: ["D1"] }, ALL)).toThrow(/invalid CapAdd.*CAP_A1/);
  });
});

describe("what tsbox holds", () => {
  it("reads CapEff from a status text", () => {
    expect(parseCapEff("Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n")).toBe(0x1fffeffffffn);
    expect(parseCapEff("CapEff:\tzz\n")).toBeUndefined();
    expect(currentCapabilities("CapEff:\t0000000000200001\n")).toEqual(["CAP_CHOWN", "CAP_SYS_ADMIN"]);
    expect(currentCapabilities("no caps line\n")).toEqual([...ALL]);
  });
});

describe("spec", () => {
  it("puts the set in bounding, effective and permitted for root; only bounding for another user", () => {
    const s = spec({ capAdd: ["sys_admin"], capDrop: ["ALL"] });
    expect(s.process.capabilities).toEqual({
      bounding: ["CAP_SYS_ADMIN"], effective: ["CAP_SYS_ADMIN"], permitted: ["CAP_SYS_ADMIN"], inheritable: [], ambient: [],
    });
    const u = spec({ capAdd: ["sys_admin"], capDrop: ["ALL"], user: "app" });
    expect(u.process.capabilities).toEqual({ bounding: ["CAP_SYS_ADMIN"], effective: [], permitted: [], inheritable: [], ambient: [] });
  });

  it("withholds CAP_MKNOD where device rules are not enforced, even when added, with a warning", () => {
    const warnings: string[] = [];
    const s = spec({ capAdd: ["MKNOD", "SYS_ADMIN"] }, { devicesEnforced: false, warnings });
    expect(s.process.capabilities.bounding).toContain("CAP_SYS_ADMIN");
    expect(s.process.capabilities.bounding).not.toContain("CAP_MKNOD");
    expect(warnings).toEqual([expect.stringMatching(/CAP_MKNOD discarded/)]);
    expect(spec({}, { devicesEnforced: false, warnings: [] }).process.capabilities.bounding).toHaveLength(13);
  });

  it("an unprivileged spec keeps Docker's masks, read-only paths, read-only /sys and cgroupfs, device list", () => {
    const s = spec();
    expect(s.linux.maskedPaths).toEqual([...DEFAULT_MASKED_PATHS, ...ctx.thermalThrottle]);
    expect(s.linux.readonlyPaths.length).toBeGreaterThan(0);
    expect(s.mounts.find((m) => m.destination === "/sys")?.options).toContain("ro");
    expect(s.mounts.find((m) => m.type === "cgroup")?.options).toContain("ro");
    expect(s.linux.resources.devices?.[0]).toEqual({ allow: false, access: "rwm" });
    expect(s.linux.devices).toBeUndefined();
  });

  it("--privileged: all caps, nothing masked or read-only, /sys and cgroupfs rw, every device allowed, the host's devices", () => {
    const dev = { path: "/dev/loop-control", type: "c" as const, major: 10, minor: 237, fileMode: 0o600, uid: 0, gid: 0 };
    const s = spec({ privileged: true, capDrop: ["CHOWN"] },
      { availableCaps: ["CAP_CHOWN", "CAP_SYS_ADMIN"], hostDevices: [dev], devicesEnforced: false, warnings: [] });
    expect(s.process.capabilities.bounding).toEqual(["CAP_CHOWN", "CAP_SYS_ADMIN"]);
    expect(s.process.capabilities.effective).toEqual(["CAP_CHOWN", "CAP_SYS_ADMIN"]);
    expect(s.linux.maskedPaths).toEqual([]);
    expect(s.linux.readonlyPaths).toEqual([]);
    expect(s.mounts.find((m) => m.destination === "/sys")?.options).not.toContain("ro");
    expect(s.mounts.find((m) => m.type === "cgroup")?.options).not.toContain("ro");
    expect(s.mounts.find((m) => m.destination === "/proc")?.options).toEqual(["nosuid", "noexec", "nodev"]);
    expect(s.linux.resources.devices).toEqual([{ allow: true, access: "rwm" }]);
    expect(s.linux.devices).toEqual([dev]);
  });
});

describe("launch plan", () => {
  const pctx: PlanContext = {
    rootfs: "/r", overlay: { linkDir: "/l", lowers: ["A"], upper: "/u", work: "/w" },
    cgroup: { version: "v2" }, stdin: "null", id: "c0ffee", bindIsDir: () => false,
  };
  const v1 = cgroupMountInfo({ version: "v1", mounts: new Map([["memory", "/sys/fs/cgroup/memory"]]) } as never);

  it("sets the caps of the spec", () => {
    const ops = buildPlan(spec({ capDrop: ["ALL"], capAdd: ["SYS_ADMIN"] }), pctx).ops;
    expect(ops).toContainEqual({ op: "CAPBSET", keep: 1n << 21n });
    expect(ops).toContainEqual({ op: "CAPS", effective: 1n << 21n, permitted: 1n << 21n, inheritable: 0n, ambient: 0n });
  });

  it("--privileged: no MASK or READONLY ops, /sys and v1 cgroup hierarchies mounted read-write", () => {
    const ops = buildPlan(spec({ privileged: true }), { ...pctx, cgroup: v1 }).ops;
    expect(ops.filter((o) => o.op === "MASK" || o.op === "READONLY")).toEqual([]);
    const sys = ops.find((o) => o.op === "MOUNT" && o.target === "/sys");
    expect(sys && sys.op === "MOUNT" && sys.flags & MS.RDONLY).toBe(0);
    const mem = ops.find((o) => o.op === "MOUNT" && o.target === "/sys/fs/cgroup/memory");
    expect(mem && mem.op === "MOUNT" && mem.flags & MS.RDONLY).toBe(0);
    expect(ops.filter((o) => o.op === "REMOUNT" && o.path === "/sys/fs/cgroup")).toEqual([]);
    expect(ops).toContainEqual({ op: "CAPBSET", keep: capMask(ALL) });
  });

  it("unprivileged: v1 hierarchies read-only and the tmpfs remounted read-only", () => {
    const ops = buildPlan(spec(), { ...pctx, cgroup: v1 }).ops;
    const mem = ops.find((o) => o.op === "MOUNT" && o.target === "/sys/fs/cgroup/memory");
    expect(mem && mem.op === "MOUNT" && mem.flags & MS.RDONLY).toBe(MS.RDONLY);
    expect(ops).toContainEqual({ op: "REMOUNT", path: "/sys/fs/cgroup", flags: MS.RDONLY | MS.NOSUID | MS.NOEXEC | MS.NODEV });
  });

  it("makes the spec's devices in /dev with their parents, after the defaults, before the symlinks; never over /dev/ptmx", () => {
    const devices = [
      { path: "/dev/vda", type: "b" as const, major: 254, minor: 0, fileMode: 0o660 },
      { path: "/dev/net/tun", type: "c" as const, major: 10, minor: 200, fileMode: 0o666 },
      { path: "/dev/ptmx", type: "c" as const, major: 5, minor: 2, fileMode: 0o666 },
      { path: "/dev/console", type: "c" as const, major: 5, minor: 1, fileMode: 0o600 },
    ];
    const ops = buildPlan(spec({ privileged: true }, { hostDevices: devices }), pctx).ops;
    const at = (pred: (o: (typeof ops)[number]) => boolean) => ops.findIndex(pred);
    expect(ops).toContainEqual({ op: "MKNOD", path: "/dev/vda", mode: 0o060000 | 0o660, major: 254, minor: 0 });
    expect(ops).toContainEqual({ op: "MKNOD", path: "/dev/net/tun", mode: 0o020000 | 0o666, major: 10, minor: 200 });
    expect(at((o) => o.op === "MKDIR" && o.path === "/dev/net")).toBeLessThan(at((o) => o.op === "MKNOD" && o.path === "/dev/net/tun"));
    expect(at((o) => o.op === "MKNOD" && o.path === "/dev/null")).toBeLessThan(at((o) => o.op === "MKNOD" && o.path === "/dev/vda"));
    expect(at((o) => o.op === "MKNOD" && o.path === "/dev/vda")).toBeLessThan(at((o) => o.op === "SYMLINK" && o.path === "/dev/ptmx"));
    expect(ops.filter((o) => o.op === "MKNOD" && (o.path === "/dev/ptmx" || o.path === "/dev/console"))).toEqual([]);
  });
});

describe("host devices (containerd HostDevices)", () => {
  it("lists /dev's char and block devices with their numbers, not pts, shm, mqueue or console", () => {
    const devs = hostDevices();
    const nul = devs.find((d) => d.path === "/dev/null");
    expect(nul).toMatchObject({ type: "c", major: 1, minor: 3 });
    expect(devs.every((d) => d.type === "c" || d.type === "b")).toBe(true);
    expect(devs.filter((d) => /^\/dev\/(pts|shm|mqueue|fd)\//.test(d.path) || d.path === "/dev/console")).toEqual([]);
  });
});
