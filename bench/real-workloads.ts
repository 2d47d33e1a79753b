// Workloads tsbox does not write, for the kernel validations (bench/validate-*.ts):
// Debian's own programs (python3 with a dict, redis-server, memcached, SQLite through
// python3's sqlite3, node with a Map, mawk with an array), run from an image whose /usr
// is the host's, bound read-only. The image is a tarball of empty directories and the
// merged-/usr symlinks (bin, lib, lib64, sbin → usr/…) built here; the drivers are
// bench/workloads/{drive.py,map.js}, bound read-only at /w.
//
// Every workload prints "ready" once loaded, then (with a rate) "ops N" each second.

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, startContainer, tsboxSync, type Running } from "./reclaim-harness.js";

export const IMAGE = "debian-usr";
export const WORKLOAD_DIR = join(REPO, "bench", "workloads");

export interface Workload {
  /** as the tables name it */
  name: string;
  /** the Debian program it needs (checked on the host) */
  program: string;
  /** the container's command: data of about `mib` MiB, `rate` operations a second, `write` of them overwriting */
  argv(mib: number, seed: number, rate: number, write: number): string[];
  /** prints "ops N" lines when given a rate */
  reportsThroughput: boolean;
}

const drive = (kind: string, program: string, name: string): Workload => ({
  name, program, reportsThroughput: true,
  argv: (mib, seed, rate, write) => ["python3", "/w/drive.py", kind, String(mib), String(seed), String(rate), String(write)],
});

export const WORKLOADS: Workload[] = [
  drive("dict", "python3", "python dict"),
  drive("redis", "redis-server", "redis"),
  drive("memcached", "memcached", "memcached"),
  drive("sqlite", "python3", "sqlite (:memory:)"),
  { name: "node Map", program: "node", reportsThroughput: true,
    argv: (mib, seed, rate, write) => ["node", "/w/map.js", String(mib), String(seed), String(rate), String(write)] },
  { name: "mawk array", program: "mawk", reportsThroughput: false,
    // an associative array of text lines held by mawk; idle once built (rate/write ignored)
    argv: (mib, seed) => ["sh", "-c",
      `seq 1 ${Math.floor(mib * 1024 * 1024 / 160)} | mawk -v s=${seed} 'BEGIN{srand(s)} {a[$1]="row " $1 " seed " s " value " int(rand()*1e9) " text " $1*7 " lorem ipsum dolor sit amet"} ` +
      `END{print "ready", NR; fflush(); system("exec sleep 1000000")}'`] },
];

/** Workloads whose program is missing on this host, with the apt package to install. */
export function missingPrograms(ws: readonly Workload[] = WORKLOADS): string[] {
  return [...new Set(ws.map((w) => w.program))].filter((p) => spawnSync("sh", ["-c", `command -v ${p}`]).status !== 0)
    .map((p) => `${p} (apt-get install ${p === "redis-server" ? "redis-server" : p === "node" ? "nodejs" : p})`);
}

/** Builds and imports the image (once per state root). */
export function importDebianImage(root: string): void {
  const tar = join(REPO, ".tmp", "reclaim", "debian-usr.tar");
  if (!existsSync(tar)) {
    mkdirSync(join(REPO, ".tmp", "reclaim"), { recursive: true });
    const stage = mkdtempSync(join(REPO, ".tmp", "reclaim", "rootfs-"));
    try {
      for (const d of ["etc", "tmp", "proc", "sys", "dev", "usr", "root", "run", "var/tmp", "data"]) mkdirSync(join(stage, d), { recursive: true, mode: d.endsWith("tmp") ? 0o1777 : 0o755 });
      for (const l of ["bin", "lib", "lib64", "sbin"]) symlinkSync(`usr/${l}`, join(stage, l));
      writeFileSync(join(stage, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
      writeFileSync(join(stage, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
      execFileSync("tar", ["-C", stage, "--owner=0", "--group=0", "-cf", tar, "."]);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  }
  const r = tsboxSync(root, ["import", tar, IMAGE]);
  if (r.code !== 0) throw new Error(`import ${tar}: ${r.stderr.trim()}`);
}

export interface StartOptions { mib: number; seed: number; rate?: number; write?: number; runArgs?: string[] }

/** `run --rm` of one workload (the host's /usr read-only), returned once it printed "ready". */
export function startWorkload(root: string, name: string, w: Workload, o: StartOptions): Promise<Running> {
  return startContainer(root, name, [
    ...(o.runArgs ?? []), "-v", "/usr:/usr:ro", "-v", `${WORKLOAD_DIR}:/w:ro`, IMAGE,
    ...w.argv(o.mib, o.seed, o.rate ?? 0, o.write ?? 0),
  ], "ready", 180_000);
}

/** Mean of the last `n` "ops N" lines (0 if none). */
export function opsRate(c: Running, n: number): number {
  const ops = [...c.output().matchAll(/^ops (\d+)$/gm)].map((m) => Number(m[1]));
  const last = ops.slice(-n);
  return last.length === 0 ? 0 : last.reduce((a, b) => a + b, 0) / last.length;
}

export const opsLines = (c: Running): number => [...c.output().matchAll(/^ops /gm)].length;

/** `tsbox mem scan … --format json` of running containers, as the user would run it. */
export function memScan(root: string, names: string[], flags: string[]): import("../src/reclaim/profile.js").ScanReport {
  const r = tsboxSync(root, ["mem", "scan", ...flags, "--format", "json", ...names]);
  if (r.code !== 0) throw new Error(`mem scan: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as import("../src/reclaim/profile.js").ScanReport;
}

export const relErr = (pred: number, meas: number): number => (meas === 0 ? (pred === 0 ? 0 : Infinity) : (pred - meas) / meas);
export const signedPct = (e: number, digits = 1): string => `${e >= 0 ? "+" : "−"}${Math.abs(e * 100).toFixed(digits)} %`;
