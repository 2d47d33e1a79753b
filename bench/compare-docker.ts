// tsbox against Docker on the same busybox image and the same workloads: OOM
// at -m, --memory-swap, --cpus, the --cpu-shares ratio, --pids-limit,
// --cpuset-cpus, memory and CPU accounting (tsbox stats vs docker stats),
// exit codes. Each figure is taken the same way for both (the container's
// own view, or its cgroup's files found through /proc/PID/cgroup), and every
// difference beyond the stated tolerance is flagged.
//
//   npm run bench:compare-docker        (scripts/bench.sh starts dockerd if none answers)
// Writes bench/results/compare-docker.{json,md}.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { startTsbox, stopTsbox, tsboxEnv, type TsboxEnv } from "./containers.js";
import { REPO, installSignalHandlers, mustSh, onCleanup, runBenchmark, sh } from "./lib.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

type Value = number | string | boolean;
/** How two values may differ: exactly equal, within a relative fraction, or within an absolute amount. */
type Tolerance = { kind: "exact" } | { kind: "relative"; of: number } | { kind: "absolute"; of: number } | { kind: "info" };

interface Row { workload: string; metric: string; docker: Value; tsbox: Value; tolerance: Tolerance; ok: boolean; note?: string }

export function agrees(a: Value, b: Value, t: Tolerance): boolean {
  if (t.kind === "info") return true;
  if (t.kind === "exact" || typeof a !== "number" || typeof b !== "number") return a === b;
  if (t.kind === "absolute") return Math.abs(a - b) <= t.of;
  return Math.abs(a - b) <= t.of * Math.max(Math.abs(a), Math.abs(b));
}

const describeTol = (t: Tolerance): string =>
  t.kind === "info" ? "(context)" : t.kind === "exact" ? "equal" : t.kind === "relative" ? `±${Math.round(t.of * 100)} %` : `±${t.of}`;

// ---------------------------------------------------------------- runners

interface Runner {
  name: "docker" | "tsbox";
  /** run to completion: exit code and the container's stdout (the CLI's own messages go to stderr) */
  run(args: string[], cmd: string[]): { code: number; out: string };
  /** start in the background; the init's host pid, and a stop */
  start(args: string[], cmd: string[]): Promise<{ pid: number; ref: string; stop: () => Promise<void> }>;
  /** was the container (run by run() with --name) OOM-killed, per inspect/state */
  oomKilled(name: string): boolean;
  /** `stats --no-stream --format json` of one container: MemUsage and CPUPerc as printed */
  stats(ref: string): { mem: string; cpu: string };
  remove(name: string): void;
}

let seq = 0;
const uniqueName = (what: string): string => `cmp-${process.pid}-${what}-${++seq}`;

function dockerRunner(image: string): Runner {
  const docker = (...a: string[]): { code: number; out: string; err: string } => {
    const r = spawnSync("docker", a, { encoding: "utf8", timeout: 120_000 });
    return { code: r.status ?? 128 + 9, out: r.stdout ?? "", err: r.stderr ?? "" };
  };
  return {
    name: "docker",
    run: (args, cmd) => docker("run", ...args, image, ...cmd),
    async start(args, cmd) {
      const name = uniqueName("bg");
      onCleanup(`docker container ${name}`, () => { sh(["docker", "rm", "-f", name]); });
      const r = docker("run", "-d", "--name", name, ...args, image, ...cmd);
      if (r.code !== 0) throw new Error(`docker run -d: ${r.err.trim()}`);
      const pid = Number(mustSh(["docker", "inspect", "-f", "{{.State.Pid}}", name]));
      return { pid, ref: name, stop: async () => { sh(["docker", "rm", "-f", name]); } };
    },
    oomKilled: (name) => mustSh(["docker", "inspect", "-f", "{{.State.OOMKilled}}", name]) === "true",
    stats(ref) {
      const j = JSON.parse(mustSh(["docker", "stats", "--no-stream", "--format", "{{json .}}", ref])) as Record<string, string>;
      return { mem: j.MemUsage!, cpu: j.CPUPerc! };
    },
    remove: (name) => { sh(["docker", "rm", "-f", name]); },
  };
}

function tsboxRunner(env: TsboxEnv): Runner {
  const tsbox = (...a: string[]): { code: number; out: string; err: string } => {
    const [file, ...rest] = env.cli(...a);
    const r = spawnSync(file!, rest, { encoding: "utf8", timeout: 120_000 });
    return { code: r.status ?? 128 + 9, out: r.stdout ?? "", err: r.stderr ?? "" };
  };
  return {
    name: "tsbox",
    run: (args, cmd) => tsbox("run", ...args, "busybox", ...cmd),
    async start(args, cmd) {
      const c = await startTsbox(env, uniqueName("bg"), [...args, "busybox", ...cmd]);
      return { pid: c.pid, ref: c.name, stop: async () => { await stopTsbox(c); sh(env.cli("rm", "-f", c.name)); } };
    },
    oomKilled(name) {
      for (const id of existsSync(join(env.root, "containers")) ? mustSh(["ls", join(env.root, "containers")]).split("\n") : []) {
        const f = join(env.root, "containers", id, "state.json");
        if (!existsSync(f)) continue;
        const s = JSON.parse(readFileSync(f, "utf8")) as { name: string; oomKilled?: boolean };
        if (s.name === name) return s.oomKilled === true;
      }
      throw new Error(`no tsbox container ${name}`);
    },
    stats(ref) {
      const j = JSON.parse(mustSh(env.cli("stats", "--no-stream", "--format", "json", ref))) as Record<string, string>;
      return { mem: j.MemUsage!, cpu: j.CPUPerc! };
    },
    remove: (name) => { sh(env.cli("rm", "-f", name)); },
  };
}

// ---------------------------------------------------------------- measurements from the host

/** A process's cgroup dir for a v1 controller (or its v2 dir), through /proc/PID/cgroup: works for both runtimes. */
function cgroupDir(pid: number, controller: string, file: string): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n");
  const v1 = lines.find((l) => l.split(":")[1]!.split(",").includes(controller));
  if (!v1) return join("/sys/fs/cgroup", lines.find((l) => l.startsWith("0::"))!.slice(3));
  const path = v1.split(":").slice(2).join(":");
  for (const base of [`/sys/fs/cgroup/${controller}`, "/sys/fs/cgroup/cpu,cpuacct"]) {
    if (existsSync(join(base, path, file))) return join(base, path);
  }
  throw new Error(`no ${file} for pid ${pid}`);
}

/** CFS bandwidth counters of the process's cgroup: periods elapsed, periods in which the quota ran out. */
function bandwidth(pid: number): { periods: number; throttled: number } {
  const stat = readFileSync(join(cgroupDir(pid, "cpu", "cpu.stat"), "cpu.stat"), "utf8");
  const get = (k: string): number => Number(new RegExp(`^${k} (\\d+)`, "m").exec(stat)?.[1] ?? 0);
  return { periods: get("nr_periods"), throttled: get("nr_throttled") };
}

/** The cgroup CPU clock (ns) of a process, found through /proc/PID/cgroup: works for both runtimes. */
function cgroupCpuNs(pid: number): number {
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n");
  const v1 = lines.find((l) => l.split(":")[1]!.split(",").includes("cpuacct"));
  if (v1) {
    const path = v1.split(":").slice(2).join(":");
    for (const base of ["/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"]) {
      const f = join(base, path, "cpuacct.usage");
      if (existsSync(f)) return Number(readFileSync(f, "utf8"));
    }
    throw new Error(`no cpuacct.usage for pid ${pid}`);
  }
  const path = lines.find((l) => l.startsWith("0::"))!.slice(3);
  const stat = readFileSync(join("/sys/fs/cgroup", path, "cpu.stat"), "utf8");
  return Number(/usage_usec (\d+)/.exec(stat)![1]) * 1000;
}

async function cpuFractions(pids: number[], ms: number): Promise<number[]> {
  const t0 = process.hrtime.bigint();
  const a = pids.map(cgroupCpuNs);
  await sleep(ms);
  const b = pids.map(cgroupCpuNs);
  const wall = Number(process.hrtime.bigint() - t0);
  return pids.map((_, i) => (b[i]! - a[i]!) / wall);
}

/** "96.5MiB" → bytes; "50.12%" → 50.12. */
export function parseSize(s: string): number {
  const m = /^([\d.]+)\s*([KMGT]?i?B)$/.exec(s.trim());
  if (!m) throw new Error(`not a size: ${s}`);
  const unit: Record<string, number> = { B: 1, KiB: 1024, MiB: MiB, GiB: 1024 * MiB, TiB: 1024 * 1024 * MiB, kB: 1e3, MB: 1e6, GB: 1e9 };
  return Number(m[1]) * unit[m[2]!]!;
}

const BUSY = ["sh", "-c", "while :; do :; done"];

/** test/fixtures/hold.c, built static: maps and touches N MiB of anonymous memory, then waits. */
function holdBinary(work: string): string {
  const dir = join(work, "hold-bin");
  mkdirSync(dir, { recursive: true });
  execFileSync("cc", ["-static", "-O1", "-o", join(dir, "hold"), join(REPO, "test", "fixtures", "hold.c")]);
  return dir;
}

// ---------------------------------------------------------------- workloads

type Measure = (r: Runner) => Promise<Record<string, Value>>;

interface Workload {
  name: string;
  tolerances: Record<string, Tolerance>;
  /** one runtime at a time */
  measure?: Measure;
  /** both at the same time (Docker first), where the machine's load matters */
  measureBoth?: (runners: [Runner, Runner]) => Promise<[Record<string, Value>, Record<string, Value>]>;
}

function workloads(work: string): Workload[] {
  const exact: Tolerance = { kind: "exact" };
  const hold = holdBinary(work);
  return [
    {
      name: "OOM: -m 32m tail /dev/zero",
      tolerances: { "exit code": exact, OOMKilled: exact },
      async measure(r) {
        const name = uniqueName("oom");
        const res = r.run(["--name", name, "-m", "32m"], ["tail", "/dev/zero"]);
        const oom = r.oomKilled(name);
        r.remove(name);
        return { "exit code": res.code, OOMKilled: oom };
      },
    },
    {
      name: "-m 32m --memory-swap 64m",
      tolerances: { "memory limit (inside)": exact, "memory+swap limit (inside)": exact, "40 MiB process: exit status": exact },
      async measure(r) {
        const res = r.run(["--rm", "-m", "32m", "--memory-swap", "64m"],
          ["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.swap.max"]);
        const [lim, sw] = res.out.trim().split("\n");
        // Beyond -m, within --memory-swap: alive after 2 s (then 143 from our SIGTERM) only
        // if there is swap to go to; 137 when the OOM killer took it.
        const big = r.run(["--rm", "-m", "32m", "--memory-swap", "64m", "-v", `${hold}:/x:ro`],
          ["sh", "-c", "/x/hold 40 >/dev/null & p=$!; sleep 2; kill $p 2>/dev/null; wait $p; echo $?"]);
        return { "memory limit (inside)": lim ?? "", "memory+swap limit (inside)": sw ?? "", "40 MiB process: exit status": Number(big.out.trim().split("\n").pop()) };
      },
    },
    {
      name: "--cpus 0.5 busy loop, 3 s",
      tolerances: {
        "CPU fraction": { kind: "relative", of: 0.1 }, "stats CPU %": { kind: "relative", of: 0.15 },
        "periods throttled (below ~50 %: the host's load, not the quota, held it)": { kind: "info" },
      },
      // Both at once, so that other load on this shared machine hits both alike;
      // the best of three 3 s windows, as contention can only lower a capped loop.
      async measureBoth([docker, tsbox]) {
        const cs = [await docker.start(["--cpus", "0.5"], BUSY), await tsbox.start(["--cpus", "0.5"], BUSY)];
        try {
          await sleep(500);
          const best = [0, 0];
          const b0 = cs.map((c) => bandwidth(c.pid));
          for (let i = 0; i < 3; i++) {
            const f = await cpuFractions(cs.map((c) => c.pid), 3000);
            f.forEach((x, k) => { best[k] = Math.max(best[k]!, x); });
          }
          const b1 = cs.map((c) => bandwidth(c.pid));
          const throttled = b1.map((b, k) => `${Math.round((100 * (b.throttled - b0[k]!.throttled)) / Math.max(1, b.periods - b0[k]!.periods))} %`);
          const cpu = [0, 0];
          for (let i = 0; i < 2; i++) {
            [docker, tsbox].forEach((r, k) => { cpu[k] = Math.max(cpu[k]!, Number(r.stats(cs[k]!.ref).cpu.replace("%", ""))); });
          }
          const of = (k: number): Record<string, Value> => ({
            "CPU fraction": Number(best[k]!.toFixed(3)), "stats CPU %": cpu[k]!,
            "periods throttled (below ~50 %: the host's load, not the quota, held it)": throttled[k]!,
          });
          return [of(0), of(1)];
        } finally { for (const c of cs) await c.stop(); }
      },
    },
    {
      name: "--cpu-shares 512 vs 1024 on CPU 0",
      tolerances: { "ratio high/low": { kind: "relative", of: 0.15 } },
      async measure(r) {
        const lo = await r.start(["--cpuset-cpus", "0", "--cpu-shares", "512"], BUSY);
        const hi = await r.start(["--cpuset-cpus", "0", "--cpu-shares", "1024"], BUSY);
        try {
          await sleep(1000);
          const [a, b] = await cpuFractions([lo.pid, hi.pid], 3000);
          return { "ratio high/low": Number((b! / a!).toFixed(3)) };
        } finally { await lo.stop(); await hi.stop(); }
      },
    },
    {
      name: "--pids-limit 20 fork bomb",
      tolerances: { "pids.max": exact, "max pids reached": { kind: "absolute", of: 1 } },
      async measure(r) {
        const res = r.run(["--rm", "--pids-limit", "20"], ["sh", "-c",
          "(while true; do sleep 30 & done) 2>/dev/null; " +
          "if [ -e /sys/fs/cgroup/pids/pids.current ]; then d=/sys/fs/cgroup/pids; else d=/sys/fs/cgroup; fi; " +
          "read c < $d/pids.current; read m < $d/pids.max; echo $c; echo $m"]);
        const [cur, max] = res.out.trim().split("\n").slice(-2);
        return { "pids.max": max ?? "", "max pids reached": Number(cur) };
      },
    },
    {
      name: "--cpuset-cpus 1",
      tolerances: { Cpus_allowed_list: exact },
      async measure(r) {
        const res = r.run(["--rm", "--cpuset-cpus", "1"], ["grep", "Cpus_allowed_list", "/proc/self/status"]);
        return { Cpus_allowed_list: res.out.trim().split(/\s+/).pop() ?? "" };
      },
    },
    {
      name: "memory accounting: 64 MiB tmpfs + 32 MiB anon",
      tolerances: { "stats MEM USAGE (MiB)": { kind: "relative", of: 0.05 } },
      async measure(r) {
        const c = await r.start(["--tmpfs", "/t", "-v", `${hold}:/x:ro`], ["sh", "-c", "dd if=/dev/zero of=/t/f bs=1M count=64 2>/dev/null && exec /x/hold 32"]);
        try {
          await sleep(3000); // dd and the mapping take well under a second
          const mem = parseSize(r.stats(c.ref).mem.split(" / ")[0]!);
          return { "stats MEM USAGE (MiB)": Number((mem / MiB).toFixed(1)) };
        } finally { await c.stop(); }
      },
    },
    {
      name: "CPU accounting: 300k shell loop iterations",
      tolerances: { "cgroup CPU time (s)": { kind: "relative", of: 0.15 } },
      async measure(r) {
        // The container's own cgroup clock at the end of a fixed amount of work.
        const res = r.run(["--rm"], ["sh", "-c",
          "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; " +
          "if [ -e /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then cat /sys/fs/cgroup/cpuacct/cpuacct.usage; " +
          "else sed -n 's/^usage_usec //p' /sys/fs/cgroup/cpu.stat | sed 's/$/000/'; fi"]);
        return { "cgroup CPU time (s)": Number((Number(res.out.trim()) / 1e9).toFixed(2)) };
      },
    },
    {
      name: "exit codes",
      tolerances: Object.fromEntries(["exit 0", "exit 1", "not executable", "not found", "SIGKILL", "SIGTERM"].map((k) => [k, exact])),
      async measure(r) {
        const code = (cmd: string[]): number => r.run(["--rm"], cmd).code;
        return {
          "exit 0": code(["sh", "-c", "exit 0"]),
          "exit 1": code(["sh", "-c", "exit 1"]),
          "not executable": code(["/etc/passwd"]),
          "not found": code(["nope"]),
          // A child of the init, as the kernel does not let a pid namespace's init be killed from inside.
          SIGKILL: code(["sh", "-c", "sh -c 'kill -KILL $$'; exit $?"]),
          SIGTERM: code(["sh", "-c", "sh -c 'kill -TERM $$'; exit $?"]),
        };
      },
    },
  ];
}

// ---------------------------------------------------------------- main

function prepareDocker(tarball: string): string {
  const info = sh(["docker", "info", "--format", "{{.ServerVersion}}"]);
  if (!info.ok) throw new Error(`no Docker engine answers (${info.err.split("\n")[0]}): run it through \`npm run bench:compare-docker\`, which starts dockerd`);
  const image = `tsbox-cmp-busybox:${process.pid}-${Date.now().toString(36)}`;
  onCleanup("docker image", () => {
    const ids = sh(["docker", "ps", "-aq", "--filter", `ancestor=${image}`]).out.split("\n").filter(Boolean);
    if (ids.length > 0) sh(["docker", "rm", "-f", ...ids]);
    sh(["docker", "rmi", image]);
  });
  mustSh(["docker", "import", tarball, image]);
  return image;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("run as root");
  installSignalHandlers(5_000);
  const env = tsboxEnv();
  const image = prepareDocker(env.tarball);
  const runners: [Runner, Runner] = [dockerRunner(image), tsboxRunner(env)];
  const rows: Row[] = [];
  for (const w of workloads(env.work)) {
    process.stderr.write(`${w.name}...\n`);
    const [d, t] = w.measureBoth ? await w.measureBoth(runners) : [await w.measure!(runners[0]), await w.measure!(runners[1])];
    for (const [metric, tol] of Object.entries(w.tolerances)) {
      const docker = d[metric] ?? "(none)";
      const tsbox = t[metric] ?? "(none)";
      rows.push({ workload: w.name, metric, docker, tsbox, tolerance: tol, ok: agrees(docker, tsbox, tol) });
    }
  }

  const versions = {
    docker: sh(["docker", "version", "--format", "{{.Server.Version}}"]).out,
    cgroup: sh(["docker", "info", "--format", "{{.CgroupVersion}} ({{.CgroupDriver}} driver)"]).out,
    kernel: sh(["uname", "-r"]).out,
  };
  const md = [
    `| workload | metric | Docker | tsbox | tolerance | |`,
    `|---|---|---:|---:|---|---|`,
    ...rows.map((r) => `| ${r.workload} | ${r.metric} | ${r.docker} | ${r.tsbox} | ${describeTol(r.tolerance)} | ${r.tolerance.kind === "info" ? "" : r.ok ? "same" : "**DIFFERENT**"} |`),
  ].join("\n");
  const differ = rows.filter((r) => !r.ok);
  const load = loadavg().map((x) => x.toFixed(1)).join(" ");
  const summary = differ.length === 0
    ? `All ${rows.length} figures agree within tolerance.`
    : `${differ.length} of ${rows.length} figures differ beyond tolerance: ${differ.map((r) => `${r.workload} / ${r.metric}`).join("; ")}.`;
  process.stdout.write(`\n${md}\n\n${summary}\n`);

  const dir = join(REPO, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const header = `# tsbox compared with Docker\n\n${new Date().toISOString()}: Docker ${versions.docker}, cgroup ${versions.cgroup}, kernel ${versions.kernel}, ` +
    "same busybox rootfs (`docker import` / `tsbox import`), `npm run bench:compare-docker`; " +
    `load average at the end ${load} on ${cpus().length} CPUs.\n\n`;
  writeFileSync(join(dir, "compare-docker.md"), `${header}${md}\n\n${summary}\n`);
  writeFileSync(join(dir, "compare-docker.json"), JSON.stringify({ date: new Date().toISOString(), versions, loadavg: loadavg(), rows }, null, 1) + "\n");
  process.stdout.write("wrote bench/results/compare-docker.{json,md}\n");
  if (differ.length > 0) process.exitCode = 1;
}

await runBenchmark(main);
