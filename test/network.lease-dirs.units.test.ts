// A network's address directory goes when the network goes (`network rm`) or
// when `system prune` finds it empty and its network gone, while another tsbox
// process may be leasing an address in it: two processes over a private lease
// directory (no mounts, no netavark). The kernel side is in network.test.ts.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO } from "./helpers.js";

const run = mkdtempSync(join(tmpdir(), "tsbox-lease-dirs-"));
process.env.TSBOX_NET_RUN_DIR = run;
const leases = await import("../src/network/leases.js");
const attach = await import("../src/network/attach.js");

const NET = "b".repeat(64);
const def = {
  id: NET, name: "tn-dirs", driver: "bridge" as const, bridge: "tsbr-bbbbbbbbbb", subnet: "10.90.200.0/24", gateway: "10.90.200.1",
  internal: false, dns: true, created: "2026-01-01T00:00:00.000Z",
};
const host = { pinNetns(): void {}, bindNetns(): void {}, unmount(): void {} };
const scopeDir = join(run, "ip", NET);

afterAll(() => rmSync(run, { recursive: true, force: true }));

describe("a network's address directory", () => {
  it("goes with the network when no lease is left in it, and stays while one is", () => {
    const holder = { root: "/var/lib/tsbox", id: "c".repeat(64) };
    expect(leases.tryLease("ip", NET, "10.90.200.2", holder)).toBe(true);
    attach.releaseNetworkBridge(host, def);
    expect(readFileSync(join(scopeDir, "10.90.200.2"), "utf8")).toBe(`${holder.root}\n${holder.id}\n`);
    leases.releaseLease("ip", NET, "10.90.200.2", holder);
    attach.releaseNetworkBridge(host, def);
    expect(existsSync(scopeDir)).toBe(false);
  });

  it("system prune: an empty one goes unless its network is defined; a crashed transfer's temporary file goes from every one", () => {
    const defined = "d".repeat(64);
    const held = "e".repeat(64);
    const holder = { root: "/var/lib/tsbox", id: "c".repeat(64) };
    mkdirSync(join(run, "ip", defined), { recursive: true });
    mkdirSync(scopeDir, { recursive: true });
    expect(leases.tryLease("ip", held, "10.90.201.2", holder)).toBe(true);
    for (const dir of [scopeDir, join(run, "ip", defined), join(run, "ip", held)]) writeFileSync(join(dir, ".10.90.200.3.4242.tmp"), "x\ny\n");
    expect(attach.sweepLeaseScopes(new Set([defined]))).toBe(1);
    expect(existsSync(scopeDir)).toBe(false);
    expect(readdirSync(join(run, "ip", defined))).toEqual([]);
    expect(readdirSync(join(run, "ip", held))).toEqual(["10.90.201.2"]);
  });

  // The allocator leases, waits until the remover has made a pass while it
  // holds the lease (which must still be there), releases, and waits until the
  // remover has removed the directory before leasing again: every allocation
  // makes the directory anew while the remover keeps trying to remove it.
  it("removed while another process leases addresses in it, no lease is lost and no allocation fails", async () => {
    const ROUNDS = 40;
    const STRESS = 2000;
    const passes = join(run, "passes");
    const stop = join(run, "stop");
    const script = join(run, "worker.mts");
    writeFileSync(script, `
      import { existsSync, readFileSync, writeFileSync } from "node:fs";
      import { join } from "node:path";
      import { NETWORK_LOCK, releaseLease, tryLease } from ${JSON.stringify(join(REPO, "src/network/leases.ts"))};
      import { releaseNetworkBridge, sweepLeaseScopes } from ${JSON.stringify(join(REPO, "src/network/attach.ts"))};
      import { sleepSync, withLock } from ${JSON.stringify(join(REPO, "src/util/lock.ts"))};
      const [role, defJson, passes, stop] = process.argv.slice(2);
      const def = JSON.parse(defJson);
      const dir = join(process.env.TSBOX_NET_RUN_DIR, "ip", def.id);
      const passCount = () => { try { return Number(readFileSync(passes, "utf8")); } catch { return 0; } };
      const waitFor = (what, ok) => {
        for (let i = 0; i < 6000; i++) { if (ok()) return; sleepSync(5); }
        throw new Error("gave up waiting for " + what);
      };
      const host = { pinNetns() {}, bindNetns() {}, unmount() {} };
      if (role === "remover") {
        // network rm's removal and system prune's, in turn.
        let n = 0;
        while (!existsSync(stop)) {
          if (n % 2 === 0) releaseNetworkBridge(host, def); else sweepLeaseScopes(new Set());
          writeFileSync(passes, String(++n));
        }
      } else {
        const holder = { root: "/var/lib/tsbox", id: "e".repeat(64) };
        for (let r = 0; r < ${ROUNDS}; r++) {
          const ip = "10.90.200." + (2 + (r % 200));
          // As attach leases an address: under the network lock.
          if (!withLock(NETWORK_LOCK, () => tryLease("ip", def.id, ip, holder))) throw new Error(ip + " was taken");
          const seen = passCount();
          waitFor("a removal pass while " + ip + " is held", () => passCount() > seen + 1);
          const text = readFileSync(join(dir, ip), "utf8");
          if (text !== holder.root + "\\n" + holder.id + "\\n") throw new Error("lease " + ip + " lost: " + JSON.stringify(text));
          withLock(NETWORK_LOCK, () => releaseLease("ip", def.id, ip, holder));
          waitFor("the empty directory's removal", () => !existsSync(dir));
        }
        // Then as fast as it goes: the remover's passes fall anywhere in the allocations, between a mkdir and its lease too.
        for (let r = 0; r < ${STRESS}; r++) {
          const ip = "10.90.200." + (2 + (r % 200));
          if (!withLock(NETWORK_LOCK, () => tryLease("ip", def.id, ip, holder))) throw new Error(ip + " was taken");
          if (!existsSync(join(dir, ip))) throw new Error("lease " + ip + " lost");
          withLock(NETWORK_LOCK, () => releaseLease("ip", def.id, ip, holder));
        }
        process.stdout.write("${ROUNDS}");
      }
    `);
    const worker = (role: string) => new Promise<{ code: number; out: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", script, role, JSON.stringify(def), passes, stop],
        { cwd: REPO, env: { ...process.env, TSBOX_NET_RUN_DIR: run }, stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
      child.on("error", reject);
      child.on("exit", (code) => resolve({ code: code ?? 1, out }));
    });
    const remover = worker("remover");
    const allocator = await worker("allocator");
    writeFileSync(stop, "");
    const removed = await remover;
    // Each round saw its lease kept through a removal pass, then the directory removed.
    expect(allocator).toEqual({ code: 0, out: String(ROUNDS) });
    expect(removed.code).toBe(0);
    expect(existsSync(scopeDir)).toBe(false);
  }, 120_000);
});
