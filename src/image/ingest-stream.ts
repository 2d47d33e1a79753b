// One pass over a layer archive as it arrives: the raw bytes are hashed and
// written to a staging blob, decompressed, hashed again (the diff ID) and
// unpacked into a staging layer directory. Nothing is buffered whole and
// nothing is visible in the store until the caller commits the result.
//
// What the caller already knows about the layer (from a manifest and config)
// is checked on the way: the blob's size as it streams (an oversized blob is
// cut off, not spooled), its digest and the diff ID once it has ended.
//
// This runs on the main thread or in the unpack worker (ingest.ts decides),
// so nothing here may import native/: the host calls come as a parameter.
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import type { Duplex } from "node:stream";
import { ImageError, TsboxError } from "../errors.js";
import { writeAll } from "../util/atomic.js";
import { MAGIC_LENGTH, decompressor, detectCompression, layerMediaType, type Compression } from "./compression.js";
import type { LayerHostCalls } from "./host-calls.js";
import type { IngestedLayer, LayerExpectation } from "./ingest-messages.js";
import { ByteSource, TarFormatError, readTar } from "./tar.js";
import { unpackLayer } from "./unpack.js";

export function asBuffer(c: Buffer | string): Buffer {
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


/** What the caller already established about a blob file it hands to ingestLayerFile. */
export interface KnownBlob {
  /** The file's sha256, computed by the caller as it wrote the file (then it is not hashed again). */
  digest?: string;
  /** Settles when the file's content is on disk (the caller's fsync, started early to overlap the unpack). */
  synced?: Promise<void>;
}

export interface BlobSource extends KnownBlob {
  path: string;
}

/** fsync on the thread pool: the disk catches up while the main thread goes on unpacking. */
export function fsyncFile(file: string): Promise<void> {
  return fs.promises.open(file, "r").then((fh) => fh.sync().finally(() => fh.close()));
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve())));
}


/**
 * Decompresses, hashes and unpacks into `staging` (made by the caller, which
 * also removes it on failure). Runs on the main thread or in the unpack
 * worker, each passing its own `host` calls (see host-calls.ts).
 */
export async function ingestInto(
  staging: string, input: AsyncIterable<Buffer | string>, context: string, expect: LayerExpectation, blobSource: BlobSource | undefined,
  host: LayerHostCalls,
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
    const unpacked = await unpackLayer(readTar(src), diffDir, { context, host });
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

export function asImageError(e: unknown, context: string): Error {
  if (e instanceof TsboxError) return e;
  if (e instanceof TarFormatError) return new ImageError(`${context}: invalid tar archive: ${e.message}`, 125, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new ImageError(`${context}: ${msg}`, 125, { cause: e });
}
