// One pass over a layer archive as it arrives: the raw bytes are hashed and
// written to a staging blob, decompressed, hashed again (the diff ID) and
// unpacked into a staging layer directory. Nothing is buffered whole and
// nothing is visible in the store until the caller commits the result.
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { once } from "node:events";
import type { Duplex } from "node:stream";
import { ImageError, TsboxError } from "../errors.js";
import { writeAll } from "../util/atomic.js";
import { MAGIC_LENGTH, decompressor, detectCompression, layerMediaType, type Compression } from "./compression.js";
import { ByteSource, TarFormatError, readTar } from "./tar.js";
import { unpackLayer, type UnpackResult } from "./unpack.js";
import type { StorePaths } from "./store.js";

export interface IngestedLayer {
  /** Staging directory; the caller removes it after committing (or on failure). */
  staging: string;
  /** The archive exactly as received (fsynced). */
  blobFile: string;
  /** Holds `diff/`, ready for commitLayer. */
  layerDir: string;
  digest: string;
  size: number;
  mediaType: string;
  compression: Compression;
  diffID: string;
  unpacked: UnpackResult;
}

function asBuffer(c: Buffer | string): Buffer {
  return typeof c === "string" ? Buffer.from(c) : c;
}

/** Resolves when `d` can take more input; false if it was destroyed meanwhile. */
async function writable(d: Duplex, chunk: Buffer): Promise<boolean> {
  if (d.destroyed) return false;
  if (d.write(chunk)) return true;
  const ac = new AbortController();
  try {
    await Promise.race([once(d, "drain", { signal: ac.signal }), once(d, "close", { signal: ac.signal })]);
  } catch {
    return false;
  } finally {
    ac.abort();
  }
  return !d.destroyed;
}

export async function ingestLayer(p: StorePaths, input: AsyncIterable<Buffer | string>, context: string): Promise<IngestedLayer> {
  const staging = fs.mkdtempSync(path.join(p.tmp, "layer-"));
  try {
    return await ingestInto(staging, input, context);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

async function ingestInto(staging: string, input: AsyncIterable<Buffer | string>, context: string): Promise<IngestedLayer> {
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

  const fd = fs.openSync(blobFile, "wx", 0o644);
  const rawHash = createHash("sha256");
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
      rawHash.update(chunk);
      rawSize += chunk.length;
      writeAll(fd, chunk);
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
  const diffHash = createHash("sha256");
  async function* plain(): AsyncGenerator<Buffer> {
    try {
      for await (const c of dec as AsyncIterable<Buffer>) {
        diffHash.update(c);
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
    fs.fsyncSync(fd);
    return {
      staging,
      blobFile,
      layerDir,
      digest: `sha256:${rawHash.digest("hex")}`,
      size: rawSize,
      mediaType: layerMediaType(compression),
      compression,
      diffID: `sha256:${diffHash.digest("hex")}`,
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
    fs.closeSync(fd);
  }
}

function asImageError(e: unknown, context: string): Error {
  if (e instanceof TsboxError) return e;
  if (e instanceof TarFormatError) return new ImageError(`${context}: invalid tar archive: ${e.message}`, 125, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new ImageError(`${context}: ${msg}`, 125, { cause: e });
}
