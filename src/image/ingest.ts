// One pass over a layer archive as it arrives: the raw bytes are hashed and
// written to a staging blob, decompressed, hashed again (the diff ID) and
// unpacked into a staging layer directory. Nothing is buffered whole and
// nothing is visible in the store until the caller commits the result.
//
// What the caller already knows about the layer (from a manifest and config)
// is checked on the way: the blob's size as it streams (an oversized blob is
// cut off, not spooled), its digest and the diff ID once it has ended.
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import type { Duplex } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Worker } from "node:worker_threads";
import { ImageError, TsboxError } from "../errors.js";
// In the unpack worker (dist/unpack-worker.cjs) this import is shim-relay.ts: scripts/bundle.mjs swaps it.
import * as shim from "../native/shim.js";
import { writeAll } from "../util/atomic.js";
import { MAGIC_LENGTH, decompressor, detectCompression, layerMediaType, type Compression } from "./compression.js";
import { isDigest } from "./digest.js";
import { isLayerMediaType } from "./media-types.js";
import { makeStagingDir } from "./staging.js";
import { ByteSource, TarFormatError, readTar } from "./tar.js";
import { unpackLayer } from "./unpack.js";
import type { StorePaths } from "./store.js";
import type { FromWorker, IngestJob, IngestedLayer, LayerExpectation, ToWorker } from "./ingest-messages.js";
export type { IngestedLayer, LayerExpectation } from "./ingest-messages.js";
import { newRelayState, serveShimCalls, type ShimCall } from "./shim-relay.js";

function checkExpectation(expect: LayerExpectation, context: string): void {
  if (expect.mediaType !== undefined && !isLayerMediaType(expect.mediaType)) {
    throw new ImageError(`${context}: unsupported layer media type ${expect.mediaType}`);
  }
  for (const d of [expect.digest, expect.diffID]) {
    // Only sha256 is produced or stored; anything else cannot be verified.
    if (d !== undefined && !isDigest(d)) throw new ImageError(`${context}: unsupported or invalid digest ${JSON.stringify(d)}`);
  }
  if (expect.size !== undefined && !(Number.isSafeInteger(expect.size) && expect.size >= 0)) {
    throw new ImageError(`${context}: invalid layer size ${String(expect.size)}`);
  }
}

function asBuffer(c: Buffer | string): Buffer {
  return typeof c === "string" ? Buffer.from(c) : c;
}

/** Resolves when `d` can take more input; false if it was destroyed meanwhile. */
async function writable(d: Duplex, chunk: Buffer): Promise<boolean> {
  if (d.destroyed) return false;
  if (d.write(chunk)) return true;
  // Plain listeners: this runs once per input chunk, and an aborted
  // once(..., { signal }) allocates a DOMException each time.
  await new Promise<void>((resolve) => {
    const done = (): void => {
      d.off("drain", done);
      d.off("close", done);
      resolve();
    };
    d.on("drain", done);
    d.on("close", done);
  });
  return !d.destroyed;
}

/**
 * Stages one layer from `input` (plain, gzip or zstd tar). Any mismatch with
 * `expect`, a truncated or invalid archive, or an unsafe entry is an
 * ImageError naming `context`; the staging directory is then already gone.
 */
export async function ingestLayer(
  p: StorePaths, input: AsyncIterable<Buffer | string>, context: string, expect: LayerExpectation = {},
): Promise<IngestedLayer> {
  try {
    checkExpectation(expect, context);
  } catch (e) {
    (input as { destroy?: () => void }).destroy?.();
    throw e;
  }
  return ingestStaged(p, input, context, expect, undefined);
}

/**
 * ingestLayer for a blob already on disk in the store's filesystem (a load's
 * spooled archive member): it is read once and becomes the staged blob by a
 * hard link instead of a copy.
 */
export async function ingestLayerFile(
  p: StorePaths, file: string, context: string, expect: LayerExpectation = {}, known: KnownBlob = {}, signal?: AbortSignal,
): Promise<IngestedLayer> {
  checkExpectation(expect, context);
  signal?.throwIfAborted();
  const script = fs.statSync(file).size >= WORKER_MIN_BYTES ? unpackWorkerScript() : undefined;
  if (script !== undefined) {
    const staging = makeStagingDir(p, "layer");
    try {
      const layer = await ingestInWorker(script, { staging, context, expect, file, ...(known.digest !== undefined ? { digest: known.digest } : {}) }, undefined, signal);
      await (known.synced ?? fsyncFile(file));
      return layer;
    } catch (e) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw e;
    }
  }
  const input = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  const abort = (): void => { input.destroy(new Error("cancelled")); };
  signal?.addEventListener("abort", abort);
  try {
    return await ingestStaged(p, input, context, expect, { path: file, ...known });
  } finally {
    signal?.removeEventListener("abort", abort);
  }
}

/** What the caller already established about a blob file it hands to ingestLayerFile. */
export interface KnownBlob {
  /** The file's sha256, computed by the caller as it wrote the file (then it is not hashed again). */
  digest?: string;
  /** Settles when the file's content is on disk (the caller's fsync, started early to overlap the unpack). */
  synced?: Promise<void>;
}

interface BlobSource extends KnownBlob {
  path: string;
}

/** fsync on the thread pool: the disk catches up while the main thread goes on unpacking. */
export function fsyncFile(file: string): Promise<void> {
  return fs.promises.open(file, "r").then((fh) => fh.sync().finally(() => fh.close()));
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve())));
}

async function ingestStaged(
  p: StorePaths, input: AsyncIterable<Buffer | string>, context: string, expect: LayerExpectation, blobSource: BlobSource | undefined,
): Promise<IngestedLayer> {
  const staging = makeStagingDir(p, "layer");
  try {
    const small = expect.size !== undefined && expect.size < WORKER_MIN_BYTES;
    const script = blobSource === undefined && !small ? unpackWorkerScript() : undefined;
    if (script !== undefined) return await ingestInWorker(script, { staging, context, expect }, input, undefined);
    return await ingestInto(staging, input, context, expect, blobSource);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Decompresses, hashes and unpacks into `staging` (made by the caller, which
 * also removes it on failure). Runs on the main thread or in the unpack worker.
 */
export async function ingestInto(
  staging: string, input: AsyncIterable<Buffer | string>, context: string, expect: LayerExpectation, blobSource: BlobSource | undefined,
): Promise<IngestedLayer> {
  // Started now, so the write-back of a blob that is already on disk overlaps the unpack.
  const synced = blobSource === undefined ? undefined : (blobSource.synced ?? fsyncFile(blobSource.path));
  synced?.catch(() => {});
  const blobFile = path.join(staging, "blob");
  const layerDir = path.join(staging, "layer");
  const diffDir = path.join(layerDir, "diff");
  fs.mkdirSync(layerDir, 0o700);
  fs.mkdirSync(diffDir, 0o755);
  fs.chmodSync(diffDir, 0o755);

  const it = input[Symbol.asyncIterator]();
  const destroyInput = (): void => {
    const destroy = (input as { destroy?: unknown }).destroy;
    if (typeof destroy === "function") destroy.call(input);
  };
  const head: Buffer[] = [];
  let headLength = 0;
  let inputEnded = false;
  let compression: Compression;
  try {
    while (headLength < MAGIC_LENGTH) {
      const r = await it.next();
      if (r.done === true) {
        inputEnded = true;
        break;
      }
      const b = asBuffer(r.value);
      head.push(b);
      headLength += b.length;
    }
    compression = detectCompression(Buffer.concat(head), context);
  } catch (e) {
    destroyInput();
    throw asImageError(e, context);
  }
  const dec = decompressor(compression);
  // Errors surface through iteration of `dec`; this only keeps them from being unhandled.
  dec.on("error", () => {});

  const fd = blobSource === undefined ? fs.openSync(blobFile, "wx", 0o644) : undefined;
  // The raw bytes are hashed once: not at all when the caller knows their
  // digest, and for an uncompressed layer the diff ID hash is the same hash.
  const rawHash = blobSource?.digest !== undefined || compression === "none" ? undefined : createHash("sha256");
  let rawSize = 0;
  let aborted = false;
  // Set before the consumer can notice anything, so it can tell a failing
  // input (the root cause) from the fallout of its own abort.
  let inputFailure: unknown;

  // Producer: input → (hash, blob file) → decompressor.
  const pump = (async () => {
    const feed = async (chunk: Buffer): Promise<boolean> => {
      // After an abort the staging file may already be closed and removed.
      if (aborted) return false;
      if (expect.size !== undefined && rawSize + chunk.length > expect.size) {
        throw new ImageError(`${context}: size mismatch: expected ${expect.size} bytes, got more`);
      }
      rawHash?.update(chunk);
      rawSize += chunk.length;
      if (fd !== undefined) writeAll(fd, chunk);
      return writable(dec, chunk);
    };
    try {
      for (const c of head) if (!(await feed(c))) return;
      while (!inputEnded && !aborted) {
        const r = await it.next();
        if (r.done === true) {
          inputEnded = true;
          break;
        }
        if (!(await feed(asBuffer(r.value)))) return;
      }
      if (!aborted) dec.end();
    } catch (e) {
      if (!aborted) inputFailure = e;
      dec.destroy(e instanceof Error ? e : new Error(String(e)));
      throw e;
    } finally {
      if (!inputEnded) await it.return?.();
    }
  })();
  const pumpError = pump.then(() => undefined, (e: unknown) => e);

  // Consumer: decompressed bytes → diff ID hash → tar → layer directory.
  const diffHash = compression === "none" && blobSource?.digest !== undefined ? undefined : createHash("sha256");
  async function* plain(): AsyncGenerator<Buffer> {
    try {
      for await (const c of dec as AsyncIterable<Buffer>) {
        diffHash?.update(c);
        yield c;
      }
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw compression === "none" ? e : new TarFormatError(`${compression}: ${msg}`);
    }
  }
  const src = new ByteSource(plain());

  try {
    const unpacked = await unpackLayer(readTar(src), diffDir, { context });
    // Whatever follows the end-of-archive marker is still part of the layer's digests.
    await src.drain();
    const err = await pumpError;
    if (err !== undefined) throw err;
    const diffID = diffHash === undefined ? (blobSource?.digest ?? "") : `sha256:${diffHash.digest("hex")}`;
    const digest = rawHash !== undefined ? `sha256:${rawHash.digest("hex")}` : (blobSource?.digest ?? diffID);
    if (expect.size !== undefined && rawSize !== expect.size) {
      throw new ImageError(`${context}: size mismatch: expected ${expect.size} bytes, got ${rawSize}`);
    }
    if (expect.digest !== undefined && digest !== expect.digest) {
      throw new ImageError(`${context}: blob digest mismatch: expected ${expect.digest}, got ${digest}`);
    }
    if (expect.diffID !== undefined && diffID !== expect.diffID) {
      throw new ImageError(`${context}: wrong diff ID: expected ${expect.diffID}, got ${diffID}`);
    }
    if (fd !== undefined) {
      await fsyncFd(fd);
    } else {
      // A hard link: the same inode, made durable by `synced`.
      fs.linkSync(blobSource?.path ?? "", blobFile);
      await synced;
    }
    return {
      staging,
      blobFile,
      layerDir,
      digest,
      size: rawSize,
      mediaType: expect.mediaType ?? layerMediaType(compression),
      compression,
      diffID,
      unpacked,
    };
  } catch (e) {
    const cause = inputFailure ?? e;
    aborted = true;
    dec.destroy();
    // Unblocks a producer waiting for input that may never come.
    destroyInput();
    throw asImageError(cause, context);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function asImageError(e: unknown, context: string): Error {
  if (e instanceof TsboxError) return e;
  if (e instanceof TarFormatError) return new ImageError(`${context}: invalid tar archive: ${e.message}`, 125, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new ImageError(`${context}: ${msg}`, 125, { cause: e });
}

// ---- the unpack worker (see ingest-worker.ts) ----

let workerScript: string | null | undefined;

/**
 * The bundled worker next to the bundled CLI (dist/unpack-worker.cjs), or
 * undefined where there is none (sources run by tsx or vitest): the ingest
 * then runs on the main thread. TSBOX_UNPACK_WORKER=0 forces that;
 * TSBOX_UNPACK_WORKER=/path/to/unpack-worker.cjs names the worker (tests of
 * the sources use the built one).
 */
function unpackWorkerScript(): string | undefined {
  const env = process.env.TSBOX_UNPACK_WORKER;
  if (env === "0") return undefined;
  if (env !== undefined && env !== "") return env;
  if (workerScript === undefined) {
    let file: string | null = null;
    try {
      const f = fileURLToPath(new URL("./unpack-worker.cjs", import.meta.url));
      if (fs.existsSync(f)) file = f;
    } catch {
      file = null;
    }
    workerScript = file;
  }
  return workerScript ?? undefined;
}

/**
 * Layers smaller than this (blob bytes, when known) unpack on the main
 * thread: starting a worker costs ~30 ms (measured: a 120-layer image of tiny
 * layers took 4.2 s with a worker each, 0.7 s without), about what unpacking
 * 2–3 MB costs.
 */
const WORKER_MIN_BYTES = 4 << 20;

/** Chunks in flight to a worker: enough to keep it busy, little memory. */
const WINDOW = 8;

/** A chunk whose ArrayBuffer can be moved to the worker: the chunk itself if it owns its buffer, else a copy. */
function ownBuffer(b: Buffer): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer ? b : new Uint8Array(b);
}

function post(worker: Worker, m: ToWorker): void {
  if (m.type !== "data") {
    worker.postMessage(m);
    return;
  }
  try {
    worker.postMessage(m, [m.chunk.buffer as ArrayBuffer]);
  } catch {
    // An untransferable buffer (Node marks some of its own): copied instead.
    const copy = new Uint8Array(m.chunk);
    worker.postMessage({ type: "data", chunk: copy } satisfies ToWorker, [copy.buffer]);
  }
}

/**
 * Runs ingestInto in a worker of its own, fed from `input` (or reading
 * job.file). Settles only when the worker has exited, so no descriptor of it
 * is left open and the caller may remove the staging directory. An abort of
 * `signal` (another layer failed) cancels it.
 */
async function ingestInWorker(
  script: string, job: Omit<IngestJob, "relay">, input: AsyncIterable<Buffer | string> | undefined, signal: AbortSignal | undefined,
): Promise<IngestedLayer> {
  const { Worker } = await import("node:worker_threads");
  const relay = newRelayState();
  const worker = new Worker(script, { workerData: { ...job, relay } satisfies IngestJob });
  const serve = serveShimCalls(relay, shim);
  let settled: FromWorker | undefined;
  let credits = WINDOW;
  let wakePump: (() => void) | undefined;
  const wake = (): void => {
    const w = wakePump;
    wakePump = undefined;
    w?.();
  };
  let crash: unknown;
  const exited = new Promise<void>((resolve) => {
    worker.on("message", (m: FromWorker | ShimCall) => {
      if (m.type === "shim") serve(m);
      else if (m.type === "ack") credits++;
      else settled ??= m;
      wake();
    });
    worker.once("error", (e) => { crash ??= e; });
    worker.once("exit", () => {
      settled ??= { type: "failed", message: `${job.context}: unpack worker stopped: ${crash instanceof Error ? crash.message : "no result"}`, exitCode: 125 };
      wake();
      resolve();
    });
  });
  const cancel = (): void => post(worker, { type: "cancel" });
  if (signal?.aborted === true) cancel();
  signal?.addEventListener("abort", cancel);

  let inputError: unknown;
  const pump = input === undefined ? Promise.resolve() : (async () => {
    try {
      for await (const c of input) {
        while (credits <= 0 && settled === undefined) await new Promise<void>((resolve) => { wakePump = resolve; });
        if (settled !== undefined) break;
        credits--;
        post(worker, { type: "data", chunk: ownBuffer(asBuffer(c)) });
      }
      if (settled === undefined) post(worker, { type: "end" });
    } catch (e) {
      if (settled === undefined) {
        inputError = e;
        post(worker, { type: "error", message: e instanceof Error ? e.message : String(e) });
      }
    }
  })();

  try {
    await exited;
  } finally {
    signal?.removeEventListener("abort", cancel);
  }
  const result = settled as FromWorker | undefined;
  if (result?.type !== "done") {
    // Stops a download the worker no longer reads.
    (input as { destroy?: () => void } | undefined)?.destroy?.();
  }
  await pump;
  if (result?.type === "done") return result.layer;
  if (inputError !== undefined) throw asImageError(inputError, job.context);
  throw new ImageError(result?.type === "failed" ? result.message : `${job.context}: unpack worker failed`, result?.type === "failed" ? result.exitCode : 125);
}
