// Start-up benchmark: wall time of a complete `run --rm <busybox> true` for
// tsbox and Docker (each with its default bridge network and with --network
// none) and plain runc, all from the same busybox tarball, plus the peak RSS
// of each CLI process.
//
//   npx tsx bench/start.ts [--iterations N] [--warmup N]     (or BENCH_ITERATIONS=N)
//
// Needs root and a built tsbox (`npm run bench:start` builds first). Writes a
// Markdown table to stdout and bench/results/start.json. Docker and runc are
// optional: a missing one is skipped with a line saying why.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, TSBOX_ARGV, runBenchmark, describeExit, installSignalHandlers, mustSh, onCleanup, quantile, round1, runTimed, sh, writeResults } from "./lib.js";

const RESULTS = join(REPO, "bench", "results", "start.json");
const GNU_TIME = "/usr/bin/time";
const GOAL_RATIO = 0.25; // tsbox run --rm must take at most a quarter of docker run --rm
const MAX_RSS_RUNS = 10; // peak RSS barely varies; fewer runs keep the benchmark short

// ---------------------------------------------------------------- options

function parseIterations(): { iterations: number; warmup: number } {
  const args = process.argv.slice(2);
  const value = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const positive = (s: string | undefined, what: string, dflt: number, min: number): number => {
    if (s === undefined) return dflt;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) throw new Error(`${what} must be an integer >= ${min}, got ${JSON.stringify(s)}`);
    return n;
  };
  return {
    iterations: positive(value("--iterations") ?? process.env.BENCH_ITERATIONS, "--iterations", 30, 1),
    warmup: positive(value("--warmup"), "--warmup", 3, 0),
  };
}

// ---------------------------------------------------------------- runners

interface Runner {
  key: "tsbox" | "tsboxNoNet" | "docker" | "dockerNoNet" | "runc";
  label: string;
  /** argv of one timed run; `seq` makes ids unique where a runtime needs that */
  argv: (seq: number) => string[];
  /** work after each run, outside the clock */
  after?: (seq: number) => void;
  skip?: string;
  samples: number[];
  rssKiB: number[];
}

function newRunner(key: Runner["key"], label: string, argv: (seq: number) => string[], skip?: string): Runner {
  return { key, label, argv, samples: [], rssKiB: [], ...(skip === undefined ? {} : { skip }) };
}

function prepareTsbox(work: string, tarball: string): Runner[] {
  if (!existsSync(join(REPO, "dist", "tsbox.cjs"))) throw new Error("dist/ is missing: run `npm run build` (or `npm run bench:start`)");
  const root = join(work, "tsbox-root");
  const tsbox = (...args: string[]): string[] => [...TSBOX_ARGV, "--root", root, ...args];
  onCleanup("tsbox root", () => {
    // Any tsbox command first releases containers whose owner died (cgroups
    // included), which covers a run killed mid-flight; then the root can go.
    if (existsSync(root)) sh(tsbox("images", "-q"));
  });
  mustSh(tsbox("import", tarball, "busybox"));
  return [
    // The default network: the bridge tsbox0 (a veth pair and an address from netavark).
    newRunner("tsbox", "tsbox run --rm", () => tsbox("run", "--rm", "busybox", "true")),
    newRunner("tsboxNoNet", "tsbox run --rm --network none", () => tsbox("run", "--rm", "--network", "none", "busybox", "true")),
  ];
}

function prepareDocker(tarball: string): Runner[] {
  // One tag per benchmark run: concurrent runs and leftovers cannot collide,
  // and clean-up removes exactly the image this run imported.
  const image = `tsbox-bench-busybox:${process.pid}-${Date.now().toString(36)}`;
  const runners = (skip?: string): Runner[] => [
    newRunner("docker", "docker run --rm", () => ["docker", "run", "--rm", image, "true"], skip),
    newRunner("dockerNoNet", "docker run --rm --network none", () => ["docker", "run", "--rm", "--network", "none", image, "true"], skip),
  ];
  const info = sh(["docker", "info", "--format", "{{.ServerVersion}}"]);
  if (!info.ok) return runners(`docker not available (\`docker info\` failed: ${info.err.split("\n")[0] || "no daemon"})`);
  onCleanup("docker image", () => {
    // --rm containers of an interrupted run may still exist; remove them, then the image.
    const ids = sh(["docker", "ps", "-aq", "--filter", `ancestor=${image}`]).out.split("\n").filter(Boolean);
    if (ids.length > 0) sh(["docker", "rm", "-f", ...ids]);
    sh(["docker", "rmi", image]);
  });
  const imported = sh(["docker", "import", tarball, image]);
  if (!imported.ok) return runners(`docker import failed: ${imported.err}`);
  return runners();
}

interface RuncSpec {
  process: { terminal: boolean; args: string[] };
  root: { path: string; readonly?: boolean };
  linux: { namespaces: { type: string; path?: string }[] };
  [key: string]: unknown;
}

function prepareRunc(work: string, tarball: string): Runner {
  const version = sh(["runc", "--version"]);
  if (!version.ok) return newRunner("runc", "runc run", () => [], `runc not available (\`runc --version\` failed: ${version.err.split("\n")[0] || "not found"})`);
  const bundle = join(work, "runc-bundle");
  // A private state dir: nothing of ours lands in /run/runc, and clean-up is a listing of it.
  const state = join(work, "runc-state");
  mkdirSync(join(bundle, "rootfs"), { recursive: true });
  mkdirSync(state);
  mustSh(["tar", "-xf", tarball, "-C", join(bundle, "rootfs")]);
  mustSh(["runc", "spec", "--bundle", bundle]);
  const configPath = join(bundle, "config.json");
  const spec = JSON.parse(readFileSync(configPath, "utf8")) as RuncSpec;
  spec.process.terminal = false; // no tty: tsbox and docker run without -t too
  spec.process.args = ["true"];
  // tsbox and docker give the container a writable root; runc spec's read-only
  // root would cost runc an extra remount.
  spec.root.readonly = false;
  // The same namespaces as tsbox (pid, mount, uts, ipc, net, cgroup).
  for (const type of ["pid", "mount", "uts", "ipc", "network", "cgroup"]) {
    if (!spec.linux.namespaces.some((n) => n.type === type)) spec.linux.namespaces.push({ type });
  }
  writeFileSync(configPath, JSON.stringify(spec, null, 2));
  const id = (seq: number): string => `tsbox-bench-${process.pid}-${seq}`;
  const runc = (...args: string[]): string[] => ["runc", "--root", state, ...args];
  onCleanup("runc containers", () => {
    for (const c of sh(runc("list", "-q")).out.split("\n").filter(Boolean)) sh(runc("delete", "--force", c));
  });
  const runner = newRunner("runc", "runc run", (seq) => runc("run", "--bundle", bundle, id(seq)));
  // runc 1.1 has no --rm; a foreground `run` deletes the container when it
  // exits, but a failed run may leave it behind, and ids must not be reused.
  runner.after = (seq) => {
    if (sh(runc("state", id(seq))).ok) sh(runc("delete", "--force", id(seq)));
  };
  return runner;
}

// ---------------------------------------------------------------- measuring

/** Round-robin so that drift (page cache, daemon state, other load) hits every runner alike. */
async function measure(runners: Runner[], rounds: number, record: boolean, wrap: (argv: string[], r: Runner) => { argv: string[]; done?: () => void }): Promise<void> {
  let seq = 0;
  for (let round = 0; round < rounds; round++) {
    for (const r of runners) {
      if (r.skip) continue;
      seq++;
      const { argv, done } = wrap(r.argv(seq), r);
      const e = await runTimed(argv);
      r.after?.(seq);
      if (e.code !== 0) {
        const msg = `${r.label} failed (${describeExit(e)})`;
        if (r.key === "tsbox" || r.key === "tsboxNoNet") throw new Error(msg);
        // A peer that breaks mid-way is reported and dropped; tsbox's numbers still count.
        r.skip = msg;
        process.stderr.write(`skip: ${msg}\n`);
        continue;
      }
      if (record) r.samples.push(e.ms);
      done?.();
    }
  }
}


// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { iterations, warmup } = parseIterations();
  if (process.getuid?.() !== 0) throw new Error("run as root: tsbox, docker and runc need it");
  installSignalHandlers(5_000);

  const work = mkdtempSync(join(tmpdir(), "tsbox-bench-"));
  onCleanup("temp dir", () => rmSync(work, { recursive: true, force: true }));

  const tarball = join(work, "busybox.tar");
  mustSh(["bash", join(REPO, "scripts", "make-busybox-rootfs.sh"), tarball]);

  const runners = [...prepareTsbox(work, tarball), ...prepareDocker(tarball), prepareRunc(work, tarball)];
  // One line per reason: both docker runners share theirs.
  for (const reason of new Set(runners.map((r) => r.skip).filter(Boolean))) process.stdout.write(`skip: ${reason}\n`);

  const load = [loadavg()[0] ?? 0];
  process.stderr.write(`warm-up: ${warmup} round(s); measuring: ${iterations} round(s)...\n`);
  await measure(runners, warmup, false, (argv) => ({ argv }));
  await measure(runners, iterations, true, (argv) => ({ argv }));

  // Peak RSS in separate runs: GNU time adds a fork/exec we keep off the clock.
  // %M is ru_maxrss from wait4: the largest RSS of the CLI process or of any
  // child it reaped (for tsbox that includes the container's `true`, which is tiny).
  let rssNote: string | undefined;
  if (existsSync(GNU_TIME)) {
    const out = join(work, "rss");
    const rssRuns = Math.min(iterations, MAX_RSS_RUNS);
    process.stderr.write(`peak RSS: ${rssRuns} round(s) under ${GNU_TIME}...\n`);
    await measure(runners, rssRuns, false, (argv, r) => ({
      argv: [GNU_TIME, "-f", "%M", "-o", out, ...argv],
      done: () => {
        const kib = Number(readFileSync(out, "utf8").trim().split("\n").pop());
        if (Number.isFinite(kib)) r.rssKiB.push(kib);
      },
    }));
  } else {
    rssNote = `peak RSS skipped: ${GNU_TIME} not found (apt-get install time)`;
    process.stdout.write(`${rssNote}\n`);
  }
  load.push(loadavg()[0] ?? 0);

  // ------------------------------------------------------------ report
  const ms = (xs: number[], q: number): number | null => (xs.length ? round1(quantile(xs, q)) : null);
  const stats = Object.fromEntries(runners.map((r) => [r.key, {
    label: r.label,
    command: r.argv(0).join(" ").replaceAll(`${REPO}/`, "").replaceAll(work, "$TMP"),
    skipped: r.skip ?? null,
    runs: r.samples.length,
    medianMs: ms(r.samples, 0.5),
    p10Ms: ms(r.samples, 0.1),
    p90Ms: ms(r.samples, 0.9),
    minMs: ms(r.samples, 0),
    maxMs: ms(r.samples, 1),
    samplesMs: r.samples.map(round1),
    peakRssMiB: r.rssKiB.length ? round1(quantile(r.rssKiB, 0.5) / 1024) : null,
    peakRssKiB: r.rssKiB,
  }]));
  const median = (key: Runner["key"]): number | undefined => {
    const r = runners.find((x) => x.key === key);
    return r && !r.skip && r.samples.length ? quantile(r.samples, 0.5) : undefined;
  };
  const ratio = (num: Runner["key"], den: Runner["key"]): number | null => {
    const n = median(num);
    const m = median(den);
    return n === undefined || m === undefined ? null : Math.round((n / m) * 100) / 100;
  };
  const ratios = {
    tsboxOverDocker: ratio("tsbox", "docker"), tsboxOverDockerNoNet: ratio("tsbox", "dockerNoNet"), tsboxOverRunc: ratio("tsbox", "runc"),
    tsboxNoNetOverDockerNoNet: ratio("tsboxNoNet", "dockerNoNet"), tsboxNoNetOverRunc: ratio("tsboxNoNet", "runc"),
    tsboxOverTsboxNoNet: ratio("tsbox", "tsboxNoNet"), dockerOverDockerNoNet: ratio("docker", "dockerNoNet"),
  };
  const goalMet = ratios.tsboxOverDocker === null ? null : ratios.tsboxOverDocker <= GOAL_RATIO;

  const fmt = (x: number | null): string => (x === null ? "–" : x.toFixed(1));
  const lines = [
    `## Start-up: \`run --rm busybox true\` (${iterations} interleaved runs after ${warmup} warm-up rounds)`,
    "",
    "| runner | median ms | p10 ms | p90 ms | peak RSS MiB (CLI) |",
    "|---|---:|---:|---:|---:|",
    ...Object.values(stats).map((s) => s.skipped
      ? `| ${s.label} | skipped | | | |`
      : `| ${s.label} | ${fmt(s.medianMs)} | ${fmt(s.p10Ms)} | ${fmt(s.p90Ms)} | ${fmt(s.peakRssMiB)} |`),
    "",
    `- tsbox / docker run --rm: ${ratios.tsboxOverDocker ?? "n/a (docker skipped)"}`,
    `- tsbox / docker run --rm --network none: ${ratios.tsboxOverDockerNoNet ?? "n/a (docker skipped)"}`,
    `- tsbox / runc run: ${ratios.tsboxOverRunc ?? "n/a (runc skipped)"}`,
    `- tsbox --network none / docker run --rm --network none: ${ratios.tsboxNoNetOverDockerNoNet ?? "n/a (docker skipped)"}`,
    `- tsbox --network none / runc run: ${ratios.tsboxNoNetOverRunc ?? "n/a (runc skipped)"}`,
    `- cost of the default bridge: tsbox ${ratios.tsboxOverTsboxNoNet} × its --network none, docker ${ratios.dockerOverDockerNoNet ?? "n/a"} × its --network none`,
    `- goal: tsbox ≤ ${GOAL_RATIO} × docker run --rm: ${goalMet === null ? "not checked (docker skipped)" : goalMet ? "MET" : "NOT MET"}`,
    ...[...new Set(Object.values(stats).map((s) => s.skipped).filter(Boolean))].map((why) => `- skipped: ${why}`),
    `- load average (1 min) before/after: ${load.map((l) => l.toFixed(2)).join(" / ")} on ${cpus().length} CPUs`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);

  writeResults(RESULTS, {
    benchmark: "start",
    date: new Date().toISOString(),
    iterations,
    warmup,
    goal: { tsboxOverDockerAtMost: GOAL_RATIO, met: goalMet },
    ratios,
    runners: stats,
    notes: rssNote ? [rssNote] : [],
  }, load);
}

await runBenchmark(main);
