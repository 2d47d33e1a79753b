// Stages layers for pull, load and import: which thread runs the ingest
// (ingest-stream.ts) of a layer, the main thread for small layers, else an
// unpack worker of its own (ingest-worker.ts, bundled as
// dist/unpack-worker.cjs), fed from here; and the staging directory it fills,
// removed here when the ingest fails.
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import type { Worker } from "node:worker_threads";
import { ImageError } from "../errors.js";
import { mknodBeneath, setxattrBeneath } from "../native/shim.js";
import { isDigest } from "./digest.js";
import type { LayerHostCalls } from "./host-calls.js";
import type { FromWorker, IngestJob, IngestedLayer, LayerExpectation, ToWorker } from "./ingest-messages.js";
export type { IngestedLayer, LayerExpectation } from "./ingest-messages.js";
import { asBuffer, asImageError, fsyncFile, ingestInto, type BlobSource, type KnownBlob } from "./ingest-stream.js";
import { isLayerMediaType } from "./media-types.js";
import { newRelayState, serveShimCalls, type ShimCall } from "./shim-relay.js";
import { makeStagingDir } from "./staging.js";
import type { StorePaths } from "./store.js";

/** The main thread's host calls: the native binding itself. */
const nativeHostCalls: LayerHostCalls = { mknodBeneath, setxattrBeneath };

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

async function ingestStaged(
  p: StorePaths, input: AsyncIterable<Buffer | string>, context: string, expect: LayerExpectation, blobSource: BlobSource | undefined,
): Promise<IngestedLayer> {
  const staging = makeStagingDir(p, "layer");
  try {
    const small = expect.size !== undefined && expect.size < WORKER_MIN_BYTES;
    const script = blobSource === undefined && !small ? unpackWorkerScript() : undefined;
    if (script !== undefined) return await ingestInWorker(script, { staging, context, expect }, input, undefined);
    return await ingestInto(staging, input, context, expect, blobSource, nativeHostCalls);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
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
  const serve = serveShimCalls(relay, nativeHostCalls);
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
