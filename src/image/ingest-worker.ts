// Entry of the unpack worker (bundled as dist/unpack-worker.cjs): one layer per
// worker, so that the layers of an image decompress, hash and unpack on
// several cores while the main thread only downloads, spools and commits.
// The main thread made the staging directory and removes it on failure; this
// side runs ingestInto and reports its result or its one-line error. Its
// mknod and setxattr go to the main thread (relayedHostCalls): this bundle
// never loads ffi-rs.
//
// Input is either a file (a load's spooled member, read here) or a stream fed
// by the main thread: "data" messages carrying transferred ArrayBuffers, each
// acknowledged when the unpacker takes it (the main thread keeps a few in
// flight), then "end" or "error". "cancel" aborts the ingest the way a failing
// input does: the unpacker stops, closes its descriptors and reports.
import * as fs from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import type { MessagePort } from "node:worker_threads";
import { TsboxError } from "../errors.js";
import type { FromWorker, IngestJob, ToWorker } from "./ingest-messages.js";
import { ingestInto } from "./ingest-stream.js";
import { relayedHostCalls } from "./shim-relay.js";

/** Bytes from the main thread, as an async iterable the ingest can destroy. */
class PortInput implements AsyncIterable<Buffer> {
  private queue: Buffer[] = [];
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly port: MessagePort) {}

  push(chunk: Uint8Array): void {
    this.queue.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.poke();
  }

  end(): void {
    this.ended = true;
    this.poke();
  }

  destroy(e?: Error): void {
    this.failure ??= e ?? new Error("input closed");
    this.queue = [];
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const c = this.queue.shift();
      if (c !== undefined) {
        this.port.postMessage({ type: "ack" } satisfies FromWorker);
        yield c;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
  }
}

async function main(port: MessagePort, job: IngestJob): Promise<void> {
  let input: AsyncIterable<Buffer | string> & { destroy(e?: Error): void };
  let portInput: PortInput | undefined;
  if (job.file !== undefined) {
    input = fs.createReadStream(job.file, { highWaterMark: 1 << 20 });
  } else {
    portInput = new PortInput(port);
    input = portInput;
  }
  port.on("message", (m: ToWorker) => {
    switch (m.type) {
      case "data": portInput?.push(m.chunk); break;
      case "end": portInput?.end(); break;
      case "error": input.destroy(new Error(m.message)); break;
      case "cancel": input.destroy(new Error("cancelled")); break;
    }
  });
  let reply: FromWorker;
  try {
    const blob = job.file === undefined ? undefined : {
      path: job.file,
      ...(job.digest !== undefined ? { digest: job.digest } : {}),
      // The main thread waits for the blob's fsync itself.
      synced: Promise.resolve(),
    };
    const layer = await ingestInto(job.staging, input, job.context, job.expect, blob, relayedHostCalls);
    reply = { type: "done", layer };
  } catch (e) {
    reply = {
      type: "failed",
      message: e instanceof Error ? e.message : String(e),
      exitCode: e instanceof TsboxError ? e.exitCode : 125,
    };
  }
  port.postMessage(reply);
  // Nothing more to receive: the worker exits once its last descriptors are closed.
  port.removeAllListeners("message");
  port.unref();
}

if (parentPort !== null) void main(parentPort, workerData as IngestJob);
