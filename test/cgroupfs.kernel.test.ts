// cgroupfs against the real /sys/fs/cgroup (root required). Every test uses
// its own id under the "tsbox" parent and removes what it made in afterEach,
// even on failure. Nothing outside tsbox/<id> is written (on v2 the root's
// subtree_control only gains a wanted controller it has available but not
// enabled — see src/cgroupfs/v2/controllers.ts).

import * as fs from "node:fs";
import * as path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  DOCKER_DEFAULT_DEVICES,
  createCgroup,
  detectHierarchy,
  listCgroups,
  openCgroup,
  type Cgroup,
  type Hierarchy,
} from "../src/cgroupfs/index.js";

const isRoot = process.getuid?.() === 0;
const M = 1 << 20;

let h: Hierarchy;
const made: { h: Hierarchy; id: string }[] = [];
const children: ChildProcess[] = [];
let seq = 0;

function newId(): string {
  return `kt-${process.pid}-${Date.now().toString(36)}-${seq++}`;
}

function create(hier: Hierarchy, id = newId()): Cgroup {
  made.push({ h: hier, id });
  return createCgroup(hier, id);
}

function sleeper(): { child: ChildProcess; exited: Promise<NodeJS.Signals | null> } {
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  children.push(child);
  const exited = new Promise<NodeJS.Signals | null>((r) => child.once("exit", (_c, sig) => r(sig)));
  return { child, exited };
}

function read(dir: string, file: string): string {
  return fs.readFileSync(path.join(dir, file), "utf8").trim();
}

/** /proc/PID/cgroup as hierarchy key ("memory", "cpu,cpuacct", "name=systemd", "" for v2) → path. */
function procCgroup(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

beforeAll(() => {
  h = detectHierarchy();
});

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const { h: hier, id } of made.splice(0)) await openCgroup(hier, id).destroy({ timeoutMs: 5000 });
});

describe.skipIf(!isRoot)("cgroupfs on the real kernel", () => {
  it("detects this host's layout", () => {
    expect(["v1", "v2"]).toContain(h.version);
    if (h.version === "v1") {
      expect(h.mounts.get("memory")).toBeDefined();
      expect([...h.mounts.values()]).not.toContain(h.v2root);
    } else {
      expect(h.mounts.get("cgroup2")).toBe(h.v2root);
    }
  });

  it("creates the cgroup and the kernel reads the limits back", () => {
    const cg = create(h);
    expect(cg.path).toBe(`/tsbox/${cg.id}`);
    for (const d of cg.dirs) expect(fs.statSync(d).isDirectory()).toBe(true);
    cg.apply({
      memory: { limit: 64 * M, swap: 128 * M },
      cpu: { shares: 512, quota: 50000, period: 100000 },
      pids: { limit: 50 },
    });
    if (h.version === "v1") {
      const mem = path.join(h.mounts.get("memory")!, cg.path);
      const cpu = path.join(h.mounts.get("cpu")!, cg.path);
      const pids = path.join(h.mounts.get("pids")!, cg.path);
      const cpuset = path.join(h.mounts.get("cpuset")!, cg.path);
      expect(read(mem, "memory.limit_in_bytes")).toBe(String(64 * M));
      if (fs.existsSync(path.join(mem, "memory.memsw.limit_in_bytes"))) {
        expect(read(mem, "memory.memsw.limit_in_bytes")).toBe(String(128 * M));
      }
      expect(read(cpu, "cpu.cfs_quota_us")).toBe("50000");
      expect(read(cpu, "cpu.cfs_period_us")).toBe("100000");
      expect(read(cpu, "cpu.shares")).toBe("512");
      expect(read(pids, "pids.max")).toBe("50");
      // cpuset inherited from the hierarchy root through tsbox's parent
      expect(read(cpuset, "cpuset.cpus")).toBe(read(h.mounts.get("cpuset")!, "cpuset.cpus"));
      expect(read(cpuset, "cpuset.mems")).toBe(read(h.mounts.get("cpuset")!, "cpuset.mems"));

      // raise, then lower below the old limit: the write order keeps memsw >= limit
      cg.apply({ memory: { limit: 256 * M, swap: 512 * M } });
      expect(read(mem, "memory.limit_in_bytes")).toBe(String(256 * M));
      cg.apply({ memory: { limit: 32 * M, swap: 48 * M } });
      expect(read(mem, "memory.limit_in_bytes")).toBe(String(32 * M));
      if (fs.existsSync(path.join(mem, "memory.memsw.limit_in_bytes"))) {
        expect(read(mem, "memory.memsw.limit_in_bytes")).toBe(String(48 * M));
      }
      cg.apply({ pids: { limit: -1 } });
      expect(read(pids, "pids.max")).toBe("max");

      expect(() => cg.apply({ cpu: { quota: 500 } })).toThrow('cgroup: writing "500" to cpu.cfs_quota_us: Invalid argument');
    } else {
      const dir = cg.dirs[0]!;
      expect(read(dir, "memory.max")).toBe(String(64 * M));
      if (fs.existsSync(path.join(dir, "memory.swap.max"))) expect(read(dir, "memory.swap.max")).toBe(String(64 * M));
      expect(read(dir, "cpu.max")).toBe("50000 100000");
      expect(read(dir, "cpu.weight")).toBe("20");
      expect(read(dir, "pids.max")).toBe("50");
      expect(() => cg.apply({ cpu: { quota: 500 } })).toThrow('cgroup: writing "500" to cpu.max: Invalid argument');
    }
  });

  it.skipIf(!fs.existsSync("/sys/fs/cgroup/devices/devices.list"))("applies Docker's default device rules (v1)", () => {
    const cg = create(h);
    cg.apply({ devices: DOCKER_DEFAULT_DEVICES });
    const list = read(path.join(h.mounts.get("devices")!, cg.path), "devices.list").split("\n");
    expect(list).not.toContain("a *:* rwm");
    for (const rule of ["c 1:3 rwm", "c 1:5 rwm", "c 136:* rwm", "c 5:2 rwm", "c *:* m", "b *:* m"]) expect(list).toContain(rule);
    expect(list.some((l) => l.startsWith("c 10:229"))).toBe(false);
  });

  it("places a process in every hierarchy; destroy kills it and removes every dir", async () => {
    const cg = create(h);
    expect(listCgroups(h)).toContain(cg.id);
    const a = sleeper();
    const b = sleeper();
    cg.addProcess(a.child.pid!);
    cg.addProcess(b.child.pid!);
    expect(cg.pids()).toEqual([a.child.pid!, b.child.pid!].sort((x, y) => x - y));

    const seen = procCgroup(a.child.pid!);
    if (h.version === "v1") {
      // every hierarchy tsbox placed it in shows the tsbox path
      const keys = [...seen.keys()].filter((k) => k.split(",").some((c) => h.mounts.has(c)));
      expect(new Set(keys.map((k) => h.mounts.get(k.split(",")[0]!)))).toEqual(new Set(h.mounts.values()));
      for (const k of keys) expect(seen.get(k), k).toBe(cg.path);
    } else {
      expect(seen.get("")).toBe(cg.path);
    }

    // a sub-cgroup the container made itself goes too
    const sub = path.join(cg.dirs[0]!, "inner");
    fs.mkdirSync(sub);

    await cg.destroy({ timeoutMs: 5000 });
    expect(await a.exited).toBe("SIGKILL");
    expect(await b.exited).toBe("SIGKILL");
    for (const d of cg.dirs) expect(fs.existsSync(d), d).toBe(false);
    expect(listCgroups(h)).not.toContain(cg.id);
    await cg.destroy(); // already gone: fine
  });

  it("refuses to create an existing cgroup", () => {
    const cg = create(h);
    expect(() => createCgroup(h, cg.id)).toThrow(/already exists/);
    for (const d of cg.dirs) expect(fs.existsSync(d)).toBe(true);
  });

  // The hybrid host's cgroup2 mount carries no tsbox controllers, but placement,
  // cgroup.kill and teardown of the v2 code path can be exercised there.
  it.skipIf(!isRoot)("v2 code path on the hybrid unified mount (placement and cgroup.kill)", async () => {
    if (h.version !== "v1" || !h.v2root) return;
    const v2: Hierarchy = { version: "v2", mounts: new Map([["cgroup2", h.v2root]]), v2root: h.v2root };
    const rootSubtree = read(h.v2root, "cgroup.subtree_control");
    const cg = create(v2);
    expect(read(h.v2root, "cgroup.subtree_control")).toBe(rootSubtree); // nothing wanted was available
    const a = sleeper();
    cg.addProcess(a.child.pid!);
    expect(procCgroup(a.child.pid!).get("")).toBe(cg.path);
    expect(listCgroups(v2)).toContain(cg.id);
    await cg.destroy({ timeoutMs: 5000 });
    expect(await a.exited).toBe("SIGKILL");
    expect(fs.existsSync(cg.dirs[0]!)).toBe(false);
  });
  /** A shell that waits for a line on stdin (sent once it is placed), writes a 16 MiB file, then spins. */
  function busyWorker(file: string): { child: ChildProcess; go: () => void } {
    const script = `read x; head -c 16777216 /dev/zero > ${file}; cat ${file} > /dev/null; while :; do :; done`;
    const child = spawn("sh", ["-c", script], { stdio: ["pipe", "ignore", "ignore"] });
    children.push(child);
    return { child, go: () => child.stdin!.write("go\n") };
  }

  async function waitFor<T>(fn: () => T | undefined | false, what: string, ms = 20_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = fn();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function freezeCheck(cg: Cgroup): Promise<void> {
    await cg.freeze();
    expect(cg.frozen()).toBe(true);
    const before = cg.stats().cpu!.usageNs;
    await new Promise((r) => setTimeout(r, 300));
    expect(cg.stats().cpu!.usageNs).toBe(before); // frozen: no CPU at all
    await cg.thaw();
    expect(cg.frozen()).toBe(false);
    await waitFor(() => cg.stats().cpu!.usageNs > before, "CPU to be used again after thaw");
  }

  it("stats() reads the real accounting; freeze stops a busy process and thaw resumes it", async () => {
    const cg = create(h);
    // tmpfs: charged as shmem (part of file) on every host; the VM's 9p project share has no page cache
    const file = path.join(fs.mkdtempSync("/dev/shm/tsbox-stats-"), "f");
    try {
      const w = busyWorker(file);
      cg.addProcess(w.child.pid!);
      w.go();
      const s = await waitFor(() => {
        const r = cg.stats();
        return r.memory && r.memory.file !== undefined && r.memory.file >= 16 * M && r.cpu!.usageNs > 50e6 ? r : undefined;
      }, "the worker's page cache and CPU time to be accounted");
      expect(s.memory!.usage).toBeGreaterThanOrEqual(16 * M);
      // shmem is a separate counter of memory.stat, flushed in per-CPU batches: it may trail
      // the file pages by a few (CI's v2 guest read 16744448, 32 KiB short)
      expect(s.memory!.shmem).toBeGreaterThanOrEqual(15 * M);
      expect(s.memory!.workingSet).toBe(Math.max(0, s.memory!.usage - (s.memory!.inactiveFile ?? 0)));
      expect(s.memory!.limit).toBeUndefined();
      expect(s.memory!.oomKills).toBe(0);
      expect(Object.keys(s.memory!.stat).length).toBeGreaterThan(10);
      expect(s.cpu!.userNs! + s.cpu!.systemNs!).toBeGreaterThan(0);
      expect(s.pids?.current).toBeGreaterThanOrEqual(1);
      if (h.version === "v1") expect(s.io).toBeDefined();
      cg.apply({ memory: { limit: 256 * M }, pids: { limit: 50 } });
      const s2 = cg.stats();
      expect(s2.memory!.limit).toBe(256 * M);
      expect(s2.pids!.limit).toBe(50);

      await freezeCheck(cg);
      cg.kill("SIGKILL");
      await waitFor(() => cg.pids().length === 0, "the worker to die");
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  it("kill(SIGKILL) of a frozen container kills it (v1 thaws after signalling)", async () => {
    const cg = create(h);
    const a = sleeper();
    cg.addProcess(a.child.pid!);
    await cg.freeze();
    cg.kill("SIGKILL");
    expect(await a.exited).toBe("SIGKILL");
    expect(cg.frozen()).toBe(h.version === "v2"); // v2: still frozen, but fatal signals get through
    await cg.destroy({ timeoutMs: 5000 });
  });

  it("destroy() of a paused container kills its processes and removes it (v1; v2 on the hybrid unified mount)", async () => {
    const hierarchies = [h];
    if (h.version === "v1" && h.v2root) hierarchies.push({ version: "v2", mounts: new Map([["cgroup2", h.v2root]]), v2root: h.v2root });
    for (const hier of hierarchies) {
      const cg = create(hier);
      const a = sleeper();
      cg.addProcess(a.child.pid!);
      await cg.freeze();
      await cg.destroy({ timeoutMs: 5000 });
      expect(await a.exited).toBe("SIGKILL");
      for (const d of cg.dirs) expect(fs.existsSync(d)).toBe(false);
    }
  });

  it.skipIf(!isRoot)("v2 freezer and cpu.stat on the hybrid unified mount", async () => {
    if (h.version !== "v1" || !h.v2root) return;
    const v2: Hierarchy = { version: "v2", mounts: new Map([["cgroup2", h.v2root]]), v2root: h.v2root };
    const cg = create(v2);
    const w = busyWorker("/dev/null");
    cg.addProcess(w.child.pid!);
    w.go();
    await waitFor(() => (cg.stats().cpu?.usageNs ?? 0) > 20e6, "cpu.stat usage_usec to grow");
    expect(fs.readFileSync(path.join(cg.dirs[0]!, "cgroup.freeze"), "utf8").trim()).toBe("0");
    await freezeCheck(cg);
    await cg.freeze();
    expect(read(cg.dirs[0]!, "cgroup.events")).toContain("frozen 1");
    cg.kill("SIGKILL"); // cgroup.kill
    await waitFor(() => cg.pids().length === 0, "cgroup.kill to empty it");
  });
});
