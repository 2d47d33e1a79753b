import { describe, expect, it } from "vitest";
import { buildSpec, commandArgs, containerEnv, parseEnvFile, parseTmpfs, parseVolume, type RunFlags } from "../src/oci/specconv.js";
import { resolveUser } from "../src/oci/user.js";
import { formatBytes } from "../src/format.js";
import { checkCpuset, parseBytes, parseCpuList, parseCpus, parseMemory } from "../src/oci/units.js";
import { resources } from "../src/oci/specconv.js";
import { UsageError } from "../src/errors.js";

const flags = (over: Partial<RunFlags> = {}): RunFlags => ({
  cmd: [], env: [], interactive: false, tty: false, init: false, readOnly: false, privileged: false, volumes: [], tmpfs: [], ...over,
});
const ctx = {
  id: "0123456789abcdef".repeat(4),
  etcFiles: { hostname: "/c/hostname", hosts: "/c/hosts", resolvConf: "/c/resolv.conf" },
  passwd: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
  group: "root:x:0:\napp:x:1000:\nwheel:x:10:app\n",
  hostEnv: { FROMHOST: "yes" },
  thermalThrottle: [],
};

describe("entrypoint and cmd (Docker's rules)", () => {
  it("CLI args replace Cmd and keep Entrypoint", () => {
    expect(commandArgs({ Entrypoint: ["/ep"], Cmd: ["a"] }, { cmd: ["b", "c"] })).toEqual(["/ep", "b", "c"]);
  });
  it("image Cmd is used when no args are given", () => {
    expect(commandArgs({ Entrypoint: ["/ep"], Cmd: ["a"] }, { cmd: [] })).toEqual(["/ep", "a"]);
  });
  it("--entrypoint resets the image's Cmd", () => {
    expect(commandArgs({ Entrypoint: ["/ep"], Cmd: ["a"] }, { cmd: [], entrypoint: "/x" })).toEqual(["/x"]);
    expect(commandArgs({ Cmd: ["a"] }, { cmd: ["y"], entrypoint: "" })).toEqual(["y"]);
  });
  it("nothing to run is an error", () => {
    expect(() => commandArgs({}, { cmd: [] })).toThrow(/no command specified/);
  });
});

describe("environment", () => {
  it("puts PATH and HOSTNAME first and lets image and -e override by key", () => {
    const env = containerEnv(["PATH=/img", "A=1"], { env: ["A=2", "FROMHOST", "MISSING"], tty: true }, "h", { FROMHOST: "yes" });
    expect(env).toEqual(["PATH=/img", "HOSTNAME=h", "TERM=xterm", "A=2", "FROMHOST=yes"]);
  });
  it("parses env files", () => {
    expect(parseEnvFile("# c\nA=1\n\n  B=two words\nC\n", "f")).toEqual(["A=1", "B=two words", "C"]);
    expect(() => parseEnvFile("BAD KEY=1", "f")).toThrow(/whitespaces/);
  });
});

describe("users", () => {
  it("resolves names, numbers and groups from the image's files", () => {
    expect(resolveUser("", ctx.passwd, ctx.group)).toEqual({ uid: 0, gid: 0, additionalGids: [0], home: "/root" });
    expect(resolveUser("app", ctx.passwd, ctx.group)).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 10], home: "/home/app" });
    expect(resolveUser("1000:10", ctx.passwd, ctx.group)).toEqual({ uid: 1000, gid: 10, additionalGids: [10], home: "/home/app" });
    expect(resolveUser("4242", ctx.passwd, ctx.group)).toEqual({ uid: 4242, gid: 0, additionalGids: [0], home: "/" });
    expect(resolveUser("app:wheel", ctx.passwd, ctx.group).gid).toBe(10);
  });
  it("refuses unknown names", () => {
    expect(() => resolveUser("nobody2", ctx.passwd, ctx.group)).toThrow(/unable to find user nobody2/);
    expect(() => resolveUser("app:nogrp", ctx.passwd, ctx.group)).toThrow(/unable to find group nogrp/);
  });
});

describe("mount flags", () => {
  it("parses -v and --tmpfs like Docker", () => {
    expect(parseVolume("/h:/c:ro")).toEqual({ destination: "/c", type: "bind", source: "/h", options: ["rbind", "rprivate", "ro"] });
    expect(() => parseVolume("rel:/c")).toThrow(UsageError);
    expect(() => parseVolume("/h:c")).toThrow(/must be absolute/);
    expect(() => parseVolume("/h:/c:xx")).toThrow(/invalid mode/);
    expect(parseTmpfs("/run:size=1m")).toEqual({ destination: "/run", type: "tmpfs", source: "tmpfs", options: ["noexec", "nosuid", "nodev", "size=1m"] });
  });
  it("refuses the root, /proc and (for binds) /sys as destinations, as runc's checkProcMount", () => {
    expect(() => parseVolume("/h:/")).toThrow(`invalid mount config for type "bind": invalid specification: destination can't be '/'`);
    expect(() => parseVolume("/h:/x/..")).toThrow(/destination can't be '\/'/);
    expect(() => parseTmpfs("/")).toThrow(`invalid mount config for type "tmpfs": invalid specification: destination can't be '/'`);
    expect(() => parseVolume("/h:/proc")).toThrow(`"/proc" cannot be mounted because it is not of type proc`);
    expect(() => parseVolume("/h:/proc/sys")).toThrow(`"/proc/sys" cannot be mounted because it is inside /proc`);
    expect(() => parseTmpfs("/proc/acpi")).toThrow(/inside \/proc/);
    expect(() => parseVolume("/h:/sys/fs")).toThrow(`"/sys/fs" cannot be mounted because it is inside /sys`);
    expect(() => parseVolume("/h:/sys")).toThrow(/inside \/sys/);
    // What lxcfs emulates may be covered; /sys is refused to bind mounts only.
    expect(parseVolume("/h:/proc/meminfo:ro").destination).toBe("/proc/meminfo");
    expect(parseVolume("/h:/proc/sys/kernel/ns_last_pid").destination).toBe("/proc/sys/kernel/ns_last_pid");
    expect(parseTmpfs("/sys/x").destination).toBe("/sys/x");
    expect(parseVolume("/h:/process").destination).toBe("/process");
  });
});

describe("units", () => {
  it("parses sizes and cpus with Docker's messages", () => {
    expect(parseBytes("64m", "-m")).toBe(64 * 1024 * 1024);
    expect(parseBytes("1g", "-m")).toBe(1024 ** 3);
    expect(parseBytes("1024", "-m")).toBe(1024);
    expect(() => parseMemory("1x")).toThrow(`invalid argument "1x" for "-m, --memory" flag: invalid size: '1x'`);
    expect(() => parseMemory("1m")).toThrow("Minimum memory limit allowed is 6MB");
    expect(parseCpus("0.5", 2)).toBe(0.5);
    expect(() => parseCpus("-1", 2)).toThrow(UsageError);
    expect(() => parseCpus("3", 2)).toThrow(/range of CPUs is from 0.01 to 2.00/);
  });
});

describe("resources", () => {
  it("maps Docker's resource flags to linux.resources", () => {
    expect(resources(flags({ memory: 64, memorySwap: -1, memoryReservation: 32 })).memory).toEqual({ limit: 64, swap: -1, reservation: 32 });
    expect(resources(flags({ memory: 64 })).memory).toEqual({ limit: 64, swap: 128 });
    expect(resources(flags({ cpuShares: 512, cpuPeriod: 50000, cpuQuota: 25000, cpusetCpus: "1" })).cpu)
      .toEqual({ shares: 512, period: 50000, quota: 25000, cpus: "1" });
    expect(resources(flags({ pidsLimit: 0 })).pids).toEqual({ limit: -1 });
  });
  it("parses cpu lists and checks them against the host", () => {
    expect(parseCpuList("0-2,5,1", "--cpuset-cpus")).toEqual([0, 1, 2, 5]);
    expect(checkCpuset("1", "--cpuset-cpus", "0-1", "CPUs")).toBe("1");
    expect(() => checkCpuset("0-3", "--cpuset-cpus", "0-1", "CPUs")).toThrow("Requested CPUs are not available - requested 0-3, available: 0-1");
    expect(formatBytes(32 * 1024 * 1024)).toBe("32MiB");
    expect(formatBytes(1536)).toBe("1.5KiB");
  });
});

describe("buildSpec", () => {
  it("applies Docker's defaults", () => {
    const s = buildSpec({ Cmd: ["sh"], Env: ["X=1"] }, flags({ memory: 64 << 20, cpus: 0.5, pidsLimit: 20 }), ctx);
    expect(s.hostname).toBe(ctx.id.slice(0, 12));
    expect(s.process.capabilities.bounding).toHaveLength(14);
    expect(s.process.capabilities.effective).toEqual(s.process.capabilities.bounding);
    expect(s.process.rlimits).toEqual([{ type: "RLIMIT_NOFILE", soft: 1024, hard: 524288 }]);
    expect(s.process.env).toContain("HOME=/root");
    expect(s.linux.maskedPaths).toContain("/proc/kcore");
    expect(s.linux.readonlyPaths).toContain("/proc/sys");
    expect(s.linux.resources.memory).toEqual({ limit: 64 << 20, swap: 128 << 20 });
    expect(s.linux.resources.cpu).toEqual({ quota: 50000, period: 100000 });
    expect(s.linux.resources.pids).toEqual({ limit: 20 });
    expect(s.mounts.map((m) => m.destination)).toEqual(["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup",
      "/dev/mqueue", "/dev/shm", "/etc/resolv.conf", "/etc/hostname", "/etc/hosts"]);
  });
  it("--network host: no network namespace, the host's name unless -h gives one; none: a namespace of its own", () => {
    const types = (n?: "none" | "host", h?: string) => buildSpec({ Cmd: ["sh"] }, flags({ ...(n ? { network: n } : {}), ...(h ? { hostname: h } : {}) }), { ...ctx, hostHostname: "hostbox" });
    expect(types().linux.namespaces.map((x) => x.type)).toContain("network");
    expect(types("none").linux.namespaces.map((x) => x.type)).toContain("network");
    const host = types("host");
    expect(host.linux.namespaces.map((x) => x.type)).toEqual(["pid", "ipc", "uts", "mount", "cgroup"]);
    expect(host.hostname).toBe("hostbox");
    expect(host.process.env).toContain("HOSTNAME=hostbox");
    expect(types("host", "named").hostname).toBe("named");
  });
  it("gives a non-root user no effective capabilities", () => {
    const s = buildSpec({ Cmd: ["sh"], User: "app" }, flags(), ctx);
    expect(s.process.user).toMatchObject({ uid: 1000, gid: 1000 });
    expect(s.process.capabilities.effective).toEqual([]);
    expect(s.process.capabilities.bounding).toHaveLength(14);
    expect(s.process.env).toContain("HOME=/home/app");
  });
  it("withholds CAP_MKNOD where device rules are not enforced (cgroup v2 without BPF)", () => {
    const s = buildSpec({ Cmd: ["sh"] }, flags(), { ...ctx, devicesEnforced: false });
    expect(s.process.capabilities.bounding).toHaveLength(13);
    expect(s.process.capabilities.bounding).not.toContain("CAP_MKNOD");
  });

  it("keeps every annotation (--memory-merge with --cpus)", () => {
    const s = buildSpec({ Cmd: ["sh"] }, flags({ memoryMerge: true, cpus: 0.5 }), ctx);
    expect(s.annotations).toEqual({ "org.tsbox.memory-merge": "true", "io.tsbox.nano-cpus": "500000000" });
    expect(buildSpec({ Cmd: ["sh"] }, flags(), ctx).annotations).toBeUndefined();
  });

  it("refuses a relative working directory and duplicate mounts", () => {
    expect(() => buildSpec({ Cmd: ["sh"] }, flags({ workdir: "rel" }), ctx)).toThrow(/needs to be an absolute path/);
    expect(() => buildSpec({ Cmd: ["sh"] }, flags({ tmpfs: ["/x", "/x/"] }), ctx)).toThrow(/duplicate mount point/);
  });
});
