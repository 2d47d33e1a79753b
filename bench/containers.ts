// Shared by the resource benchmarks: a private tsbox root with the busybox
// image, containers started in the background (tsbox run in the foreground,
// as a child), their cgroup's CPU clock, and clean-up that leaves nothing.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectHierarchy, openCgroup, type Hierarchy } from "../src/cgroupfs/index.js";
import { REPO, TSBOX_ARGV, mustSh, onCleanup, sh } from "./lib.js";

export interface TsboxEnv {
  work: string;
  root: string;
  tarball: string;
  /** argv of the tsbox CLI with this root */
  cli: (...args: string[]) => string[];
}

/** A temp dir with the busybox tarball and a tsbox root that has it imported as `busybox`. */
export function tsboxEnv(): TsboxEnv {
  if (!existsSync(join(REPO, "dist", "tsbox.cjs"))) throw new Error("dist/ is missing: run `npm run build`");
  const work = mkdtempSync(join(tmpdir(), "tsbox-bench-"));
  onCleanup("temp dir", () => rmSync(work, { recursive: true, force: true }));
  const root = join(work, "tsbox-root");
  const cli = (...args: string[]): string[] => [...TSBOX_ARGV, "--root", root, ...args];
  // Any tsbox command first releases containers whose owner died (cgroups included).
  onCleanup("tsbox root", () => { if (existsSync(root)) sh(cli("images", "-q")); });
  const tarball = join(work, "busybox.tar");
  mustSh(["bash", join(REPO, "scripts", "make-busybox-rootfs.sh"), tarball]);
  mustSh(cli("import", tarball, "busybox"));
  return { work, root, tarball, cli };
}

export interface Background {
  name: string;
  id: string;
  pid: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

function stateOf(root: string, id: string): { name?: string; status?: string; pid?: number } {
  try {
    return JSON.parse(readFileSync(join(root, "containers", id, "state.json"), "utf8")) as { name?: string; status?: string; pid?: number };
  } catch {
    return {};
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `tsbox run --name NAME ARGS...` as a child; resolves once the container is running. */
export async function startTsbox(env: TsboxEnv, name: string, args: readonly string[]): Promise<Background> {
  const [file, ...rest] = env.cli("run", "--name", name, ...args);
  const child = spawn(file!, rest, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
  child.stderr!.on("data", (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on("exit", (c, s) => r(c ?? (s ? 128 : null))));
  onCleanup(`container ${name}`, () => {
    if (child.exitCode === null) child.kill("SIGKILL"); // the next tsbox command releases its container
    sh(env.cli("rm", "-f", name));
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const dir = join(env.root, "containers");
    const ids = existsSync(dir) ? readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
    for (const id of ids) {
      const s = stateOf(env.root, id);
      if (s.name === name && s.status === "running" && s.pid) return { name, id, pid: s.pid, child, exited, output: () => out };
    }
    if (child.exitCode !== null) throw new Error(`tsbox run ${name} exited ${child.exitCode}: ${out.trim()}`);
    if (Date.now() > deadline) throw new Error(`container ${name} did not start: ${out.trim()}`);
    await sleep(20);
  }
}

/** Kills the container's init (the CLI then exits 137 and cleans up) and waits for it. */
export async function stopTsbox(c: Background): Promise<void> {
  try { process.kill(c.pid, "SIGKILL"); } catch { /* gone already */ }
  await c.exited;
}

let hierarchy: Hierarchy | undefined;
/** The container's total CPU time in ns, from its cgroup (tsbox's Cgroup.stats()). */
export function cpuNs(id: string): number {
  hierarchy ??= detectHierarchy();
  return openCgroup(hierarchy, id).stats().cpu?.usageNs ?? 0;
}
