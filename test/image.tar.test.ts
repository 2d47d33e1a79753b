// The tar reader on hand-built archives: the header variants real layers use
// (ustar prefix, GNU long names, base-256 numbers, PAX), byte-exact PAX values,
// and what it refuses.
import { describe, expect, it } from "vitest";
import { ByteSource, TarFormatError, readTar, type TarHeader } from "../src/image/tar.js";

interface Raw {
  name: string;
  flag?: string;
  body?: Buffer;
  mode?: number;
  uid?: Buffer | number;
  size?: Buffer | number;
  linkname?: string;
  format?: "ustar" | "gnu" | "v7";
  prefix?: string;
}

function octal(n: number, width: number): Buffer {
  const b = Buffer.alloc(width);
  b.write(`${n.toString(8).padStart(width - 1, "0")}\0`, "latin1");
  return b;
}

function block(r: Raw): Buffer {
  const h = Buffer.alloc(512);
  h.write(r.name, 0, 100, "utf8");
  octal(r.mode ?? 0o644, 8).copy(h, 100);
  (Buffer.isBuffer(r.uid) ? r.uid : octal(r.uid ?? 0, 8)).copy(h, 108);
  octal(0, 8).copy(h, 116);
  (Buffer.isBuffer(r.size) ? r.size : octal(r.size ?? r.body?.length ?? 0, 12)).copy(h, 124);
  octal(1_600_000_000, 12).copy(h, 136);
  h.write(r.flag ?? "0", 156, 1, "latin1");
  if (r.linkname !== undefined) h.write(r.linkname, 157, 100, "utf8");
  if ((r.format ?? "ustar") === "ustar") h.write("ustar\u000000", 257, 8, "latin1");
  if (r.format === "gnu") h.write("ustar  \u0000", 257, 8, "latin1");
  if (r.prefix !== undefined) h.write(r.prefix, 345, 155, "utf8");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  octal(sum, 7).copy(h, 148);
  const body = r.body ?? Buffer.alloc(0);
  return Buffer.concat([h, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

function pax(records: [string, Buffer | string][]): Buffer {
  const parts = records.map(([k, v]) => {
    const value = Buffer.isBuffer(v) ? v : Buffer.from(v);
    const rest = Buffer.concat([Buffer.from(` ${k}=`), value, Buffer.from("\n")]);
    let len = rest.length + 1;
    while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
    return Buffer.concat([Buffer.from(String(len)), rest]);
  });
  return Buffer.concat(parts);
}

const END = Buffer.alloc(1024);

async function read(archive: Buffer, chunk = 100): Promise<{ header: TarHeader; body: string }[]> {
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < archive.length; i += chunk) yield archive.subarray(i, i + chunk);
  }
  const out: { header: TarHeader; body: string }[] = [];
  for await (const e of readTar(new ByteSource(chunks()))) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c);
    out.push({ header: e.header, body: Buffer.concat(parts).toString("utf8") });
  }
  return out;
}

describe("readTar", () => {
  it("reads ustar prefixes, GNU long names and base-256 numbers", async () => {
    const big = Buffer.alloc(8);
    big[0] = 0x80;
    big.writeUInt32BE(5_000_000, 4);
    const entries = await read(Buffer.concat([
      block({ name: "file", prefix: "some/dir", body: Buffer.from("hello") }),
      block({ name: "././@LongLink", flag: "L", body: Buffer.from(`${"l".repeat(300)}\0`), format: "gnu" }),
      block({ name: "truncated", flag: "0", body: Buffer.from("long"), format: "gnu" }),
      block({ name: "././@LongLink", flag: "K", body: Buffer.from(`${"t".repeat(200)}\0`), format: "gnu" }),
      block({ name: "sym", flag: "2", linkname: "short", format: "gnu" }),
      block({ name: "bigid", uid: big, body: Buffer.from("x") }),
      block({ name: "olddir/", flag: "\0", format: "v7" }),
      block({ name: "dir", flag: "5", size: 4096 }).subarray(0, 512),
      END,
    ]));
    expect(entries.map((e) => [e.header.name, e.header.type, e.body])).toEqual([
      ["some/dir/file", "file", "hello"],
      ["l".repeat(300), "file", "long"],
      ["sym", "symlink", ""],
      ["bigid", "file", "x"],
      ["olddir/", "dir", ""],
      // A directory's size field carries no data, as in Go's reader.
      ["dir", "dir", ""],
    ]);
    expect(entries[2]?.header.linkname).toBe("t".repeat(200));
    expect(entries[3]?.header.uid).toBe(5_000_000);
    expect(entries[0]?.header.mtime).toBe(1_600_000_000);
  });

  it("applies PAX records and keeps xattr values byte-exact", async () => {
    const binary = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0xfe, 0x0a, 0x3d]);
    const entries = await read(Buffer.concat([
      block({ name: "g", flag: "g", body: pax([["comment", "global, ignored"]]) }),
      block({ name: "PaxHeaders/x", flag: "x", body: pax([
        ["path", "ünïcode/" + "p".repeat(200)], ["uid", "70000"], ["gid", "80000"], ["mtime", "1700000000.123456789"],
        ["SCHILY.xattr.security.capability", binary], ["SCHILY.xattr.user.note", "a=b\nc"],
      ]) }),
      block({ name: "short", body: Buffer.from("content") }),
      block({ name: "next", body: Buffer.from("plain") }),
      END,
    ]), 7);
    expect(entries).toHaveLength(2);
    const h = entries[0]?.header;
    expect(h?.name).toBe("ünïcode/" + "p".repeat(200));
    expect([h?.uid, h?.gid]).toEqual([70000, 80000]);
    expect(h?.mtime).toBeCloseTo(1_700_000_000.123456789, 6);
    expect(h?.xattrs.get("security.capability")?.equals(binary)).toBe(true);
    expect(h?.xattrs.get("user.note")?.toString()).toBe("a=b\nc");
    expect(entries[0]?.body).toBe("content");
    // PAX records apply to one entry only.
    expect(entries[1]?.header.name).toBe("next");
    expect(entries[1]?.header.xattrs.size).toBe(0);
  });

  it("skips unread bodies and accepts a missing or single end block", async () => {
    const archive = Buffer.concat([block({ name: "a", body: Buffer.alloc(1000, 1) }), block({ name: "b", body: Buffer.from("b") })]);
    const names: string[] = [];
    for await (const e of readTar(new ByteSource((async function* () { yield archive; })()))) names.push(e.header.name);
    expect(names).toEqual(["a", "b"]);
    expect((await read(Buffer.concat([archive, Buffer.alloc(512)]))).map((e) => e.body)).toEqual(["\x01".repeat(1000), "b"]);
  });

  const refused: [string, Buffer, string][] = [
    ["a sparse file", Buffer.concat([block({ name: "s", flag: "S" }), END]), `unsupported entry type 'S' for "s"`],
    ["PAX sparse records", Buffer.concat([block({ name: "x", flag: "x", body: pax([["GNU.sparse.major", "1"]]) }),
      block({ name: "s" }), END]), 'sparse files are not supported ("s")'],
    ["a bad checksum", (() => { const b = block({ name: "f" }); b[0] = 0x67; return b; })(), "invalid tar header (checksum mismatch)"],
    ["a bad size field", Buffer.concat([block({ name: "f", size: Buffer.from("12345678901x") }), END]), "invalid size field"],
    ["a malformed PAX header", Buffer.concat([block({ name: "x", flag: "x", body: Buffer.from("99 path=x\n") }), END]),
      "invalid PAX header"],
    ["junk after one end block", Buffer.concat([Buffer.alloc(512), block({ name: "f" })]), "invalid tar header"],
    ["a PAX header with nothing after it", block({ name: "x", flag: "x", body: pax([["path", "p"]]) }), "unexpected EOF"],
    ["an oversized long name", block({ name: "L", flag: "L", size: 2 << 20 }).subarray(0, 512), "GNU long name too large"],
    ["a NUL in a PAX path", Buffer.concat([block({ name: "x", flag: "x", body: pax([["path", "a\0b"]]) }),
      block({ name: "f" }), END]), "NUL byte in entry name"],
  ];
  it.each(refused)("refuses %s", async (_, archive, message) => {
    const err = await read(archive).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TarFormatError);
    expect((err as Error).message).toBe(message);
  });
});
