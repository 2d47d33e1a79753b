// `tsbox push`: an image of the store to a registry, by the distribution API
// as written (spec.md of distribution/distribution):
//
// - each layer blob and the config: HEAD (the registry has it: "Layer already
//   exists"), else a cross-repository mount from a repository of the same
//   registry known to hold it (POST ?mount=&from=: 201 "Mounted from x"; a 202
//   answer is an upload session all the same), else an upload: POST for a
//   session, then one PUT with the blob (monolithic) or PATCHes of a chunk
//   each with Content-Range and a closing PUT (chunked, for large blobs);
// - then the manifest, PUT under the tag, in the media type the image has.
//
// Layers made here (commit, build, import) are stored uncompressed, as
// Docker stores its own; a push compresses each once (gzip), keeps the
// compressed blob in the store and remembers it by diff ID, so pushing it
// again (anywhere) compresses nothing. The pushed manifest, which names the
// compressed blobs, is kept too: `name@digest` refers to it afterwards.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { ImageError, UsageError } from "../../errors.js";
import { withLock } from "../../util/lock.js";
import { digestHex, sha256, shortId } from "../digest.js";
import { resolveImage, type ResolvedImage } from "../images.js";
import { runLayerPool } from "../layer-pool.js";
import { makeStagingDir } from "../staging.js";
import { parseManifest, type Descriptor, type ImageManifest } from "../manifest.js";
import { DOCKER_LAYER, DOCKER_MANIFEST, OCI_LAYER } from "../media-types.js";
import { familiarName, parseNormalizedNamed, referenceName, referenceString, withDefaultTag, type Reference } from "../reference.js";
import {
  blobPath, commitBlobFile, ensureStore, putBlob, readBlob, readRepositories, storeLockFile, writeRepositories, type StorePaths,
} from "../store.js";
import { RegistryClient, type RetryPolicy } from "./client.js";
import { RegistryError } from "./errors.js";
import { lookupCredentials, type Credentials } from "./credentials.js";
import type { Progress } from "./progress.js";
import { knownSources, recordSource } from "./sources.js";

export interface PushOptions {
  progress: Progress;
  insecureRegistries?: readonly string[];
  retry?: RetryPolicy;
  credentials?: (domain: string) => Credentials | undefined;
  /** every tag of the repository (`--all-tags`) */
  allTags?: boolean;
  /** blobs larger than this go up in chunks of this size (default 64 MiB) */
  chunkSize?: number;
  maxConcurrentUploads?: number;
  signal?: AbortSignal;
}

export interface PushedTag {
  tag: string;
  digest: string;
  size: number;
}

const DEFAULT_CHUNK = 64 << 20;
const DEFAULT_CONCURRENT_UPLOADS = 5;
/** Layers compressed at once: the thread pool's 4 threads, on however many cores. */
const COMPRESS_CONCURRENCY = 4;

/** What is pushed for one layer: a blob file of the store and its descriptor. */
interface Upload {
  diffID: string;
  desc: Descriptor;
  file: string;
}

const isCompressed = (mediaType: string): boolean => /(\+|\.)(gzip|zstd)$/.test(mediaType);

/** The compressed twin of an uncompressed layer media type. */
function gzipType(mediaType: string): string {
  if (mediaType.startsWith(DOCKER_LAYER)) return `${DOCKER_LAYER}.gzip`;
  if (mediaType.startsWith(OCI_LAYER)) return `${OCI_LAYER}+gzip`;
  return `${OCI_LAYER}+gzip`;
}

function compressedRecord(p: StorePaths, diffID: string): string {
  return path.join(p.root, "compressed", digestHex(diffID));
}

/**
 * gzip level 1 (TSBOX_PUSH_GZIP_LEVEL to change it): half the CPU time of
 * the default level for blobs ~8 % larger (a Debian root: 1.6 s vs 3.0 s,
 * 53.5 vs 49.8 MB); the blob is made once and kept, so the size is paid
 * per push and the time only once, but a push is usually waited for.
 */
function gzipLevel(): number {
  const n = Number(process.env.TSBOX_PUSH_GZIP_LEVEL ?? "1");
  return Number.isInteger(n) && n >= 1 && n <= 9 ? n : 1;
}

/** The layer's gzip blob, made and stored the first time a push needs it. */
async function compressedLayer(p: StorePaths, diffID: string, source: string, mediaType: string): Promise<Descriptor> {
  const record = compressedRecord(p, diffID);
  try {
    const [digest, size] = fs.readFileSync(record, "utf8").trim().split(" ");
    if (digest !== undefined && fs.existsSync(blobPath(p, digest))) return { mediaType: gzipType(mediaType), digest, size: Number(size) };
  } catch {
    // not compressed yet
  }
  const staging = makeStagingDir(p, "push");
  const tmp = path.join(staging, "layer.gz");
  try {
    const hash = createHash("sha256");
    let size = 0;
    await pipeline(fs.createReadStream(source, { highWaterMark: 1 << 20 }), createGzip({ level: gzipLevel(), chunkSize: 1 << 18 }), async function* (chunks: AsyncIterable<Buffer>) {
      for await (const c of chunks) {
        hash.update(c);
        size += c.length;
        yield c;
      }
    }, fs.createWriteStream(tmp, { mode: 0o600 }));
    const digest = `sha256:${hash.digest("hex")}`;
    const fd = fs.openSync(tmp, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    withLock(storeLockFile(p.root), () => { commitBlobFile(p, tmp, digest); });
    fs.mkdirSync(path.dirname(record), { recursive: true, mode: 0o700 });
    fs.writeFileSync(`${record}.${process.pid}.tmp`, `${digest} ${size}\n`);
    fs.renameSync(`${record}.${process.pid}.tmp`, record);
    return { mediaType: gzipType(mediaType), digest, size };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** The blobs to push for `image` and the manifest that names them. */
async function plan(p: StorePaths, image: ResolvedImage): Promise<{ uploads: Upload[]; manifest: Buffer; mediaType: string }> {
  const localBytes = readBlob(p, image.manifestDigest);
  const local = parseManifest(localBytes, image.manifestDigest);
  let changed = false;
  // Layers to compress are compressed side by side (zlib works in the thread pool).
  const uploads: Upload[] = await runLayerPool([...local.layers.entries()], COMPRESS_CONCURRENCY, async ([i, desc]) => {
    const diffID = image.layers[i]?.diffID ?? "";
    const file = blobPath(p, desc.digest);
    if (isCompressed(desc.mediaType)) {
      if (!fs.existsSync(file)) {
        throw new ImageError(`layer ${shortId(desc.digest)} of ${image.id.slice(7, 19)}: its blob is not in the store (pull or load the image again)`);
      }
      return { diffID, desc, file };
    }
    if (!fs.existsSync(file)) throw new ImageError(`layer ${shortId(desc.digest)}: its blob is not in the store`);
    const gz = await compressedLayer(p, diffID, file, desc.mediaType);
    changed = true;
    return { diffID, desc: gz, file: blobPath(p, gz.digest) };
  }, { stop: () => undefined });
  if (!changed) return { uploads, manifest: localBytes, mediaType: local.mediaType };
  const manifest: ImageManifest = {
    schemaVersion: 2, mediaType: local.mediaType, config: local.config,
    layers: uploads.map((u) => ({ mediaType: u.desc.mediaType, digest: u.desc.digest, size: u.desc.size })),
  };
  return { uploads, manifest: Buffer.from(JSON.stringify(manifest)), mediaType: local.mediaType === DOCKER_MANIFEST ? DOCKER_MANIFEST : local.mediaType };
}

class Pusher {
  private readonly scope: string;

  constructor(private readonly p: StorePaths, private readonly client: RegistryClient, private readonly ref: Reference,
    private readonly opts: PushOptions) {
    this.scope = `repository:${ref.path}:pull,push`;
  }

  private async exists(digest: string): Promise<boolean> {
    try {
      await this.client.request(`${this.ref.path}/blobs/${digest}`, { scope: this.scope, method: "HEAD", ...this.signal() });
      return true;
    } catch (e) {
      if (e instanceof RegistryError && e.status === 404) return false;
      throw e;
    }
  }

  private signal(): { signal?: AbortSignal } {
    return this.opts.signal ? { signal: this.opts.signal } : {};
  }

  /** The upload session's location (or "mounted" when the registry mounted it from `from`). */
  private async start(digest: string, from: string | undefined): Promise<string | "mounted"> {
    const query = from !== undefined ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}` : "";
    const scope = from !== undefined ? `${this.scope} repository:${from}:pull` : this.scope;
    const r = await this.client.request(`${this.ref.path}/blobs/uploads/${query}`, { scope, method: "POST", headers: { "Content-Length": "0" }, ...this.signal() });
    if (r.status === 201 && from !== undefined) return "mounted";
    const location = r.headers.location;
    if (typeof location !== "string" || location === "") throw new ImageError(`${this.client.domain}: the registry started an upload without a Location`);
    return new URL(location, this.client.base()).href;
  }

  private withDigest(location: string, digest: string): string {
    const u = new URL(location);
    u.searchParams.set("digest", digest);
    return u.href;
  }

  /** One blob: skipped, mounted or uploaded; returns what Docker prints for it. */
  async blob(file: string, digest: string, size: number): Promise<"Layer already exists" | "Pushed" | `Mounted from ${string}`> {
    if (await this.exists(digest)) return "Layer already exists";
    const p = this.p;
    const here = `${this.client.domain}/${this.ref.path}`;
    const from = knownSources(p, digest).find((s) => s.startsWith(`${this.client.domain}/`) && s !== here);
    let location = await this.start(digest, from?.slice(this.client.domain.length + 1));
    if (location === "mounted") {
      recordSource(p, digest, here);
      return `Mounted from ${from?.slice(this.client.domain.length + 1) ?? ""}`;
    }
    const chunk = this.opts.chunkSize ?? DEFAULT_CHUNK;
    if (size <= chunk) {
      await this.client.request(this.withDigest(location, digest), {
        scope: this.scope, method: "PUT", ...this.signal(),
        headers: { "Content-Type": "application/octet-stream", "Content-Length": String(size) },
        body: () => fs.createReadStream(file),
      });
    } else {
      for (let start = 0; start < size; start += chunk) {
        const end = Math.min(size, start + chunk) - 1;
        const r = await this.client.request(location, {
          scope: this.scope, method: "PATCH", ...this.signal(),
          headers: { "Content-Type": "application/octet-stream", "Content-Length": String(end - start + 1), "Content-Range": `${start}-${end}` },
          body: () => fs.createReadStream(file, { start, end }),
        });
        const next = r.headers.location;
        if (typeof next === "string" && next !== "") location = new URL(next, this.client.base()).href;
      }
      await this.client.request(this.withDigest(location, digest), {
        scope: this.scope, method: "PUT", headers: { "Content-Length": "0" }, ...this.signal(),
      });
    }
    recordSource(p, digest, here);
    return "Pushed";
  }

  async manifest(tag: string, bytes: Buffer, mediaType: string): Promise<string> {
    const r = await this.client.request(`${this.ref.path}/manifests/${tag}`, {
      scope: this.scope, method: "PUT", ...this.signal(),
      headers: { "Content-Type": mediaType, "Content-Length": String(bytes.length) },
      body: () => bytes,
    });
    const digest = sha256(bytes);
    const said = r.headers["docker-content-digest"];
    if (typeof said === "string" && said !== "" && said !== digest) {
      throw new ImageError(`${this.client.domain}: the registry stored the manifest as ${said}, not ${digest}`);
    }
    return digest;
  }
}

/** The tags to push for `name`: the one named (default latest), or with allTags every tag of the repository in the store. */
function tagsToPush(p: StorePaths, name: string, allTags: boolean): { ref: Reference; tags: string[] } {
  const parsed = parseNormalizedNamed(name);
  if (parsed.digest !== undefined) throw new UsageError("cannot push a digest reference");
  if (allTags) {
    if (parsed.tag !== undefined) throw new UsageError("tag can't be used with --all-tags/-a");
    const repo = referenceName(parsed);
    const tags = Object.keys(readRepositories(p)).map((k) => parseNormalizedNamed(k))
      .filter((r) => referenceName(r) === repo && r.tag !== undefined).map((r) => r.tag ?? "").sort();
    if (tags.length === 0) throw new UsageError(`An image does not exist locally with the tag: ${familiarName(parsed)}`);
    return { ref: parsed, tags };
  }
  const ref = withDefaultTag(parsed);
  return { ref, tags: [ref.tag ?? "latest"] };
}

export async function pushImage(root: string, name: string, opts: PushOptions): Promise<PushedTag[]> {
  const p = ensureStore(root);
  const { ref, tags } = tagsToPush(p, name, opts.allTags === true);
  const images = tags.map((tag) => {
    const key = referenceString({ ...ref, tag });
    try {
      return { tag, image: resolveImage(root, key) };
    } catch {
      throw new UsageError(`An image does not exist locally with the tag: ${familiarName(ref)}${opts.allTags ? "" : `:${tag}`}`);
    }
  });
  const client = new RegistryClient(ref.domain, {
    credentials: opts.credentials ?? ((domain) => lookupCredentials(domain)),
    ...(opts.insecureRegistries ? { insecureRegistries: opts.insecureRegistries } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
  });
  const pusher = new Pusher(p, client, ref, opts);
  const progress = opts.progress;
  const out: PushedTag[] = [];
  try {
    progress.line(`The push refers to repository [${ref.domain}/${ref.path}]`);
    for (const { tag, image } of images) {
      const { uploads, manifest, mediaType } = await plan(p, image);
      // Docker lists the layers top first, by the short diff ID.
      const ids = uploads.map((u) => shortId(u.diffID));
      for (const id of [...ids].reverse()) progress.layer(id, "Preparing");
      await runLayerPool([...uploads.keys()].reverse(), opts.maxConcurrentUploads ?? DEFAULT_CONCURRENT_UPLOADS, async (i) => {
        const u = uploads[i] as Upload;
        const id = ids[i] ?? "";
        const done = await pusher.blob(u.file, u.desc.digest, u.desc.size);
        progress.layer(id, done);
      }, { stop: () => undefined });
      const configBytes = readBlob(p, image.id);
      await pusher.blob(blobPath(p, image.id), image.id, configBytes.length);
      const digest = await pusher.manifest(tag, manifest, mediaType);
      // name@digest names the manifest as pushed (compressed layers): RepoDigests.
      withLock(storeLockFile(root), () => {
        putBlob(p, manifest);
        const repos = readRepositories(p);
        repos[referenceString({ domain: ref.domain, path: ref.path, digest })] = digest;
        writeRepositories(p, repos);
      });
      progress.line(`${tag}: digest: ${digest} size: ${manifest.length}`);
      out.push({ tag, digest, size: manifest.length });
    }
  } finally {
    client.close();
  }
  return out;
}
