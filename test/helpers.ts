// Shared by the integration tests: the compiled CLI run as a user runs it, a
// private state root per test file, the busybox test image, and leak probes.
import { execFileSync, spawn, spawnSync, type SpawnSyncOptions } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "..");
export const CLI = join(REPO, "bin", "tsbox.js");

export interface Result { code: number; stdout: string; stderr: string }

export function tsbox(root: string, args: string[], opts: SpawnSyncOptions = {}): Result {
  const r = spawnSync(process.execPath, [CLI, "--root", root, ...args], { encoding: "utf8", timeout: 60_000, ...opts });
  return { code: r.status ?? 128 + 9, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

export function tsboxAsync(root: string, args: string[]) {
  return spawn(process.execPath, [CLI, "--root", root, ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

export function makeRoot(): string {
  return mkdtempSync("/var/tmp/tsbox-test-");
}

/** The busybox rootfs tarball, built once per checkout (test files run in parallel: temp + rename). */
export function busyboxTarball(): string {
  const tar = join(REPO, ".tmp", "test", "busybox.tar");
  if (!existsSync(tar)) {
    mkdirSync(dirname(tar), { recursive: true });
    const tmp = `${tar}.${process.pid}`;
    execFileSync("bash", [join(REPO, "scripts", "make-busybox-rootfs.sh"), tmp]);
    renameSync(tmp, tar);
  }
  return tar;
}

/** A state root with the busybox image imported as `busybox` (and extra tags via changes). */
export function rootWithBusybox(): string {
  const root = makeRoot();
  const r = tsbox(root, ["import", busyboxTarball(), "busybox"]);
  if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
  return root;
}

export function removeRoot(root: string): void {
  spawnSync("umount", ["-R", root], { stdio: "ignore" });
  rmSync(root, { recursive: true, force: true });
}

/** Mounts (in this, the host's, mount namespace) that mention the root. */
export function mountsUnder(path: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(path));
}

/** tsbox cgroup directories of one container, in every hierarchy. */
export function cgroupDirsOf(id: string): string[] {
  const found: string[] = [];
  for (const base of ["/sys/fs/cgroup", ...readdirSync("/sys/fs/cgroup").map((d) => join("/sys/fs/cgroup", d))]) {
    const p = join(base, "tsbox", id);
    if (existsSync(p)) found.push(p);
  }
  return found;
}

export function containerIds(root: string): string[] {
  try { return readdirSync(join(root, "containers")).filter((n) => /^[0-9a-f]{64}$/.test(n)); } catch { return []; }
}

/** A container's state.json; {} while the container is still being created. */
export function stateOf(root: string, id: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(join(root, "containers", id, "state.json"), "utf8")) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw e;
  }
}

export function alive(pid: number): boolean {
  try { process.kill(pid, 0); } catch { return false; }
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

export async function until<T>(fn: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
