// Shared by the registry tests (not a test file itself): images built here as
// OCI layouts, a real registry (Debian's docker-registry) on loopback, pushes
// with skopeo, the CLI run asynchronously (in-process servers must keep
// answering while it runs), and the store's tree for before/after checks.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import * as zlib from "node:zlib";
import * as tar from "tar-stream";
import { CLI, type Result } from "./helpers.js";

export const sha256 = (b: Buffer | string): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

export type Entry = Partial<tar.Header> & { name: string };

export async function tarball(entries: [Entry, (string | Buffer)?][]): Promise<Buffer> {
  const pack = tar.pack();
  for (const [h, body] of entries) pack.entry({ mode: h.type === "directory" ? 0o755 : 0o644, ...h }, body ?? "");
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export type Compression = "gzip" | "zstd" | "none";

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
}

function blob(mediaType: string, bytes: Buffer): Blob {
  return { mediaType, digest: sha256(bytes), size: bytes.length, bytes };
}

export function layerBlob(tarBytes: Buffer, compression: Compression): Blob & { diffID: string } {
  const bytes = compression === "gzip" ? zlib.gzipSync(tarBytes)
    : compression === "zstd" ? zlib.zstdCompressSync(tarBytes) : tarBytes;
  const suffix = compression === "none" ? "" : `+${compression}`;
  return { ...blob(`application/vnd.oci.image.layer.v1.tar${suffix}`, bytes), diffID: sha256(tarBytes) };
}

export interface BuiltImage {
  config: Blob;
  layers: (Blob & { diffID: string })[];
  manifest: Blob;
  blobs: Blob[];
}

/** One image: its layers, a config naming their diff IDs, an OCI manifest. */
export function buildImage(
  layers: (Blob & { diffID: string })[],
  o: { architecture?: string; variant?: string; cmd?: string[]; env?: string[]; diffIDs?: string[] } = {},
): BuiltImage {
  const cfg = {
    created: "2024-01-02T03:04:05Z",
    architecture: o.architecture ?? "amd64",
    ...(o.variant ? { variant: o.variant } : {}),
    os: "linux",
    config: { Env: o.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: o.cmd ?? ["sh"] },
    rootfs: { type: "layers", diff_ids: o.diffIDs ?? layers.map((l) => l.diffID) },
    history: layers.map(() => ({ created: "2024-01-02T03:04:05Z", created_by: "registry test" })),
  };
  const config = blob("application/vnd.oci.image.config.v1+json", Buffer.from(JSON.stringify(cfg)));
  const manifest = blob("application/vnd.oci.image.manifest.v1+json", Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  })));
  return { config, layers, manifest, blobs: [config, ...layers, manifest] };
}

/** A BuildKit-style attestation manifest (in-toto layer, platform unknown/unknown in the index). */
export function buildAttestation(subject: string): { manifest: Blob; blobs: Blob[] } {
  const statement = blob("application/vnd.in-toto+json", Buffer.from(JSON.stringify({ _type: "https://in-toto.io/Statement/v0.1", subject: [{ digest: { sha256: subject.slice(7) } }] })));
  const config = blob("application/vnd.oci.image.config.v1+json", Buffer.from(JSON.stringify({
    architecture: "unknown", os: "unknown", config: {}, rootfs: { type: "layers", diff_ids: [statement.digest] },
  })));
  const manifest = blob("application/vnd.oci.image.manifest.v1+json", Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: [{ mediaType: statement.mediaType, digest: statement.digest, size: statement.size,
      annotations: { "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2" } }],
  })));
  return { manifest, blobs: [statement, config, manifest] };
}

export interface IndexEntrySpec {
  manifest: Blob;
  platform: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

export function buildIndex(entries: IndexEntrySpec[]): Blob {
  return blob("application/vnd.oci.image.index.v1+json", Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: entries.map((e) => ({
      mediaType: e.manifest.mediaType, digest: e.manifest.digest, size: e.manifest.size, platform: e.platform,
      ...(e.annotations ? { annotations: e.annotations } : {}),
    })),
  })));
}

/** Writes an OCI image layout holding `blobs`, with `refs` (tag → manifest or index) in index.json. */
export function writeLayout(dir: string, blobs: Blob[], refs: Record<string, Blob>): void {
  fs.mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
  fs.writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  for (const b of [...blobs, ...Object.values(refs)]) fs.writeFileSync(path.join(dir, "blobs", "sha256", b.digest.slice(7)), b.bytes);
  fs.writeFileSync(path.join(dir, "index.json"), JSON.stringify({
    schemaVersion: 2,
    manifests: Object.entries(refs).map(([tag, b]) => ({
      mediaType: b.mediaType, digest: b.digest, size: b.size, annotations: { "org.opencontainers.image.ref.name": tag },
    })),
  }));
}

/**
 * A registry played in-process on 127.0.0.1 for `repos` (repository → image): `/v2/`, its
 * manifests and blobs by digest, NAME_UNKNOWN otherwise. `sendBody` may send a blob's body
 * itself (to stall it, say) and return true; otherwise the whole blob is sent.
 */
export async function serveImages(repos: Map<string, BuiltImage>,
  sendBody?: (res: http.ServerResponse, repo: string, blob: Blob, image: BuiltImage) => boolean,
): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(new URL(req.url ?? "/", "http://x").pathname);
    const repo = m?.[1] ?? "";
    const image = m ? repos.get(repo) : undefined;
    const b = m?.[2] === "manifests" ? image?.manifest : image?.blobs.find((x) => x.digest === m?.[3]);
    if (req.url === "/v2/") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end("{}");
    } else if (b === undefined || image === undefined) {
      res.writeHead(404, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code: "NAME_UNKNOWN", message: "unknown" }] }));
    } else {
      res.writeHead(200, { "Content-Type": b.mediaType, "Content-Length": b.size, "Docker-Content-Digest": b.digest });
      if (req.method === "HEAD") res.end();
      else if (!sendBody?.(res, repo, b, image)) res.end(b.bytes);
    }
  });
  const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
  return { server, port };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0));
    });
  });
}

async function waitForPort(port: number, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => { c.destroy(); resolve(true); });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`registry on port ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RunningRegistry {
  host: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

/** The programs startRegistry and push run (Debian: docker-registry, apache2-utils, skopeo) that are not on PATH. */
export function missingRegistryTools(): string[] {
  const dirs = (process.env.PATH ?? "").split(":").filter((d) => d !== "");
  return ["docker-registry", "htpasswd", "skopeo"].filter((tool) => !dirs.some((d) => {
    try {
      fs.accessSync(path.join(d, tool), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }));
}

/** Debian's docker-registry (distribution 2.8) on 127.0.0.1, storage in `dir`; htpasswd → Basic auth. */
export async function startRegistry(dir: string, o: { htpasswd?: { user: string; password: string } } = {}): Promise<RunningRegistry> {
  const port = await freePort();
  fs.mkdirSync(path.join(dir, "data"), { recursive: true });
  let auth = "";
  if (o.htpasswd) {
    // bcrypt: distribution accepts nothing else.
    const line = execFileSync("htpasswd", ["-Bbn", o.htpasswd.user, o.htpasswd.password], { encoding: "utf8" }).trim();
    fs.writeFileSync(path.join(dir, "htpasswd"), `${line}\n`);
    auth = `auth:\n  htpasswd:\n    realm: tsbox-test\n    path: ${path.join(dir, "htpasswd")}\n`;
  }
  const config = path.join(dir, "config.yml");
  fs.writeFileSync(config, [
    "version: 0.1",
    "log:\n  level: error\n  accesslog:\n    disabled: true",
    `storage:\n  filesystem:\n    rootdirectory: ${path.join(dir, "data")}\n  delete:\n    enabled: true`,
    `http:\n  addr: 127.0.0.1:${port}\n  secret: tsbox-test`,
    auth,
  ].join("\n"));
  const child = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await Promise.race([waitForPort(port), exited.then(() => { throw new Error(`docker-registry exited: ${stderr}`); })]);
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    dir,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

/** `skopeo copy` from an OCI layout into the registry (plain http). `all`: an index with every image. */
export function push(layout: string, tag: string, dest: string, o: { all?: boolean; creds?: string; dockerSchema2?: boolean } = {}): void {
  execFileSync("skopeo", [
    "copy", "--quiet", "--dest-tls-verify=false", ...(o.all ? ["--all"] : []),
    ...(o.creds ? ["--dest-creds", o.creds] : []),
    // Keep the bytes exactly as built (digests are the test's expectations),
    // unless converting to Docker's media types.
    ...(o.dockerSchema2 ? ["--format", "v2s2"] : ["--preserve-digests"]),
    `oci:${layout}:${tag}`, `docker://${dest}`,
  ], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HOME: path.dirname(layout) } });
}

/** The CLI, asynchronously: the test process's own servers must keep answering meanwhile. */
export function tsboxAsync(root: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 90_000): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, "--root", root, ...args], {
      stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on("data", (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128 + (signal === "SIGKILL" ? 9 : 15), stdout, stderr });
    });
  });
}

/** Every path under `root` with its kind and size: the store's observable state. */
export function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      const kind = st.isDirectory() ? "d" : st.isSymbolicLink() ? "l" : st.isFile() ? `f${st.size}` : "o";
      out.push(`${kind} ${path.relative(root, p)}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}
