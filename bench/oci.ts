// OCI runtime benchmark: tsbox-runc against runc through the runc command line
// that engines (containerd-shim, Docker, conmon) use, on one busybox bundle.
//
//   npx tsx bench/oci.ts [--iterations N] [--warmup N]     (or BENCH_ITERATIONS=N)
//
// For each runtime, interleaved round-robin after warm-up rounds:
//   lifecycle  `create --bundle B --pid-file F ID`, `start ID`, (the container's
//              `true` exits: polled outside the clock), `delete ID`; each phase
//              timed, and their sum per iteration
//   run        `run --bundle B ID` (foreground create + start + wait + delete)
//   docker     `docker run --rm --network none --runtime R IMAGE true`, only when
//              the reachable Docker daemon has a `tsbox` runtime
//
// Runtimes: runc (from PATH) always; tsbox-runc when bin/tsbox-runc.js exists
// (started as its `#!` line starts it) or TSBOX_RUNC=PATH names another binary
// speaking the same command line (a `.js` path is run with this Node). Each has
// its own --root state dir. Writes a Markdown table to stdout and
// bench/results/oci.json. Needs root.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describeExit, installSignalHandlers, intOption, mustSh, nodeScriptArgv, onCleanup, quantile, REPO, round1, runBenchmark, runTimedToFile, sh, type Exit, writeResults } from "./lib.js";

const RESULTS = join(REPO, "bench", "results", "oci.json");
const TSBOX_RUNC = join(REPO, "bin", "tsbox-runc.js");
/** How long the container's `true` may take to be gone after `start` returns. */
const EXIT_WAIT_MS = 10_000;
const DOCKER_TSBOX_RUNTIME = process.env.TSBOX_DOCKER_RUNTIME ?? "tsbox";

// ---------------------------------------------------------------- runtimes

interface Runtime {
  key: "runc" | "tsboxRunc";
  label: string;
  /** the runtime binary's argv, before the global options */
  argv: string[];
  version: string | null;
  /** private --root: nothing lands in the default state dirs */
  state: string;
  /** ids created and not yet deleted, for the clean-up */
  live: Set<string>;
  skip?: string;
}

function cliOf(rt: Runtime, ...args: string[]): string[] {
  return [...rt.argv, "--root", rt.state, ...args];
}

function runtime(key: Runtime["key"], label: string, argv: string[], work: string, skip?: string): Runtime {
  const state = join(work, `state-${key}`);
  const rt: Runtime = { key, label, argv, version: null, state, live: new Set(), ...(skip === undefined ? {} : { skip }) };
  if (skip !== undefined) return rt;
  const v = sh([...argv, "--version"]);
  rt.version = v.ok ? (v.out.split("\n")[0] ?? null) : null;
  mkdirSync(state);
  onCleanup(`${label} containers`, () => {
    // Whatever an interrupted or failed iteration left: the container (and its
    // cgroups and mounts) goes with the runtime's own forced delete.
    for (const id of rt.live) {
      const d = sh(cliOf(rt, "delete", "--force", id));
      if (!d.ok && sh(cliOf(rt, "state", id)).ok) process.stderr.write(`cleanup: ${label} delete --force ${id} failed: ${d.err.split("\n")[0]}\n`);
    }
  });
  return rt;
}

function prepareRuntimes(work: string): Runtime[] {
  const runcVersion = sh(["runc", "--version"]);
  const runc = runtime("runc", "runc", ["runc"], work,
    runcVersion.ok ? undefined : `runc not available (\`runc --version\` failed: ${runcVersion.err.split("\n")[0] || "not found"})`);
  const override = process.env.TSBOX_RUNC;
  let tsbox: Runtime;
  if (override !== undefined && override !== "") {
    const path = resolve(override);
    tsbox = existsSync(path)
      ? runtime("tsboxRunc", "tsbox-runc", path.endsWith(".js") ? nodeScriptArgv(path) : [path], work)
      : runtime("tsboxRunc", "tsbox-runc", [], work, `TSBOX_RUNC=${override}: no such file`);
  } else if (existsSync(TSBOX_RUNC)) {
    tsbox = runtime("tsboxRunc", "tsbox-runc", nodeScriptArgv(TSBOX_RUNC), work);
  } else {
    tsbox = runtime("tsboxRunc", "tsbox-runc", [], work, "bin/tsbox-runc.js does not exist yet (TSBOX_RUNC=PATH benchmarks another binary)");
  }
  return [runc, tsbox];
}

/** The bundle both runtimes run: `runc spec`'s config.json with no terminal and `true`. */
function prepareBundle(work: string, tarball: string): string {
  const bundle = join(work, "bundle");
  mkdirSync(join(bundle, "rootfs"), { recursive: true });
  mustSh(["tar", "-xf", tarball, "-C", join(bundle, "rootfs")]);
  const configPath = join(bundle, "config.json");
  // runc's default config.json: the bundle the runtimes' own tests start from.
  const made = sh(["runc", "spec", "--bundle", bundle]);
  if (!made.ok) throw new Error(`\`runc spec\` failed (runc writes the bundle's config.json): ${made.err.split("\n")[0] || "not found"}`);
  const spec = JSON.parse(readFileSync(configPath, "utf8")) as { process?: { terminal?: unknown; args?: unknown } };
  if (typeof spec.process !== "object" || spec.process === null) throw new Error(`${configPath}: no "process" object`);
  spec.process.terminal = false; // stdio passes through: /dev/null and a file here
  spec.process.args = ["true"];
  writeFileSync(configPath, JSON.stringify(spec, null, 2));
  return bundle;
}

// ---------------------------------------------------------------- measurements

type Phase = "create" | "start" | "delete" | "total" | "run";

interface Runner {
  key: string;
  kind: "lifecycle" | "run" | "docker";
  /** the runtime compared: tsbox-runc's figures are divided by runc's */
  runtime: Runtime["key"];
  label: string;
  command: string;
  phases: readonly Phase[];
  samples: Partial<Record<Phase, number[]>>;
  /** outside the clock: how long after `start` the container's process was seen gone */
  exitSeenMs: number[];
  /** one iteration; throws with a one-line message */
  once: (seq: number) => Promise<Partial<Record<Phase, number>>>;
  skip?: string;
  failed?: boolean;
}

class StepError extends Error {}

function check(what: string, e: Exit): number {
  if (e.code !== 0) throw new StepError(`${what} failed (${describeExit(e)})`);
  return e.ms;
}

/** State (3rd field) and start time (22nd) of /proc/PID/stat, or undefined when the process is gone. */
function procStat(pid: number): { state: string; start: string } | undefined {
  let stat: string;
  try { stat = readFileSync(`/proc/${pid}/stat`, "utf8"); } catch { return undefined; }
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0] ?? "", start: fields[19] ?? "" };
}

/**
 * Waits until the container's first process has exited. It is not our child
 * (create's runtime process exited; it was reparented), so poll /proc: gone,
 * a zombie, or a new process under the same pid all mean it has exited.
 */
async function waitExit(pid: number, start: string, what: string): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const s = procStat(pid);
    if (s === undefined || s.state === "Z" || s.state === "X" || s.start !== start) return Date.now() - t0;
    if (Date.now() - t0 > EXIT_WAIT_MS) throw new StepError(`${what}: the container's process ${pid} still runs ${EXIT_WAIT_MS / 1000} s after start`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

function readPid(file: string, what: string): number {
  let text: string;
  try { text = readFileSync(file, "utf8").trim(); } catch { throw new StepError(`${what}: create wrote no --pid-file ${file}`); }
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) throw new StepError(`${what}: --pid-file holds ${JSON.stringify(text)}, not a pid`);
  return pid;
}

function lifecycleRunner(rt: Runtime, bundle: string, work: string): Runner {
  const id = (seq: number): string => `tsbox-bench-oci-${process.pid}-${seq}`;
  const err = join(work, `${rt.key}.stderr`);
  const runner: Runner = {
    key: `lifecycle.${rt.key}`, kind: "lifecycle", runtime: rt.key, label: rt.label,
    command: `create --bundle B --pid-file F ID; start ID; delete ID`,
    phases: ["create", "start", "delete", "total"], samples: {}, exitSeenMs: [],
    ...(rt.skip === undefined ? {} : { skip: rt.skip }),
    once: async (seq) => {
      const c = id(seq);
      const pidFile = join(work, `${rt.key}-${seq}.pid`);
      rt.live.add(c);
      try {
        const create = check(`${rt.label} create`, await runTimedToFile(cliOf(rt, "create", "--bundle", bundle, "--pid-file", pidFile, c), err));
        const pid = readPid(pidFile, `${rt.label} create`);
        const before = procStat(pid);
        if (before === undefined) throw new StepError(`${rt.label} create: the container's process ${pid} is gone before start`);
        const start = check(`${rt.label} start`, await runTimedToFile(cliOf(rt, "start", c), err));
        runner.exitSeenMs.push(await waitExit(pid, before.start, `${rt.label} start`));
        const del = check(`${rt.label} delete`, await runTimedToFile(cliOf(rt, "delete", c), err));
        rt.live.delete(c);
        return { create, start, delete: del, total: create + start + del };
      } finally {
        rmSync(pidFile, { force: true });
        // A failed step leaves the container behind: remove it outside the clock.
        if (rt.live.has(c) && sh(cliOf(rt, "delete", "--force", c)).ok) rt.live.delete(c);
      }
    },
  };
  return runner;
}

function runRunner(rt: Runtime, bundle: string, work: string): Runner {
  const id = (seq: number): string => `tsbox-bench-oci-run-${process.pid}-${seq}`;
  const err = join(work, `${rt.key}.stderr`);
  return {
    key: `run.${rt.key}`, kind: "run", runtime: rt.key, label: rt.label, command: "run --bundle B ID",
    phases: ["run"], samples: {}, exitSeenMs: [],
    ...(rt.skip === undefined ? {} : { skip: rt.skip }),
    once: async (seq) => {
      const c = id(seq);
      rt.live.add(c);
      try {
        return { run: check(`${rt.label} run`, await runTimedToFile(cliOf(rt, "run", "--bundle", bundle, c), err)) };
      } finally {
        // runc 1.1 deletes a foreground run's container when it exits; a
        // runtime that does not (or a failed run) leaves one: delete it off the clock.
        if (!sh(cliOf(rt, "state", c)).ok || sh(cliOf(rt, "delete", "--force", c)).ok) rt.live.delete(c);
      }
    },
  };
}

/**
 * `docker run --rm` through each runtime, when the daemon knows a `tsbox` one
 * (dockerd --add-runtime tsbox=PATH, or "runtimes" in daemon.json). Both runs
 * use --network none: the comparison is of the runtimes, not of the bridge.
 */
function dockerRunners(tarball: string, work: string): { runners: Runner[]; paths: Record<string, string> } {
  const names: Record<Runtime["key"], string> = { runc: "runc", tsboxRunc: DOCKER_TSBOX_RUNTIME };
  let skip: string | undefined;
  let image = "";
  const paths: Record<string, string> = {};
  const info = sh(["docker", "info", "--format", "{{json .Runtimes}}"]);
  if (!info.ok) {
    skip = `docker: no daemon reachable (\`docker info\` failed: ${info.err.split("\n")[0] || "no output"})`;
  } else {
    const runtimes = JSON.parse(info.out) as Record<string, { path?: unknown } | undefined>;
    for (const name of Object.values(names)) {
      const p = runtimes[name]?.path;
      if (typeof p === "string") paths[name] = p;
    }
    if (runtimes[DOCKER_TSBOX_RUNTIME] === undefined) {
      skip = `docker: the daemon has no \`${DOCKER_TSBOX_RUNTIME}\` runtime (dockerd --add-runtime ${DOCKER_TSBOX_RUNTIME}=/path/to/tsbox-runc; TSBOX_DOCKER_RUNTIME=NAME names another)`;
    } else if (runtimes.runc === undefined) {
      skip = "docker: the daemon has no `runc` runtime to compare with";
    } else {
      image = `tsbox-bench-busybox:${process.pid}-${Date.now().toString(36)}`;
      onCleanup("docker image", () => {
        const ids = sh(["docker", "ps", "-aq", "--filter", `ancestor=${image}`]).out.split("\n").filter(Boolean);
        if (ids.length > 0) sh(["docker", "rm", "-f", ...ids]);
        sh(["docker", "rmi", image]);
      });
      const imported = sh(["docker", "import", tarball, image]);
      if (!imported.ok) skip = `docker import failed: ${imported.err.split("\n")[0]}`;
    }
  }
  const err = join(work, "docker.stderr");
  const runners = (Object.entries(names) as [Runtime["key"], string][]).map(([key, name]): Runner => {
    const argv = ["docker", "run", "--rm", "--network", "none", "--runtime", name, image, "true"];
    return {
      key: `docker.${key}`, kind: "docker", runtime: key, label: `docker --runtime ${name}`,
      command: argv.join(" ").replace(image, "IMAGE"), phases: ["run"], samples: {}, exitSeenMs: [],
      ...(skip === undefined ? {} : { skip }),
      once: async () => ({ run: check(`docker run --runtime ${name}`, await runTimedToFile(argv, err)) }),
    };
  });
  return { runners, paths };
}

/** Round-robin so that drift (page cache, other load on the machine) hits every runner alike. */
async function measure(runners: Runner[], rounds: number, record: boolean, seq: { n: number }): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (const r of runners) {
      if (r.skip) continue;
      let t: Partial<Record<Phase, number>>;
      try {
        t = await r.once(++seq.n);
      } catch (e) {
        // A runtime that breaks (or cannot be spawned) is reported and dropped;
        // the others' figures still count.
        r.skip = e instanceof StepError ? e.message : `${r.label} (${r.kind}): ${(e as Error).message}`;
        r.failed = true;
        process.stderr.write(`failed: ${r.skip}\n`);
        continue;
      }
      if (!record) continue;
      for (const p of r.phases) (r.samples[p] ??= []).push(t[p] ?? Number.NaN);
    }
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const iterations = intOption("--iterations", process.env.BENCH_ITERATIONS, 30, 1);
  const warmup = intOption("--warmup", undefined, 3, 0);
  if (process.getuid?.() !== 0) throw new Error("run as root: OCI runtimes need it");
  installSignalHandlers(5_000);
  const work = mkdtempSync(join(tmpdir(), "tsbox-bench-oci-"));
  onCleanup("temp dir", () => rmSync(work, { recursive: true, force: true }));
  const tarball = join(work, "busybox.tar");
  mustSh(["bash", join(REPO, "scripts", "make-busybox-rootfs.sh"), tarball]);
  const bundle = prepareBundle(work, tarball);

  const runtimes = prepareRuntimes(work);
  const docker = dockerRunners(tarball, work);
  const runners = [
    ...runtimes.map((rt) => lifecycleRunner(rt, bundle, work)),
    ...runtimes.map((rt) => runRunner(rt, bundle, work)),
    ...docker.runners,
  ];
  for (const reason of new Set(runners.map((r) => r.skip).filter(Boolean))) process.stdout.write(`skip: ${reason}\n`);
  if (runners.every((r) => r.skip)) throw new Error("nothing to measure");

  const load = [loadavg()[0] ?? 0];
  const seq = { n: 0 };
  process.stderr.write(`warm-up: ${warmup} round(s); measuring: ${iterations} round(s)...\n`);
  await measure(runners, warmup, false, seq);
  await measure(runners, iterations, true, seq);
  load.push(loadavg()[0] ?? 0);

  // ------------------------------------------------------------ report
  const q = (xs: number[] | undefined, p: number): number | null => (xs?.length ? round1(quantile(xs, p)) : null);
  const usable = (r: Runner | undefined): r is Runner => r !== undefined && !r.failed && !r.skip;
  const find = (kind: Runner["kind"], key: Runtime["key"]): Runner | undefined => runners.find((r) => r.kind === kind && r.runtime === key);
  const ratio = (kind: Runner["kind"], phase: Phase): number | null => {
    const t = find(kind, "tsboxRunc");
    const b = find(kind, "runc");
    if (!usable(t) || !usable(b)) return null;
    return Math.round((quantile(t.samples[phase] ?? [], 0.5) / quantile(b.samples[phase] ?? [], 0.5)) * 100) / 100;
  };
  const stats = Object.fromEntries(runners.map((r) => [r.key, {
    label: r.label,
    command: r.command,
    skipped: r.skip ?? null,
    failed: r.failed ?? false,
    runs: r.samples[r.phases[0]!]?.length ?? 0,
    phases: Object.fromEntries(r.phases.map((p) => [p, {
      medianMs: q(r.samples[p], 0.5), p10Ms: q(r.samples[p], 0.1), p90Ms: q(r.samples[p], 0.9),
      minMs: q(r.samples[p], 0), maxMs: q(r.samples[p], 1),
      samplesMs: (r.samples[p] ?? []).map(round1),
    }])),
    ...(r.kind === "lifecycle" ? { exitSeenAfterStartMs: { median: q(r.exitSeenMs, 0.5), max: q(r.exitSeenMs, 1) } } : {}),
  }]));
  const ratios = {
    lifecycle: Object.fromEntries((["create", "start", "delete", "total"] as const).map((p) => [p, ratio("lifecycle", p)])),
    run: ratio("run", "run"),
    docker: ratio("docker", "run"),
  };

  const fmt = (x: number | null): string => (x === null ? "–" : x.toFixed(1));
  const title = { lifecycle: "create→start→delete", run: "run (foreground)", docker: "docker run --rm" } as const;
  const rows: string[] = [];
  for (const r of runners) {
    if (r.skip) {
      rows.push(`| ${title[r.kind]} | ${r.label} | ${r.failed ? "failed" : "skipped"} | | | |`);
      continue;
    }
    for (const p of r.phases) {
      const what = r.kind === "lifecycle" ? `${title.lifecycle}: ${p}` : title[r.kind];
      const rat = r.runtime === "tsboxRunc" ? (r.kind === "lifecycle" ? ratios.lifecycle[p] : ratios[r.kind]) : undefined;
      rows.push(`| ${what} | ${r.label} | ${fmt(q(r.samples[p], 0.5))} | ${fmt(q(r.samples[p], 0.1))} | ${fmt(q(r.samples[p], 0.9))} | ${rat === undefined ? "" : (rat ?? "–")} |`);
    }
  }
  const tsbox = runtimes.find((r) => r.key === "tsboxRunc");
  const lines = [
    `## OCI runtimes: busybox bundle running \`true\` (${iterations} interleaved rounds after ${warmup} warm-up)`,
    "",
    "| measurement | runtime | median ms | p10 ms | p90 ms | tsbox-runc / runc |",
    "|---|---|---:|---:|---:|---:|",
    ...rows,
    "",
    `- total = create + start + delete of one iteration (the wait for \`true\` to exit is outside the clock)`,
    ...(tsbox && !tsbox.skip ? [`- tsbox-runc: ${tsbox.argv.join(" ").replaceAll(`${REPO}/`, "")} (${tsbox.version ?? "--version failed"})`] : []),
    ...(docker.runners.some((r) => !r.skip) ? Object.entries(docker.paths).map(([name, path]) => `- docker runtime \`${name}\`: ${path}`) : []),
    ...[...new Set(runners.filter((r) => r.skip).map((r) => `${r.failed ? "failed" : "skipped"}: ${r.skip}`))].map((s) => `- ${s}`),
    `- load average (1 min) before/after: ${load.map((l) => l.toFixed(2)).join(" / ")} on ${cpus().length} CPUs`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);

  writeResults(RESULTS, {
    benchmark: "oci",
    date: new Date().toISOString(),
    iterations,
    warmup,
    bundle: { config: "runc spec, process.terminal false, process.args [\"true\"]", rootfs: "scripts/make-busybox-rootfs.sh" },
    runtimes: Object.fromEntries(runtimes.map((rt) => [rt.key, {
      argv: rt.argv.map((a) => a.replaceAll(`${REPO}/`, "")), version: rt.version, skipped: rt.skip ?? null,
    }])),
    dockerRuntimes: docker.paths,
    ratios,
    runners: stats,
  }, load);
  if (runners.some((r) => r.failed)) process.exitCode = 1;
}

await runBenchmark(main);
