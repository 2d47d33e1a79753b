// What the ingest (ingest.ts, main thread) and its unpack worker
// (ingest-worker.ts) send each other: the job, the input stream's messages,
// and the layer that comes back, with what the caller expects of it.

import type { Compression } from "./compression.js";
import type { UnpackResult } from "./unpack.js";

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

/** What a manifest and config say the layer must be; every field is optional. */
export interface LayerExpectation {
  /** Digest of the blob as received (compressed or not). */
  digest?: string;
  /** Size of the blob as received, in bytes. */
  size?: number;
  /** Digest of the uncompressed tar (config.rootfs.diff_ids). */
  diffID?: string;
  /** Must be a layer media type; compression is still read from the magic bytes. */
  mediaType?: string;
}

export interface IngestJob {
  staging: string;
  context: string;
  expect: LayerExpectation;
  /** A file to read (load); absent: the bytes come as messages. */
  file?: string;
  /** The file's sha256 when the caller knows it. */
  digest?: string;
  /** See shim-relay.ts. */
  relay: SharedArrayBuffer;
}

export type ToWorker =
  | { type: "data"; chunk: Uint8Array }
  | { type: "end" }
  | { type: "error"; message: string }
  | { type: "cancel" };

export type FromWorker =
  | { type: "ack" }
  | { type: "done"; layer: IngestedLayer }
  | { type: "failed"; message: string; exitCode: number };
