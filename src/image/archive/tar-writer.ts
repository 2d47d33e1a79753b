// A small ustar writer for `save`: directories and regular files with short
// names are all a docker-save archive holds. Writing the blocks directly keeps
// backpressure and a failing output (a closed pipe) in one place: every write
// waits for the output to take it, and the first output error fails the next.
import * as fs from "node:fs";

const BLOCK = 512;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, "0")}\0`;
}

/** Numeric field: octal when it fits, else GNU base-256 (sizes past 8 GiB). */
function numeric(buf: Buffer, off: number, width: number, n: number): void {
  if (n < 8 ** (width - 1)) {
    buf.write(octal(n, width), off, width, "latin1");
    return;
  }
  let v = BigInt(n);
  for (let i = width - 1; i > 0; i--) {
    buf[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[off] = 0x80;
}

function header(name: string, type: "0" | "5", size: number, mode: number, mtime: Date): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar writer: name too long: ${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100, 8, "latin1");
  h.write(octal(0, 8), 108, 8, "latin1");
  h.write(octal(0, 8), 116, 8, "latin1");
  numeric(h, 124, 12, size);
  numeric(h, 136, 12, Math.max(0, Math.floor(mtime.getTime() / 1000)));
  h.write("        ", 148, 8, "latin1");
  h.write(type, 156, 1, "latin1");
  h.write("ustar\x0000", 257, 8, "latin1");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  return h;
}

const padding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

export class TarWriter {
  private error: Error | undefined;
  private readonly onError = (e: Error): void => {
    this.error ??= e;
  };

  constructor(private readonly out: NodeJS.WritableStream) {
    out.on("error", this.onError);
  }

  /** Resolves once `out` has taken `b` (or has room for more); rejects on an output error. */
  private async write(b: Buffer): Promise<void> {
    if (this.error !== undefined) throw this.error;
    const more = this.out.write(b, (e?: Error | null) => {
      if (e) this.onError(e);
    });
    if (more) return;
    await new Promise<void>((resolve, reject) => {
      const done = (e?: Error): void => {
        this.out.off("drain", done);
        this.out.off("error", done);
        if (e) reject(e);
        else resolve();
      };
      this.out.on("drain", done);
      this.out.on("error", done);
    });
  }

  async dir(name: string, mtime: Date): Promise<void> {
    await this.write(header(name.endsWith("/") ? name : `${name}/`, "5", 0, 0o755, mtime));
  }

  async file(name: string, data: Buffer | string, mtime: Date): Promise<void> {
    const b = typeof data === "string" ? Buffer.from(data) : data;
    await this.write(header(name, "0", b.length, 0o644, mtime));
    await this.write(b);
    await this.write(padding(b.length));
  }

  /** Streams a file's content (each chunk also to `seen`); it must not change while being written. */
  async fileFrom(name: string, file: string, mtime: Date, seen?: (chunk: Buffer) => void): Promise<void> {
    const size = fs.statSync(file).size;
    await this.write(header(name, "0", size, 0o644, mtime));
    let written = 0;
    for await (const c of fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      const part = c.subarray(0, Math.max(0, size - written));
      written += part.length;
      seen?.(part);
      await this.write(part);
    }
    if (written !== size) throw new Error(`tar writer: ${file} changed while being written`);
    await this.write(padding(size));
  }

  /** Writes the end-of-archive blocks and waits until the output has taken everything. */
  async end(): Promise<void> {
    await this.write(Buffer.alloc(2 * BLOCK));
    await new Promise<void>((resolve, reject) => this.out.write(Buffer.alloc(0), (e?: Error | null) => (e ? reject(e) : resolve())));
    if (this.error !== undefined) throw this.error;
  }

  /** The output's own error, if it failed (what a caller should report). */
  get outputError(): Error | undefined {
    return this.error;
  }

  /** Stops listening; a late error on `out` (EPIPE after the failure) stays handled. */
  close(): void {
    this.out.on("error", () => {});
    this.out.off("error", this.onError);
  }
}
