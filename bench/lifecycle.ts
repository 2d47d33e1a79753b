// Lifecycle benchmark: start of N detached containers (sequential `run -d`,
// total wall time) and the resident memory each running container costs its
// runtime: tsbox's monitor vs Docker's containerd-shim-runc-v2, side by side.
//
//   npx tsx bench/lifecycle.ts [--count N]          (default 50; or BENCH_COUNT=N)
//
// Needs root and a built tsbox (`npm run bench:lifecycle` builds first). Writes
// a Markdown table to stdout and bench/results/lifecycle.json. Docker is
// optional: without a daemon its column is skipped with a line saying why.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, TSBOX_ARGV, describeExit, installSignalHandlers, mustSh, onCleanup, round1, runBenchmark, runTimed, sh } from "./lib.js";

const RESULTS = join(REPO, "bench", "results", "lifecycle.json");

function count(): number {
  const args = process.argv.slice(2);
  const i = args.indexOf("--count");
  const v = i >= 0 ? args[i + 1] : process.env.BENCH_COUNT;
  const n = v === undefined ? 50 : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--count must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** VmRSS and PSS (from smaps_rollup: shared pages split among sharers) in KiB. */
function memoryOf(pid: number): { rss: number; pss: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  let pss = 0;
  try { pss = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0); } catch { /* old kernel */ }
  return { rss, pss };
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

interface Result { startTotalMs: number; startPerContainerMs: number; rssKiB: number; pssKiB: number; skip?: string }

async function benchTsbox(n: number, work: string, tarball: string): Promise<Result> {
  if (!existsSync(join(REPO, "dist", "tsbox.cjs"))) throw new Error("dist/ is missing: run `npm run build` (or `npm run bench:lifecycle`)");
  const root = join(work, "tsbox-root");
  const cli = (args: string[]): string[] => [...TSBOX_ARGV, "--root", root, ...args];
  mustSh(cli(["import", tarball, "bench-busybox"]));
  const ids: string[] = [];
  onCleanup("tsbox containers", () => { for (const id of ids) sh(cli(["rm", "-f", id])); });
  let total = 0;
  for (let i = 0; i < n; i++) {
    const e = await runTimed(cli(["run", "-d", "bench-busybox", "sleep", "3600"]));
    if (e.code !== 0) throw new Error(`tsbox run -d failed: ${describeExit(e)}`);
    total += e.ms;
  }
  for (const id of readdirSync(join(root, "containers")).filter((d) => /^[0-9a-f]{64}$/.test(d))) ids.push(id);
  const mem = ids.map((id) => {
    const st = JSON.parse(readFileSync(join(root, "containers", id, "state.json"), "utf8")) as { owner: { pid: number } };
    return memoryOf(st.owner.pid);
  });
  const t0 = Date.now();
  sh(cli(["rm", "-f", ...ids]), 600_000);
  ids.length = 0;
  process.stderr.write(`tsbox: removed ${n} in ${Date.now() - t0} ms\n`);
  return { startTotalMs: total, startPerContainerMs: total / n, rssKiB: mean(mem.map((m) => m.rss)), pssKiB: mean(mem.map((m) => m.pss)) };
}

async function benchDocker(n: number, tarball: string): Promise<Result> {
  const none = { startTotalMs: 0, startPerContainerMs: 0, rssKiB: 0, pssKiB: 0 };
  if (!sh(["docker", "info"], 20_000).ok) return { ...none, skip: "no Docker daemon answers" };
  const image = `tsbox-bench-busybox:lifecycle-${process.pid}`;
  mustSh(["docker", "import", tarball, image]);
  onCleanup("docker image", () => { sh(["docker", "rmi", "-f", image]); });
  const ids: string[] = [];
  onCleanup("docker containers", () => { if (ids.length) sh(["docker", "rm", "-f", ...ids], 600_000); });
  let total = 0;
  for (let i = 0; i < n; i++) {
    const name = `tsbox-bench-${process.pid}-${i}`;
    const e = await runTimed(["docker", "run", "-d", "--name", name, "--network", "none", image, "sleep", "3600"]);
    if (e.code !== 0) throw new Error(`docker run -d failed: ${describeExit(e)}`);
    total += e.ms;
    ids.push(mustSh(["docker", "inspect", "-f", "{{.Id}}", name]));
  }
  // One containerd-shim-runc-v2 per container: `-id <container id>` on its command line.
  const shims = new Map<string, number>();
  for (const p of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
      if (!argv[0]?.endsWith("containerd-shim-runc-v2")) continue;
      const id = argv[argv.indexOf("-id") + 1];
      if (id) shims.set(id, Number(p));
    } catch { /* gone */ }
  }
  const mem = ids.filter((id) => shims.has(id)).map((id) => memoryOf(shims.get(id)!));
  if (mem.length === 0) return { ...none, startTotalMs: total, startPerContainerMs: total / n, skip: "no containerd-shim-runc-v2 found per container" };
  return { startTotalMs: total, startPerContainerMs: total / n, rssKiB: mean(mem.map((m) => m.rss)), pssKiB: mean(mem.map((m) => m.pss)) };
}

async function main(): Promise<void> {
  const n = count();
  installSignalHandlers(30_000);
  const work = mkdtempSync(join(tmpdir(), "tsbox-bench-lifecycle-"));
  onCleanup("work dir", () => { sh(["umount", "-R", work]); rmSync(work, { recursive: true, force: true }); });
  const tarball = join(work, "busybox.tar");
  mustSh(["bash", join(REPO, "scripts", "make-busybox-rootfs.sh"), tarball]);

  const tsbox = await benchTsbox(n, work, tarball);
  const docker = await benchDocker(n, tarball);
  const ratio = (a: number, b: number): string => (b > 0 ? `${Math.round((a / b) * 100) / 100}` : "n/a");
  const rows = [
    `| metric | tsbox | docker | tsbox/docker |`,
    `|---|---|---|---|`,
    `| start of ${n} detached containers, total (ms) | ${round1(tsbox.startTotalMs)} | ${docker.skip && !docker.startTotalMs ? "skipped" : round1(docker.startTotalMs)} | ${ratio(tsbox.startTotalMs, docker.startTotalMs)} |`,
    `| per container (ms) | ${round1(tsbox.startPerContainerMs)} | ${round1(docker.startPerContainerMs)} | ${ratio(tsbox.startPerContainerMs, docker.startPerContainerMs)} |`,
    `| resident memory per running container: monitor vs containerd-shim-runc-v2, RSS (KiB) | ${round1(tsbox.rssKiB)} | ${docker.rssKiB ? round1(docker.rssKiB) : "skipped"} | ${ratio(tsbox.rssKiB, docker.rssKiB)} |`,
    `| same, PSS (KiB) | ${round1(tsbox.pssKiB)} | ${docker.pssKiB ? round1(docker.pssKiB) : "skipped"} | ${ratio(tsbox.pssKiB, docker.pssKiB)} |`,
  ];
  if (docker.skip) rows.push("", `docker: ${docker.skip}`);
  process.stdout.write(`${rows.join("\n")}\n`);
  mkdirSync(join(REPO, "bench", "results"), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify({
    date: new Date().toISOString(), kernel: release(), cpus: cpus().length, loadavg: loadavg(), count: n, tsbox, docker,
  }, null, 2)}\n`);
}

await runBenchmark(main);
