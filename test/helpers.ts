// Shared by the integration tests: the compiled CLI run as a user runs it, a
// private state root per test file, the busybox test image, and leak probes.
import { execFile, execFileSync, spawn, spawnSync, type SpawnSyncOptions } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import * as tar from "tar-stream";

export const REPO = resolve(import.meta.dirname, "..");
export const CLI = join(REPO, "bin", "tsbox.js");

export interface Result { code: number; stdout: string; stderr: string }

export function tsbox(root: string, args: string[], opts: SpawnSyncOptions = {}): Result {
  const r = spawnSync(process.execPath, ["--", CLI, "--root", root, ...args], { encoding: "utf8", timeout: 60_000, ...opts });
  return { code: r.status ?? 128 + 9, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

export function tsboxAsync(root: string, args: string[]) {
  return spawn(process.execPath, ["--", CLI, "--root", root, ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

/** tsbox without blocking the worker: for many CLIs at once. */
export function tsboxResult(root: string, args: string[]): Promise<Result> {
  return new Promise((done) => {
    const p = spawn(process.execPath, ["--", CLI, "--root", root, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    p.on("close", (code) => done({ code: code ?? 137, stdout, stderr }));
  });
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

/**
 * A Debian bookworm minbase rootfs tarball (debootstrap from this machine's Debian mirror),
 * built once per checkout: ordinary distribution programs (bash, apt, dpkg, perl) under
 * tsbox's defaults. Slow the first time (about a minute), so asynchronous: a worker blocked
 * that long misses vitest's own messages.
 */
export async function debianTarball(): Promise<string> {
  const tar = join(REPO, ".tmp", "test", "debian.tar");
  if (!existsSync(tar)) {
    mkdirSync(dirname(tar), { recursive: true });
    const tmp = `${tar}.${process.pid}`;
    await promisify(execFile)("bash", [join(REPO, "scripts", "make-debian-rootfs.sh"), tmp], { maxBuffer: 16 << 20 });
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
  // What a failed test left mounted under the root (a container's netns, a shm tmpfs), deepest first:
  // `umount -R root` alone does nothing when the root itself is no mount point, and rm then stops at EBUSY.
  const points = mountsUnder(root).map((l) => l.split(" ")[4]!).filter((p) => p.startsWith(root)).sort((a, b) => b.length - a.length);
  for (const p of points) spawnSync("umount", ["-l", p], { stdio: "ignore" });
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
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false; // reaped between the two looks
  }
  return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

// Sized for the cgroup v2 guest (emulated CPUs): a first run there sets up the bridge and netavark in 10+ s.
export async function until<T>(fn: () => T | undefined, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- Image archives, generated with tar-stream (image.load/save/layers tests) ----

export type ArchiveEntry = Partial<tar.Header> & { name: string; pax?: Record<string, string> };
export type Members = [ArchiveEntry, (string | Buffer)?][];

export async function tarball(entries: Members): Promise<Buffer> {
  const pack = tar.pack();
  for (const [h, body] of entries) pack.entry(h, body ?? "");
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export const sha256 = (b: Buffer | string): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;
export const hex = (digest: string): string => digest.replace(/^sha256:/, "");

export interface ImageSpec {
  /** Plain layer tars, bottom first. */
  layers: Buffer[];
  /** The config's `config` (Env, Cmd, ...). */
  config?: Record<string, unknown>;
  /** manifest.json RepoTags / index.json names. */
  names?: string[];
  /** Store the layers gzip-compressed (OCI forms only; docker-save layers are plain). */
  gzip?: boolean;
}

export interface BuiltImage {
  config: Buffer;
  id: string;
  diffIDs: string[];
  /** Layer blobs as stored in the archive. */
  blobs: Buffer[];
  manifest: Buffer;
  manifestDigest: string;
}

export function buildImage(spec: ImageSpec, created = "2024-01-02T03:04:05Z"): BuiltImage {
  const diffIDs = spec.layers.map((l) => sha256(l));
  const config = Buffer.from(JSON.stringify({
    created, architecture: "amd64", os: "linux", config: spec.config ?? {},
    rootfs: { type: "layers", diff_ids: diffIDs },
  }));
  const blobs = spec.layers.map((l) => (spec.gzip ? gzipSync(l) : l));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
    layers: blobs.map((b) => ({
      mediaType: `application/vnd.oci.image.layer.v1.tar${spec.gzip ? "+gzip" : ""}`, digest: sha256(b), size: b.length,
    })),
  }));
  return { config, id: sha256(config), diffIDs, blobs, manifest, manifestDigest: sha256(manifest) };
}

/** Legacy `docker save` (Docker < 25) members; manifest.json last, as Docker writes it. */
export function dockerSaveMembers(specs: ImageSpec[]): Members {
  const out: Members = [];
  const manifest: unknown[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    const img = buildImage({ ...spec, gzip: false });
    const ids = img.diffIDs.map((d, i) => hex(sha256(`${i} ${d} ${img.diffIDs.slice(0, i).join(" ")}`)));
    img.blobs.forEach((b, i) => {
      const id = ids[i] ?? "";
      if (seen.has(id)) return;
      seen.add(id);
      out.push([{ name: `${id}/`, type: "directory", mode: 0o755 }]);
      out.push([{ name: `${id}/VERSION`, mode: 0o644 }, "1.0"]);
      out.push([{ name: `${id}/json`, mode: 0o644 }, JSON.stringify({ id })]);
      out.push([{ name: `${id}/layer.tar`, mode: 0o644 }, b]);
    });
    out.push([{ name: `${hex(img.id)}.json`, mode: 0o644 }, img.config]);
    manifest.push({ Config: `${hex(img.id)}.json`, RepoTags: spec.names ?? null, Layers: ids.map((id) => `${id}/layer.tar`) });
  }
  out.push([{ name: "manifest.json", mode: 0o644 }, JSON.stringify(manifest)]);
  return out;
}

/**
 * An OCI image layout. `dockerManifest` adds manifest.json pointing into
 * blobs/ (what Docker 25+ writes); names go to index.json annotations.
 */
export function ociLayoutMembers(specs: ImageSpec[], opts: { dockerManifest?: boolean } = {}): Members {
  const blobs = new Map<string, Buffer>();
  const index: unknown[] = [];
  const manifest: unknown[] = [];
  for (const spec of specs) {
    const img = buildImage(spec);
    for (const b of [img.config, img.manifest, ...img.blobs]) blobs.set(sha256(b), b);
    const desc = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: img.manifestDigest, size: img.manifest.length };
    const names = spec.names ?? [];
    if (names.length === 0) index.push(desc);
    for (const n of names) {
      index.push({ ...desc, annotations: { "io.containerd.image.name": n, "org.opencontainers.image.ref.name": n.split(":").pop() } });
    }
    manifest.push({
      Config: `blobs/sha256/${hex(img.id)}`, RepoTags: names.length > 0 ? names : null,
      Layers: img.blobs.map((b) => `blobs/sha256/${hex(sha256(b))}`),
    });
  }
  const out: Members = [
    [{ name: "blobs/", type: "directory", mode: 0o755 }],
    [{ name: "blobs/sha256/", type: "directory", mode: 0o755 }],
  ];
  for (const [d, b] of blobs) out.push([{ name: `blobs/sha256/${hex(d)}`, mode: 0o644 }, b]);
  out.push([{ name: "index.json", mode: 0o644 }, JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: index })]);
  if (opts.dockerManifest === true) out.push([{ name: "manifest.json", mode: 0o644 }, JSON.stringify(manifest)]);
  out.push([{ name: "oci-layout", mode: 0o644 }, JSON.stringify({ imageLayoutVersion: "1.0.0" })]);
  return out;
}

/** Every path under `dir` with its type and size (symlinks not followed): a store's observable state. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      const kind = st.isDirectory() ? "d" : st.isSymbolicLink() ? "l" : st.isFile() ? "f" : "o";
      out.push(`${kind} ${relative(dir, p)}${st.isFile() ? ` ${st.size}` : ""}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}
