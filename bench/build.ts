// Build benchmark: `tsbox build` vs `docker build` (this machine's Docker,
// its default builder) of the same multi-stage Dockerfile and context, from
// an empty cache and as a rebuild with nothing changed, interleaved.
//
//   npx tsx bench/build.ts [--iterations N] [--warmup N]     (or BENCH_ITERATIONS=N)
//
// The Dockerfile: a build stage that "compiles" (makes 300 files with a
// shell loop, packs them with the context's files with tar and gzip), COPY of
// a 4 MB context of 200 files with a .dockerignore, a second stage that
// copies the result and sets its config: 14 steps, as a small service's
// Dockerfile has, whose RUN work is small next to the builder's own. (Work
// that dominates, a long compile, takes the same time in both builders.) From an empty cache: tsbox on a fresh store holding only the
// base, Docker with the build's images removed and `--no-cache`; both outside
// the clock. Needs root and a built tsbox (`npm run bench:build`). Writes a
// Markdown table to stdout and bench/results/build.json.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { REPO, TSBOX_ARGV, describeExit, intOption, installSignalHandlers, mustSh, onCleanup, quantile, round1, runBenchmark, runTimed, sh, writeResults } from "./lib.js";

const RESULTS = join(REPO, "bench", "results", "build.json");
const GOAL_SCRATCH = 0.5;
const GOAL_CACHED = 0.25;

function dockerfile(base: string): string {
  return `FROM ${base} AS build
ARG VERSION=1.0
WORKDIR /src
COPY src/ ./
RUN mkdir -p out && i=0; while [ $i -lt 300 ]; do echo "object $i" > out/o$i; i=$((i+1)); done \\
 && tar -cf /app.tar out *.txt && gzip -1 /app.tar
RUN echo "$VERSION" > /version

FROM ${base}
LABEL org.opencontainers.image.title=bench
COPY --from=build /app.tar.gz /version /opt/app/
ENV APP=/opt/app
WORKDIR /opt/app
EXPOSE 8080
USER 1000
CMD ["cat", "/opt/app/version"]
`;
}

function makeContext(dir: string, base: string): void {
  mkdirSync(join(dir, "src"), { recursive: true });
  for (let i = 0; i < 200; i++) writeFileSync(join(dir, "src", `f${i}.txt`), randomBytes(15_000).toString("base64"));
  writeFileSync(join(dir, "src", "ignored.log"), "x");
  writeFileSync(join(dir, ".dockerignore"), "src/*.log\n");
  writeFileSync(join(dir, "Dockerfile"), dockerfile(base));
}

interface Runner { key: string; label: string; argv: () => string[]; before: () => void; skip?: string; samples: number[] }

async function main(): Promise<void> {
  const iterations = intOption("--iterations", process.env.BENCH_ITERATIONS, 5, 1);
  const warmup = intOption("--warmup", undefined, 1, 0);
  if (process.getuid?.() !== 0) throw new Error("run as root: tsbox and docker need it");
  if (!existsSync(join(REPO, "dist", "tsbox.cjs"))) throw new Error("dist/ is missing: run `npm run build` (or `npm run bench:build`)");
  installSignalHandlers(10_000);
  const t0 = Date.now();
  const work = mkdtempSync("/var/tmp/tsbox-bench-build-");
  onCleanup("temp dir", () => rmSync(work, { recursive: true, force: true }));
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const base = `tsbox-bench-build-base:${suffix}`;
  const tag = `tsbox-bench-build:${suffix}`;
  const busybox = join(REPO, ".tmp", "test", "busybox.tar");
  if (!existsSync(busybox)) {
    mkdirSync(join(REPO, ".tmp", "test"), { recursive: true });
    mustSh(["bash", join(REPO, "scripts", "make-busybox-rootfs.sh"), busybox], 300_000);
  }
  const ctx = join(work, "ctx");
  makeContext(ctx, base);
  const tsbox = (root: string, ...a: string[]): string[] => [...TSBOX_ARGV, "--root", root, ...a];

  // tsbox: a fresh store with only the base for each scratch build; one warm store for the rebuilds.
  const fresh = (): string => {
    const r = mkdtempSync(join(work, "root-"));
    mustSh(tsbox(r, "import", busybox, base));
    return r;
  };
  let scratchRoot = "";
  const dropScratch = (): void => {
    if (scratchRoot !== "") rmSync(scratchRoot, { recursive: true, force: true });
    scratchRoot = "";
  };
  onCleanup("tsbox roots", dropScratch);
  const warm = fresh();
  onCleanup("warm root", () => rmSync(warm, { recursive: true, force: true }));
  mustSh(tsbox(warm, "build", "-q", "-t", tag, ctx), 600_000);

  const info = sh(["docker", "info", "--format", "{{.ServerVersion}}"]);
  const dockerSkip = info.ok ? undefined : "docker not available (`docker info` failed)";
  const dockerEnv = { ...process.env, DOCKER_BUILDKIT: "0" };
  const dockerClean = (): void => {
    sh(["docker", "rmi", "-f", tag]);
    sh(["docker", "image", "prune", "-f"]);
  };
  if (!dockerSkip) {
    mustSh(["docker", "import", busybox, base]);
    onCleanup("docker images", () => {
      dockerClean();
      sh(["docker", "rmi", "-f", base]);
    });
    mustSh(["sh", "-c", `DOCKER_BUILDKIT=0 docker build -q -t ${tag} ${ctx} >/dev/null`], 600_000);
  }

  const nothing = (): void => {};
  const runners: Runner[] = [
    { key: "tsboxScratch", label: "tsbox build (empty cache)", argv: () => tsbox(scratchRoot, "build", "-q", "-t", tag, ctx),
      before: () => { dropScratch(); scratchRoot = fresh(); }, samples: [] },
    { key: "dockerScratch", label: "docker build (empty cache)", argv: () => ["docker", "build", "-q", "--no-cache", "-t", tag, ctx],
      before: dockerClean, samples: [], ...(dockerSkip ? { skip: dockerSkip } : {}) },
    { key: "tsboxCached", label: "tsbox build (no change)", argv: () => tsbox(warm, "build", "-q", "-t", tag, ctx), before: nothing, samples: [] },
    { key: "dockerCached", label: "docker build (no change)", argv: () => ["docker", "build", "-q", "-t", tag, ctx], before: nothing, samples: [],
      ...(dockerSkip ? { skip: dockerSkip } : {}) },
  ];
  // The cached runners need the image the scratch runner of the round just made (Docker) or the warm store (tsbox).
  const load = [loadavg()[0] ?? 0];
  for (let round = 0; round < warmup + iterations; round++) {
    const record = round >= warmup;
    process.stderr.write(`${record ? "round" : "warm-up"} ${record ? round - warmup + 1 : round + 1}\n`);
    for (const r of runners) {
      if (r.skip) continue;
      r.before();
      sh(["sync"]);
      const e = await runTimed(r.argv(), r.key.startsWith("docker") ? dockerEnv : undefined);
      if (e.code !== 0) throw new Error(`${r.label} failed (${describeExit(e)})`);
      if (record) r.samples.push(e.ms);
      process.stderr.write(`  ${r.label}: ${(e.ms / 1000).toFixed(2)} s\n`);
    }
  }
  load.push(loadavg()[0] ?? 0);
  dropScratch();

  const med = (k: string): number | undefined => {
    const r = runners.find((x) => x.key === k);
    return r && !r.skip && r.samples.length ? quantile(r.samples, 0.5) : undefined;
  };
  const ratio = (a: string, b: string): number | null => {
    const x = med(a);
    const y = med(b);
    return x === undefined || y === undefined ? null : Math.round((x / y) * 100) / 100;
  };
  const ratios = { scratch: ratio("tsboxScratch", "dockerScratch"), cached: ratio("tsboxCached", "dockerCached") };
  const fmt = (x: number | undefined): string => (x === undefined ? "–" : round1(x).toString());
  const lines = [
    `## Build: the same multi-stage Dockerfile (${iterations} interleaved rounds after ${warmup} warm-up)`,
    "",
    "| runner | median ms | p10 ms | p90 ms |",
    "|---|---:|---:|---:|",
    ...runners.map((r) => (r.skip ? `| ${r.label} | skipped | | |`
      : `| ${r.label} | ${fmt(quantile(r.samples, 0.5))} | ${fmt(quantile(r.samples, 0.1))} | ${fmt(quantile(r.samples, 0.9))} |`)),
    "",
    `- tsbox / docker, empty cache: ${ratios.scratch ?? "n/a"} (goal ≤ ${GOAL_SCRATCH}: ${ratios.scratch === null ? "not checked" : ratios.scratch <= GOAL_SCRATCH ? "MET" : "NOT MET"})`,
    `- tsbox / docker, no change: ${ratios.cached ?? "n/a"} (goal ≤ ${GOAL_CACHED}: ${ratios.cached === null ? "not checked" : ratios.cached <= GOAL_CACHED ? "MET" : "NOT MET"})`,
    `- Docker's builder: the classic one (DOCKER_BUILDKIT=0, this Docker's default); total ${Math.round((Date.now() - t0) / 1000)} s`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  writeResults(RESULTS, {
    benchmark: "build", date: new Date().toISOString(), iterations, warmup, ratios,
    goal: { scratchAtMost: GOAL_SCRATCH, cachedAtMost: GOAL_CACHED },
    runners: Object.fromEntries(runners.map((r) => [r.key, {
      label: r.label, skipped: r.skip ?? null, runs: r.samples.length,
      medianMs: r.samples.length ? round1(quantile(r.samples, 0.5)) : null,
      p10Ms: r.samples.length ? round1(quantile(r.samples, 0.1)) : null,
      p90Ms: r.samples.length ? round1(quantile(r.samples, 0.9)) : null,
      samplesMs: r.samples.map(round1),
    }])),
  }, load);
}

await runBenchmark(main);
