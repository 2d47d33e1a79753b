// Crash recovery (issue 5): whichever process dies (CLI, monitor, container)
// at each step of create/start/stop/rm, the next command reports the true state
// and rm -f / system prune release every mount, cgroup, process and directory.
// Concurrency: 20 parallel run -d / rm -f / ps never corrupt state or
// duplicate a name.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { alive, cgroupDirsOf, containerIds, mountsUnder, removeRoot, rootWithBusybox, stateOf, tsbox, tsboxResult, until } from "./helpers.js";
import { fdsUnder } from "./lifecycle.helpers.js";
import { DEFAULT_NETWORK_ID } from "../src/network/networks.js";

let root: string;
beforeAll(() => { root = rootWithBusybox(); });
afterAll(() => { removeRoot(root); });
afterEach(() => {
  expect(mountsUnder(root)).toEqual([]);
});

const ok = (args: string[], env: NodeJS.ProcessEnv = process.env): string => {
  const r = tsbox(root, args, { env });
  if (r.code !== 0) throw new Error(`tsbox ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};
const crashing = (step: string): NodeJS.ProcessEnv => ({ ...process.env, TSBOX_TEST_CRASH_AT: step });
const statusOf = (ref: string): string => (JSON.parse(ok(["inspect", ref])) as { State: { Status: string } }[])[0]!.State.Status;

/** Every process whose command line names the container's directory (its monitor). */
function monitorsOf(id: string): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`/containers/${id}`); } catch { return false; }
  }).map(Number);
}

function expectReleased(id: string): void {
  expect(existsSync(join(root, "containers", id))).toBe(false);
  expect(cgroupDirsOf(id)).toEqual([]);
  expect(monitorsOf(id)).toEqual([]);
  expect(readdirSync(join(root, "names")).filter((n) => readFileSync(join(root, "names", n), "utf8").trim() === id)).toEqual([]);
  expect(fdsUnder(join(root, "containers", id))).toEqual([]);
}

describe("a SIGKILLed CLI during run -d", () => {
  for (const step of ["create", "monitor", "started"]) {
    it(`at "${step}": the next command reports it exited; rm -f releases everything`, () => {
      const before = new Set(containerIds(root));
      const r = tsbox(root, ["run", "-d", "busybox", "sleep", "1000"], { env: crashing(step) });
      expect(r.code).toBe(137);
      const [id] = containerIds(root).filter((i) => !before.has(i));
      expect(id).toBeDefined();
      // The next command recovers: the container is not left running without an owner.
      expect(ok(["ps", "-a", "--no-trunc"])).toMatch(new RegExp(`${id}.*Exited \\(137\\)`));
      expect(statusOf(id!)).toBe("exited");
      expect(monitorsOf(id!)).toEqual([]);
      expect(cgroupDirsOf(id!)).toEqual([]);
      ok(["rm", "-f", id!]);
      expectReleased(id!);
    });
  }

  it("system prune releases what crashed creations left", () => {
    const before = new Set(containerIds(root));
    for (const step of ["create", "monitor", "started"]) {
      expect(tsbox(root, ["run", "-d", "busybox", "sleep", "1000"], { env: crashing(step) }).code).toBe(137);
    }
    const ids = containerIds(root).filter((i) => !before.has(i));
    expect(ids).toHaveLength(3);
    expect(ok(["system", "prune", "-f"])).toMatch(/Deleted Containers:/);
    for (const id of ids) expectReleased(id);
  });
});

describe("a SIGKILLed CLI at the exit of run --rm --cgroup-parent --memory", () => {
  // The release kept the namespace warm (the address moved to the slot, its last step),
  // and died before unmounting the container's pin of it and removing network.json.
  it("after keeping its namespace warm: the next command releases the container, and the slot stays whole", () => {
    const parent = `tsbox-crash-${process.pid}`;
    const WARM = "/run/tsbox/net/warm";
    try {
      // No warm namespace to claim, and room to keep one (at most 4 a network, host-wide). The
      // other test file running beside this one may fill the pool again in between: then the run
      // ends without reaching the crash point (exit 0), and is tried again.
      const before = new Set(containerIds(root));
      let r = { code: -1, stdout: "", stderr: "" };
      for (let tries = 0; tries < 5 && r.code !== 137; tries++) {
        ok(["system", "prune", "-f"]);
        r = tsbox(root, ["run", "--rm", "--cgroup-parent", parent, "--memory", "64m", "busybox", "true"], { env: crashing("kept-warm") });
        if (r.code !== 0) break;
      }
      expect(r.code, r.stderr).toBe(137);
      const [id] = containerIds(root).filter((i) => !before.has(i));
      expect(id).toBeDefined();
      const netns = join(root, "containers", id!, "netns");
      expect(mountsUnder(netns)).toHaveLength(1);
      const { ip } = (JSON.parse(readFileSync(join(root, "containers", id!, "network.json"), "utf8")) as { endpoints: { ip: string; networkId: string }[] }).endpoints[0]!;
      const ino = statSync(netns).ino;
      const lease = readFileSync(`/run/tsbox/net/ip/${DEFAULT_NETWORK_ID}/${ip}`, "utf8").split("\n");
      expect(lease[0]).toBe(WARM);
      const slot = lease[1]!;

      ok(["ps", "-a"]); // recovers
      expect(containerIds(root)).not.toContain(id);
      expect(mountsUnder(root)).toEqual([]);
      expect(readdirSync("/sys/fs/cgroup").flatMap((h) => {
        try { return readdirSync(join("/sys/fs/cgroup", h, parent)).filter((n) => n === id); } catch { return []; }
      })).toEqual([]);
      // One slot holds the namespace, whole (pin, record, address), with its veth still in it. The
      // test file running beside this one may have claimed it meanwhile (and kept it again under a
      // new slot at its container's exit): then its container, or that slot, holds it and the address.
      const pins = readdirSync(WARM).filter((n) => !n.includes(".")).filter((n) => {
        try { return statSync(join(WARM, n)).ino === ino; } catch { return false; }
      });
      expect(pins.length).toBeLessThanOrEqual(1);
      const holder = pins[0];
      const leased = readFileSync(`/run/tsbox/net/ip/${DEFAULT_NETWORK_ID}/${ip}`, "utf8");
      expect(leased).not.toContain(id!);
      if (holder !== undefined) {
        expect(existsSync(join(WARM, `${holder}.json`))).toBe(true);
        expect(leased).toBe(`${WARM}\n${holder}\n`);
        expect(execFileSync("nsenter", [`--net=${join(WARM, holder)}`, "ip", "-o", "addr", "show", "dev", "eth0"], { encoding: "utf8" })).toContain(` ${ip}/`);
      } else {
        // a container of the other file holds it now, and the address with it
        expect(leased.startsWith(`${WARM}\n`)).toBe(false);
      }
      if (holder !== slot) console.warn(`kept-warm crash test: the namespace moved on (slot ${slot} → ${holder ?? "a container"}) while it ran`);
    } finally {
      // The parent tsbox made (it stays, as Docker's --cgroup-parent does): empty once the container is gone.
      for (const h of readdirSync("/sys/fs/cgroup")) {
        try { rmdirSync(join("/sys/fs/cgroup", h, parent)); } catch { /* not in this hierarchy */ }
      }
    }
  });
});

describe("recovery of several containers left by dead CLIs", () => {
  it("one that cannot be released keeps neither the others' cgroups and mounts nor the command", () => {
    const parent = `tsbox-crash2-${process.pid}`;
    const cgroupsUnder = (id: string): string[] => readdirSync("/sys/fs/cgroup").filter((h) => existsSync(join("/sys/fs/cgroup", h, parent, id)));
    // Killed with its cgroups made and its namespace attached, before its monitor.
    const crashedRun = (): string => {
      const before = new Set(containerIds(root));
      const r = tsbox(root, ["run", "-d", "--cgroup-parent", parent, "--memory", "64m", "busybox", "sleep", "1000"], { env: crashing("monitor") });
      expect(r.code, r.stderr).toBe(137);
      const [id] = containerIds(root).filter((i) => !before.has(i));
      expect(cgroupsUnder(id!).length).toBeGreaterThan(0);
      expect(mountsUnder(join(root, "containers", id!))).toHaveLength(1);
      return id!;
    };
    let restore = (): void => {};
    try {
      const bad = crashedRun();
      // A record readable but that no release can act on: a cgroup parent that is no cgroup name.
      const stateFile = join(root, "containers", bad, "state.json");
      const recorded = readFileSync(stateFile, "utf8");
      writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(recorded) as object, cgroupParent: "not a name" }));
      restore = () => { if (existsSync(stateFile)) writeFileSync(stateFile, recorded); };
      // Its recovery fails in the preamble of every command from now on: the command goes on.
      const good = crashedRun();
      ok(["ps", "-a"]);
      expect(statusOf(good)).toBe("exited");
      expect(cgroupsUnder(good)).toEqual([]);
      expect(mountsUnder(join(root, "containers", good))).toEqual([]);
      const rm = tsbox(root, ["rm", "-f", bad]);
      expect(rm.code).toBe(1);
      expect(rm.stderr).toMatch(/invalid parent "not a name"/);

      restore();
      ok(["rm", "-f", bad, good]);
      for (const id of [bad, good]) {
        expectReleased(id);
        expect(cgroupsUnder(id)).toEqual([]);
      }
    } finally {
      restore();
      tsbox(root, ["rm", "-f", ...containerIds(root)]);
      for (const h of readdirSync("/sys/fs/cgroup")) {
        try { rmdirSync(join("/sys/fs/cgroup", h, parent)); } catch { /* not in this hierarchy */ }
      }
    }
  });
});

describe("a SIGKILLed CLI during start", () => {
  it("the container is reported exited, and rm -f releases it", () => {
    const id = ok(["run", "-d", "busybox", "true"]).trim();
    ok(["wait", id]);
    expect(tsbox(root, ["start", id], { env: crashing("start") }).code).toBe(137);
    expect(statusOf(id)).toBe("exited");
    expect(cgroupDirsOf(id)).toEqual([]);
    ok(["start", id]);
    ok(["wait", id]);
    ok(["rm", "-f", id]);
    expectReleased(id);
  });
});

describe("a SIGKILLed CLI during stop and rm", () => {
  for (const [step, cmd] of [["stop", ["stop"]], ["rm", ["rm", "-f"]]] as const) {
    it(`at "${step}": the container is still reported running, and rm -f still works`, () => {
      const id = ok(["run", "-d", "busybox", "sleep", "1000"]).trim();
      expect(tsbox(root, [...cmd, id], { env: crashing(step) }).code).toBe(137);
      expect(statusOf(id)).toBe("running");
      expect(ok(["ps", "-q", "--no-trunc"])).toContain(id);
      ok(["rm", "-f", id]);
      expectReleased(id);
    });
  }
});

describe("a SIGKILLed monitor or container", () => {
  it("monitor: the container dies with it (parent-death signal); reported exited 137", async () => {
    const id = ok(["run", "-d", "--restart", "always", "busybox", "sleep", "1000"]).trim();
    const st = stateOf(root, id);
    const pid = st.pid as number;
    process.kill((st.owner as { pid: number }).pid, "SIGKILL");
    await until(() => !alive(pid) || undefined, "the container to die with its monitor");
    expect(statusOf(id)).toBe("exited");
    expect(ok(["ps", "-a", "--no-trunc"])).toMatch(new RegExp(`${id}.*Exited \\(137\\)`));
    expect(cgroupDirsOf(id)).toEqual([]);
    ok(["rm", id]);
    expectReleased(id);
  });

  it("container: the monitor records 137 and exits", async () => {
    const id = ok(["run", "-d", "busybox", "sleep", "1000"]).trim();
    const st = stateOf(root, id);
    process.kill(st.pid as number, "SIGKILL");
    expect(ok(["wait", id])).toBe("137\n");
    await until(() => !alive((st.owner as { pid: number }).pid) || undefined, "the monitor to exit");
    expect(cgroupDirsOf(id)).toEqual([]);
    ok(["rm", id]);
    expectReleased(id);
  });
});

describe("concurrency", () => {
  it("20 concurrent run -d / rm -f / ps never corrupt state or duplicate names", async () => {
    const run = (args: string[]) => tsboxResult(root, args).then((r) => ({ code: r.code, out: r.stdout, err: r.stderr }));
    const before = new Set(containerIds(root));
    // Ten of them race for the same name: exactly one wins.
    const jobs = [
      ...Array.from({ length: 10 }, () => run(["run", "-d", "--name", "contended", "busybox", "sleep", "1000"])),
      ...Array.from({ length: 10 }, () => run(["run", "-d", "busybox", "sleep", "1000"])),
      ...Array.from({ length: 5 }, () => run(["ps", "-a"])),
    ];
    const results = await Promise.all(jobs);
    const named = results.slice(0, 10);
    expect(named.filter((r) => r.code === 0)).toHaveLength(1);
    for (const r of named.filter((x) => x.code !== 0)) expect(r.err).toMatch(/Conflict. The container name "\/contended" is already in use/);
    for (const r of results.slice(10)) expect(r.code, r.err).toBe(0);
    const ids = containerIds(root).filter((i) => !before.has(i));
    expect(ids).toHaveLength(11);
    const names = ids.map((i) => stateOf(root, i).name as string);
    expect(new Set(names).size).toBe(11);
    // Every state is whole and running.
    for (const id of ids) expect(stateOf(root, id)).toMatchObject({ id, status: "running" });
    // Half removed while others list.
    const rms = await Promise.all([
      ...ids.map((id) => run(["rm", "-f", id])),
      ...Array.from({ length: 5 }, () => run(["ps", "-a", "--format", "json"])),
    ]);
    for (const r of rms) expect(r.code, r.err).toBe(0);
    for (const r of rms.slice(ids.length)) for (const l of r.out.split("\n").filter(Boolean)) JSON.parse(l);
    for (const id of ids) expectReleased(id);
  });
});
