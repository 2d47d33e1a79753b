// `docker load`: images from a tar archive, in any of the three forms in use:
//
//   (a) legacy `docker save` (before Docker 25): manifest.json
//       [{Config, RepoTags, Layers}], `<id>/layer.tar`, `<config hex>.json`;
//   (b) Docker 25+: an OCI layout (oci-layout, index.json, blobs/sha256/…)
//       that also carries manifest.json, whose paths point into blobs/;
//   (c) a plain OCI image layout, named by index.json annotations
//       (io.containerd.image.name, else org.opencontainers.image.ref.name).
//
// When manifest.json exists it decides (as in Docker), and the layout's own
// manifests are used only to keep the exact manifest bytes (and digest).
// The archive, optionally gzip or zstd compressed, is spooled first (see
// members.ts); then every image is planned and checked, its layers ingested
// against their diff IDs (and blob digests where the archive names them) under
// the per-layer ingest locks, and committed through commitImage. A failure
// before the commit leaves the store untouched; the spool is always removed.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { Readable, pipeline } from "node:stream";
import { ImageError, UsageError } from "../../errors.js";
import { log } from "../../log.js";
import { commitImage, type ExistingLayer } from "../store-commit.js";
import { MAGIC_LENGTH, decompressor, detectCompression, layerMediaType, readMagic } from "../compression.js";
import { ociArchitecture, parseImageConfig } from "../config.js";
import { chainIDs, sha256 } from "../digest.js";
import { loadImage, type ResolvedImage } from "../images.js";
import { ingestLayerFile, type IngestedLayer, type LayerExpectation } from "../ingest.js";
import { withLayerLocks } from "../ingest-lock.js";
import { DEFAULT_LAYER_CONCURRENCY, runLayerPool } from "../layer-pool.js";
import { hasLayer } from "../layers.js";
import { buildManifest, parseManifest, type Descriptor } from "../manifest.js";
import { OCI_CONFIG, isIndexMediaType, isManifestMediaType } from "../media-types.js";
import { familiarString, parseNormalizedNamed, referenceString, withDefaultTag } from "../reference.js";
import { makeStagingDir, sweepStaging } from "../staging.js";
import { ensureStore, readRepositories, storePaths, type StorePaths } from "../store.js";
import { ByteSource, TarFormatError } from "../tar.js";
import { ArchiveMembers, type Member } from "./members.js";

const CONTEXT = "load";
const CONTAINERD_NAME = "io.containerd.image.name";
const OCI_REF_NAME = "org.opencontainers.image.ref.name";

export interface LoadOptions {
  /** `os/arch[/variant]` to pick from a multi-platform index; default: this machine's. */
  platform?: string;
}

export interface LoadResult {
  images: ResolvedImage[];
  /** What `docker load` prints: `Loaded image: name:tag` or `Loaded image ID: sha256:…`. */
  lines: string[];
}

interface PlannedLayer {
  member: Member;
  expect: LayerExpectation;
}

interface PlannedImage {
  config: Buffer;
  /** Exact manifest bytes from the archive; built after ingest when absent (legacy form). */
  manifest?: Buffer;
  layers: PlannedLayer[];
  chain: string[];
  /** Normalised references, in the archive's order. */
  refs: string[];
  /** Whether the archive named the image (else Docker prints its ID). */
  named: boolean;
}

/** The archive's bytes, decompressed if it is gzip or zstd (as `docker load` accepts). */
async function* archiveBytes(input: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < MAGIC_LENGTH) {
    const r = await it.next();
    if (r.done === true) {
      ended = true;
      break;
    }
    const b = typeof r.value === "string" ? Buffer.from(r.value) : r.value;
    head.push(b);
    length += b.length;
  }
  const compression = detectCompression(Buffer.concat(head), CONTEXT);
  async function* raw(): AsyncGenerator<Buffer> {
    yield* head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done === true) return;
      yield typeof r.value === "string" ? Buffer.from(r.value) : r.value;
    }
  }
  if (compression === "none") {
    yield* raw();
    return;
  }
  const dec = decompressor(compression);
  pipeline(Readable.from(raw()), dec, () => {});
  try {
    for await (const c of dec as AsyncIterable<Buffer>) yield c;
  } catch (e) {
    throw new ImageError(`${CONTEXT}: invalid ${compression} stream: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

interface Platform { os: string; architecture: string; variant?: string }

/** A descriptor as found in an index: with the platform it is for, if given. */
type IndexEntry = Descriptor & { platform?: Platform };

function parseDescriptor(v: unknown, where: string): IndexEntry {
  if (!isObject(v) || typeof v.mediaType !== "string" || typeof v.digest !== "string" ||
    typeof v.size !== "number" || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw new ImageError(`${CONTEXT}: ${where}: invalid descriptor`);
  }
  const d: IndexEntry = { mediaType: v.mediaType, digest: v.digest, size: v.size };
  if (isObject(v.annotations)) {
    d.annotations = Object.fromEntries(Object.entries(v.annotations).filter((e): e is [string, string] => typeof e[1] === "string"));
  }
  const p = v.platform;
  if (isObject(p) && typeof p.os === "string" && typeof p.architecture === "string") {
    d.platform = typeof p.variant === "string" ? { os: p.os, architecture: p.architecture, variant: p.variant } : { os: p.os, architecture: p.architecture };
  }
  return d;
}

function parseIndex(v: unknown, where: string): IndexEntry[] {
  if (!isObject(v) || v.schemaVersion !== 2 || !Array.isArray(v.manifests)) {
    throw new ImageError(`${CONTEXT}: ${where} is not a valid image index`);
  }
  if (typeof v.mediaType === "string" && !isIndexMediaType(v.mediaType)) {
    throw new ImageError(`${CONTEXT}: ${where}: unsupported index media type ${v.mediaType}`);
  }
  return v.manifests.map((d, i) => parseDescriptor(d, `${where} manifests[${i}]`));
}

function wantedPlatform(opts: LoadOptions): Platform {
  if (opts.platform === undefined) return { os: "linux", architecture: ociArchitecture() };
  const [os, architecture, variant] = opts.platform.split("/");
  if (os === undefined || os === "" || architecture === undefined || architecture === "") {
    throw new UsageError(`invalid platform ${JSON.stringify(opts.platform)}: expected os/arch[/variant]`);
  }
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** First manifest of an index for `want` (attestations and other platforms skipped). */
function pickPlatform(entries: IndexEntry[], want: Platform, where: string): IndexEntry {
  const candidates = entries.filter((d) => isManifestMediaType(d.mediaType) &&
    d.annotations?.["vnd.docker.reference.type"] !== "attestation-manifest");
  const match = candidates.find((d) => {
    const p = d.platform;
    return p !== undefined && p.os === want.os && p.architecture === want.architecture &&
      (want.variant === undefined || p.variant === want.variant);
  }) ?? (candidates.length === 1 && candidates[0]?.platform === undefined ? candidates[0] : undefined);
  if (match === undefined) {
    const shown = [want.os, want.architecture, want.variant].filter((x) => x !== undefined).join("/");
    throw new ImageError(`${CONTEXT}: ${where}: no image for platform ${shown}`);
  }
  return match;
}

/** A reference from manifest.json RepoTags: must be name:tag. */
function repoTag(s: unknown): string {
  if (typeof s !== "string") throw new ImageError(`${CONTEXT}: manifest.json: invalid tag ${JSON.stringify(s)}`);
  let ref;
  try {
    ref = parseNormalizedNamed(s);
  } catch {
    throw new ImageError(`${CONTEXT}: manifest.json: invalid tag ${JSON.stringify(s)}`);
  }
  if (ref.digest !== undefined) throw new ImageError(`${CONTEXT}: manifest.json: invalid tag ${JSON.stringify(s)}`);
  return referenceString(withDefaultTag(ref));
}

/** An index.json name: a full reference; a bare tag (`latest`) names no repository and is ignored. */
function indexName(d: Descriptor): string | undefined {
  const candidates = [d.annotations?.[CONTAINERD_NAME], d.annotations?.[OCI_REF_NAME]];
  for (const [i, s] of candidates.entries()) {
    if (s === undefined) continue;
    if (i === 1 && !/[/:]/.test(s)) continue;
    try {
      const ref = parseNormalizedNamed(s);
      // A digest-only name could not be shown as "Loaded image: …"; keep tagged names.
      if (ref.digest === undefined) return referenceString(withDefaultTag(ref));
    } catch {
      log().warn({ name: s }, "ignoring an invalid image name in index.json");
    }
  }
  return undefined;
}

/** The image's layers as the archive stores them, with what each must hash to. */
function planLayers(config: Buffer, layerPaths: Member[], descs: Descriptor[] | undefined): PlannedImage {
  const id = sha256(config);
  const diffIDs = parseImageConfig(config, id).rootfs.diff_ids;
  if (diffIDs.length !== layerPaths.length) {
    throw new ImageError(`${CONTEXT}: image ${id}: the archive has ${layerPaths.length} layers, its config lists ${diffIDs.length}`);
  }
  const layers = layerPaths.map((member, i): PlannedLayer => {
    const d = descs?.[i];
    const expect: LayerExpectation = { diffID: diffIDs[i] ?? "" };
    if (d !== undefined) Object.assign(expect, { digest: d.digest, size: d.size, mediaType: d.mediaType });
    return { member, expect };
  });
  return { config, layers, chain: chainIDs(diffIDs), refs: [], named: false };
}

/** Every image manifest reachable from index.json (one level of nested index, this platform). */
function layoutManifests(members: ArchiveMembers, want: Platform): { desc: Descriptor; names: string[] }[] {
  const out = new Map<string, { desc: Descriptor; names: string[] }>();
  const index = parseIndex(members.json(members.resolve("index.json")), "index.json");
  for (const [i, d] of index.entries()) {
    let desc: Descriptor | undefined;
    if (isManifestMediaType(d.mediaType)) {
      desc = d;
    } else if (isIndexMediaType(d.mediaType)) {
      const nested = parseIndex(members.json(members.blob(d.digest, d.size)), `index ${d.digest}`);
      desc = pickPlatform(nested, want, `index ${d.digest}`);
    } else {
      // The spec: unknown media types in an index must not be an error.
      log().debug({ entry: i, mediaType: d.mediaType }, "skipping index.json entry of unknown media type");
      continue;
    }
    const name = indexName(d);
    const seen = out.get(desc.digest) ?? { desc, names: [] };
    if (name !== undefined && !seen.names.includes(name)) seen.names.push(name);
    out.set(desc.digest, seen);
  }
  return [...out.values()];
}

function readImageManifest(members: ArchiveMembers, desc: Descriptor): { bytes: Buffer; config: Buffer; layers: Member[]; descs: Descriptor[] } {
  const bytes = members.read(members.blob(desc.digest, desc.size));
  const manifest = parseManifest(bytes, desc.digest);
  if (!isManifestMediaType(manifest.mediaType)) {
    throw new ImageError(`${CONTEXT}: unsupported manifest media type ${manifest.mediaType}`);
  }
  if (manifest.mediaType !== desc.mediaType) {
    throw new ImageError(`${CONTEXT}: manifest ${desc.digest} is ${manifest.mediaType}, its descriptor says ${desc.mediaType}`);
  }
  const config = members.read(members.blob(manifest.config.digest, manifest.config.size));
  const layers = manifest.layers.map((l) => members.blob(l.digest, l.size));
  return { bytes, config, layers, descs: manifest.layers };
}

/** Forms (a) and (b): manifest.json decides. */
function dockerPlans(members: ArchiveMembers, want: Platform): PlannedImage[] {
  const entries = members.json(members.resolve("manifest.json"));
  if (!Array.isArray(entries)) throw new ImageError(`${CONTEXT}: manifest.json is not a list of images`);
  // Form (b): the layout's manifests, by config digest, for their exact bytes.
  const exact = new Map<string, Descriptor>();
  if (members.has("index.json")) {
    try {
      for (const { desc } of layoutManifests(members, want)) {
        const m = parseManifest(members.read(members.blob(desc.digest, desc.size)), desc.digest);
        exact.set(m.config.digest, desc);
      }
    } catch (e) {
      // Docker before 25 never reads index.json: a broken one costs only the manifest digest.
      log().warn({ err: e instanceof Error ? e.message : String(e) }, "ignoring the archive's index.json");
      exact.clear();
    }
  }
  return entries.map((entry: unknown, i): PlannedImage => {
    if (!isObject(entry) || typeof entry.Config !== "string" || !Array.isArray(entry.Layers) ||
      !entry.Layers.every((l): l is string => typeof l === "string")) {
      throw new ImageError(`${CONTEXT}: manifest.json entry ${i} is invalid`);
    }
    const config = members.read(members.resolve(entry.Config, "config"));
    const layerMembers = entry.Layers.map((l) => members.resolve(l, "layer"));
    const tags = entry.RepoTags === null || entry.RepoTags === undefined ? [] : entry.RepoTags;
    if (!Array.isArray(tags)) throw new ImageError(`${CONTEXT}: manifest.json entry ${i}: RepoTags is not a list`);
    const desc = exact.get(sha256(config));
    let plan: PlannedImage;
    if (desc !== undefined) {
      const m = readImageManifest(members, desc);
      plan = planLayers(config, layerMembers, m.descs);
      plan.manifest = m.bytes;
    } else {
      plan = planLayers(config, layerMembers, undefined);
    }
    plan.refs = [...new Set(tags.map(repoTag))];
    plan.named = plan.refs.length > 0;
    return plan;
  });
}

/** Form (c): a plain OCI layout. */
function layoutPlans(members: ArchiveMembers, want: Platform): PlannedImage[] {
  if (members.has("oci-layout")) {
    const layout = members.json(members.resolve("oci-layout"));
    if (!isObject(layout) || layout.imageLayoutVersion !== "1.0.0") {
      throw new ImageError(`${CONTEXT}: unsupported oci-layout version ${JSON.stringify(isObject(layout) ? layout.imageLayoutVersion : layout)}`);
    }
  }
  const found = layoutManifests(members, want);
  if (found.length === 0) throw new ImageError(`${CONTEXT}: index.json lists no image`);
  return found.map(({ desc, names }) => {
    const m = readImageManifest(members, desc);
    const plan = planLayers(m.config, m.layers, m.descs);
    plan.manifest = m.bytes;
    plan.refs = names;
    plan.named = names.length > 0;
    return plan;
  });
}

/** Orders chain IDs so that every process takes shared locks in the same order (see withLayerLocks). */
function lockOrder(plans: PlannedImage[]): string[] {
  const depth = new Map<string, number>();
  for (const plan of plans) plan.chain.forEach((c, i) => depth.set(c, i));
  return [...depth.keys()].sort((a, b) => (depth.get(a) ?? 0) - (depth.get(b) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Ingests the layers not yet in the store and commits each image, in order. */
async function ingestAndCommit(root: string, p: StorePaths, members: ArchiveMembers, plans: PlannedImage[]): Promise<LoadResult> {
  const result: LoadResult = { images: [], lines: [] };
  const staged: IngestedLayer[] = [];
  try {
    // Write-back of the spooled layers starts now, overlapping the unpacks.
    for (const plan of plans) for (const l of plan.layers) void members.synced(l.member);
    await withLayerLocks(p, lockOrder(plans), async () => {
      // Which layers to unpack: holding the locks, whoever held one before has
      // committed its layer or given up. A chain shared by two images of this
      // archive is unpacked once and committed with the first.
      const tasks: { chainID: string; layer: PlannedLayer }[] = [];
      const taskOf = new Map<string, number>();
      const slots: (number | ExistingLayer)[][] = [];
      for (const plan of plans) {
        const row: (number | ExistingLayer)[] = [];
        for (const [i, l] of plan.layers.entries()) {
          const chainID = plan.chain[i] ?? "";
          const t = taskOf.get(chainID);
          if (t !== undefined) {
            row.push(t);
            continue;
          }
          if (hasLayer(p, chainID)) {
            const expectDigest = l.expect.digest;
            if (expectDigest !== undefined && l.member.digest !== expectDigest) {
              throw new ImageError(`${CONTEXT}: blob digest mismatch: expected ${expectDigest}, got ${l.member.digest}`);
            }
            // Not unpacked again, but its blob is stored (and saved later): it must be the layer the config names.
            await verifyDiffID(l);
            row.push({ existing: chainID, blob: { file: await members.detach(l.member), digest: l.member.digest } });
            continue;
          }
          taskOf.set(chainID, tasks.length);
          row.push(tasks.length);
          tasks.push({ chainID, layer: l });
        }
        slots.push(row);
      }
      // The layers unpack side by side, each in its own staging directory
      // (and, with the bundled CLI, its own worker thread).
      const abort = new AbortController();
      const done = await runLayerPool(tasks, DEFAULT_LAYER_CONCURRENCY, async ({ chainID, layer: l }) => {
        log().debug({ chainID, member: l.member.name }, "unpacking layer");
        // The member was hashed as it was spooled, and its fsync may be under way already.
        const layer = await ingestLayerFile(p, l.member.file, CONTEXT, l.expect, {
          digest: l.member.digest, synced: members.synced(l.member),
        }, abort.signal);
        staged.push(layer);
        log().debug({ chainID, size: layer.unpacked.size }, "layer unpacked");
        return layer;
      }, { stop: () => abort.abort() });
      const layersOf = slots.map((row) => row.map((x) => (typeof x === "number" ? done[x] as IngestedLayer : x)));
      for (const [k, plan] of plans.entries()) {
        const layers = layersOf[k] ?? [];
        const manifest = plan.manifest ?? builtManifest(plan, layers);
        const before = readRepositories(p);
        const id = sha256(plan.config);
        const image = commitImage(root, { manifest, config: plan.config, layers, refs: plan.refs });
        log().debug({ id }, "image committed");
        result.images.push(image);
        for (const ref of plan.refs) {
          const shown = familiarString(parseNormalizedNamed(ref));
          const previous = previousImage(p, before, ref);
          if (previous !== undefined && previous !== id) {
            result.lines.push(`The image ${shown} already exists, renaming the old one with ID ${previous} to empty string`);
          }
          result.lines.push(`Loaded image: ${shown}`);
        }
        if (!plan.named) result.lines.push(`Loaded image ID: ${id}`);
      }
    });
  } finally {
    for (const l of staged) fs.rmSync(l.staging, { recursive: true, force: true });
    // No fsync may still hold a spooled file when the spool is removed.
    await members.settled();
  }
  return result;
}

/**
 * Checks that a member the store will keep as the blob of an already unpacked
 * layer decompresses to the diff ID its config names (for an uncompressed
 * member, its digest from the spool is the diff ID).
 */
async function verifyDiffID(l: PlannedLayer): Promise<void> {
  const expected = l.expect.diffID;
  if (expected === undefined) return;
  const shown = JSON.stringify(l.member.name);
  let got: string;
  try {
    const compression = detectCompression(readMagic(l.member.file), CONTEXT);
    if (compression === "none") {
      got = l.member.digest;
    } else {
      const hash = createHash("sha256");
      const dec = decompressor(compression);
      const done = new Promise<void>((resolve, reject) => {
        pipeline(fs.createReadStream(l.member.file, { highWaterMark: 1 << 20 }), dec, (e) => (e ? reject(e) : resolve()));
      });
      for await (const c of dec as AsyncIterable<Buffer>) hash.update(c);
      await done;
      got = `sha256:${hash.digest("hex")}`;
    }
  } catch (e) {
    throw new ImageError(`${CONTEXT}: layer ${shown}: ${e instanceof Error ? e.message : String(e)}`, 125, { cause: e });
  }
  if (got !== expected) throw new ImageError(`${CONTEXT}: layer ${shown}: wrong diff ID: expected ${expected}, got ${got}`);
}

/** The image `ref` pointed at before this load (for Docker's "renaming the old one" line). */
function previousImage(p: StorePaths, repos: Record<string, string>, ref: string): string | undefined {
  const manifest = repos[ref];
  if (manifest === undefined) return undefined;
  try {
    return loadImage(p, manifest).id;
  } catch {
    return undefined;
  }
}

/** The legacy form has no manifest: one is built from what was ingested (OCI, uncompressed layers as stored). */
function builtManifest(plan: PlannedImage, layers: (IngestedLayer | ExistingLayer)[]): Buffer {
  const descs = layers.map((l, i): Descriptor => {
    if (!("existing" in l)) return { mediaType: l.mediaType, digest: l.digest, size: l.size };
    const member = plan.layers[i]?.member;
    if (member === undefined) throw new Error("unreachable: layer without a member");
    return { mediaType: layerMediaType(detectCompression(readMagic(member.file), CONTEXT)), digest: member.digest, size: member.size };
  });
  const config = { mediaType: OCI_CONFIG, digest: sha256(plan.config), size: plan.config.length };
  return Buffer.from(JSON.stringify(buildManifest(config, descs)));
}

export async function loadArchive(root: string, input: NodeJS.ReadableStream, opts: LoadOptions = {}): Promise<LoadResult> {
  const want = wantedPlatform(opts);
  const p = ensureStore(root);
  sweepStaging(p);
  const dir = makeStagingDir(p, "load");
  try {
    const src = new ByteSource(archiveBytes(input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]());
    let members: ArchiveMembers;
    try {
      members = await ArchiveMembers.spool(src, dir, CONTEXT);
    } catch (e) {
      (input as { destroy?: () => void }).destroy?.();
      throw asLoadError(e);
    }
    log().debug({ members: members.size }, "archive spooled");
    let plans: PlannedImage[];
    if (members.has("manifest.json")) plans = dockerPlans(members, want);
    else if (members.has("index.json")) plans = layoutPlans(members, want);
    else if (members.has("repositories")) throw new ImageError(`${CONTEXT}: legacy v1 archives (no manifest.json) are not supported`);
    else throw new ImageError(`${CONTEXT}: not an image archive: no manifest.json or index.json`);
    if (plans.length === 0) throw new ImageError(`${CONTEXT}: the archive holds no image`);
    return await ingestAndCommit(root, storePaths(root), members, plans);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function asLoadError(e: unknown): Error {
  if (e instanceof ImageError || e instanceof UsageError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof TarFormatError) return new ImageError(`${CONTEXT}: invalid tar archive: ${msg}`, 125, { cause: e });
  return new ImageError(`${CONTEXT}: ${msg}`, 125, { cause: e });
}
