// `docker pull`: resolve the reference to one image manifest (choosing a
// platform from an index), fetch and check its config, then stream each
// missing layer from the registry through ingestLayer (download, hash,
// decompress, unpack in one pass), a few at a time, and commit the image in
// one step. Layers whose chain is already in the store are not fetched. A
// failure anywhere leaves the store as it was.
import * as fs from "node:fs";
import { ImageError } from "../../errors.js";
import { commitImage, type ExistingLayer } from "../store-commit.js";
import { parseImageConfig, type ImageConfig } from "../config.js";
import { chainIDs, sha256, shortId } from "../digest.js";
import type { ResolvedImage } from "../images.js";
import { ingestLayer, type IngestedLayer } from "../ingest.js";
import { withLayerLocks } from "../ingest-lock.js";
import { DEFAULT_LAYER_CONCURRENCY, runLayerPool } from "../layer-pool.js";
import { hasLayer } from "../layers.js";
import type { Descriptor, ImageManifest } from "../manifest.js";
import { isConfigMediaType, isLayerMediaType } from "../media-types.js";
import {
  familiarName, familiarString, parseNormalizedNamed, referenceName, referenceString, withDefaultTag, type Reference,
} from "../reference.js";
import { sweepStaging } from "../staging.js";
import { ensureStore, readImageRecord, readRepositories, type StorePaths } from "../store.js";
import { RegistryClient, type RetryPolicy } from "./client.js";
import { lookupCredentials, type Credentials } from "./credentials.js";
import { recordSource } from "./sources.js";
import { RegistryError } from "./errors.js";
import { fetchManifest, type FetchedManifest } from "./manifest.js";
import {
  choosePlatform, formatPlatform, hostPlatform, noMatchMessage, normalizePlatform, parsePlatform, type Platform,
} from "./platform.js";
import { quietProgress, type Progress } from "./progress.js";

/** Docker's DefaultMaxConcurrentDownloads. */
export const DEFAULT_MAX_CONCURRENT_DOWNLOADS = DEFAULT_LAYER_CONCURRENCY;
// Configs are small JSON documents; this only bounds a hostile registry.
const MAX_CONFIG_SIZE = 64 * 1024 * 1024;

export interface PullOptions {
  /** `os/arch[/variant]`; the host's platform when absent. */
  platform?: string;
  insecureRegistries?: readonly string[];
  maxConcurrentDownloads?: number;
  progress?: Progress;
  retry?: RetryPolicy;
  idleTimeoutMs?: number;
  /** Credentials for a registry domain (default: the Docker client config). */
  credentials?: (domain: string) => Credentials | undefined;
  /** Cancels the pull (Ctrl-C); the store is left as it was. */
  signal?: AbortSignal;
  /** Docker's closing `Status:` line (default true; pull --all-tags prints one for all tags) */
  statusLine?: boolean;
}

export interface PullResult {
  image: ResolvedImage;
  /** The fully qualified reference pulled (`docker.io/library/busybox:latest`). */
  reference: string;
  /** What the reference resolved to: the index's digest for a multi-platform image. */
  digest: string;
  /** Whether the reference moved (Docker's "Downloaded newer image" vs "Image is up to date"). */
  updated: boolean;
  /** Layers fetched from the registry (the rest already existed). */
  downloaded: number;
}

/** moby's distribution/errors.go wording for the top-level manifest request. */
function translatePullError(e: unknown, ref: Reference): unknown {
  if (!(e instanceof RegistryError)) return e;
  switch (e.code) {
    case "MANIFEST_UNKNOWN": return new ImageError(`manifest for ${familiarString(ref)} not found: ${e.message}`, 125, { cause: e });
    case "NAME_UNKNOWN": return new ImageError(`repository ${familiarName(ref)} not found: ${e.message}`, 125, { cause: e });
    case "DENIED":
      return new ImageError(`pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${e.message}`, 125, { cause: e });
  }
  if (e.status === 404) return new ImageError(`manifest for ${familiarString(ref)} not found: manifest unknown`, 125, { cause: e });
  return e;
}

/** The reference Docker pulls: a digest wins over a tag; no tag means latest. */
export function pullReference(s: string): { ref: Reference; defaulted: boolean } {
  const parsed = parseNormalizedNamed(s);
  if (parsed.digest !== undefined) return { ref: { domain: parsed.domain, path: parsed.path, digest: parsed.digest }, defaulted: false };
  return { ref: withDefaultTag(parsed), defaulted: parsed.tag === undefined };
}

async function resolveManifest(
  client: RegistryClient, ref: Reference, want: Platform, signal?: AbortSignal,
): Promise<{ top: FetchedManifest; image: Extract<FetchedManifest, { kind: "image" }> }> {
  const name = familiarString(ref);
  const top = await fetchManifest(client, ref.path, ref.digest ?? ref.tag ?? "latest", name,
    ref.digest !== undefined ? { digest: ref.digest } : undefined, signal).catch((e: unknown) => { throw translatePullError(e, ref); });
  if (top.kind === "image") return { top, image: top };
  const i = choosePlatform(top.manifests, want);
  const entry = i === undefined ? undefined : top.manifests[i];
  if (entry === undefined) throw new ImageError(noMatchMessage(want));
  const chosen = await fetchManifest(client, ref.path, entry.digest, `${referenceName(ref)}@${entry.digest}`,
    { digest: entry.digest, size: entry.size }, signal);
  if (chosen.kind !== "image") {
    throw new ImageError(`${name}: the index entry for ${formatPlatform(want)} is an index itself (${entry.digest}); nested indexes are not supported`);
  }
  return { top, image: chosen };
}

async function fetchConfig(
  client: RegistryClient, ref: Reference, desc: Descriptor, signal?: AbortSignal,
): Promise<{ bytes: Buffer; config: ImageConfig }> {
  if (!isConfigMediaType(desc.mediaType)) {
    throw new ImageError(`${familiarString(ref)}: unsupported image config media type ${desc.mediaType}`);
  }
  if (desc.size > MAX_CONFIG_SIZE) throw new ImageError(`image config ${desc.digest} is too large (${desc.size} bytes)`);
  const { bytes } = await client.getBytes(`${ref.path}/blobs/${desc.digest}`, {
    scope: `repository:${ref.path}:pull`, maxBytes: desc.size, what: `image config ${desc.digest}`, ...(signal ? { signal } : {}),
  });
  const got = sha256(bytes);
  if (got !== desc.digest) throw new ImageError(`image config digest mismatch: expected ${desc.digest}, got ${got}`);
  if (bytes.length !== desc.size) {
    throw new ImageError(`image config size mismatch: expected ${desc.size} bytes, got ${bytes.length}`);
  }
  return { bytes, config: parseImageConfig(bytes, desc.digest) };
}

interface LayerJob {
  index: number;
  id: string;
  desc: Descriptor;
  diffID: string;
  chainID: string;
}

/** Streams one layer from the registry into staging, reporting as Docker does. */
async function fetchLayer(
  p: StorePaths, client: RegistryClient, ref: Reference, job: LayerJob, progress: Progress, active: Set<{ destroy(): void }>,
): Promise<IngestedLayer> {
  const { id, desc } = job;
  const total = desc.size;
  const download = client.blob(ref.path, desc.digest, desc.size, {
    onBytes: (current) => progress.layer(id, "Downloading", { current, total }),
    onRetry: ({ delayMs }) => {
      const s = Math.max(1, Math.round(delayMs / 1000));
      progress.layer(id, `Retrying in ${s} second${s === 1 ? "" : "s"}` as `Retrying in ${number} seconds`);
    },
  });
  // The bytes run through the unpacker as they arrive: "Extracting" is the tail of the stream.
  const input = {
    destroy: (): void => download.destroy(),
    async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
      yield* download;
      progress.layer(id, "Verifying Checksum");
      progress.layer(id, "Download complete");
      progress.layer(id, "Extracting", { current: total, total });
    },
  };
  active.add(download);
  try {
    const layer = await ingestLayer(p, input, `layer ${id}`, {
      digest: desc.digest, size: desc.size, diffID: job.diffID, mediaType: desc.mediaType,
    });
    progress.layer(id, "Pull complete");
    return layer;
  } finally {
    active.delete(download);
  }
}

/** A client for a pull's registry, with the pull's credentials, insecure list and retries. */
export function pullClient(domain: string, opts: PullOptions): RegistryClient {
  return new RegistryClient(domain, {
    credentials: opts.credentials ?? ((d) => lookupCredentials(d)),
    ...(opts.insecureRegistries ? { insecureRegistries: opts.insecureRegistries } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
    ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
  });
}

export async function pullImage(root: string, reference: string, opts: PullOptions = {}): Promise<PullResult> {
  const progress = opts.progress ?? quietProgress();
  const { ref, defaulted } = pullReference(reference);
  const want = opts.platform !== undefined ? parsePlatform(opts.platform) : hostPlatform();
  const limit = opts.maxConcurrentDownloads ?? DEFAULT_MAX_CONCURRENT_DOWNLOADS;
  if (!Number.isInteger(limit) || limit < 1) throw new ImageError(`max concurrent downloads must be a positive integer, not ${limit}`);
  const key = referenceString(ref);

  if (defaulted) progress.line(`Using default tag: ${ref.tag ?? "latest"}`);
  progress.line(`${ref.digest ?? ref.tag ?? "latest"}: Pulling from ${ref.path}`);

  const client = pullClient(ref.domain, opts);
  try {
    const { top, image } = await resolveManifest(client, ref, want, opts.signal);
    const manifest: ImageManifest = image.manifest;
    for (const l of manifest.layers) {
      if (!isLayerMediaType(l.mediaType)) throw new ImageError(`${familiarString(ref)}: unsupported layer media type ${l.mediaType}`);
    }
    const { bytes: configBytes, config } = await fetchConfig(client, ref, manifest.config, opts.signal);
    const diffIDs = config.rootfs.diff_ids;
    // moby's errRootFSMismatch.
    if (diffIDs.length !== manifest.layers.length) throw new ImageError("layers from manifest don't match image configuration");
    if (opts.platform !== undefined && top.kind === "image") {
      const actual = normalizePlatform({ os: config.os, architecture: config.architecture, variant: (config as { variant?: string }).variant ?? "" });
      if (actual.os !== want.os || actual.architecture !== want.architecture) {
        throw new ImageError(`image with reference ${familiarString(ref)} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(actual)}`);
      }
    }

    const p = ensureStore(root);
    // A killed pull's staging (the layers it was unpacking) goes now.
    sweepStaging(p);
    const chain = chainIDs(diffIDs);
    const before = readRepositories(p);
    const id = manifest.config.digest;
    const complete = readImageRecord(p, id) !== undefined && chain.every((c) => hasLayer(p, c));
    const refs = [key];
    // RepoDigests: the name at the digest the reference resolved to.
    if (ref.digest === undefined) refs.push(`${referenceName(ref)}@${top.digest}`);

    let downloaded = 0;
    let stored: ResolvedImage;
    if (complete) {
      // Docker skips the layers when it has the image (by config digest) already.
      stored = commitImage(root, {
        manifest: image.bytes, config: configBytes, refs, layers: chain.map((c) => ({ existing: c })),
      });
    } else {
      const jobs: LayerJob[] = manifest.layers.map((desc, index) => ({
        index, desc, id: shortId(desc.digest), diffID: diffIDs[index] ?? "", chainID: chain[index] ?? "",
      }));
      const missing = jobs.filter((j) => !hasLayer(p, j.chainID));
      for (const j of jobs) progress.layer(j.id, missing.includes(j) ? "Pulling fs layer" : "Already exists");
      missing.slice(limit).forEach((j) => progress.layer(j.id, "Waiting"));
      // Bottom → top, as withLayerLocks requires; held until the commit so a
      // concurrent pull of a shared layer waits, then finds it committed.
      stored = await withLayerLocks(p, missing.map((j) => j.chainID), async () => {
        // Another process may have committed some of them while we waited.
        const todo = missing.filter((j) => !hasLayer(p, j.chainID));
        const active = new Set<{ destroy(): void }>();
        const stopAll = (): void => {
          for (const d of active) d.destroy();
        };
        opts.signal?.addEventListener("abort", stopAll);
        let staged: IngestedLayer[];
        try {
          staged = await runLayerPool(todo, limit, (j) => {
            opts.signal?.throwIfAborted();
            return fetchLayer(p, client, ref, j, progress, active);
          }, { stop: stopAll, discard: (l) => fs.rmSync(l.staging, { recursive: true, force: true }) });
        } finally {
          opts.signal?.removeEventListener("abort", stopAll);
        }
        downloaded = staged.length;
        const byIndex = new Map(todo.map((j, i) => [j.index, staged[i] as IngestedLayer]));
        const layers: (IngestedLayer | ExistingLayer)[] = jobs.map((j) => byIndex.get(j.index) ?? { existing: j.chainID });
        return commitImage(root, { manifest: image.bytes, config: configBytes, refs, layers });
      });
    }

    // Where these blobs are: a later push to another repository of this registry mounts them.
    for (const d of [...manifest.layers.map((l) => l.digest), manifest.config.digest]) {
      try {
        recordSource(p, d, `${ref.domain}/${ref.path}`);
      } catch {
        // only an optimisation of later pushes
      }
    }
    const updated = before[key] !== sha256(image.bytes);
    progress.line(`Digest: ${top.digest}`);
    if (opts.statusLine !== false) progress.line(`Status: ${updated ? "Downloaded newer image" : "Image is up to date"} for ${familiarString(ref)}`);
    return { image: stored, reference: key, digest: top.digest, updated, downloaded };
  } finally {
    client.close();
  }
}
