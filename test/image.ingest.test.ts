// The fast paths of the layer ingest: the fd-based file writer (O_EXCL
// creation, metadata on the descriptor, replacing whatever a name held),
// hashing once (a caller-known blob digest, uncompressed layers), the
// overlapped fsync of a blob file, and FS_TOPDIR_FL on the staging directory.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { ImageError } from "../src/errors.js";
import { ingestLayerFile } from "../src/image/ingest.js";
import { mknodBeneath, setxattrBeneath } from "../src/native/shim.js";
import { makeStagingDir } from "../src/image/staging.js";
import { ensureStore } from "../src/image/store.js";
import { ByteSource, readTar } from "../src/image/tar.js";
import { unpackLayer } from "../src/image/unpack.js";
import { listTree, makeRoot, sha256, tarball, type Members } from "./helpers.js";

const roots: string[] = [];
const newRoot = (): string => {
  const r = makeRoot();
  roots.push(r);
  return r;
};
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

async function unpackInto(dest: string, members: Members): Promise<void> {
  const src = new ByteSource(Readable.from([await tarball(members)])[Symbol.asyncIterator]());
  await unpackLayer(readTar(src), dest, { context: "test", host: { mknodBeneath, setxattrBeneath } });
}

describe("unpack: the fd-based file writer", () => {
  it("sets mode (setuid kept after chown), owner and mtime through the descriptor", async () => {
    const dest = fs.mkdtempSync(path.join(newRoot(), "layer-"));
    await unpackInto(dest, [
      [{ name: "bin/", type: "directory", mode: 0o755 }],
      [{ name: "bin/su", mode: 0o4750, uid: 1234, gid: 5678, mtime: new Date("2020-01-02T03:04:05Z") }, "x".repeat(3000)],
    ]);
    const st = fs.lstatSync(path.join(dest, "bin/su"));
    expect(st.mode & 0o7777).toBe(0o4750);
    expect([st.uid, st.gid]).toEqual([1234, 5678]);
    expect(st.mtime.toISOString()).toBe("2020-01-02T03:04:05.000Z");
    expect(st.size).toBe(3000);
  });

  it("a file replaces a symlink of the same name and never writes through it", async () => {
    const root = newRoot();
    const outside = path.join(root, "outside");
    fs.writeFileSync(outside, "untouched");
    const dest = fs.mkdtempSync(path.join(root, "layer-"));
    await unpackInto(dest, [
      [{ name: "etc/", type: "directory", mode: 0o755 }],
      [{ name: "etc/passwd", type: "symlink", linkname: outside }],
      [{ name: "etc/passwd", mode: 0o644 }, "root:x:0:0::/root:/bin/sh\n"],
    ]);
    expect(fs.readFileSync(outside, "utf8")).toBe("untouched");
    expect(fs.lstatSync(path.join(dest, "etc/passwd")).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(dest, "etc/passwd"), "utf8")).toBe("root:x:0:0::/root:/bin/sh\n");
  });

  it("later entries replace earlier ones of another type; a directory over a directory is kept", async () => {
    const dest = fs.mkdtempSync(path.join(newRoot(), "layer-"));
    await unpackInto(dest, [
      [{ name: "a", mode: 0o644 }, "file a"],
      [{ name: "a/", type: "directory", mode: 0o750 }],
      [{ name: "d/", type: "directory", mode: 0o755 }],
      [{ name: "d/keep", mode: 0o644 }, "kept"],
      [{ name: "d/", type: "directory", mode: 0o700 }],
      [{ name: "s", mode: 0o644 }, "file s"],
      [{ name: "s", type: "symlink", linkname: "target" }],
      [{ name: "f", type: "symlink", linkname: "target" }],
      [{ name: "f", mode: 0o600 }, "file f"],
    ]);
    expect(fs.lstatSync(path.join(dest, "a")).isDirectory()).toBe(true);
    expect(fs.lstatSync(path.join(dest, "a")).mode & 0o7777).toBe(0o750);
    expect(fs.readFileSync(path.join(dest, "d/keep"), "utf8")).toBe("kept");
    expect(fs.lstatSync(path.join(dest, "d")).mode & 0o7777).toBe(0o700);
    expect(fs.readlinkSync(path.join(dest, "s"))).toBe("target");
    expect(fs.readFileSync(path.join(dest, "f"), "utf8")).toBe("file f");
    expect(fs.lstatSync(path.join(dest, "f")).mode & 0o7777).toBe(0o600);
  });
});

describe("ingestLayerFile: hashing once, the blob's fsync overlapped", () => {
  const layer = tarball([[{ name: "hello", mode: 0o644 }, "hello world\n".repeat(1000)]]);

  it("an uncompressed file: digest and diff ID are the one hash; a gzip file: two", async () => {
    const root = newRoot();
    const p = ensureStore(root);
    const tar = await layer;
    const gz = gzipSync(tar);
    for (const [bytes, digest] of [[tar, sha256(tar)], [gz, sha256(gz)]] as const) {
      const f = path.join(root, "blob");
      fs.writeFileSync(f, bytes);
      const l = await ingestLayerFile(p, f, "load", { diffID: sha256(tar) });
      expect([l.digest, l.diffID, l.size]).toEqual([digest, sha256(tar), bytes.length]);
      expect(fs.readFileSync(l.blobFile)).toEqual(bytes);
      fs.rmSync(l.staging, { recursive: true });
      fs.rmSync(f);
    }
  });

  it("a digest the caller knows is not recomputed, and is still checked against the expectation", async () => {
    const root = newRoot();
    const p = ensureStore(root);
    const tar = await layer;
    const f = path.join(root, "blob");
    fs.writeFileSync(f, tar);
    const before = listTree(p.tmp);
    // The known digest stands for the content (the caller hashed it as it wrote the file).
    const claimed = sha256("something else");
    const err = await ingestLayerFile(p, f, "load", { diffID: sha256(tar) }, { digest: claimed }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as Error).message).toBe(`load: wrong diff ID: expected ${sha256(tar)}, got ${claimed}`);
    expect(listTree(p.tmp)).toEqual(before);
    const l = await ingestLayerFile(p, f, "load", { diffID: sha256(tar) }, { digest: sha256(tar) });
    expect([l.digest, l.diffID]).toEqual([sha256(tar), sha256(tar)]);
    fs.rmSync(l.staging, { recursive: true });
  });

  it("a failed fsync of the blob fails the ingest and leaves no staging", async () => {
    const root = newRoot();
    const p = ensureStore(root);
    const f = path.join(root, "blob");
    fs.writeFileSync(f, await layer);
    const before = listTree(p.tmp);
    const synced = Promise.reject(Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" }));
    const err = await ingestLayerFile(p, f, "load", {}, { synced }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as Error).message).toBe("load: EIO: i/o error, fsync");
    expect(listTree(p.tmp)).toEqual(before);
  });
});

describe("staging directories", () => {
  it("tmp/ is marked FS_TOPDIR_FL (ext4 spreads the staging dirs over block groups)", () => {
    const p = ensureStore(newRoot());
    const fsType = execFileSync("stat", ["-f", "-c", "%T", p.tmp], { encoding: "utf8" }).trim();
    const dir = makeStagingDir(p, "layer");
    expect(path.dirname(dir)).toBe(p.tmp);
    // The test roots live on the ext4 /var/tmp; elsewhere the flag may not exist.
    expect(fsType).toBe("ext2/ext3");
    const flags = execFileSync("lsattr", ["-d", p.tmp], { encoding: "utf8" }).split(" ")[0] ?? "";
    expect(flags).toContain("T");
  });
});
