// Shared by the benchmarks: timing a command, set-up commands, clean-up that
// also runs from a signal handler, and the statistics.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, writeFileSync, readFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
export const TSBOX = join(REPO, "bin", "tsbox.js");
/**
 * argv that starts a Node script of bin/ as a user's shell starts it: this Node
 * with the flags of the script's `#!/usr/bin/env -S node … --` line, `--`, the script.
 */
export function nodeScriptArgv(script: string): string[] {
  return [
    process.execPath,
    ...(readFileSync(script, "utf8").split("\n", 1)[0] ?? "").replace(/^#!\S+\s+-S\s+node\s*/, "").split(/\s+/)
      .filter((f) => f !== "" && f !== "--"),
    "--", script,
  ];
}
/** argv that starts tsbox as a user's `tsbox` starts it (see nodeScriptArgv). */
export const TSBOX_ARGV: readonly string[] = nodeScriptArgv(TSBOX);

// The child being timed, so a signal handler can wait for it before cleaning up.
let current: ChildProcess | undefined;

export interface Exit { ms: number; code: number | null; signal: NodeJS.Signals | null; stderr: string }

/**
 * Runs argv to completion. The clock covers spawn → exit only: the same
 * fork/exec cost for every runner, none of the bookkeeping around it.
 * stdout goes to /dev/null (nobody waits on a reader), stderr is kept for errors.
 */
export function runTimed(argv: readonly string[], env?: NodeJS.ProcessEnv): Promise<Exit> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("empty command");
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(file, args, { stdio: ["ignore", "ignore", "pipe"], ...(env ? { env } : {}) });
    current = child;
    let ms = 0;
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    child.once("exit", () => { ms = Number(process.hrtime.bigint() - t0) / 1e6; });
    child.once("error", (e) => { current = undefined; reject(e); });
    // "close" comes after "exit" once stderr is drained, so the message is complete.
    child.once("close", (code, signal) => { current = undefined; resolve({ ms, code, signal, stderr }); });
  });
}

/**
 * Like runTimed, for a command whose children may outlive it holding its stdio
 * (an OCI runtime's `create` hands its stdio to the container): stdin and
 * stdout are /dev/null and stderr goes to errFile, read back once the command
 * has exited, so no pipe keeps the wait open after the command is gone.
 */
export function runTimedToFile(argv: readonly string[], errFile: string): Promise<Exit> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("empty command");
  const fd = openSync(errFile, "w");
  return new Promise<Exit>((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let child: ChildProcess;
    // The child has its own copy once spawn returns (libuv forks synchronously).
    try { child = spawn(file, args, { stdio: ["ignore", "ignore", fd] }); } finally { closeSync(fd); }
    current = child;
    child.once("error", (e) => { current = undefined; reject(e); });
    // No pipes: "exit" is the end of the command itself.
    child.once("exit", (code, signal) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      current = undefined;
      resolve({ ms, code, signal, stderr: readFileSync(errFile, "utf8") });
    });
  });
}

/** Runs a set-up or clean-up command synchronously (outside any timing). */
export function sh(argv: readonly string[], timeout = 120_000): { ok: boolean; out: string; err: string } {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("empty command");
  const r = spawnSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout, maxBuffer: 64 << 20 });
  return { ok: r.status === 0, out: (r.stdout ?? "").trim(), err: (r.stderr ?? r.error?.message ?? "").trim() };
}

export function mustSh(argv: readonly string[], timeout?: number): string {
  const r = sh(argv, timeout);
  if (!r.ok) throw new Error(`${argv.join(" ")} failed: ${r.err || "(no output)"}`);
  return r.out;
}

export function describeExit(e: Exit): string {
  const why = e.signal ? `signal ${e.signal}` : `exit code ${e.code}`;
  return `${why}${e.stderr.trim() ? `: ${e.stderr.trim().split("\n").slice(-3).join(" | ")}` : ""}`;
}

// Synchronous and run newest-first, so they also work from a signal handler
// and each undoes its step while everything it depends on still exists.
const cleanups: { what: string; fn: () => void }[] = [];

export function onCleanup(what: string, fn: () => void): void {
  cleanups.push({ what, fn });
}

export function cleanUp(): void {
  for (let c = cleanups.pop(); c; c = cleanups.pop()) {
    try { c.fn(); } catch (e) { process.stderr.write(`cleanup (${c.what}) failed: ${(e as Error).message}\n`); }
  }
}

/** On SIGINT/SIGTERM/SIGHUP: let the command in flight finish (or kill it after graceMs), clean up, exit. */
export function installSignalHandlers(graceMs: number): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    // Ctrl-C reaches us more than once (from the terminal and relayed by npx/tsx);
    // only the first starts the clean-up, and the handler stays installed so a
    // repeat cannot kill us half-way through it.
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: cleaning up...\n`);
    const finish = (): void => { cleanUp(); process.exit(signal === "SIGINT" ? 130 : 143); };
    const child = current;
    if (!child || child.exitCode !== null || child.signalCode !== null) return finish();
    // The command in flight tidies up its own container or staging; kill it if it hangs.
    child.kill("SIGTERM");
    const timer = setTimeout(() => { child.kill("SIGKILL"); }, graceMs);
    child.once("close", () => { clearTimeout(timer); finish(); });
  };
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, handler);
}

/** Linear interpolation between closest ranks (the usual "type 7" quantile). */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Runs a benchmark's main: a failure is one line and exit 1; clean-up always runs. */
export async function runBenchmark(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    cleanUp();
  }
}

/** The host a figure was measured on: kernel, CPUs, load before/after, Node, tsbox commit, peers' versions. */
export function hostFacts(load: readonly number[]): Record<string, unknown> {
  const docker = sh(["docker", "version", "--format", "{{.Client.Version}} / {{.Server.Version}}"]);
  const git = sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]);
  const dirty = sh(["git", "-C", REPO, "status", "--porcelain", "--", "src", "native-shims"]).out !== "";
  return {
    kernel: release(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "",
    loadavg1mBeforeAfter: load.map((l) => Math.round(l * 100) / 100), node: process.version,
    tsboxCommit: git.ok ? `${git.out}${dirty ? "-dirty" : ""}` : null,
    docker: docker.ok ? docker.out : null, runc: sh(["runc", "--version"]).out.split("\n")[0] ?? null,
  };
}

/** Writes a bench's results as JSON (with hostFacts) and says where. */
export function writeResults(file: string, results: Record<string, unknown>, load: readonly number[]): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ ...results, host: hostFacts(load) }, null, 2) + "\n");
  process.stdout.write(`\nwrote ${file.replace(REPO + "/", "")}\n`);
}

/** An integer option `flag N` (or the environment's value), at least `min`; `dflt` when absent. */
export function intOption(flag: string, env: string | undefined, dflt: number, min: number): number {
  const args = process.argv.slice(2);
  const i = args.indexOf(flag);
  const s = i >= 0 ? args[i + 1] : env;
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be an integer >= ${min}, got ${JSON.stringify(s)}`);
  return n;
}
