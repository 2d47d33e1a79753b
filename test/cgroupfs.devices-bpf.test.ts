// The cgroup v2 device filter: the program generated from OCI rules (checked
// by running it in a small interpreter of the instructions it uses, and
// byte for byte for a small rule set), and on the real kernel: attached to a
// cgroup2 cgroup (this hybrid host's unified mount, or the v2 VM's), a
// process in it can use /dev/null but not open a block device node.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import {
  DOCKER_DEFAULT_DEVICES, createCgroup, deviceFilterInstructions, deviceFilterProgram, detectHierarchy, devicesEnforced,
  emulateDeviceRules, openCgroup, type BpfInsn, type Hierarchy, type LinuxDeviceCgroup,
} from "../src/cgroupfs/index.js";
import { attachDeviceFilter } from "../src/native/shim.js";

const R = 2, W = 4, M = 1;
const CHAR = 2, BLOCK = 1;

/** Runs the program on one access: the instructions the generator emits, nothing more. */
function run(prog: BpfInsn[], type: number, access: number, major: number, minor: number): number {
  const ctx = [(access << 16) | type, major, minor];
  const r = new Array<number>(11).fill(0);
  for (let pc = 0, steps = 0; steps < 10_000; steps++) {
    const i = prog[pc]!;
    const jump = (cond: boolean) => { pc += 1 + (cond ? i.off : 0); };
    switch (i.code) {
      case 0x61: r[i.dst] = ctx[i.off / 4]! >>> 0; pc++; break;
      case 0x54: r[i.dst] = (r[i.dst]! & i.imm) >>> 0; pc++; break;
      case 0x74: r[i.dst] = r[i.dst]! >>> i.imm; pc++; break;
      case 0xb4: r[i.dst] = i.imm >>> 0; pc++; break;
      case 0xbc: r[i.dst] = r[i.src]! >>> 0; pc++; break;
      case 0x15: jump(r[i.dst] === i.imm); break;
      case 0x55: jump(r[i.dst] !== i.imm); break;
      case 0x5d: jump(r[i.dst] !== r[i.src]); break;
      case 0x95: return r[0]!;
      default: throw new Error(`unexpected opcode 0x${i.code.toString(16)} at ${pc}`);
    }
  }
  throw new Error("no exit");
}

describe("device filter program (pure)", () => {
  const docker = deviceFilterInstructions(DOCKER_DEFAULT_DEVICES);
  const allowed = (type: number, acc: number, maj: number, min: number) => run(docker, type, acc, maj, min) === 1;

  it("Docker's list: the basic char devices and ptys, mknod of anything; no disks, no fuse", () => {
    for (const [maj, min] of [[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1], [5, 2], [136, 0], [136, 7]] as const) {
      expect(allowed(CHAR, R | W, maj, min), `c ${maj}:${min}`).toBe(true);
    }
    expect(allowed(BLOCK, R, 8, 0)).toBe(false); // reading a disk
    expect(allowed(BLOCK, W, 254, 0)).toBe(false);
    expect(allowed(BLOCK, M, 8, 0)).toBe(true); // mknod of it is allowed, as on v1 (b *:* m)
    expect(allowed(CHAR, M, 10, 229)).toBe(true); // v1 keeps c *:* m after "deny c 10:229"
    expect(allowed(CHAR, R | W, 10, 229)).toBe(false); // /dev/fuse
    expect(allowed(CHAR, R, 1, 1)).toBe(false); // /dev/mem
    expect(allowed(CHAR, R | M, 1, 1)).toBe(false); // asking for more than allowed
  });

  it("replays rules as the v1 controller does", () => {
    expect(emulateDeviceRules(DOCKER_DEFAULT_DEVICES).defaultAllow).toBe(false);
    expect(emulateDeviceRules(DOCKER_DEFAULT_DEVICES).exceptions).toHaveLength(11); // the fuse deny removed nothing
    // allow-all default with a deny exception: any denied bit matches
    const rules: LinuxDeviceCgroup[] = [{ allow: true, access: "rwm" }, { allow: false, type: "b", major: 8, access: "w" }];
    const p = deviceFilterInstructions(rules);
    expect(run(p, BLOCK, R, 8, 1)).toBe(1);
    expect(run(p, BLOCK, R | W, 8, 1)).toBe(0);
    expect(run(p, BLOCK, W, 9, 0)).toBe(1);
    // a later allow, then a deny of part of it
    const q = emulateDeviceRules([{ allow: false }, { allow: true, type: "c", major: 4, minor: 1, access: "rw" }, { allow: false, type: "c", major: 4, minor: 1, access: "w" }]);
    expect(q.exceptions).toEqual([{ type: "c", major: 4, minor: 1, access: R }]);
    expect(() => deviceFilterInstructions([{ allow: true, type: "c", major: 1, access: "x" }])).toThrow(/invalid device access/);
  });

  it("encodes struct bpf_insn exactly", () => {
    const prog = deviceFilterProgram([{ allow: false }, { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }]);
    expect(prog.toString("hex").match(/.{16}/g)).toEqual([
      "6112000000000000", // r2 = *(u32 *)(r1 + 0)
      "54020000ffff0000", // w2 &= 0xffff
      "6113000000000000", // r3 = *(u32 *)(r1 + 0)
      "7403000010000000", // w3 >>= 16
      "6114040000000000", // r4 = *(u32 *)(r1 + 4)
      "6115080000000000", // r5 = *(u32 *)(r1 + 8)
      "5502040002000000", // if r2 != 2 (char) goto +4
      "5504030001000000", // if r4 != 1 goto +3
      "5505020003000000", // if r5 != 3 goto +2
      "b400000001000000", // w0 = 1
      "9500000000000000", // exit
      "b400000000000000", // w0 = 0
      "9500000000000000", // exit
    ]);
  });
});

// ---------------------------------------------------------------- real kernel

const isRoot = process.getuid?.() === 0;
const made: { h: Hierarchy; id: string }[] = [];
afterEach(async () => {
  for (const { h, id } of made.splice(0)) await openCgroup(h, id).destroy({ timeoutMs: 5000 });
});

/** A cgroup2 hierarchy to test in: the host's (v2) or this hybrid host's unified mount. */
function cgroup2(): Hierarchy | undefined {
  const h = detectHierarchy();
  if (h.version === "v2") return h;
  return h.v2root ? { version: "v2", mounts: new Map([["cgroup2", h.v2root]]), v2root: h.v2root } : undefined;
}

/** Runs a shell script in a new cgroup (with or without the filter) and returns its output. */
async function inCgroup(h: Hierarchy, filter: boolean, script: string): Promise<string> {
  const id = `bpf-${process.pid}-${made.length}`;
  made.push({ h, id });
  const cg = createCgroup(h, id, filter ? { deviceFilter: attachDeviceFilter } : {});
  cg.apply({ devices: DOCKER_DEFAULT_DEVICES });
  const child = spawn("sh", ["-c", `read x; ${script}`], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const done = new Promise((r) => child.on("close", r));
  cg.addProcess(child.pid!);
  child.stdin.end("go\n");
  await done;
  return out;
}

describe.skipIf(!isRoot || !cgroup2())("device filter on the real kernel (cgroup2)", () => {
  it("the kernel takes Docker's program; devicesEnforced on v2 with the loader", () => {
    expect(() => attachDeviceFilter("", deviceFilterProgram(DOCKER_DEFAULT_DEVICES))).not.toThrow();
    expect(devicesEnforced({ version: "v2", mounts: new Map([["cgroup2", "/sys/fs/cgroup"]]) }, attachDeviceFilter)).toBe(true);
  });

  it("a bad program fails with the verifier's log; a missing cgroup with the path; no fd is left open", () => {
    const fds = () => fs.readdirSync("/proc/self/fd").length;
    const before = fds();
    const noExit = Buffer.from("b400000000000000", "hex"); // w0 = 0, then falls off the end
    expect(() => attachDeviceFilter("", noExit)).toThrow(/BPF_PROG_LOAD.*verifier: .+/s);
    expect(() => attachDeviceFilter("/sys/fs/cgroup/tsbox-no-such-cgroup", deviceFilterProgram(DOCKER_DEFAULT_DEVICES)))
      .toThrow(/opening \/sys\/fs\/cgroup\/tsbox-no-such-cgroup: No such file or directory/);
    // not a cgroup: the attach fails after the load (both fds closed)
    expect(() => attachDeviceFilter(os.tmpdir(), deviceFilterProgram(DOCKER_DEFAULT_DEVICES))).toThrow(/BPF_PROG_ATTACH/);
    for (let i = 0; i < 5; i++) attachDeviceFilter("", deviceFilterProgram(DOCKER_DEFAULT_DEVICES));
    expect(fds()).toBe(before);
  });

  it("attached: /dev/null and /dev/zero work, mknod of a disk works (as Docker), opening it is EPERM", async () => {
    const h = cgroup2()!;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsbox-bpf-"));
    try {
      const script = `echo x > /dev/null && echo null-ok; head -c1 /dev/zero > /dev/null && echo zero-ok; ` +
        `mknod ${dir}/disk b 8 0 && echo mknod-ok; head -c1 ${dir}/disk > /dev/null; rm -f ${dir}/disk; ` +
        `head -c1 /dev/kmsg > /dev/null; true`;
      const control = await inCgroup(h, false, script);
      expect(control).not.toMatch(/Operation not permitted/); // without the filter: ENXIO / reads
      const out = await inCgroup(h, true, script);
      expect(out).toContain("null-ok");
      expect(out).toContain("zero-ok");
      expect(out).toContain("mknod-ok");
      expect(out).toMatch(new RegExp(`${dir}/disk.*Operation not permitted`));
      expect(out).toMatch(/\/dev\/kmsg.*Operation not permitted/); // c 1:11, not on the list
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
