// KSM over time: the two-pass model (src/reclaim/model/ksm-time.ts) on its
// own, then against ksmd: a pagemix container's merge curve at a set
// pages_to_scan / sleep_millisecs, predicted from the scan of an identical
// twin that does not merge (once merged, copies share one frame and the
// scanner, which reads each frame once, could no longer count them).
// KSM's settings are host-wide: the test holds the KSM lock, records what it
// changes (tsbox's own `mem ksm on` record) and restores it in `finally`.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { takeLock } from "../src/util/lock.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ksmMerged } from "../src/reclaim/kernel/anon-pages.js";
import { ksmAvailable, ksmOff, ksmOn, ksmRecordFile, readKsm } from "../src/reclaim/kernel/ksm.js";
import { kernelJiffyMs, sampleKsmRates } from "../src/reclaim/kernel/ksm-rate.js";
import { scanAnonymous } from "../src/reclaim/measure/scan.js";
import { ksmTransient } from "../src/reclaim/model/ksm-transient.js";
import { DEFAULT_CODEC, DEFAULT_COSTS, defaultTunables, type Demand, type Guest, type Scenario } from "../src/reclaim/model/scenario.js";
import { ksmTimeline, savedWithBreaks, scanTime, timeToSaving, wakeSeconds, type KsmRate } from "../src/reclaim/model/ksm-time.js";
import { buildPagemix, DEFAULT_MIX, KSM_LOCK, otherKsmProcesses, startPagemix, type Running } from "../bench/reclaim-harness.js";
import { removeRoot, rootWithBusybox, tsbox } from "./helpers.js";

const rate = (pagesToScan: number, sleepMillisecs: number, jiffyMs = 0): KsmRate => ({ pagesToScan, sleepMillisecs, scanNs: 0, mergeNs: 0, jiffyMs });

describe("the two-pass model", () => {
  it("a pass is ceil(N / pages_to_scan) wake-ups; fresh copies merge in the second pass, at the second copy", () => {
    const t = ksmTimeline({ contents: [0, 1, 0, 1, -1, -1] }, rate(2, 100));
    expect(t.passSeconds).toBeCloseTo(0.3);
    expect(t.steadySaved).toBe(2);
    // nothing in the first pass (pages 0..5); the second pass reaches the second copies at pages 6+2 and 6+3
    expect(timeToSaving(t, 0.5)).toBeCloseTo(scanTime(8, rate(2, 100)));
    expect(timeToSaving(t, 1)).toBeCloseTo(scanTime(9, rate(2, 100)));
    expect(t.curve.every(([s, saved]) => saved === 0 || s >= t.passSeconds - 1e-9)).toBe(true);
    expect(t.peakPages).toBe(6);
  });

  it("a content already in the stable tree merges at first sight; one a settled page holds, at the second look", () => {
    const t = ksmTimeline({ contents: [5, 6, -1, -1], stable: new Set([5]), settled: new Set([6]), otherPages: 4 }, rate(4, 100));
    expect(t.passSeconds).toBeCloseTo(0.2);
    expect(t.curve[1]![1]).toBe(1);
    expect(t.curve[1]![0]).toBeLessThan(t.passSeconds); // in the first pass, after the other pages
    expect(t.steadySaved).toBe(2);
  });

  it("max_page_sharing: 300 copies keep 2 KSM pages; writes leave 1.5 passes of breaks unmerged", () => {
    const t = ksmTimeline({ contents: new Array<number>(300).fill(0), maxPageSharing: 256 }, rate(100, 20));
    expect(t.steadySaved).toBe(298);
    expect(savedWithBreaks(t, 10)).toBeCloseTo(298 - 10 * 1.5 * t.passSeconds);
  });

  it("ksmd's CPU share is its scan time over its wake-up", () => {
    const t = ksmTimeline({ contents: [0, 0] }, { pagesToScan: 1000, sleepMillisecs: 20, scanNs: 1000, mergeNs: 0, jiffyMs: 0 });
    expect(t.ksmdCpu).toBeCloseTo(1 / 21);
    // on ticks of 4 ms: 20 ms is 5 ticks, and the wake-up comes on the tick after
    expect(wakeSeconds(rate(100, 20, 4))).toBeCloseTo(0.024);
    expect(wakeSeconds(rate(100, 10, 4))).toBeCloseTo(0.016);
  });
});

describe("the sharing transient of a scenario", () => {
  const guest = (name: string, anon: number, d: Partial<Demand>): Guest => ({
    name, sizePages: anon * 2, shares: 1000, contentGroup: "img", codec: DEFAULT_CODEC,
    trace: [{ anon, cache: 0, workingSet: 0, zero: 0, sharableWithin: 0, sharableAcross: 0, ...d }],
  });
  const scenario = (guests: Guest[]): Scenario => ({ hostPages: 1 << 22, steps: 1, stepSeconds: 1, guests, costs: DEFAULT_COSTS, tunables: defaultTunables(1) });

  it("two guests of one image: the common content, the pairs and the zero pages merge within two passes", () => {
    const sc = scenario([guest("a", 10_000, { sharableAcross: 3000, sharableWithin: 500, zero: 1000 }), guest("b", 10_000, { sharableAcross: 3000 })]);
    const k = ksmTransient(sc, rate(100, 20));
    expect(k.passSeconds).toBeCloseTo(200 * 0.02);
    // b's 3000 common pages, a's 500 pairs, a's 1000 zero pages less ceil(1000 / 256) KSM pages
    expect(k.steadySavedPages).toBe(3000 + 500 + 1000 - 4);
    expect(k.secondsToSteady).toBeGreaterThan(k.passSeconds);
    expect(k.secondsToSteady).toBeLessThanOrEqual(2 * k.passSeconds + 1e-9);
    expect(k.peakPages).toBe(20_000);
    expect(k.steadyPages).toBe(20_000 - k.steadySavedPages);
  });

  it("a scenario too large to lay out page by page is scaled, pages_to_scan with it: the same times", () => {
    const small = ksmTransient(scenario([guest("a", 100_000, { sharableAcross: 50_000 }), guest("b", 100_000, { sharableAcross: 50_000 })]), rate(100, 20));
    const big = ksmTransient(scenario([guest("a", 10_000_000, { sharableAcross: 5_000_000 }), guest("b", 10_000_000, { sharableAcross: 5_000_000 })]), rate(10_000, 20));
    expect(big.passSeconds).toBeCloseTo(small.passSeconds, 1);
    expect(big.secondsTo90).toBeCloseTo(small.secondsTo90, 1);
    expect(big.steadySavedPages).toBeCloseTo(100 * small.steadySavedPages, -3);
  });
});

describe("mem ksm status --for", () => {
  it("refuses a window that is not a positive number of seconds, exit 125", () => {
    const r = tsbox("/var/tmp/tsbox-ksm-time-flags", ["mem", "ksm", "status", "--for", "x"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`invalid argument "x" for "--for" flag`);
  });
});

const root0 = process.getuid?.() === 0 && ksmAvailable() && existsSync("/proc/self/ksm_stat");

describe.skipIf(!root0)("against ksmd", () => {
  let root: string;
  let pagemix: string;
  beforeAll(() => { root = rootWithBusybox(); pagemix = buildPagemix(); });
  afterAll(() => removeRoot(root));

  it("a new container reaches half and 90 % of its saving when the model says (within 25 % and two wake-ups)", async (ctx) => {
    // another worktree's KSM test may hold the lock for minutes: wait a while, then skip rather than time out
    const release = await ksmLockWithin(240_000);
    if (!release) {
      process.stdout.write(`SKIP: ${KSM_LOCK} stayed taken for 4 minutes (another KSM test)\n`);
      ctx.skip();
      return;
    }
    const pages = 8192, P = 256, S = 20;
    const started: Running[] = [];
    try {
      if (otherKsmProcesses(new Set()).length > 0) {
        process.stdout.write("SKIP: other processes have mergeable pages: ksmd's pass would include theirs\n");
        ctx.skip();
      }
      // the twin: the same seed, not mergeable; its pages in scan order are the prediction's input
      const twin = await startPagemix(root, pagemix, `ksmt-twin-${process.pid}`, 4242, pages, DEFAULT_MIX, false);
      started.push(twin);
      const scan = scanAnonymous([{ id: twin.id, name: twin.name, pids: twin.pids }]);
      const maxPageSharing = readKsm().max_page_sharing ?? 256;
      const pred = ksmTimeline({ contents: scan.pages.map((p) => p.content), maxPageSharing }, rate(P, S, kernelJiffyMs()));
      await twin.stop();
      started.pop();

      const tunables = (): string[] => ["run", "pages_to_scan", "sleep_millisecs"].map((k) => readFileSync(`/sys/kernel/mm/ksm/${k}`, "utf8").trim());
      const orig = tunables();
      ksmOn(root, { pagesToScan: P, sleepMillisecs: S });
      try {
        const c = await startPagemix(root, pagemix, `ksmt-${process.pid}`, 4242, pages, DEFAULT_MIX, true);
        started.push(c);
        const t0 = performance.now();
        const curve: [number, number][] = [];
        const end = t0 + 20 * pred.passSeconds * 1e3 + 30_000;
        // until the saving has held still for two passes after the predicted end
        for (;;) {
          const m = ksmMerged(c.pids());
          const s = (performance.now() - t0) / 1e3;
          curve.push([s, m.merging - m.kpages]);
          const last = curve.filter(([x]) => x >= s - 2 * pred.passSeconds);
          if (s > 3 * pred.passSeconds && last.length > 2 && last.every(([, v]) => v === curve[curve.length - 1]![1])) break;
          if (performance.now() > end) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        const steady = curve[curve.length - 1]![1];
        const at = (f: number): number => curve.find(([, v]) => v >= f * steady)![0];
        const wake = wakeSeconds(rate(P, S, kernelJiffyMs()));
        const row = {
          pages: scan.pages.length, passSeconds: pred.passSeconds, predictedSaved: pred.steadySaved, measuredSaved: steady,
          predicted50: timeToSaving(pred, 0.5), measured50: at(0.5), predicted90: timeToSaving(pred, 0.9), measured90: at(0.9),
        };
        process.stdout.write(`KSM over time: ${JSON.stringify(row)}\n`);
        expect(Math.abs(steady - pred.steadySaved)).toBeLessThanOrEqual(0.02 * pred.steadySaved);
        // ksmd keeps scanning: its measured rate is the model's pages_to_scan per wake-up (ticks, no scan cost)
        const rates = await sampleKsmRates(1);
        if (rates.scannedPerSecond !== undefined) expect(Math.abs(rates.scannedPerSecond - P / wake)).toBeLessThanOrEqual(0.15 * (P / wake));
        const st = tsbox(root, ["mem", "ksm", "status", "--for", "0.5", "--format", "json"]);
        expect(st.code).toBe(0);
        const timing = (JSON.parse(st.stdout) as {
          timing: KsmRate & { trackedPages: number; passSeconds: number; measured: { seconds: number } };
        }).timing;
        expect(timing.pagesToScan).toBe(P);
        expect(timing.trackedPages).toBeGreaterThanOrEqual(pages);
        // a wake-up is the sleep in ticks plus the scan's CPU time (the calibrated or the default cost per page)
        expect(timing.sleepMillisecs).toBe(S);
        expect(timing.passSeconds).toBeCloseTo(Math.ceil(timing.trackedPages / P) * wakeSeconds(timing), 3);
        expect(timing.measured.seconds).toBeGreaterThanOrEqual(0.5);
        for (const [p, m] of [[row.predicted50, row.measured50], [row.predicted90, row.measured90]] as const) {
          expect(Math.abs(m - p)).toBeLessThanOrEqual(0.25 * p + 2 * wake);
        }
      } finally {
        ksmOff(root);
      }
      expect(existsSync(ksmRecordFile(root))).toBe(false);
      expect(tunables()).toEqual(orig);
    } finally {
      await Promise.all(started.map((c) => c.stop()));
      release();
    }
  }, 600_000);
});

async function ksmLockWithin(ms: number): Promise<(() => void) | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    if (takeLock(KSM_LOCK) === true) return () => rmSync(KSM_LOCK, { force: true });
    if (Date.now() > end) return undefined;
    await new Promise((r) => setTimeout(r, 500));
  }
}
