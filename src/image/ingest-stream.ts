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
import { createHash, type Hash } from "node:crypto";
import { open as openFile } from "node:fs/promises";
import type { Duplex } from "node:stream";
import { ImageError, TsboxError } from "../errors.js";
import { writeAll } from "../util/atomic.js";
import { MAGIC_LENGTH, decompressor, detectCompression, layerMediaType, type Compression } from "./compression.js";
import type { LayerHostCalls } from "./host-calls.js";
import type { IngestedLayer, LayerExpectation } from "./ingest-messages.js";
import { ByteSource, TarFormatError, readTar } from "./tar.js";
import { unpackLayer, type UnpackResult } from "./unpack.js";

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
  return openFile(file, "r").then((fh) => fh.sync().finally(() => fh.close()));
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
  const { blobFile, layerDir, diffDir } = makeLayerDirs(staging);

  const it = input[Symbol.asyncIterator]();
  const destroyInput = (): void => {
    const destroy = (input as { destroy?: unknown }).destroy;
    if (typeof destroy === "function") destroy.call(input);
  };
  const head = await readHead(it, context, destroyInput);
  const { compression } = head;
  const dec = decompressor(compression);
  // Errors surface through iteration of `dec`; this only keeps them from being unhandled.
  dec.on("error", () => {});

  const fd = blobSource === undefined ? fs.openSync(blobFile, "wx", 0o644) : undefined;
  const hashes = layerHashes(compression, blobSource?.digest);
  const raw = new RawPump(it, head, dec, fd, hashes.raw, expect, context);
  try {
    const unpacked = await unpackDecompressed(dec, compression, hashes.diff, diffDir, context, host);
    const err = await raw.error;
    if (err !== undefined) throw err;
    const { digest, diffID } = layerDigests(hashes, blobSource?.digest);
    checkReceived(expect, { size: raw.size, digest, diffID }, context);
    await makeBlobDurable(fd, blobSource, blobFile, synced);
    return {
      staging,
      blobFile,
      layerDir,
      digest,
      size: raw.size,
      mediaType: expect.mediaType ?? layerMediaType(compression),
      compression,
      diffID,
      unpacked,
    };
  } catch (e) {
    const cause = raw.failure ?? e;
    raw.abort();
    dec.destroy();
    // Unblocks a producer waiting for input that may never come.
    destroyInput();
    throw asImageError(cause, context);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** `staging`'s layout: the blob as received, and the layer directory holding `diff/`. */
function makeLayerDirs(staging: string): { blobFile: string; layerDir: string; diffDir: string } {
  const blobFile = path.join(staging, "blob");
  const layerDir = path.join(staging, "layer");
  const diffDir = path.join(layerDir, "diff");
  fs.mkdirSync(layerDir, 0o700);
  fs.mkdirSync(diffDir, 0o755);
  fs.chmodSync(diffDir, 0o755);
  return { blobFile, layerDir, diffDir };
}

interface ArchiveHead {
  /** The first chunks of the input, at least the compression's magic bytes unless the input ended. */
  chunks: Buffer[];
  ended: boolean;
  compression: Compression;
}

/** Reads enough of the input to tell its compression from the magic bytes; on failure the input is destroyed. */
async function readHead(it: AsyncIterator<Buffer | string>, context: string, destroyInput: () => void): Promise<ArchiveHead> {
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  try {
    while (length < MAGIC_LENGTH) {
      const r = await it.next();
      if (r.done === true) {
        ended = true;
        break;
      }
      const b = asBuffer(r.value);
      chunks.push(b);
      length += b.length;
    }
    return { chunks, ended, compression: detectCompression(Buffer.concat(chunks), context) };
  } catch (e) {
    destroyInput();
    throw asImageError(e, context);
  }
}

interface LayerHashes {
  /** Of the bytes as received (the blob digest). */
  raw: Hash | undefined;
  /** Of the decompressed tar (the diff ID). */
  diff: Hash | undefined;
}

/**
 * The raw bytes are hashed once: not at all when the caller knows their
 * digest, and for an uncompressed layer the diff ID hash is the same hash.
 */
function layerHashes(compression: Compression, knownDigest: string | undefined): LayerHashes {
  return {
    raw: knownDigest !== undefined || compression === "none" ? undefined : createHash("sha256"),
    diff: compression === "none" && knownDigest !== undefined ? undefined : createHash("sha256"),
  };
}

function layerDigests(hashes: LayerHashes, knownDigest: string | undefined): { digest: string; diffID: string } {
  const diffID = hashes.diff === undefined ? (knownDigest ?? "") : `sha256:${hashes.diff.digest("hex")}`;
  const digest = hashes.raw !== undefined ? `sha256:${hashes.raw.digest("hex")}` : (knownDigest ?? diffID);
  return { digest, diffID };
}

/**
 * Producer: input → (size check, raw hash, blob file) → decompressor. Starts
 * at once; `error` settles with its failure (or undefined) when it stops.
 */
class RawPump {
  /** Bytes received so far. */
  size = 0;
  /**
   * Set before the consumer can notice anything, so it can tell a failing
   * input (the root cause) from the fallout of its own abort.
   */
  failure: unknown;
  readonly error: Promise<unknown>;
  private aborted = false;
  private inputEnded: boolean;

  constructor(
    private readonly it: AsyncIterator<Buffer | string>,
    private readonly head: ArchiveHead,
    private readonly dec: Duplex,
    private readonly fd: number | undefined,
    private readonly rawHash: Hash | undefined,
    private readonly expect: LayerExpectation,
    private readonly context: string,
  ) {
    this.inputEnded = head.ended;
    this.error = this.run().then(() => undefined, (e: unknown) => e);
  }

  /** The consumer gave up: no more bytes go to the blob file or the decompressor. */
  abort(): void {
    this.aborted = true;
  }

  private async feed(chunk: Buffer): Promise<boolean> {
    // After an abort the staging file may already be closed and removed.
    if (this.aborted) return false;
    if (this.expect.size !== undefined && this.size + chunk.length > this.expect.size) {
      throw new ImageError(`${this.context}: size mismatch: expected ${this.expect.size} bytes, got more`);
    }
    this.rawHash?.update(chunk);
    this.size += chunk.length;
    if (this.fd !== undefined) writeAll(this.fd, chunk);
    return writable(this.dec, chunk);
  }

  private async run(): Promise<void> {
    try {
      for (const c of this.head.chunks) if (!(await this.feed(c))) return;
      while (!this.inputEnded && !this.aborted) {
        const r = await this.it.next();
        if (r.done === true) {
          this.inputEnded = true;
          break;
        }
        if (!(await this.feed(asBuffer(r.value)))) return;
      }
      if (!this.aborted) this.dec.end();
    } catch (e) {
      if (!this.aborted) this.failure = e;
      this.dec.destroy(e instanceof Error ? e : new Error(String(e)));
      throw e;
    } finally {
      if (!this.inputEnded) await this.it.return?.();
    }
  }
}

/** Consumer: decompressed bytes → diff ID hash → tar → layer directory, then whatever follows the archive. */
async function unpackDecompressed(
  dec: Duplex, compression: Compression, diffHash: Hash | undefined, diffDir: string, context: string, host: LayerHostCalls,
): Promise<UnpackResult> {
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
  const unpacked = await unpackLayer(readTar(src), diffDir, { context, host });
  // Whatever follows the end-of-archive marker is still part of the layer's digests.
  await src.drain();
  return unpacked;
}

/** The layer as received against what the caller expected of it. */
function checkReceived(expect: LayerExpectation, got: { size: number; digest: string; diffID: string }, context: string): void {
  if (expect.size !== undefined && got.size !== expect.size) {
    throw new ImageError(`${context}: size mismatch: expected ${expect.size} bytes, got ${got.size}`);
  }
  if (expect.digest !== undefined && got.digest !== expect.digest) {
    throw new ImageError(`${context}: blob digest mismatch: expected ${expect.digest}, got ${got.digest}`);
  }
  if (expect.diffID !== undefined && got.diffID !== expect.diffID) {
    throw new ImageError(`${context}: wrong diff ID: expected ${expect.diffID}, got ${got.diffID}`);
  }
}

/** The staged blob on disk: the file written here fsynced, or the caller's file hard-linked once `synced`. */
async function makeBlobDurable(
  fd: number | undefined, blobSource: BlobSource | undefined, blobFile: string, synced: Promise<void> | undefined,
): Promise<void> {
  if (fd !== undefined) {
    await fsyncFd(fd);
  } else {
    // A hard link: the same inode, made durable by `synced`.
    fs.linkSync(blobSource?.path ?? "", blobFile);
    await synced;
  }
}

export function asImageError(e: unknown, context: string): Error {
  if (e instanceof TsboxError) return e;
  if (e instanceof TarFormatError) return new ImageError(`${context}: invalid tar archive: ${e.message}`, 125, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new ImageError(`${context}: ${msg}`, 125, { cause: e });
}
