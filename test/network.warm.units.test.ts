// Warm namespaces' bookkeeping with a recording host (no mounts): a slot is
// handed out only when whole, what a crash can leave half-made is let go,
// a network keeps at most MAX_WARM, and the address lease moves with the
// namespace. The kernel side is in network.test.ts.
import { mkdtempSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";

const run = mkdtempSync(join(tmpdir(), "tsbox-warm-"));
process.env.TSBOX_NET_RUN_DIR = run;
const warm = await import("../src/network/warm.js");
const leases = await import("../src/network/leases.js");

const NET = "a".repeat(64);
const calls: string[] = [];
const host = {
  bindNetns(from: string, to: string): void { calls.push(`bind ${from} ${to}`); },
  unmount(path: string): void { calls.push(`unmount ${path}`); },
};
const container = { root: "/var/lib/tsbox", id: "c".repeat(64) };
const slotData = (ip: string) => ({
  networkId: NET, ip, mac: "02:42:ac:1d:00:02",
  endpoint: { network: "bridge", prefix: 16, gateway: "172.29.0.1", bridge: "tsbox0" },
  options: { container_id: container.id, container_name: "x", networks: {}, network_info: {} },
});
const ipLease = (ip: string, holder = container) => ({ kind: "ip" as const, scope: NET, key: ip, holder });
const holderOfLease = (ip: string): string => readFileSync(join(run, "ip", NET, ip), "utf8").split("\n")[1]!;

/** A container's namespace pin: an empty file here (the host records, nothing is mounted). */
function containerNetns(): string {
  const p = join(run, `netns-${calls.length}-${Math.random().toString(16).slice(2)}`);
  writeFileSync(p, "");
  return p;
}

beforeEach(() => {
  rmSync(run, { recursive: true, force: true });
  mkdirSync(run, { recursive: true });
  calls.length = 0;
});
afterAll(() => rmSync(run, { recursive: true, force: true }));

describe("warm namespaces", () => {
  it("keep a container's namespace with its address, and hand both to the next container", () => {
    expect(leases.tryLease("ip", NET, "172.29.0.2", container)).toBe(true);
    const netns = containerNetns();
    expect(warm.keepWarm(host, netns, slotData("172.29.0.2"), ipLease("172.29.0.2"))).toBe(true);
    const [slot] = readdirSync(warm.WARM_DIR).filter((n) => !n.endsWith(".json"));
    expect(calls).toEqual([`bind ${netns} ${join(warm.WARM_DIR, slot!)}`]);
    expect(holderOfLease("172.29.0.2")).toBe(slot);

    const next = { root: "/var/lib/tsbox", id: "d".repeat(64) };
    const target = join(run, "next-netns");
    const got = warm.claimWarm(host, NET, target, next);
    expect(got?.ip).toBe("172.29.0.2");
    expect(holderOfLease("172.29.0.2")).toBe(next.id);
    expect(calls.slice(1)).toEqual([`bind ${join(warm.WARM_DIR, slot!)} ${target}`, `unmount ${join(warm.WARM_DIR, slot!)}`]);
    expect(readdirSync(warm.WARM_DIR)).toEqual([]);
    expect(warm.claimWarm(host, NET, target, next)).toBeUndefined();
  });

  it("are not handed to a container of another network", () => {
    leases.tryLease("ip", NET, "172.29.0.2", container);
    warm.keepWarm(host, containerNetns(), slotData("172.29.0.2"), ipLease("172.29.0.2"));
    expect(warm.claimWarm(host, "b".repeat(64), join(run, "t"), container)).toBeUndefined();
    expect(readdirSync(warm.WARM_DIR)).toHaveLength(2); // kept for its own network
  });

  it(`are at most ${warm.MAX_WARM} a network`, () => {
    const kept = [2, 3, 4, 5, 6, 7].map((n) => {
      const ip = `172.29.0.${n}`;
      leases.tryLease("ip", NET, ip, container);
      return warm.keepWarm(host, containerNetns(), slotData(ip), ipLease(ip));
    });
    expect(kept).toEqual([true, true, true, true, false, false]);
    expect(holderOfLease("172.29.0.7")).toBe(container.id); // not kept: still the container's to release
  });

  it("let go what a crash left half-made: a pin without its record, a record without its pin, an address moved on", () => {
    mkdirSync(warm.WARM_DIR, { recursive: true });
    writeFileSync(join(warm.WARM_DIR, "pinonly"), "");
    writeFileSync(join(warm.WARM_DIR, "recordonly.json"), JSON.stringify({ v: 1, ...slotData("172.29.0.9") }));
    leases.tryLease("ip", NET, "172.29.0.9", { root: warm.WARM_DIR, id: "recordonly" });
    // Kept, then its address given to a container before the slot went (a crash mid-claim).
    leases.tryLease("ip", NET, "172.29.0.8", container);
    warm.keepWarm(host, containerNetns(), slotData("172.29.0.8"), ipLease("172.29.0.8"));
    const [moved] = readdirSync(warm.WARM_DIR).filter((n) => !n.endsWith(".json") && n !== "pinonly");
    leases.transferLease(ipLease("172.29.0.8", { root: warm.WARM_DIR, id: moved! }), container);

    expect(warm.claimWarm(host, NET, join(run, "t"), container)).toBeUndefined();
    expect(readdirSync(warm.WARM_DIR)).toEqual([]);
    expect(existsSync(join(run, "ip", NET, "172.29.0.9"))).toBe(false); // the slot's own lease freed
    expect(holderOfLease("172.29.0.8")).toBe(container.id); // the container's kept
    expect(calls).toContain(`unmount ${join(warm.WARM_DIR, "pinonly")}`);
  });

  it("keep a namespace only while its address is the container's: kept again after a crash, it is no second slot", () => {
    leases.tryLease("ip", NET, "172.29.0.2", container);
    const netns = containerNetns();
    expect(warm.keepWarm(host, netns, slotData("172.29.0.2"), ipLease("172.29.0.2"))).toBe(true);
    const slots = readdirSync(warm.WARM_DIR);
    // The release died before it removed the container's pin and record: the next one keeps it again.
    expect(warm.keepWarm(host, netns, slotData("172.29.0.2"), ipLease("172.29.0.2"))).toBe(false);
    expect(readdirSync(warm.WARM_DIR)).toEqual(slots);
    // An address the sweep dropped: nothing to hand on.
    leases.tryLease("ip", NET, "172.29.0.3", container);
    leases.dropLease(ipLease("172.29.0.3"));
    expect(warm.keepWarm(host, containerNetns(), slotData("172.29.0.3"), ipLease("172.29.0.3"))).toBe(false);
    expect(readdirSync(warm.WARM_DIR)).toEqual(slots);
  });

  it("go at system prune, and the sweep frees a lease whose slot is gone", () => {
    leases.tryLease("ip", NET, "172.29.0.2", container);
    warm.keepWarm(host, containerNetns(), slotData("172.29.0.2"), ipLease("172.29.0.2"));
    expect(warm.drainWarm(host)).toBe(1);
    expect(readdirSync(warm.WARM_DIR)).toEqual([]);
    expect(existsSync(join(run, "ip", NET, "172.29.0.2"))).toBe(false);

    leases.tryLease("ip", NET, "172.29.0.3", { root: warm.WARM_DIR, id: "gone" });
    const dropped = leases.sweepOrphanLeases(join(run, "anchor"), { dir: warm.WARM_DIR, exists: warm.warmHolderExists });
    expect(dropped.map((l) => l.key)).toEqual(["172.29.0.3"]);
  });

  it("move a lease only from its holder, whole (no half-written file is ever a lease)", () => {
    leases.tryLease("ip", NET, "172.29.0.2", container);
    expect(() => leases.transferLease(ipLease("172.29.0.2", { root: "/x", id: "y" }), container)).toThrow("not held by y");
    leases.transferLease(ipLease("172.29.0.2"), { root: "/r", id: "z" });
    expect(leases.allLeases().map((l) => l.holder)).toEqual([{ root: "/r", id: "z" }]);
  });
});
