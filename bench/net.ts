// Network throughput: requests per second through a published port. A busybox
// httpd serving a small static file runs in a container; `ab` (ApacheBench) on
// the host loads it through 127.0.0.1:PORT, for
//   tsbox  run -d -p PORT:80          (bridge tsbox0, the kernel's DNAT, no proxy)
//   docker run -d -p PORT:80          (docker0; for 127.0.0.1 Docker's userland docker-proxy)
//   tsbox  run -d --network host      (httpd on the host's network: the baseline)
//   docker run -d --network host      (the same, a second baseline)
// all from the same busybox tarball, one `ab` run per runner per round,
// interleaved round-robin.
//
//   npx tsx bench/net.ts [--rounds N] [--warmup N] [--requests N] [--concurrency N] [--port N]
//                                                                     (or BENCH_ITERATIONS=N rounds)
//
// Needs root, `ab` (apt-get install apache2-utils) and a built tsbox (`npm run
// bench:net` builds first). Writes a Markdown table to stdout and
// bench/results/net.json. Docker is optional: without a daemon its rows are
// skipped with a line saying why.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { describeExit, installSignalHandlers, intOption, mustSh, onCleanup, quantile, REPO, round1, runBenchmark, runTimedToFile, sh, TSBOX_ARGV, writeResults } from "./lib.js";

const RESULTS = join(REPO, "bench", "results", "net.json");
/** The goals of the networking issue: tsbox's rps against Docker's and against the host network's. */
const GOALS = { tsboxOverDockerAtLeast: 1.5, tsboxOverHostAtLeast: 0.9 };
const CONTAINER_PORT = 80;
/**
 * ab's default concurrency: busybox httpd listens with a backlog of 9, and
 * more connections in flight overflow its accept queue now and then; each
 * dropped SYN stalls its connection for the 1 s retransmit timeout (at -c 16:
 * ~12–30 per 20 000 requests, a ~1.2 s longest request in every runner).
 */
const DEFAULT_CONCURRENCY = 8;
/** 512 bytes of HTML: small enough that the connection's set-up and the path through the network dominate. */
const BODY = (() => {
  const head = "<!doctype html><title>tsbox bench:net</title><p>";
  const tail = "</p>\n";
  return head + "x".repeat(512 - head.length - tail.length) + tail;
})();
/** Writes the file and execs httpd in the foreground: $1 the body, $2 the port. */
const SERVE = 'mkdir -p /www && printf "%s" "$1" > /www/index.html && exec httpd -f -p "$2" -h /www';
const LEASES = process.env.TSBOX_NET_RUN_DIR ?? "/run/tsbox/net";

// ---------------------------------------------------------------- ports

/** True if nothing on the host holds PORT (TCP, any address) and tsbox has no lease on it. */
function portFree(port: number): Promise<boolean> {
  if (existsSync(join(LEASES, "port", `tcp-${port}`))) return Promise.resolve(false);
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: "0.0.0.0", exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * `count` free ports from `first` up, outside the kernel's ephemeral range:
 * ab's client ports come from that range, and a published port nobody listens
 * on (tsbox's DNAT) could otherwise be picked as a client's own port.
 */
async function freePorts(first: number, count: number): Promise<number[]> {
  const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number) as [number, number];
  const out: number[] = [];
  for (let p = first; out.length < count && p < 65536; p++) {
    if (p >= lo && p <= hi) continue;
    if (await portFree(p)) out.push(p);
  }
  if (out.length < count) throw new Error(`not ${count} free TCP ports from ${first} up (outside ${lo}-${hi})`);
  return out;
}

// ---------------------------------------------------------------- runners

/** One ab run; synRetrans is the host's TcpExt TCPSynRetrans over it (ab's SYNs, and a proxy's to its container). */
interface Round { rps: number; p50Ms: number; p99Ms: number; maxMs: number; meanMs: number; seconds: number; synRetrans: number | null }

interface Runner {
  key: "tsbox" | "docker" | "tsboxHost" | "dockerHost";
  label: string;
  /** the host port ab loads */
  port: number;
  /** how the server was started (for the record) */
  command: string[];
  skip?: string;
  rounds: Round[];
}

function skipped(key: Runner["key"], label: string, port: number, skip: string): Runner {
  return { key, label, port, command: [], skip, rounds: [] };
}

/** GETs the file until it comes back whole (the server is up and the port's path works). */
async function untilServing(port: number, what: string, ms = 30_000): Promise<void> {
  const once = (): Promise<boolean> => new Promise((resolve) => {
    const req = get({ host: "127.0.0.1", port, path: "/index.html", agent: false, timeout: 2_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => { body += d; }).on("end", () => resolve(res.statusCode === 200 && body === BODY));
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(false));
  });
  const end = Date.now() + ms;
  while (!(await once())) {
    if (Date.now() > end) throw new Error(`${what}: 127.0.0.1:${port}/index.html not served within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function prepareTsbox(work: string, tarball: string, bridgePort: number, hostPort: number): Promise<Runner[]> {
  if (!existsSync(join(REPO, "dist", "tsbox.cjs"))) throw new Error("dist/ is missing: run `npm run build` (or `npm run bench:net`)");
  const root = join(work, "tsbox-root");
  const tsbox = (...args: string[]): string[] => [...TSBOX_ARGV, "--root", root, ...args];
  onCleanup("tsbox root", () => { if (existsSync(root)) sh(tsbox("images", "-q")); });
  mustSh(tsbox("import", tarball, "busybox"));
  const runners: Runner[] = [];
  const start = async (key: Runner["key"], label: string, port: number, net: string[], ctrPort: number): Promise<void> => {
    const name = `bench-net-${key}-${process.pid}`;
    onCleanup(`tsbox container ${name}`, () => { if (existsSync(root)) sh(tsbox("rm", "-f", name)); });
    const argv = tsbox("run", "-d", "--name", name, ...net, "busybox", "sh", "-c", SERVE, "sh", BODY, String(ctrPort));
    // `run -d` leaves a monitor behind: no pipes it could hold open.
    const e = await runTimedToFile(argv, join(work, `${key}.err`));
    if (e.code !== 0) throw new Error(`${label}: tsbox run -d failed (${describeExit(e)})`);
    await untilServing(port, label);
    runners.push({ key, label, port, command: argv, rounds: [] });
  };
  await start("tsbox", "tsbox -p (bridge)", bridgePort, ["-p", `${bridgePort}:${CONTAINER_PORT}`], CONTAINER_PORT);
  await start("tsboxHost", "tsbox --network host", hostPort, ["--network", "host"], hostPort);
  return runners;
}

async function prepareDocker(tarball: string, bridgePort: number, hostPort: number): Promise<Runner[]> {
  const both = (skip: string): Runner[] => [
    skipped("docker", "docker -p (bridge)", bridgePort, skip), skipped("dockerHost", "docker --network host", hostPort, skip),
  ];
  const info = sh(["docker", "info", "--format", "{{.ServerVersion}}"]);
  if (!info.ok) return both(`docker not available (\`docker info\` failed: ${info.err.split("\n")[0] || "no daemon"})`);
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const image = `tsbox-bench-busybox:${tag}`;
  onCleanup("docker image", () => { sh(["docker", "rmi", image]); });
  const imported = sh(["docker", "import", tarball, image]);
  if (!imported.ok) return both(`docker import failed: ${imported.err}`);
  const runners: Runner[] = [];
  const start = async (key: Runner["key"], label: string, port: number, net: string[], ctrPort: number): Promise<void> => {
    const name = `tsbox-bench-net-${key}-${tag}`;
    onCleanup(`docker container ${name}`, () => { sh(["docker", "rm", "-f", name]); });
    const argv = ["docker", "run", "-d", "--name", name, ...net, image, "sh", "-c", SERVE, "sh", BODY, String(ctrPort)];
    const r = sh(argv);
    if (!r.ok) { runners.push(skipped(key, label, port, `docker run -d failed: ${r.err.split("\n").pop()}`)); return; }
    await untilServing(port, label);
    runners.push({ key, label, port, command: argv, rounds: [] });
  };
  await start("docker", "docker -p (bridge)", bridgePort, ["-p", `${bridgePort}:${CONTAINER_PORT}`], CONTAINER_PORT);
  await start("dockerHost", "docker --network host", hostPort, ["--network", "host"], hostPort);
  return runners;
}

// ---------------------------------------------------------------- the path of 127.0.0.1:PORT

/** What carries a connection to 127.0.0.1:port on the host: a listening process, and nat rules naming the port. */
function pathOf(port: number): { listeners: string[]; natRules: string[] } {
  // ss: `users:(("docker-proxy",pid=…,fd=…))` for a proxy, nothing for a DNAT-only port.
  const listeners = sh(["ss", "-Hltnp", `sport = :${port}`]).out.split("\n").filter(Boolean)
    .map((l) => /users:\(\("([^"]+)"/.exec(l)?.[1] ?? l.trim());
  // One name per process kind (a proxy listens on 0.0.0.0 and on [::]).
  return { listeners: [...new Set(listeners)], natRules: natRulesOf(port) };
}


function natRulesOf(port: number): string[] {
  return sh(["iptables-save", "-t", "nat"]).out.split("\n").filter((l) => new RegExp(`\\b${port}\\b`).test(l) && l.startsWith("-A"));
}

/** The nat OUTPUT rules that send the host's own connections to Docker's and netavark's chains. */
function outputRules(): string[] {
  return sh(["iptables-save", "-t", "nat"]).out.split("\n").filter((l) => l.startsWith("-A OUTPUT"));
}

// ---------------------------------------------------------------- ab

let abChild: ChildProcess | undefined;

/** The host network namespace's count of retransmitted SYNs (a dropped SYN costs its connection 1 s). */
function synRetrans(): number | null {
  const lines = readFileSync("/proc/net/netstat", "utf8").split("\n").filter((l) => l.startsWith("TcpExt:"));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const i = names.indexOf("TCPSynRetrans");
  return i > 0 && values[i] !== undefined ? Number(values[i]) : null;
}

/** Runs ab and parses its report; throws with ab's message when it fails or a request does. */
function runAb(port: number, requests: number, concurrency: number): Promise<Round> {
  const argv = ["ab", "-q", "-n", String(requests), "-c", String(concurrency), `http://127.0.0.1:${port}/index.html`];
  const syn0 = synRetrans();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    abChild = child;
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => { out += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => { err += d; });
    const timer = setTimeout(() => child.kill("SIGKILL"), 600_000);
    child.once("error", (e) => { clearTimeout(timer); abChild = undefined; reject(e); });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      abChild = undefined;
      const fail = (why: string): void => reject(new Error(`${argv.join(" ")}: ${why}${err.trim() ? ` (${err.trim().split("\n").slice(-2).join(" | ")})` : ""}`));
      if (code !== 0) return fail(signal ? `signal ${signal}` : `exit code ${code}`);
      const num = (re: RegExp): number | undefined => { const m = re.exec(out); return m ? Number(m[1]) : undefined; };
      const complete = num(/^Complete requests:\s+(\d+)/m);
      const failed = num(/^Failed requests:\s+(\d+)/m);
      const non2xx = num(/^Non-2xx responses:\s+(\d+)/m) ?? 0;
      const length = num(/^Document Length:\s+(\d+) bytes/m);
      const rps = num(/^Requests per second:\s+([\d.]+)/m);
      const meanMs = num(/^Time per request:\s+([\d.]+) \[ms\] \(mean\)$/m);
      const seconds = num(/^Time taken for tests:\s+([\d.]+) seconds/m);
      const p50Ms = num(/^\s+50%\s+(\d+)/m);
      const p99Ms = num(/^\s+99%\s+(\d+)/m);
      const maxMs = num(/^\s+100%\s+(\d+)/m);
      if (rps === undefined || meanMs === undefined || seconds === undefined || p50Ms === undefined || p99Ms === undefined || maxMs === undefined) return fail(`unexpected output: ${out.slice(0, 400)}`);
      if (complete !== requests || failed !== 0 || non2xx !== 0) return fail(`${complete} complete, ${failed} failed, ${non2xx} non-2xx of ${requests}`);
      if (length !== Buffer.byteLength(BODY)) return fail(`document length ${length}, expected ${Buffer.byteLength(BODY)}`);
      const syn1 = synRetrans();
      resolve({ rps, p50Ms, p99Ms, maxMs, meanMs, seconds, synRetrans: syn0 === null || syn1 === null ? null : syn1 - syn0 });
    });
  });
}

/** Round-robin, each round starting one runner further on, so neither drift nor position favours a runner. */
async function measure(runners: Runner[], rounds: number, requests: number, concurrency: number, record: boolean): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < runners.length; i++) {
      const r = runners[(round + i) % runners.length]!;
      if (r.skip) continue;
      let result: Round;
      try {
        result = await runAb(r.port, requests, concurrency);
      } catch (e) {
        const msg = `${r.label} failed: ${(e as Error).message}`;
        if (r.key === "tsbox" || r.key === "tsboxHost") throw new Error(msg);
        r.skip = msg;
        process.stderr.write(`skip: ${msg}\n`);
        continue;
      }
      if (record) r.rounds.push(result);
      process.stderr.write(`  ${record ? `round ${round + 1}` : "warm-up"}: ${r.label}: ${result.rps.toFixed(0)} req/s\n`);
    }
  }
}

/** netavark's version, found as tsbox finds it: $TSBOX_NETAVARK, else Podman's directories. */
function netavarkVersion(): string | null {
  const candidates = [process.env.TSBOX_NETAVARK, ...["/usr/lib/podman", "/usr/libexec/podman", "/usr/local/libexec/podman", "/usr/local/lib/podman"]
    .map((d) => join(d, "netavark"))].filter((p): p is string => p !== undefined && existsSync(p));
  for (const p of candidates) {
    const r = sh([p, "--version"]);
    if (r.ok) return r.out;
  }
  return null;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const rounds = intOption("--rounds", process.env.BENCH_ITERATIONS, 10, 1);
  const warmup = intOption("--warmup", undefined, 1, 0);
  const requests = intOption("--requests", undefined, 20_000, 1);
  const concurrency = intOption("--concurrency", undefined, DEFAULT_CONCURRENCY, 1);
  const firstPort = intOption("--port", undefined, 18080, 1);
  if (process.getuid?.() !== 0) throw new Error("run as root: tsbox and docker need it");
  if (concurrency > requests) throw new Error("--concurrency must not exceed --requests (ab refuses)");
  const abVersion = sh(["ab", "-V"]);
  if (!abVersion.ok) throw new Error("ab not found: apt-get install apache2-utils");
  installSignalHandlers(5_000);

  // Runs last: says if tsbox's port lease outlived the container (it goes with `rm -f`).
  let leasedPort: number | undefined;
  onCleanup("leftover check", () => {
    if (leasedPort !== undefined && existsSync(join(LEASES, "port", `tcp-${leasedPort}`))) {
      process.stderr.write(`warning: ${join(LEASES, "port", `tcp-${leasedPort}`)} is still there after clean-up\n`);
    }
  });
  const work = mkdtempSync(join(tmpdir(), "tsbox-bench-net-"));
  onCleanup("temp dir", () => rmSync(work, { recursive: true, force: true }));
  const tarball = join(work, "busybox.tar");
  mustSh(["bash", join(REPO, "scripts", "make-busybox-rootfs.sh"), tarball]);

  const [tsboxPort, dockerPort, tsboxHostPort, dockerHostPort] = await freePorts(firstPort, 4) as [number, number, number, number];
  leasedPort = tsboxPort;
  const [tsbox, tsboxHost] = await prepareTsbox(work, tarball, tsboxPort, tsboxHostPort) as [Runner, Runner];
  const [docker, dockerHost] = await prepareDocker(tarball, dockerPort, dockerHostPort) as [Runner, Runner];
  const runners = [tsbox, docker, tsboxHost, dockerHost];
  for (const reason of new Set(runners.map((r) => r.skip).filter(Boolean))) process.stdout.write(`skip: ${reason}\n`);
  onCleanup("ab", () => { abChild?.kill("SIGKILL"); });

  // Recorded before the load: which process listens on each published port, which nat rules name it.
  const paths = {
    tsbox: pathOf(tsboxPort),
    docker: docker.skip ? null : pathOf(dockerPort),
    natOutput: outputRules(),
  };

  const load = [loadavg()[0] ?? 0];
  process.stderr.write(`warm-up: ${warmup} round(s) of ${Math.ceil(requests / 10)} requests; measuring: ${rounds} round(s) of ${requests} requests, concurrency ${concurrency}...\n`);
  await measure(runners, warmup, Math.max(Math.ceil(requests / 10), concurrency), concurrency, false);
  await measure(runners, rounds, requests, concurrency, true);
  load.push(loadavg()[0] ?? 0);

  // ------------------------------------------------------------ report
  const q = (r: Runner, f: (x: Round) => number, p: number): number | null => (r.rounds.length ? quantile(r.rounds.map(f), p) : null);
  const stats = Object.fromEntries(runners.map((r) => [r.key, {
    label: r.label,
    command: r.command.join(" ").replaceAll(`${REPO}/`, "").replaceAll(work, "$TMP").replace(BODY, "<512-byte body>"),
    url: `http://127.0.0.1:${r.port}/index.html`,
    skipped: r.skip ?? null,
    rounds: r.rounds.length,
    medianRps: ((x) => (x === null ? null : round1(x)))(q(r, (x) => x.rps, 0.5)),
    minRps: ((x) => (x === null ? null : round1(x)))(q(r, (x) => x.rps, 0)),
    maxRps: ((x) => (x === null ? null : round1(x)))(q(r, (x) => x.rps, 1)),
    medianP50Ms: q(r, (x) => x.p50Ms, 0.5),
    medianP99Ms: q(r, (x) => x.p99Ms, 0.5),
    medianMaxMs: q(r, (x) => x.maxMs, 0.5),
    medianSynRetrans: r.rounds.some((x) => x.synRetrans === null) ? null : q(r, (x) => x.synRetrans!, 0.5),
    samples: r.rounds,
  }]));
  const median = (r: Runner): number | undefined => (!r.skip && r.rounds.length ? quantile(r.rounds.map((x) => x.rps), 0.5) : undefined);
  const ratio = (a: Runner, b: Runner): number | null => {
    const x = median(a);
    const y = median(b);
    return x === undefined || y === undefined ? null : Math.round((x / y) * 100) / 100;
  };
  const ratios = {
    tsboxOverDocker: ratio(tsbox, docker),
    tsboxOverHost: ratio(tsbox, tsboxHost),
    tsboxOverDockerHost: ratio(tsbox, dockerHost),
    dockerOverDockerHost: ratio(docker, dockerHost),
    dockerHostOverHost: ratio(dockerHost, tsboxHost),
  };
  const goal = {
    ...GOALS,
    dockerMet: ratios.tsboxOverDocker === null ? null : ratios.tsboxOverDocker >= GOALS.tsboxOverDockerAtLeast,
    hostMet: ratios.tsboxOverHost === null ? null : ratios.tsboxOverHost >= GOALS.tsboxOverHostAtLeast,
  };
  const dockerProxy = paths.docker === null ? null : paths.docker.listeners.includes("docker-proxy");

  const fmt = (x: number | null, d = 0): string => (x === null ? "–" : x.toFixed(d));
  const met = (m: boolean | null): string => (m === null ? "not checked (docker skipped)" : m ? "MET" : "NOT MET");
  const lines = [
    `## Network: \`ab -n ${requests} -c ${concurrency}\` of a ${Buffer.byteLength(BODY)}-byte file from busybox httpd via 127.0.0.1 (${rounds} interleaved rounds after ${warmup} warm-up)`,
    "",
    "| runner | median req/s | min | max | p50 ms | p99 ms | longest ms | SYN retransmits |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...Object.values(stats).map((s) => s.skipped ? `| ${s.label} | skipped | | | | | | |`
      : `| ${s.label} | ${fmt(s.medianRps)} | ${fmt(s.minRps)} | ${fmt(s.maxRps)} | ${fmt(s.medianP50Ms)} | ${fmt(s.medianP99Ms)} | ${fmt(s.medianMaxMs)} | ${fmt(s.medianSynRetrans)} |`),
    "",
    "(min and max of the rounds' req/s; latencies are ab's per-request times and SYN retransmits the host's count during a run, medians over the rounds)",
    "",
    `- tsbox -p / docker -p: ${ratios.tsboxOverDocker ?? "n/a (docker skipped)"} (goal ≥ ${GOALS.tsboxOverDockerAtLeast}: ${met(goal.dockerMet)})`,
    `- tsbox -p / host network (tsbox --network host): ${ratios.tsboxOverHost} (goal ≥ ${GOALS.tsboxOverHostAtLeast}: ${met(goal.hostMet)})`,
    `- tsbox -p / docker --network host: ${ratios.tsboxOverDockerHost ?? "n/a (docker skipped)"}`,
    `- docker -p / docker --network host: ${ratios.dockerOverDockerHost ?? "n/a (docker skipped)"}`,
    `- 127.0.0.1:${tsboxPort} (tsbox): ${paths.tsbox.listeners.length ? `listener ${paths.tsbox.listeners.join(", ")}` : "no listening process (DNAT in the kernel)"}`,
    ...(paths.docker === null ? [] : [`- 127.0.0.1:${dockerPort} (docker): ${paths.docker.listeners.length ? `listener ${paths.docker.listeners.join(", ")}` : "no listening process"}${dockerProxy ? " (Docker's userland proxy: its DNAT rules skip 127.0.0.0/8 destinations)" : ""}`]),
    ...[...new Set(Object.values(stats).map((s) => s.skipped).filter(Boolean))].map((why) => `- skipped: ${why}`),
    `- load average (1 min) before/after: ${load.map((l) => l.toFixed(2)).join(" / ")} on ${cpus().length} CPUs (ab, the server and the path share them)`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);

  writeResults(RESULTS, {
    benchmark: "net",
    date: new Date().toISOString(),
    rounds, warmup, requests, concurrency,
    bodyBytes: Buffer.byteLength(BODY),
    ab: abVersion.out.split("\n")[0] ?? null,
    netavark: netavarkVersion(),
    goal,
    ratios,
    paths: { ...paths, dockerUserlandProxy: dockerProxy },
    runners: stats,
  }, load);
}

await runBenchmark(main);
