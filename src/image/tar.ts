// A streaming tar reader (ustar, GNU long names, PAX). tar-stream decodes PAX
// records as UTF-8 text, which corrupts binary xattr values such as
// security.capability; layers need them byte-exact, so records stay Buffers
// here. Semantics follow Go's archive/tar, which is what produced and
// consumes most image layers.

export class TarFormatError extends Error {}

export type TarEntryType = "file" | "link" | "symlink" | "char" | "block" | "dir" | "fifo";

export interface TarHeader {
  /** As stored in the archive (after GNU long name / PAX path overrides). */
  name: string;
  type: TarEntryType;
  /** Permission bits including setuid, setgid and sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content; 0 for every type but "file". */
  size: number;
  /** Seconds since the epoch, fractional when PAX gives sub-second precision. */
  mtime: number;
  atime?: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** From PAX `SCHILY.xattr.<name>` records. */
  xattrs: Map<string, Buffer>;
}

export interface TarEntry {
  header: TarHeader;
  /** Must be consumed (or abandoned) before asking for the next entry. */
  body: AsyncIterable<Buffer>;
}

const BLOCK = 512;
// Like Go's maxSpecialFileSize: long names and PAX headers are held in memory.
const MAX_SPECIAL_SIZE = 1 << 20;
const BODY_CHUNK = 1 << 20;

/** Pull-based byte reader over an async iterator, so the caller can keep reading past the archive's end. */
export class ByteSource {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;

  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.it.next();
    if (r.done === true) {
      this.ended = true;
      return false;
    }
    if (r.value.length > 0) {
      this.chunks.push(r.value);
      this.buffered += r.value.length;
    }
    return true;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const c = this.chunks[0];
      if (c === undefined) break;
      if (c.length <= need) {
        parts.push(c);
        this.chunks.shift();
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    this.buffered -= n - need;
    return Buffer.concat(parts);
  }

  /** Exactly `n` bytes, or fewer only when the input ends. */
  async read(n: number): Promise<Buffer> {
    while (this.buffered < n && (await this.pull()));
    return this.take(Math.min(n, this.buffered));
  }

  /** Between 1 and `max` bytes; empty only when the input ends. */
  async readSome(max: number): Promise<Buffer> {
    while (this.buffered === 0 && (await this.pull()));
    return this.take(Math.min(max, this.buffered));
  }

  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const b = await this.readSome(Math.min(left, BODY_CHUNK));
      if (b.length === 0) throw unexpectedEOF();
      left -= b.length;
    }
  }

  /** Reads and discards everything that is left. */
  async drain(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    while (await this.pull()) {
      this.chunks = [];
      this.buffered = 0;
    }
  }
}

function unexpectedEOF(): TarFormatError {
  return new TarFormatError("unexpected EOF");
}

function isZero(b: Buffer): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return (nul === -1 ? b : b.subarray(0, nul)).toString("utf8");
}

function parseNumeric(b: Buffer, field: string, allowNegative = false): number {
  const first = b[0] ?? 0;
  if (first & 0x80) {
    // Base-256 (GNU): 0x80 prefix positive, 0xff two's-complement negative.
    const negative = first === 0xff;
    if (negative && !allowNegative) throw new TarFormatError(`invalid ${field} field`);
    let v = BigInt(negative ? 0xff - first : first & 0x7f);
    for (const byte of b.subarray(1)) v = (v << 8n) | BigInt(negative ? 0xff - byte : byte);
    if (negative) v = -(v + 1n);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new TarFormatError(`invalid ${field} field`);
    }
    return Number(v);
  }
  // Octal, padded with spaces or NULs on either side.
  const s = b.toString("latin1").replace(/^[ \0]+|[ \0]+$/g, "");
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`invalid ${field} field`);
  const v = Number.parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw new TarFormatError(`invalid ${field} field`);
  return v;
}

function parseDecimal(v: Buffer, key: string, fractional = false): number {
  const s = v.toString("latin1");
  const re = fractional ? /^-?[0-9]+(\.[0-9]+)?$/ : /^[0-9]+$/;
  if (!re.test(s)) throw new TarFormatError(`invalid PAX record ${key}=${JSON.stringify(s)}`);
  const n = Number(s);
  if (!Number.isFinite(n) || (!fractional && !Number.isSafeInteger(n))) {
    throw new TarFormatError(`invalid PAX record ${key}=${JSON.stringify(s)}`);
  }
  return n;
}

function verifyChecksum(block: Buffer): void {
  let stored: number;
  try {
    stored = parseNumeric(block.subarray(148, 156), "checksum");
  } catch {
    stored = Number.NaN;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) throw new TarFormatError("invalid tar header (checksum mismatch)");
}

/** `%d key=value\n` records; values stay binary. */
function parsePax(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < buf.length) {
    if (isZero(buf.subarray(off))) break;
    const sp = buf.indexOf(0x20, off);
    const lenText = sp === -1 ? "" : buf.subarray(off, sp).toString("latin1");
    const len = /^[0-9]+$/.test(lenText) ? Number(lenText) : Number.NaN;
    if (!(len > lenText.length + 1) || off + len > buf.length) throw new TarFormatError("invalid PAX header");
    const record = buf.subarray(sp + 1, off + len);
    const eq = record.indexOf(0x3d);
    if (record[record.length - 1] !== 0x0a || eq < 1) throw new TarFormatError("invalid PAX header");
    out.set(record.subarray(0, eq).toString("utf8"), record.subarray(eq + 1, record.length - 1));
    off += len;
  }
  return out;
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

async function readSpecial(src: ByteSource, size: number, what: string): Promise<Buffer> {
  if (size > MAX_SPECIAL_SIZE) throw new TarFormatError(`${what} too large`);
  const data = await src.read(size);
  if (data.length < size) throw unexpectedEOF();
  await src.skip(padding(size));
  return data;
}

const TYPES: Record<string, TarEntryType> = {
  "0": "file", "\0": "file", "7": "file",
  "1": "link", "2": "symlink", "3": "char", "4": "block", "5": "dir", "6": "fifo",
};

export async function* readTar(src: ByteSource): AsyncGenerator<TarEntry, void, undefined> {
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Map<string, Buffer> | undefined;

  for (;;) {
    const block = await src.read(BLOCK);
    if (block.length === 0) {
      if (longName !== undefined || longLink !== undefined || pax !== undefined) throw unexpectedEOF();
      return;
    }
    if (block.length < BLOCK) throw unexpectedEOF();
    if (isZero(block)) {
      // End of archive is two zero blocks; a lone one at EOF is accepted, as Go does.
      const second = await src.read(BLOCK);
      if (second.length === 0 || (second.length === BLOCK && isZero(second))) return;
      if (second.length < BLOCK) throw unexpectedEOF();
      throw new TarFormatError("invalid tar header");
    }
    verifyChecksum(block);

    const flag = String.fromCharCode(block[156] ?? 0);
    const size = parseNumeric(block.subarray(124, 136), "size");
    switch (flag) {
      case "x":
        pax = parsePax(await readSpecial(src, size, "PAX header"));
        continue;
      case "g":
        // Docker ignores global PAX headers (git archive writes a commit id there).
        await readSpecial(src, size, "PAX global header");
        continue;
      case "L":
        longName = cString(await readSpecial(src, size, "GNU long name"));
        continue;
      case "K":
        longLink = cString(await readSpecial(src, size, "GNU long link name"));
        continue;
    }

    const magic = block.subarray(257, 263).toString("latin1");
    const ustar = magic === "ustar\0";
    let name = cString(block.subarray(0, 100));
    if (ustar) {
      // star archives keep atime/ctime in the tail of the prefix field.
      const star = block.subarray(508, 512).toString("latin1") === "tar\0";
      const prefix = cString(block.subarray(345, star ? 476 : 500));
      if (prefix !== "") name = `${prefix}/${name}`;
    }
    let linkname = cString(block.subarray(157, 257));
    let uid = parseNumeric(block.subarray(108, 116), "uid");
    let gid = parseNumeric(block.subarray(116, 124), "gid");
    let mtime = parseNumeric(block.subarray(136, 148), "mtime", true);
    let atime: number | undefined;
    let dataSize = size;
    const xattrs = new Map<string, Buffer>();

    if (longName !== undefined) name = longName;
    if (longLink !== undefined) linkname = longLink;
    if (pax !== undefined) {
      for (const [key, value] of pax) {
        if (key === "path") name = value.toString("utf8");
        else if (key === "linkpath") linkname = value.toString("utf8");
        else if (key === "size") dataSize = parseDecimal(value, key);
        else if (key === "uid") uid = parseDecimal(value, key);
        else if (key === "gid") gid = parseDecimal(value, key);
        else if (key === "mtime") mtime = parseDecimal(value, key, true);
        else if (key === "atime") atime = parseDecimal(value, key, true);
        else if (key.startsWith("SCHILY.xattr.")) xattrs.set(key.slice("SCHILY.xattr.".length), value);
        else if (key.startsWith("GNU.sparse.")) throw new TarFormatError(`sparse files are not supported ("${name}")`);
      }
    }
    longName = longLink = pax = undefined;

    if (name.includes("\0") || linkname.includes("\0")) throw new TarFormatError("NUL byte in entry name");
    let type = TYPES[flag];
    if (type === undefined) {
      const shown = flag >= " " && flag <= "~" ? flag : `\\x${(block[156] ?? 0).toString(16).padStart(2, "0")}`;
      throw new TarFormatError(`unsupported entry type '${shown}' for ${JSON.stringify(name)}`);
    }
    if (flag === "\0" && name.endsWith("/")) type = "dir";
    if (type !== "file") dataSize = 0;

    const header: TarHeader = {
      name,
      type,
      mode: parseNumeric(block.subarray(100, 108), "mode") & 0o7777,
      uid,
      gid,
      size: dataSize,
      mtime,
      linkname,
      devmajor: type === "char" || type === "block" ? parseNumeric(block.subarray(329, 337), "devmajor") : 0,
      devminor: type === "char" || type === "block" ? parseNumeric(block.subarray(337, 345), "devminor") : 0,
      xattrs,
    };
    if (atime !== undefined) header.atime = atime;

    let remaining = dataSize;
    const body: AsyncIterable<Buffer> = {
      async *[Symbol.asyncIterator]() {
        while (remaining > 0) {
          const b = await src.readSome(Math.min(remaining, BODY_CHUNK));
          if (b.length === 0) throw unexpectedEOF();
          remaining -= b.length;
          yield b;
        }
      },
    };
    yield { header, body };
    await src.skip(remaining + padding(dataSize));
  }
}
