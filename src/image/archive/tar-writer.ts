// A small tar writer: docker-save archives (directories and regular files)
// and layer archives made from a container's read-write layer (every file
// type, owners, long names and xattrs through PAX records, as Go's
// archive/tar writes them for Docker). Writing the blocks directly keeps
// backpressure and a failing output (a closed pipe) in one place: every write
// waits for the output to take it, and the first output error fails the next.
import * as fs from "node:fs";

const BLOCK = 512;
/** Files up to this size are read whole (see entry). */
const SMALL_FILE = 1 << 20;

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

export type TarEntryType = "file" | "hardlink" | "symlink" | "char" | "block" | "dir" | "fifo";

const TYPE_FLAG: Record<TarEntryType, string> = { file: "0", hardlink: "1", symlink: "2", char: "3", block: "4", dir: "5", fifo: "6" };

export interface TarEntry {
  /** relative, without a leading "/" ("etc/motd"); a directory's gets its "/" here */
  name: string;
  type: TarEntryType;
  /** permission bits with setuid/setgid/sticky (07777) */
  mode: number;
  uid: number;
  gid: number;
  /** seconds since the epoch */
  mtime: number;
  /** a regular file's size (0 for the other types) */
  size?: number;
  /** a symlink's target, or the name a hard link repeats */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** extended attributes (PAX SCHILY.xattr records, as Docker's layers carry security.capability) */
  xattrs?: Record<string, Buffer>;
}

/** One PAX record: "<len> <key>=<value>\n", its length counting itself. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from("\n")]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

const fitsName = (s: string): boolean => Buffer.byteLength(s) <= 100 && /^[\x20-\x7e]*$/.test(s);
const MAX_ID = 0o7777777;

function rawHeader(e: TarEntry, name: string, linkname: string, typeflag: string, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  h.write(octal(e.mode & 0o7777, 8), 100, 8, "latin1");
  h.write(octal(Math.min(e.uid, MAX_ID), 8), 108, 8, "latin1");
  h.write(octal(Math.min(e.gid, MAX_ID), 8), 116, 8, "latin1");
  numeric(h, 124, 12, size);
  numeric(h, 136, 12, Math.max(0, Math.floor(e.mtime)));
  h.write("        ", 148, 8, "latin1");
  h.write(typeflag, 156, 1, "latin1");
  h.write(linkname, 157, 100, "utf8");
  h.write("ustar\x0000", 257, 8, "latin1");
  if (e.type === "char" || e.type === "block") {
    h.write(octal(e.devmajor ?? 0, 8), 329, 8, "latin1");
    h.write(octal(e.devminor ?? 0, 8), 337, 8, "latin1");
  }
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  return h;
}

/** The header block(s) of an entry: a PAX extended header first when a field does not fit ustar. */
function entryHeader(e: TarEntry): Buffer {
  const name = e.type === "dir" && !e.name.endsWith("/") ? `${e.name}/` : e.name;
  const linkname = e.linkname ?? "";
  const size = e.type === "file" ? e.size ?? 0 : 0;
  const records: Buffer[] = [];
  if (!fitsName(name)) records.push(paxRecord("path", Buffer.from(name)));
  if (!fitsName(linkname)) records.push(paxRecord("linkpath", Buffer.from(linkname)));
  if (e.uid > MAX_ID) records.push(paxRecord("uid", Buffer.from(String(e.uid))));
  if (e.gid > MAX_ID) records.push(paxRecord("gid", Buffer.from(String(e.gid))));
  for (const [k, v] of Object.entries(e.xattrs ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    records.push(paxRecord(`SCHILY.xattr.${k}`, v));
  }
  const main = rawHeader(e, fitsName(name) ? name : name.slice(0, 99).replace(/[^\x20-\x7e]/g, "_"),
    fitsName(linkname) ? linkname : "", TYPE_FLAG[e.type], size);
  if (records.length === 0) return main;
  const pax = Buffer.concat(records);
  const paxName = `PaxHeaders.0/${Buffer.from(name).subarray(0, 80).toString("latin1").replace(/[^\x20-\x7e]/g, "_")}`;
  const paxHeader = rawHeader({ ...e, type: "file", mode: 0o644 }, paxName, "", "x", pax.length);
  return Buffer.concat([paxHeader, pax, padding(pax.length), main]);
}

function header(name: string, type: "0" | "5", size: number, mode: number, mtime: Date): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar writer: name too long: ${name}`);
  return rawHeader({ name, type: type === "5" ? "dir" : "file", mode, uid: 0, gid: 0, mtime: mtime.getTime() / 1000 }, name, "", type, size);
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

  /**
   * Any entry; a regular file's content is read from `file`, a path or an
   * open descriptor (closed here), and must not change while being written.
   */
  async entry(e: TarEntry, file?: string | number): Promise<void> {
    const size = e.type === "file" ? e.size ?? 0 : 0;
    if (size > 0 && file === undefined) throw new Error(`tar writer: no content for ${e.name}`);
    // A small file in one read, header, content and padding in one write: no stream
    // object per file (a layer of thousands of small files spent more in those than in I/O).
    if (size > 0 && size <= SMALL_FILE && file !== undefined) {
      const fd = typeof file === "number" ? file : fs.openSync(file, "r");
      try {
        const body = Buffer.allocUnsafe(size);
        let got = 0;
        for (let n = 1; got < size && n > 0; got += n) n = fs.readSync(fd, body, got, size - got, null);
        if (got !== size || fs.readSync(fd, Buffer.alloc(1), 0, 1, null) !== 0) throw new Error(`tar writer: ${String(file)} changed while being written`);
        await this.write(Buffer.concat([entryHeader(e), body, padding(size)]));
      } finally {
        fs.closeSync(fd);
      }
      return;
    }
    const input = size === 0 || file === undefined ? undefined
      : typeof file === "number" ? fs.createReadStream("", { fd: file, highWaterMark: 1 << 20 })
        : fs.createReadStream(file, { highWaterMark: 1 << 20 });
    try {
      await this.write(entryHeader(e));
      if (input !== undefined) await this.content(input, size, String(file));
    } finally {
      input?.destroy();
      if (input === undefined && typeof file === "number") fs.closeSync(file);
    }
  }

  private async content(input: fs.ReadStream, size: number, file: string): Promise<void> {
    let written = 0;
    for await (const c of input as AsyncIterable<Buffer>) {
      const part = c.subarray(0, Math.max(0, size - written));
      written += part.length;
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
