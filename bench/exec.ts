// Exec latency: wall time of a complete `exec CONTAINER true` into a running
// busybox container, for tsbox, Docker and plain runc, all from the same
// busybox tarball, interleaved round-robin.
//
//   npx tsx bench/exec.ts [--iterations N] [--warmup N]     (or BENCH_ITERATIONS=N)
//
// Needs root and a built tsbox (`npm run bench:exec` builds first). Writes a
// Markdown table to stdout and bench/results/exec.json. Docker and runc are
// optional: a missing one is skipped with a line saying why.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { describeExit, installSignalHandlers, intOption, mustSh, onCleanup, quantile, REPO, round1, runBenchmark, runTimed, sh, TSBOX_ARGV, writeResults } from "./lib.js";

const RESULTS = join(REPO, "bench", "results", "exec.json");

interface Runner { key: "tsbox" | "docker" | "runc"; label: string; argv: string[]; skip?: string; samples: number[] }

async function until(fn: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function prepareTsbox(work: string, tarball: string): Promise<Runner> {
  if (!existsSync(join(REPO, "dist", "tsbox.cjs"))) throw new Error("dist/ is missing: run `npm run build` (or `npm run bench:exec`)");
  const root = join(work, "tsbox-root");
  const tsbox = (...args: string[]): string[] => [...TSBOX_ARGV, "--root", root, ...args];
  mustSh(tsbox("import", tarball, "busybox"));
  // Containers run in the foreground today: the `run` CLI stays in the background.
  const devnull = openSync("/dev/null", "r+");
  const run = spawn(tsbox()[0]!, [...tsbox("run", "--rm", "--name", "bench-exec", "busybox", "sleep", "1000000").slice(1)],
    { stdio: [devnull, devnull, devnull] });
  onCleanup("tsbox container", () => {
    if (existsSync(root)) sh(tsbox("rm", "-f", "bench-exec"));
    if (run.exitCode === null) run.kill("SIGKILL");
    if (existsSync(root)) sh(tsbox("images", "-q"));
  });
  await until(() => sh(tsbox("exec", "bench-exec", "true")).ok, "tsbox container running");
  return { key: "tsbox", label: "tsbox exec", argv: tsbox("exec", "bench-exec", "true"), samples: [] };
}

function prepareDocker(tarball: string): Runner {
  const label = "docker exec";
  const info = sh(["docker", "info", "--format", "{{.ServerVersion}}"]);
  if (!info.ok) return { key: "docker", label, argv: [], samples: [], skip: `docker not available (\`docker info\` failed: ${info.err.split("\n")[0] || "no daemon"})` };
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const image = `tsbox-bench-busybox:${tag}`;
  const name = `tsbox-bench-exec-${tag}`;
  onCleanup("docker container and image", () => {
    sh(["docker", "rm", "-f", name]);
    sh(["docker", "rmi", image]);
  });
  const imported = sh(["docker", "import", tarball, image]);
  if (!imported.ok) return { key: "docker", label, argv: [], samples: [], skip: `docker import failed: ${imported.err}` };
  const started = sh(["docker", "run", "-d", "--name", name, image, "sleep", "1000000"]);
  if (!started.ok) return { key: "docker", label, argv: [], samples: [], skip: `docker run -d failed: ${started.err}` };
  return { key: "docker", label, argv: ["docker", "exec", name, "true"], samples: [] };
}

function prepareRunc(work: string, tarball: string): Runner {
  const label = "runc exec";
  const version = sh(["runc", "--version"]);
  if (!version.ok) return { key: "runc", label, argv: [], samples: [], skip: `runc not available (${version.err.split("\n")[0] || "not found"})` };
  const bundle = join(work, "runc-bundle");
  const state = join(work, "runc-state");
  const id = `tsbox-bench-exec-${process.pid}`;
  mkdirSync(join(bundle, "rootfs"), { recursive: true });
  mkdirSync(state);
  mustSh(["tar", "-xf", tarball, "-C", join(bundle, "rootfs")]);
  mustSh(["runc", "spec", "--bundle", bundle]);
  const configPath = join(bundle, "config.json");
  const spec = JSON.parse(readFileSync(configPath, "utf8")) as { process: { terminal: boolean; args: string[] }; root: { readonly?: boolean }; linux: { namespaces: { type: string }[] } };
  spec.process.terminal = false;
  spec.process.args = ["sleep", "1000000"];
  spec.root.readonly = false;
  for (const type of ["pid", "mount", "uts", "ipc", "network", "cgroup"]) {
    if (!spec.linux.namespaces.some((n) => n.type === type)) spec.linux.namespaces.push({ type });
  }
  writeFileSync(configPath, JSON.stringify(spec, null, 2));
  const runc = (...args: string[]): string[] => ["runc", "--root", state, ...args];
  onCleanup("runc container", () => { sh(runc("delete", "--force", id)); });
  // The container inherits runc's stdio: /dev/null, or a captured pipe would never close.
  const [file, ...args] = runc("run", "--detach", "--bundle", bundle, id);
  const r = spawnSync(file!, args, { stdio: "ignore", timeout: 60_000 });
  if (r.status !== 0) return { key: "runc", label, argv: [], samples: [], skip: `runc run --detach failed (status ${r.status})` };
  return { key: "runc", label, argv: runc("exec", id, "true"), samples: [] };
}

async function measure(runners: Runner[], rounds: number, record: boolean): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (const r of runners) {
      if (r.skip) continue;
      const e = await runTimed(r.argv);
      if (e.code !== 0) {
        const msg = `${r.label} failed (${describeExit(e)})`;
        if (r.key === "tsbox") throw new Error(msg);
        r.skip = msg;
        process.stderr.write(`skip: ${msg}\n`);
        continue;
      }
      if (record) r.samples.push(e.ms);
    }
  }
}

async function main(): Promise<void> {
  const iterations = intOption("--iterations", process.env.BENCH_ITERATIONS, 30, 1);
  const warmup = intOption("--warmup", undefined, 3, 0);
  if (process.getuid?.() !== 0) throw new Error("run as root: tsbox, docker and runc need it");
  installSignalHandlers(5_000);
  const work = mkdtempSync(join(tmpdir(), "tsbox-bench-exec-"));
  onCleanup("temp dir", () => rmSync(work, { recursive: true, force: true }));
  const tarball = join(work, "busybox.tar");
  mustSh(["bash", join(REPO, "scripts", "make-busybox-rootfs.sh"), tarball]);

  const runners = [await prepareTsbox(work, tarball), prepareDocker(tarball), prepareRunc(work, tarball)];
  for (const r of runners) if (r.skip) process.stdout.write(`skip: ${r.skip}\n`);
  const load = [loadavg()[0] ?? 0];
  process.stderr.write(`warm-up: ${warmup} round(s); measuring: ${iterations} round(s)...\n`);
  await measure(runners, warmup, false);
  await measure(runners, iterations, true);
  load.push(loadavg()[0] ?? 0);

  const ms = (xs: number[], q: number): number | null => (xs.length ? round1(quantile(xs, q)) : null);
  const stats = Object.fromEntries(runners.map((r) => [r.key, {
    label: r.label,
    command: r.argv.join(" ").replaceAll(`${REPO}/`, "").replaceAll(work, "$TMP"),
    skipped: r.skip ?? null,
    runs: r.samples.length,
    medianMs: ms(r.samples, 0.5), p10Ms: ms(r.samples, 0.1), p90Ms: ms(r.samples, 0.9),
    samplesMs: r.samples.map(round1),
  }]));
  const median = (key: Runner["key"]): number | undefined => {
    const r = runners.find((x) => x.key === key);
    return r && !r.skip && r.samples.length ? quantile(r.samples, 0.5) : undefined;
  };
  const tsboxMs = median("tsbox")!;
  const ratio = (key: Runner["key"]): number | null => {
    const m = median(key);
    return m === undefined ? null : Math.round((tsboxMs / m) * 100) / 100;
  };
  const ratios = { tsboxOverDocker: ratio("docker"), tsboxOverRunc: ratio("runc") };
  const fmt = (x: number | null): string => (x === null ? "–" : x.toFixed(1));
  const lines = [
    `## Exec latency: \`exec CONTAINER true\` (${iterations} interleaved runs after ${warmup} warm-up rounds)`,
    "",
    "| runner | median ms | p10 ms | p90 ms |",
    "|---|---:|---:|---:|",
    ...Object.values(stats).map((s) => s.skipped ? `| ${s.label} | skipped | | |`
      : `| ${s.label} | ${fmt(s.medianMs)} | ${fmt(s.p10Ms)} | ${fmt(s.p90Ms)} |`),
    "",
    `- tsbox / docker exec: ${ratios.tsboxOverDocker ?? "n/a (docker skipped)"}`,
    `- tsbox / runc exec: ${ratios.tsboxOverRunc ?? "n/a (runc skipped)"}`,
    `- load average (1 min) before/after: ${load.map((l) => l.toFixed(2)).join(" / ")} on ${cpus().length} CPUs`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);

  writeResults(RESULTS, {
    benchmark: "exec", date: new Date().toISOString(), iterations, warmup, ratios, runners: stats,
  }, load);
}

await runBenchmark(main);
