// Docker's default seccomp profile, side by side: the syscall probe of
// test/fixtures/seccomp-probe.c run under `docker run` and under `tsbox run`
// (same busybox rootfs, the probe bind-mounted read-only), one row per probe;
// then what the filter costs a start: `run --rm busybox true` with the default
// profile and with `--security-opt seccomp=unconfined`, interleaved, medians,
// plus the in-process cost of the profile on a cached start (conversion, cache
// read) measured in fresh processes.
//
//   npm run bench:seccomp            (builds, starts dockerd if none answers)
//   npx tsx bench/seccomp-probes.ts [--iterations N]
//
// Writes bench/results/seccomp-probes.md and .json.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, TSBOX_ARGV, describeExit, installSignalHandlers, mustSh, onCleanup, quantile, round1, runBenchmark, runTimed, sh, writeResults } from "./lib.js";

const RESULTS_MD = join(REPO, "bench", "results", "seccomp-probes.md");
const RESULTS_JSON = join(REPO, "bench", "results", "seccomp-probes.json");

function iterations(): number {
  const i = process.argv.indexOf("--iterations");
  const v = Number(i >= 0 ? process.argv[i + 1] : process.env.BENCH_ITERATIONS ?? 30);
  if (!Number.isInteger(v) || v < 1) throw new Error("--iterations must be a positive integer");
  return v;
}

function parse(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split("\n")) {
    const [name, res] = line.trim().split(" ");
    if (name && res) m.set(name, res);
  }
  return m;
}

/**
 * In a fresh Node process, as the CLI runs it (Node's compile cache on, fs
 * already in use): the default profile for Docker's caps, then its program
 * from the cache.
 */
const PROFILE_COST = `
(await import("node:module")).default.enableCompileCache?.();
(await import("node:fs")).readFileSync("/proc/self/stat", "utf8");
const t0 = process.hrtime.bigint();
const { containerSeccomp } = await import(${JSON.stringify(join(REPO, "dist", "seccomp", "security-opt.js"))});
const { hostPlatform } = await import(${JSON.stringify(join(REPO, "dist", "seccomp", "docker-profile.js"))});
const { seccompProgram } = await import(${JSON.stringify(join(REPO, "dist", "seccomp", "compile.js"))});
const { DEFAULT_CAPABILITIES } = await import(${JSON.stringify(join(REPO, "dist", "runtime", "spec.js"))});
const os = await import("node:os");
const t1 = process.hrtime.bigint();
const s = containerSeccomp({ seccompProfile: "", noNewPrivileges: false }, false, [...DEFAULT_CAPABILITIES], hostPlatform(process.arch, os.release()));
const t2 = process.hrtime.bigint();
const p = seccompProgram(process.argv[1], s);
const t3 = process.hrtime.bigint();
process.stdout.write(JSON.stringify({ load: Number(t1 - t0) / 1e6, convert: Number(t2 - t1) / 1e6, program: Number(t3 - t2) / 1e6, bytes: p.bpf.length }));
`;

/**
 * The kernel's side: the shim spawns /bin/true with and without the SECCOMP op
 * (Docker's profile, compiled), interleaved; spawn → exit, medians. The filter
 * is loaded (converted, JIT-compiled, run once per syscall number for the
 * kernel's cache of always-allowed calls) and then applies to every syscall
 * of the exec path and of the command.
 */
const CHILD_COST = `
const shim = await import(${JSON.stringify(join(REPO, "dist", "ns", "shim.js"))});
const { seccompProgram } = await import(${JSON.stringify(join(REPO, "dist", "seccomp", "compile.js"))});
const { setupSeccomp, defaultProfile, hostPlatform } = await import(${JSON.stringify(join(REPO, "dist", "seccomp", "docker-profile.js"))});
const { DEFAULT_CAPABILITIES } = await import(${JSON.stringify(join(REPO, "dist", "runtime", "spec.js"))});
const os = await import("node:os");
const p = seccompProgram(process.argv[1], setupSeccomp(defaultProfile(), [...DEFAULT_CAPABILITIES], hostPlatform(process.arch, os.release())));
const plan = (on) => ({ cloneFlags: 0, ops: [...(on ? [{ op: "SECCOMP", flags: 0, bpf: p.bpf }] : []), { op: "EXEC", path: "/bin/true", argv: ["true"], env: [] }] });
const res = { on: [], off: [] };
for (let i = -20; i < 300; i++) {
  for (const k of (i % 2 ? ["on", "off"] : ["off", "on"])) {
    const t = process.hrtime.bigint();
    const pid = shim.spawn(plan(k === "on"));
    if (!shim.start(pid).ok) throw new Error("start failed");
    await shim.wait(pid);
    if (i >= 0) res[k].push(Number(process.hrtime.bigint() - t) / 1e6);
  }
}
const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
process.stdout.write(JSON.stringify({ on: med(res.on), off: med(res.off), n: res.on.length }));
`;

async function main(): Promise<void> {
  installSignalHandlers(10_000);
  if (!existsSync(join(REPO, "dist", "tsbox.cjs"))) throw new Error("dist/ is missing: run `npm run build`");
  const load = [loadavg()[0]!];
  const work = mkdtempSync(join(tmpdir(), "tsbox-bench-seccomp-"));
  onCleanup("work dir", () => rmSync(work, { recursive: true, force: true }));
  const probeDir = join(work, "probe");
  mkdirSync(probeDir);
  mustSh(["cc", "-static", "-O2", "-o", join(probeDir, "probe"), join(REPO, "test", "fixtures", "seccomp-probe.c")]);
  const tarball = join(work, "busybox.tar");
  mustSh(["bash", join(REPO, "scripts", "make-busybox-rootfs.sh"), tarball]);

  const root = join(work, "tsbox-root");
  const tsbox = (...args: string[]): string[] => [...TSBOX_ARGV, "--root", root, ...args];
  onCleanup("tsbox root", () => { if (existsSync(root)) sh(tsbox("images", "-q")); });
  mustSh(tsbox("import", tarball, "busybox"));
  const vol = ["-v", `${probeDir}:/probe:ro`];
  const tsboxOut = parse(mustSh(tsbox("run", "--rm", ...vol, "busybox", "/probe/probe")));

  let dockerOut: Map<string, string> | undefined;
  // Docker with the profile file tsbox vendors: an older dockerd has an older
  // built-in profile, so this column tells a profile difference from a runtime one.
  let dockerSameOut: Map<string, string> | undefined;
  let dockerWhy = "";
  const info = sh(["docker", "info", "--format", "{{.ServerVersion}}"]);
  if (info.ok) {
    const image = `tsbox-bench-seccomp:${process.pid}`;
    const imported = sh(["docker", "import", tarball, image]);
    if (imported.ok) {
      onCleanup("docker image", () => sh(["docker", "rmi", "-f", image]));
      const r = sh(["docker", "run", "--rm", "--network", "none", ...vol, image, "/probe/probe"]);
      if (r.ok) dockerOut = parse(r.out);
      else dockerWhy = `docker run failed: ${r.err.split("\n")[0]}`;
      const same = sh(["docker", "run", "--rm", "--network", "none", "--security-opt", `seccomp=${join(REPO, "src", "seccomp", "default.json")}`, ...vol, image, "/probe/probe"]);
      if (same.ok) dockerSameOut = parse(same.out);
    } else dockerWhy = `docker import failed: ${imported.err.split("\n")[0]}`;
  } else dockerWhy = `docker not available: ${info.err.split("\n")[0] || "no daemon"}`;

  const rows: { probe: string; docker: string; tsbox: string; same: boolean | null; dockerSameProfile: string }[] = [];
  for (const [probe, t] of tsboxOut) {
    const d = dockerOut?.get(probe);
    rows.push({ probe, docker: d ?? "—", tsbox: t, same: dockerOut ? d === t : null, dockerSameProfile: dockerSameOut?.get(probe) ?? "—" });
  }
  const differ = rows.filter((r) => r.same === false).length;
  const differSame = rows.filter((r) => dockerSameOut && r.dockerSameProfile !== r.tsbox).length;
  const dockerVersion = sh(["docker", "version", "--format", "{{.Server.Version}}"]).out;

  // ---- start latency: default profile vs unconfined, interleaved
  const n = iterations();
  const variants = [
    { key: "default", argv: tsbox("run", "--rm", "busybox", "true"), samples: [] as number[] },
    { key: "unconfined", argv: tsbox("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "true"), samples: [] as number[] },
  ];
  for (let round = -3; round < n; round++) {
    // Alternate which goes first, so neither always runs right after the other.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const e = await runTimed(v.argv);
      if (e.code !== 0) throw new Error(`${v.argv.slice(2).join(" ")}: ${describeExit(e)}`);
      if (round >= 0) v.samples.push(e.ms);
    }
  }
  const med = (xs: number[]): number => quantile(xs, 0.5);
  const [dflt, unconf] = [med(variants[0]!.samples), med(variants[1]!.samples)];

  // ---- in-process cost of the profile on a cached start (the cache is warm from the runs above)
  const costs: { load: number; convert: number; program: number; bytes: number }[] = [];
  for (let i = 0; i < 15; i++) {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", PROFILE_COST, root], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`profile cost: ${r.stderr}`);
    costs.push(JSON.parse(r.stdout) as { load: number; convert: number; program: number; bytes: number });
  }
  const convert = med(costs.map((c) => c.convert));
  const program = med(costs.map((c) => c.program));
  // The same, as the bundled CLI does it: run's debug line times the program lookup.
  const cliProgram: number[] = [];
  for (let i = 0; i < 15; i++) {
    const r = sh(tsbox("--log-level", "debug", "run", "--rm", "busybox", "true"));
    const m = /"seccompMs":([0-9.]+)/.exec(r.err);
    if (m) cliProgram.push(Number(m[1]));
  }
  const childRun = spawnSync(process.execPath, ["--input-type=module", "-e", CHILD_COST, root], { encoding: "utf8" });
  if (childRun.status !== 0) throw new Error(`child cost: ${childRun.stderr}`);
  const child = JSON.parse(childRun.stdout) as { on: number; off: number; n: number };
  load.push(loadavg()[0]!);

  const ms = (x: number): string => `${x.toFixed(3)} ms`;
  const md = [
    "## Docker's default seccomp profile: the same probes under Docker and tsbox",
    "",
    dockerOut
      ? `${rows.length} probes; Docker ${dockerVersion} with its built-in profile differs from tsbox in ${differ}` +
        (dockerSameOut ? `, Docker given the profile file tsbox vendors (src/oci/seccomp/default.json, last column) in ${differSame}.` : ".")
      : `Docker column skipped: ${dockerWhy}`,
    "",
    "| probe | docker | tsbox | same? | docker, same profile file |",
    "|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.probe} | ${r.docker} | ${r.tsbox} | ${r.same === null ? "—" : r.same ? "yes" : "**no**"} | ${r.dockerSameProfile} |`),
    "",
    `## What the filter costs a start (\`run --rm busybox true\`, ${n} interleaved runs each, medians)`,
    "",
    "| | median | p10 | p90 |",
    "|---|---|---|---|",
    ...variants.map((v) => `| ${v.key} | ${round1(med(v.samples))} ms | ${round1(quantile(v.samples, 0.1))} ms | ${round1(quantile(v.samples, 0.9))} ms |`),
    "",
    `Difference of the medians: ${(dflt - unconf).toFixed(1)} ms (run-to-run noise on this machine is larger than the filter).`,
    "Where the time goes (medians):",
    "",
    "| part | cost |",
    "|---|---|",
    `| Docker profile → OCI \`linux.seccomp\` (fresh Node process, compile cache on, ${costs.length} runs) | ${ms(convert)} |`,
    `| BPF program from the cache (${costs[0]!.bytes} bytes) | ${ms(program)} |`,
    `| the same inside the bundled CLI (run's debug line \`seccompMs\`, ${cliProgram.length} runs) | ${cliProgram.length ? ms(med(cliProgram)) : "—"} |`,
    `| the child: spawn → exit of /bin/true with the filter vs without (${child.n} interleaved each: ${ms(child.on)} vs ${ms(child.off)}) | ${ms(child.on - child.off)} |`,
    `| total (conversion + the CLI's program lookup + the child) | ${ms(convert + (cliProgram.length ? med(cliProgram) : program) + child.on - child.off)} |`,
    "",
  ].join("\n");
  process.stdout.write(md);
  mkdirSync(join(REPO, "bench", "results"), { recursive: true });
  writeFileSync(RESULTS_MD, md);
  writeResults(RESULTS_JSON, {
    probes: rows, dockerSkipped: dockerOut ? null : dockerWhy, dockerServer: dockerVersion,
    start: Object.fromEntries(variants.map((v) => [v.key, { medianMs: med(v.samples), samples: v.samples }])),
    profileCostMs: { convert, program, samples: costs, cliProgram }, childCostMs: child,
  }, load);
}

await runBenchmark(main);
