// The kernel-validation harness shared by test/reclaim.kernel.test.ts and the
// bench/validate-*.ts sweeps: starts pagemix containers (test/fixtures/pagemix.c,
// compiled static), predicts what KSM / zram / the balloon will do from the
// pages and cgroup counters, lets the kernel do it, and returns both numbers.
// Every kernel setting changed is restored in `finally`.

import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { ksmMerged, readPages } from "../src/reclaim/kernel/anon-pages.js";
import { scanAnonymous } from "../src/reclaim/measure/scan.js";
import { containerKsm, ksmOff, ksmOn, ksmSaved, predictKsm, readKsm, type KsmCounters } from "../src/reclaim/kernel/ksm.js";
import { hostDefaultAlgorithm, predictZram, readMmStat, writePages, zramAdd, zramRemove, fraction } from "../src/reclaim/kernel/zram.js";
import { isZramCodec } from "../src/native/scan.js";
import { memoryCgroupOf } from "../src/reclaim/kernel/cgroup-memory.js";
import { readState } from "../src/state/container-store.js";
import { containerCgroup } from "../src/state/container-cgroup.js";
import { detectHierarchy } from "../src/cgroupfs/index.js";
import { takeLock } from "../src/util/lock.js";
import { mountHolding } from "../src/util/mountinfo.js";

export const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const CLI = join(REPO, "bin", "tsbox.js");
const PAGE = 4096;

/** zero, same-filled, shared-across, duplicated-within, unique text (compressible); the rest random. Percent. */
export interface Mix { zero: number; same: number; shared: number; within: number; text: number }
export const DEFAULT_MIX: Mix = { zero: 10, same: 10, shared: 30, within: 10, text: 20 };

export function tsboxSync(root: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--", CLI, "--root", root, ...args], { encoding: "utf8", timeout: 300_000 });
  return { code: r.status ?? 137, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** cc -static test/fixtures/pagemix.c → .tmp/pagemix (rebuilt when the source is newer). */
export function buildPagemix(): string {
  const out = join(REPO, ".tmp", "reclaim", "pagemix");
  mkdirSync(dirname(out), { recursive: true });
  execFileSync("cc", ["-O2", "-static", "-o", out, join(REPO, "test", "fixtures", "pagemix.c")]);
  return out;
}

export interface Running {
  name: string;
  id: string;
  cli: ChildProcess;
  /** the container's stdout so far */
  output(): string;
  pids(): number[];
  stop(): Promise<void>;
}

function containerId(root: string, name: string): string | undefined {
  try {
    return readFileSync(join(root, "names", name), "utf8").trim();
  } catch {
    return undefined;
  }
}

/** `tsbox run --rm` in the background until `readyText` appears on its stdout. */
export async function startContainer(root: string, name: string, args: string[], readyText: string, timeoutMs = 60_000): Promise<Running> {
  const cli = spawn(process.execPath, ["--", CLI, "--root", root, "run", "--rm", "--name", name, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  cli.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
  cli.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<void>((r) => cli.once("exit", () => r()));
  const end = Date.now() + timeoutMs;
  while (!out.includes(readyText)) {
    if (cli.exitCode !== null || Date.now() > end) {
      cli.kill("SIGKILL");
      throw new Error(`container ${name} did not get ready (exit ${cli.exitCode}): ${err.trim()}`);
    }
    await sleep(20);
  }
  const id = containerId(root, name)!;
  // Under the parent the container was created with (--cgroup-parent), as recorded in its state.
  const state = readState(root, id) ?? { id };
  const cg = memoryCgroupOf(state);
  return {
    name, id, cli, output: () => out, pids: () => cg.pids(),
    stop: async () => {
      containerCgroup(detectHierarchy(), state).kill("SIGKILL");
      await exited;
    },
  };
}

export function startPagemix(root: string, binary: string, name: string, seed: number, pages: number, mix: Mix, merge: boolean): Promise<Running> {
  return startContainer(root, name, [
    // The directory, not the file: `run -v` on a host file trips over its mkdir (see the report).
    ...(merge ? ["--memory-merge"] : []), "-v", `${dirname(binary)}:/pm:ro`, "busybox",
    "/pm/pagemix", String(seed), String(pages), String(mix.zero), String(mix.same), String(mix.shared), String(mix.within), String(mix.text),
  ], "ready");
}

/** Processes outside `mine` that KSM may also scan (they would pollute global counters). */
export function otherKsmProcesses(mine: Set<number>): number[] {
  const others: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d) || mine.has(Number(d))) continue;
    try {
      const t = readFileSync(`/proc/${d}/ksm_stat`, "utf8");
      if (/ksm_merge_any:? (1|yes)|ksm_mergeable:? (1|yes)/.test(t) || /ksm_rmap_items [1-9]/.test(t)) others.push(Number(d));
    } catch { /* gone or no KSM */ }
  }
  return others;
}

/**
 * Why KSM is not this process's to measure with: the scanner already runs
 * (someone else's settings), or other processes have pages in it (their
 * merges would mix with ours). Undefined when KSM is idle.
 */
export function ksmInUse(mine: Set<number> = new Set()): string | undefined {
  const run = readKsm().run ?? 0;
  if (run !== 0) return `KSM is already on (run=${run}): another user's scanner, whose settings this must not change`;
  const others = otherKsmProcesses(mine);
  if (others.length > 0) return `${others.length} other processes use KSM (pids ${others.slice(0, 5).join(", ")}): their merges would mix with ours`;
  return undefined;
}

/**
 * Host-wide: only one tsbox test or benchmark at a time turns KSM on and reads
 * its global counters (several worktrees' test runs share the machine). A lock
 * file holding our pid (broken when its holder is gone); resolves with the release.
 */
export const KSM_LOCK = "/var/tmp/tsbox-ksm-exclusive.lock";

export async function holdKsmExclusive(lockPath = KSM_LOCK): Promise<() => void> {
  return holdExclusive(lockPath, "KSM");
}

/**
 * The same for zram: a test or benchmark that adds zram devices or swap, or
 * checks that the host's list of them is as it was, holds this meanwhile.
 */
export const ZRAM_LOCK = "/var/tmp/tsbox-zram-exclusive.lock";

export async function holdZramExclusive(lockPath = ZRAM_LOCK): Promise<() => void> {
  return holdExclusive(lockPath, "zram");
}

async function holdExclusive(lockPath: string, what: string): Promise<() => void> {
  let said = false;
  for (;;) {
    const owner = takeLock(lockPath);
    if (owner === true) return () => { rmSync(lockPath, { force: true }); };
    if (!said) process.stderr.write(`waiting for ${lockPath} (${what} in use by process ${owner.pid})\n`);
    said = true;
    await sleep(200);
  }
}

export interface KsmRow {
  k: number;
  pagesPerContainer: number;
  /** anonymous present pages of the containers' processes (distinct PFNs) before merging, as the scanner read them */
  anonPages: number;
  /** Σ over the scanner's content groups (n − ceil(n / max_page_sharing)) */
  predictedSaved: number;
  /** the scan's profile counts: Σ duplicateWithin + duplicateAcross, and zero / same-filled pages */
  scanDuplicates: number;
  scanZero: number;
  scanSame: number;
  /** the containers' share of pages_sharing: merged mappings − distinct KSM pages behind them */
  measuredSaved: number;
  /** Δ(pages_sharing + ksm_zero_pages), host-wide: equals measuredSaved only when nothing else uses KSM */
  globalSaved: number;
  predictedMerging: number;
  /** Σ ksm_merging_pages of the containers' processes (/proc/PID/ksm_stat) */
  measuredMerging: number;
  errorSaved: number;
  errorGlobal: number;
  errorMerging: number;
  fullScans: number;
  volatile: number;
  seconds: number;
  generalProfit: number;
  /** other processes KSM scans (e.g. qemu guests): the global counters are then not ours alone */
  otherProcesses: number;
}

const relErr = (pred: number, meas: number): number => (meas === 0 ? (pred === 0 ? 0 : Infinity) : Math.abs(pred - meas) / meas);

/**
 * K pagemix containers with --memory-merge; prediction from their anonymous
 * pages; KSM on (fast), wait for ≥ 2 full scans and then until the containers'
 * merged pages and pages_volatile hold still over one more; KSM restored.
 * The KSM record lives under `root` (the tsbox state root).
 */
export async function validateKsm(root: string, binary: string, k: number, pages: number, mix = DEFAULT_MIX, timeoutMs = 600_000): Promise<KsmRow> {
  const started: Running[] = [];
  const t0 = Date.now();
  if ((readKsm().run ?? 0) !== 0) throw new Error("KSM is already running on this host: the counters would not be ours");
  await pruneStale(root);
  const before = readKsm();
  try {
    for (let i = 0; i < k; i++) started.push(await startPagemix(root, binary, `ksm-${process.pid}-${k}-${i}`, 1000 + i, pages, mix, true));
    const pids = started.flatMap((c) => c.pids());
    // The prediction is the scanner's: content groups of the anonymous pages KSM may merge.
    const scan = scanAnonymous(started.map((r) => ({ id: r.id, name: r.name, pids: r.pids })));
    const pred = predictKsm(scan.groups, before.max_page_sharing ?? 256);
    const profiles = scan.report.containers;
    const others = otherKsmProcesses(new Set(pids));
    let c: KsmCounters;
    let mine: { merging: number; kpages: number };
    try {
      ksmOn(root, { pagesToScan: 20_000, sleepMillisecs: 10 });
      ({ c, mine } = await settle(before, pids, others.length === 0, timeoutMs));
    } finally {
      ksmOff(root);
    }
    const merging = started.reduce((s, r) => s + containerKsm({ id: r.id, name: r.name }, r.pids()).ksmMergingPages, 0);
    const measuredSaved = mine.merging - mine.kpages;
    const globalSaved = ksmSaved(c) - ksmSaved(before);
    return {
      k, pagesPerContainer: pages, anonPages: scan.pages.length,
      scanDuplicates: profiles.reduce((n, p) => n + p.duplicateWithin + p.duplicateAcross, 0),
      scanZero: profiles.reduce((n, p) => n + p.zero, 0), scanSame: profiles.reduce((n, p) => n + p.sameFilled, 0),
      predictedSaved: pred.saved, measuredSaved, globalSaved, predictedMerging: pred.merging, measuredMerging: merging,
      errorSaved: relErr(pred.saved, measuredSaved), errorGlobal: relErr(pred.saved, globalSaved), errorMerging: relErr(pred.merging, merging),
      fullScans: (c.full_scans ?? 0) - (before.full_scans ?? 0), volatile: c.pages_volatile ?? 0,
      seconds: (Date.now() - t0) / 1000, generalProfit: c.general_profit ?? 0, otherProcesses: others.length,
    };
  } finally {
    await Promise.all(started.map((r) => r.stop()));
    // The exited containers' KSM pages stay counted until ksmd walks its trees again.
    await pruneStale(root);
  }
}

/**
 * Waits for ≥ 2 full scans, then until the containers' merged pages (and,
 * when KSM is ours alone, pages_sharing and pages_volatile) hold still over
 * a further full scan.
 */
async function settle(before: KsmCounters, pids: number[], alone: boolean, timeoutMs: number): Promise<{ c: KsmCounters; mine: { merging: number; kpages: number } }> {
  const end = Date.now() + timeoutMs;
  const f0 = before.full_scans ?? 0;
  const scanAfter = async (n: number): Promise<KsmCounters> => {
    for (;;) {
      const c = readKsm();
      if ((c.full_scans ?? 0) >= n) return c;
      if (Date.now() > end) throw new Error(`KSM: full_scans ${c.full_scans} did not reach ${n} in ${timeoutMs} ms`);
      await sleep(100);
    }
  };
  let prev = await scanAfter(f0 + 2);
  let prevMine = ksmMerged(pids);
  for (;;) {
    const c = await scanAfter((prev.full_scans ?? 0) + 1);
    const mine = ksmMerged(pids);
    const still = mine.merging === prevMine.merging && mine.kpages === prevMine.kpages &&
      (!alone || (c.pages_sharing === prev.pages_sharing && c.pages_volatile === prev.pages_volatile));
    if (still) return { c, mine };
    prev = c;
    prevMine = mine;
  }
}

/**
 * With run=0 the counters keep the KSM pages of processes that have exited
 * until ksmd scans again: one short fast pass (settings restored) clears them.
 */
export async function pruneStale(root: string, timeoutMs = 60_000): Promise<void> {
  const c = readKsm();
  if ((c.pages_shared ?? 0) + (c.pages_sharing ?? 0) + (c.pages_unshared ?? 0) + (c.pages_volatile ?? 0) === 0) return;
  const end = Date.now() + timeoutMs;
  try {
    ksmOn(root, { pagesToScan: 20_000, sleepMillisecs: 10 });
    const target = (c.full_scans ?? 0) + 2;
    while ((readKsm().full_scans ?? 0) < target && Date.now() < end) await sleep(50);
  } finally {
    ksmOff(root);
  }
}

export interface ZramRow {
  /** the hot-added device number (gone again when validateZram returns) */
  device: number;
  pages: number;
  algorithm: string;
  predictedRatio: number;
  measuredRatio: number;
  errorRatio: number;
  predictedCompr: number;
  measuredCompr: number;
  /** zsmalloc's pages for the stored sizes (model/zsmalloc.ts) against mm_stat's mem_used_total, bytes */
  predictedMemUsed: number;
  memUsedTotal: number;
  errorMemUsed: number;
  predictedSame: number;
  measuredSame: number;
  predictedHuge: number;
  measuredHuge: number;
  sample: number;
  predictedLe2k: number;
  measuredLe2k: number;
  predictedLe1k: number;
  measuredLe1k: number;
}

/**
 * The pages of a running container written to a fresh zram device (hot-added,
 * removed afterwards) using `algorithm` (default: the host's default
 * compressor); mm_stat against the prediction from the scanner's per-page
 * sizes under that compressor and zsmalloc's size classes. A sample of
 * `sample` non-same pages is then written one at a time to measure each page's
 * stored size (compr_data_size deltas) for the ≤2 KiB / ≤1 KiB shares.
 */
export function validateZram(pids: number[], sample = 256, algorithm = hostDefaultAlgorithm()): ZramRow {
  if (!isZramCodec(algorithm)) throw new Error(`zram: the scanner has no ${algorithm} compressor`);
  // The scanner's pages and per-page sizes under the device's compressor are the prediction; their contents go to the device.
  const scanned = scanAnonymous([{ id: "", name: "", pids: () => pids }], { zramCodec: algorithm }).pages;
  const contents = readPages(scanned);
  const kept = scanned.filter((_, i) => contents[i] !== undefined);
  const pages = contents.filter((b) => b !== undefined);
  const pred = predictZram(kept);
  const dev = zramAdd(algorithm, (pages.length + sample + 16) * PAGE * 2);
  try {
    writePages(dev, pages);
    const mm = readMmStat(dev);
    // A seeded shuffle, not a stride: pagemix alternates page kinds, a stride would pick one kind.
    const candidates = kept.map((p, i) => ({ p, data: pages[i]! })).filter((x) => x.p.kind === 0);
    let seed = 12345;
    for (let i = candidates.length - 1; i > 0; i--) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const j = seed % (i + 1);
      [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
    }
    const nonSame = candidates.slice(0, sample);
    const measured = writePages(dev, nonSame.map((x) => x.data), true, pages.length + 8);
    const predSample = predictZram(nonSame.map((x) => x.p)).sizes;
    const ratio = mm.origDataSize / mm.comprDataSize;
    const pRatio = pred.orig / pred.compr;
    return {
      device: dev.id, pages: pages.length, algorithm, predictedRatio: pRatio, measuredRatio: ratio, errorRatio: relErr(pRatio, ratio),
      predictedCompr: pred.compr, measuredCompr: mm.comprDataSize,
      predictedMemUsed: pred.memUsedTotal, memUsedTotal: mm.memUsedTotal, errorMemUsed: relErr(pred.memUsedTotal, mm.memUsedTotal),
      predictedSame: pred.samePages, measuredSame: mm.samePages, predictedHuge: pred.hugePages, measuredHuge: mm.hugePages,
      sample: nonSame.length, predictedLe2k: fraction(predSample, 2048), measuredLe2k: fraction(measured, 2048),
      predictedLe1k: fraction(predSample, 1024), measuredLe1k: fraction(measured, 1024),
    };
  } finally {
    zramRemove(dev);
  }
}

export interface BalloonRow {
  cacheMiB: number;
  usageBefore: number;
  inactiveFile: number;
  activeFile: number;
  anon: number;
  target: number;
  predicted: number;
  reclaimed: number;
  error: number;
  steps: number;
  refaults: number;
  majorFaults: number;
  stoppedBy: string;
  seconds: number;
  /** limit after --deflate (bytes; ≥ 2^62 = unlimited) */
  limitAfterDeflate: number;
  /** the pre-inflation limit was recorded, and --deflate removed the record */
  recorded: boolean;
  recordLeft: boolean;
}

/**
 * A scratch directory whose files are read through the page cache, charged to
 * the reader's cgroup: the checkout's .tmp, unless it is on 9p (the v2 guest
 * shares the checkout with cache=mmap, so reads bypass the page cache; statfs
 * there reports the host's filesystem) or tmpfs (shmem, not reclaimable file
 * cache); then the system's temporary directory.
 */
export function pageCacheScratch(prefix: string): string {
  const repoTmp = join(REPO, ".tmp", "reclaim");
  mkdirSync(repoTmp, { recursive: true });
  const type = mountHolding(realpathSync(repoTmp), readFileSync("/proc/self/mountinfo", "utf8")).fsType;
  return mkdtempSync(join(type === "9p" || type === "tmpfs" ? tmpdir() : repoTmp, prefix));
}

/**
 * A container that reads a `cacheMiB` file (on a bind mount, its cache dropped
 * first so that the container's read charges it) once and idles; then
 * `mem balloon --auto` (target = working set) and `--deflate`.
 */
export async function validateBalloon(root: string, cacheMiB = 64, name = `balloon-${process.pid}`): Promise<BalloonRow> {
  const dir = pageCacheScratch("balloon-");
  const file = join(dir, "cache");
  execFileSync("dd", ["if=/dev/zero", `of=${file}`, "bs=1M", `count=${cacheMiB}`, "conv=fsync", "status=none"]);
  execFileSync("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"]); // drop its page cache
  let c: Running | undefined;
  try {
    c = await startContainer(root, name, ["-v", `${dir}:/data`, "busybox", "sh", "-c",
      // One read per large folio: ext4 large folios read in small chunks are touched twice and go active.
      "dd if=/data/cache of=/dev/null bs=8M 2>/dev/null; echo ready; exec sleep 100000"], "ready");
    const r = tsboxSync(root, ["mem", "balloon", name, "--auto", "--format", "json"]);
    if (r.code !== 0) throw new Error(`mem balloon failed: ${r.stderr}`);
    const rep = JSON.parse(r.stdout) as import("../src/reclaim/kernel/balloon.js").BalloonReport;
    const recorded = existsSync(join(root, "containers", c.id, "balloon.json"));
    const d = tsboxSync(root, ["mem", "balloon", name, "--deflate"]);
    if (d.code !== 0) throw new Error(`mem balloon --deflate failed: ${d.stderr}`);
    const recordLeft = existsSync(join(root, "containers", c.id, "balloon.json"));
    const limitAfterDeflate = Number(readFileSync(join(memoryCgroupOf({ id: c.id }).dir, memoryCgroupOf({ id: c.id }).version === "v1" ? "memory.limit_in_bytes" : "memory.high"), "utf8").trim().replace("max", String(2 ** 62)));
    return {
      cacheMiB, usageBefore: rep.before.usage, inactiveFile: rep.before.inactiveFile, activeFile: rep.before.activeFile, anon: rep.before.anon,
      target: rep.target, predicted: rep.predictedBytes, reclaimed: rep.reclaimedBytes, error: relErr(rep.predictedBytes, rep.reclaimedBytes),
      steps: rep.steps, refaults: rep.refaults, majorFaults: rep.majorFaults, stoppedBy: rep.stoppedBy, seconds: rep.elapsedMs / 1000, limitAfterDeflate,
      recorded, recordLeft,
    };
  } finally {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
