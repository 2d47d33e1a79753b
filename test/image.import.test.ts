// `import` of generated tarballs, checked on disk: every entry type with its
// metadata, whiteouts in overlay form, compression, and broken input.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageError, UsageError } from "../src/errors.js";
import { importImage, listImages, resolveImage, type ResolvedImage } from "../src/image/index.js";
import { listTree, sha256, tarball } from "./helpers.js";



function getxattr(p: string, name: string): string | undefined {
  try {
    return execFileSync("python3", ["-c",
      "import os,sys; sys.stdout.buffer.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False))", p, name],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return undefined;
  }
}

async function expectImportError(root: string, input: Buffer | Readable, message: string | RegExp): Promise<void> {
  const err = await importImage(root, input instanceof Readable ? input : Readable.from([input]), "broken").then(
    () => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ImageError);
  if (typeof message === "string") expect((err as Error).message).toBe(message);
  else expect((err as Error).message).toMatch(message);
}

const roots: string[] = [];
function newRoot(): string {
  const r = fs.mkdtempSync("/var/tmp/tsbox-image-import-");
  roots.push(r);
  return r;
}
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

const T = (s: number): Date => new Date(s * 1000);

describe("import: entry types and metadata", () => {
  let root: string;
  let image: ResolvedImage;
  let diff: string;
  const at = (p: string): string => path.join(diff, p);

  beforeAll(async () => {
    root = newRoot();
    const buf = await tarball([
      [{ name: "./", type: "directory", mode: 0o755, mtime: T(1_000_000) }],
      [{ name: "./etc/", type: "directory", mode: 0o750, uid: 10, gid: 20, mtime: T(1_100_000) }],
      [{ name: "./etc/passwd", mode: 0o644, mtime: T(1_200_000) }, "root:x:0:0:root:/root:/bin/sh\n"],
      [{ name: "bin/su", mode: 0o4755, uid: 0, gid: 0, mtime: T(1_300_000) }, "#!/bin/true\n"],
      [{ name: "bin/sg", mode: 0o6750, uid: 1000, gid: 1001, mtime: T(1_300_000) }, "setgid\n"],
      [{ name: "tmp/", type: "directory", mode: 0o1777, mtime: T(1_400_000) }],
      [{ name: "lnk", type: "symlink", linkname: "etc/passwd", uid: 5, gid: 6, mtime: T(1_500_000) }],
      [{ name: "abs", type: "symlink", linkname: "/etc/passwd", mtime: T(1_500_000) }],
      [{ name: "hard", type: "link", linkname: "etc/passwd" }],
      [{ name: "./dev/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666, mtime: T(1_600_000) }],
      [{ name: "dev/loop0", type: "block-device", devmajor: 7, devminor: 0, mode: 0o660, gid: 6 }],
      [{ name: "run/fifo", type: "fifo", mode: 0o640, uid: 7 }],
      [{ name: "x", mode: 0o600, mtime: T(1_700_000), pax: {
        "SCHILY.xattr.user.comment": "hello", "SCHILY.xattr.trusted.tsbox": "t", mtime: "1700000000.25" } }, "x\n"],
      [{ name: `deep/${"n".repeat(150)}`, mode: 0o644 }, "long name\n"],
      [{ name: "implicit/a/b", mode: 0o644 }, "b"],
      [{ name: "dir-after/", type: "directory", mode: 0o700, mtime: T(1_800_000) }],
      [{ name: "dir-after/child", mode: 0o644, mtime: T(1_900_000) }, "c"],
    ]);
    image = await importImage(root, Readable.from([buf]), "types:1");
    diff = image.layers[0]?.dir ?? "";
  });

  it("records one layer whose chain ID is its diff ID", () => {
    expect(image.layers).toHaveLength(1);
    const l = image.layers[0];
    expect(l?.chainID).toBe(l?.diffID);
    expect(l?.dir).toBe(path.join(root, "layers", l?.chainID.slice(7) ?? "", "diff"));
    expect(l?.link).toMatch(/^[A-Z0-9]{26}$/);
    expect(fs.readlinkSync(path.join(root, "l", l?.link ?? ""))).toBe(`../layers/${l?.chainID.slice(7)}/diff`);
    expect(fs.realpathSync(path.join(root, "l", l?.link ?? ""))).toBe(diff);
    expect(image.config.rootfs.diff_ids).toEqual([l?.diffID]);
  });

  it("regular files: content, mode, owner, mtime", () => {
    expect(fs.readFileSync(at("etc/passwd"), "utf8")).toBe("root:x:0:0:root:/root:/bin/sh\n");
    const st = fs.lstatSync(at("etc/passwd"));
    expect(st.mode & 0o7777).toBe(0o644);
    expect(st.mtimeMs).toBe(1_200_000_000);
    expect(fs.readFileSync(at(`deep/${"n".repeat(150)}`), "utf8")).toBe("long name\n");
  });

  it("setuid/setgid bits survive the chown", () => {
    const su = fs.lstatSync(at("bin/su"));
    expect(su.mode & 0o7777).toBe(0o4755);
    const sg = fs.lstatSync(at("bin/sg"));
    expect(sg.mode & 0o7777).toBe(0o6750);
    expect([sg.uid, sg.gid]).toEqual([1000, 1001]);
  });

  it("directories: mode, owner, sticky bit, mtime applied after their contents", () => {
    const etc = fs.lstatSync(at("etc"));
    expect(etc.mode & 0o7777).toBe(0o750);
    expect([etc.uid, etc.gid]).toEqual([10, 20]);
    expect(etc.mtimeMs).toBe(1_100_000_000);
    expect(fs.lstatSync(at("tmp")).mode & 0o7777).toBe(0o1777);
    expect(fs.lstatSync(at("dir-after")).mtimeMs).toBe(1_800_000_000);
    expect(fs.lstatSync(diff).mtimeMs).toBe(1_000_000_000);
    const implicit = fs.lstatSync(at("implicit/a"));
    expect(implicit.isDirectory() && (implicit.mode & 0o7777)).toBe(0o755);
  });

  it("symlinks keep their target, owner and own mtime", () => {
    expect(fs.readlinkSync(at("lnk"))).toBe("etc/passwd");
    expect(fs.readlinkSync(at("abs"))).toBe("/etc/passwd");
    const st = fs.lstatSync(at("lnk"));
    expect([st.uid, st.gid]).toEqual([5, 6]);
    expect(st.mtimeMs).toBe(1_500_000_000);
  });

  it("hard links share the inode", () => {
    expect(fs.lstatSync(at("hard")).ino).toBe(fs.lstatSync(at("etc/passwd")).ino);
    expect(fs.lstatSync(at("hard")).nlink).toBe(2);
  });

  it("device nodes and FIFOs", () => {
    const nul = fs.lstatSync(at("dev/null"));
    expect(nul.isCharacterDevice()).toBe(true);
    expect(nul.rdev).toBe((1 << 8) | 3);
    expect(nul.mode & 0o7777).toBe(0o666);
    expect(nul.mtimeMs).toBe(1_600_000_000);
    const loop = fs.lstatSync(at("dev/loop0"));
    expect(loop.isBlockDevice()).toBe(true);
    expect(loop.rdev).toBe(7 << 8);
    expect([loop.mode & 0o7777, loop.gid]).toEqual([0o660, 6]);
    const fifo = fs.lstatSync(at("run/fifo"));
    expect(fifo.isFIFO()).toBe(true);
    expect([fifo.mode & 0o7777, fifo.uid]).toEqual([0o640, 7]);
  });

  it("PAX xattrs and sub-second mtimes", () => {
    expect(getxattr(at("x"), "user.comment")).toBe("hello");
    expect(getxattr(at("x"), "trusted.tsbox")).toBe("t");
    expect(fs.lstatSync(at("x")).mtimeMs).toBe(1_700_000_000_250);
  });

  it("sizes the layer as Docker does (regular files, and symlinks by their target's length) and lists the image", () => {
    const expected = ["root:x:0:0:root:/root:/bin/sh\n", "#!/bin/true\n", "setgid\n", "x\n", "long name\n", "b", "c", "etc/passwd", "/etc/passwd"]
      .reduce((n, s) => n + s.length, 0);
    expect(listImages(root)).toEqual([
      { repository: "types", tag: "1", id: image.id, created: image.config.created, size: expected },
    ]);
  });
});

describe("import: xattr values", () => {
  it("writes UTF-8 and binary values (file capabilities) byte-exact", async () => {
    const root = newRoot();
    const buf = await tarball([[{ name: "ping", mode: 0o755, pax: {
      "SCHILY.xattr.user.text": "héllo wörld",
      "SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    } }, "bin"]]);
    const image = await importImage(root, Readable.from([buf]), "xattr");
    const p = path.join(image.layers[0]?.dir ?? "", "ping");
    expect(fs.readFileSync(p, "utf8")).toBe("bin");
    expect(getxattr(p, "user.text")).toBe("héllo wörld");
    const hex = execFileSync("python3", ["-c",
      "import os,sys; print(os.getxattr(sys.argv[1], 'security.capability', follow_symlinks=False).hex())", p], { encoding: "utf8" });
    expect(hex.trim()).toBe("0100000200200000" + "00".repeat(12));
  });
});

describe("import: whiteouts become overlayfs whiteouts", () => {
  it("converts .wh.NAME and opaque markers in any order", async () => {
    const root = newRoot();
    const buf = await tarball([
      [{ name: "gone/.wh.file", uid: 3, gid: 4 }],
      [{ name: "op/.wh..wh..opq" }],
      [{ name: "op/", type: "directory", mode: 0o755, mtime: T(2_000_000) }],
      [{ name: "op/keep", mode: 0o644 }, "k"],
      [{ name: "op2/file", mode: 0o644 }, "f"],
      [{ name: "op2/.wh..wh..opq" }],
      [{ name: ".wh..wh..plnk/123", mode: 0o644 }, "aufs"],
      [{ name: "replaced", mode: 0o644 }, "was here"],
      [{ name: ".wh.replaced" }],
    ]);
    const image = await importImage(root, Readable.from([buf]), "wh");
    const diff = image.layers[0]?.dir ?? "";
    const wh = fs.lstatSync(path.join(diff, "gone/file"));
    expect(wh.isCharacterDevice() && wh.rdev).toBe(0);
    expect([wh.uid, wh.gid]).toEqual([3, 4]);
    expect(fs.lstatSync(path.join(diff, "replaced")).isCharacterDevice()).toBe(true);
    expect(fs.existsSync(path.join(diff, "gone/.wh.file"))).toBe(false);
    expect(getxattr(path.join(diff, "op"), "trusted.overlay.opaque")).toBe("y");
    expect(getxattr(path.join(diff, "op2"), "trusted.overlay.opaque")).toBe("y");
    expect(getxattr(path.join(diff, "gone"), "trusted.overlay.opaque")).toBeUndefined();
    expect(fs.readdirSync(path.join(diff, "op"))).toEqual(["keep"]);
    expect(fs.lstatSync(path.join(diff, "op")).mtimeMs).toBe(2_000_000_000);
    expect(fs.existsSync(path.join(diff, ".wh..wh..plnk"))).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(path.dirname(diff), "opaque"), "utf8"))).toEqual(["op", "op2"]);
  });
});

describe("import: an entry replaces an existing one", () => {
  it("of another type is removed first; a directory over a directory keeps its contents", async () => {
    const root = newRoot();
    const buf = await tarball([
      [{ name: "a", mode: 0o644 }, "file"],
      [{ name: "a/", type: "directory", mode: 0o755 }],
      [{ name: "d/", type: "directory", mode: 0o755 }],
      [{ name: "d/f", mode: 0o644 }, "f"],
      [{ name: "d/", type: "directory", mode: 0o700, uid: 9 }],
      [{ name: "s", type: "symlink", linkname: "/etc/passwd" }],
      [{ name: "s", mode: 0o600 }, "now a file"],
      [{ name: "t", mode: 0o644 }, "file"],
      [{ name: "t", type: "symlink", linkname: "elsewhere" }],
      [{ name: "u/", type: "directory" }],
      [{ name: "u/inner", mode: 0o644 }, "x"],
      [{ name: "u", mode: 0o644 }, "file over dir"],
      [{ name: "v", mode: 0o644 }, "first"],
      [{ name: "v", mode: 0o640 }, "second"],
    ]);
    const diff = (await importImage(root, Readable.from([buf]), undefined)).layers[0]?.dir ?? "";
    expect(fs.lstatSync(path.join(diff, "a")).isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(diff, "d/f"), "utf8")).toBe("f");
    expect(fs.lstatSync(path.join(diff, "d")).mode & 0o7777).toBe(0o700);
    expect(fs.lstatSync(path.join(diff, "d")).uid).toBe(9);
    expect(fs.readFileSync(path.join(diff, "s"), "utf8")).toBe("now a file");
    expect(fs.readlinkSync(path.join(diff, "t"))).toBe("elsewhere");
    expect(fs.readFileSync(path.join(diff, "u"), "utf8")).toBe("file over dir");
    expect(fs.readFileSync(path.join(diff, "v"), "utf8")).toBe("second");
    expect(fs.lstatSync(path.join(diff, "v")).mode & 0o7777).toBe(0o640);
  });
});

describe("import: compression and the stored blob", () => {
  let plain: Buffer;
  beforeAll(async () => {
    plain = await tarball([
      [{ name: "hello", mode: 0o644 }, "hello world\n"],
      [{ name: "big", mode: 0o644 }, Buffer.alloc(3 * 1024 * 1024, 7)],
    ]);
  });

  const manifestOf = (root: string, image: ResolvedImage): { layers: { mediaType: string; digest: string; size: number }[] } =>
    JSON.parse(fs.readFileSync(path.join(root, "blobs/sha256", image.manifestDigest.slice(7)), "utf8"));

  it("plain: the blob is the input and the diff ID its digest", async () => {
    const root = newRoot();
    const image = await importImage(root, Readable.from([plain]), "c:plain");
    const layer = manifestOf(root, image).layers[0];
    expect(layer).toEqual({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(plain), size: plain.length });
    expect(image.layers[0]?.diffID).toBe(sha256(plain));
    expect(fs.readFileSync(path.join(root, "blobs/sha256", sha256(plain).slice(7))).equals(plain)).toBe(true);
    expect(fs.readFileSync(path.join(image.layers[0]?.dir ?? "", "hello"), "utf8")).toBe("hello world\n");
  });

  it("gzip and zstd: same diff ID, the compressed bytes stored as received", async () => {
    const root = newRoot();
    for (const [tag, data, mediaType] of [
      ["gz", zlib.gzipSync(plain), "application/vnd.oci.image.layer.v1.tar+gzip"],
      ["zst", zlib.zstdCompressSync(plain), "application/vnd.oci.image.layer.v1.tar+zstd"],
    ] as const) {
      // Small chunks: detection and hashing must not depend on chunk boundaries.
      const chunks: Buffer[] = [];
      for (let i = 0; i < data.length; i += 1000) chunks.push(data.subarray(i, i + 1000));
      const image = await importImage(root, Readable.from(chunks), `c:${tag}`);
      expect(image.layers[0]?.diffID).toBe(sha256(plain));
      expect(manifestOf(root, image).layers[0]).toEqual({ mediaType, digest: sha256(data), size: data.length });
      expect(fs.readFileSync(path.join(root, "blobs/sha256", sha256(data).slice(7))).equals(data)).toBe(true);
    }
    // One diff ID, so one layer directory shared by both images.
    expect(fs.readdirSync(path.join(root, "layers"))).toEqual([sha256(plain).slice(7)]);
  });

  it("bytes after the end-of-archive marker are part of the digests", async () => {
    const root = newRoot();
    const input = Buffer.concat([plain, Buffer.alloc(4096), Buffer.from("trailing")]);
    const image = await importImage(root, Readable.from([input]), "c:trailing");
    expect(image.layers[0]?.diffID).toBe(sha256(input));
  });

  it("an empty input is an empty layer, as with docker import", async () => {
    const root = newRoot();
    const image = await importImage(root, Readable.from([]), "empty");
    expect(image.layers[0]?.diffID).toBe(sha256(Buffer.alloc(0)));
    expect(fs.readdirSync(image.layers[0]?.dir ?? "")).toEqual([]);
  });
});

describe("import: config and manifest", () => {
  it("--platform: the image's architecture and variant in its config; a bad one refused before anything is read", async () => {
    const root = newRoot();
    const buf = await tarball([[{ name: "f", mode: 0o644 }, "f"]]);
    const image = await importImage(root, Readable.from([buf]), "arm", { platform: "linux/arm/v6" });
    expect([image.config.os, image.config.architecture, image.config.variant]).toEqual(["linux", "arm", "v6"]);
    await expect(importImage(root, Readable.from([buf]), "bad", { platform: "bogus/x/y/z" }))
      .rejects.toThrow('"bogus/x/y/z": unknown operating system or architecture: invalid argument');
  });

  it("writes an OCI config and manifest like docker import", async () => {
    const root = newRoot();
    const buf = await tarball([[{ name: "f", mode: 0o644 }, "f"]]);
    const before = Date.now();
    const image = await importImage(root, Readable.from([buf]), "cfg", {
      changes: ['CMD ["/bin/sh"]', "ENV A=1", "WORKDIR /w"], message: "from a test",
    });
    expect(image.name).toBe("docker.io/library/cfg:latest");
    const configBlob = fs.readFileSync(path.join(root, "blobs/sha256", image.id.slice(7)));
    expect(sha256(configBlob)).toBe(image.id);
    const config = JSON.parse(configBlob.toString("utf8"));
    expect(config).toEqual({
      created: expect.any(String), architecture: process.arch === "x64" ? "amd64" : expect.any(String), os: "linux",
      config: { Cmd: ["/bin/sh"], Env: ["A=1"], WorkingDir: "/w" },
      rootfs: { type: "layers", diff_ids: [sha256(buf)] },
      history: [{ created: config.created, comment: "from a test" }],
    });
    expect(Date.parse(config.created)).toBeGreaterThanOrEqual(before - 1000);
    const manifest = JSON.parse(fs.readFileSync(path.join(root, "blobs/sha256", image.manifestDigest.slice(7)), "utf8"));
    expect(manifest).toEqual({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: image.id, size: configBlob.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(buf), size: buf.length }],
    });
    expect(JSON.parse(fs.readFileSync(path.join(root, "repositories.json"), "utf8"))).toEqual({
      "docker.io/library/cfg:latest": image.manifestDigest,
    });
    const untagged = await importImage(root, Readable.from([buf]), undefined);
    expect(untagged.name).toBeUndefined();
    expect(untagged.config.history).toEqual([{ created: untagged.config.created, comment: "Imported from -" }]);
  });

  it("refuses bad references and changes before reading the input", async () => {
    const root = newRoot();
    let read = false;
    const input = new Readable({ read() { read = true; this.push(null); } });
    await expect(importImage(root, input, "Bad/Name")).rejects.toThrow(UsageError);
    await expect(importImage(root, input, `x@sha256:${"a".repeat(64)}`)).rejects.toThrow("cannot import digest reference");
    await expect(importImage(root, input, "ok", { changes: ["RUN x"] })).rejects.toThrow("run is not a valid change command");
    expect(read).toBe(false);
    expect(fs.readdirSync(root)).toEqual([]);
  });
});

describe("import: broken archives change nothing", () => {
  let root: string;
  let good: Buffer;
  let baseline: string[];
  beforeAll(async () => {
    root = newRoot();
    good = await tarball([
      [{ name: "a", mode: 0o644 }, "a".repeat(5000)],
      [{ name: "b", mode: 0o644 }, "b".repeat(5000)],
    ]);
    await importImage(root, Readable.from([good]), "baseline");
    baseline = listTree(root);
  });
  const unchanged = (): void => {
    expect(listTree(root)).toEqual(baseline);
    expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([]);
    expect(resolveImage(root, "baseline").layers).toHaveLength(1);
  };

  it("a tar cut inside a file's data", async () => {
    await expectImportError(root, good.subarray(0, 3000), "import: invalid tar archive: unexpected EOF");
    unchanged();
  });

  it("a tar cut inside a header", async () => {
    await expectImportError(root, good.subarray(0, 512 * 11 + 100), "import: invalid tar archive: unexpected EOF");
    unchanged();
  });

  it("a truncated gzip stream", async () => {
    const gz = zlib.gzipSync(good);
    await expectImportError(root, gz.subarray(0, gz.length - 20), /^import: invalid tar archive: gzip: unexpected end of file/);
    unchanged();
  });

  it("a corrupt gzip stream", async () => {
    const gz = Buffer.from(zlib.gzipSync(good));
    gz.fill(0x55, 20, 60);
    await expectImportError(root, gz, /^import: invalid tar archive: gzip: /);
    unchanged();
  });

  it("input that is not a tar archive", async () => {
    await expectImportError(root, Buffer.from("this is not a tar archive\n".repeat(100)),
      "import: invalid tar archive: invalid tar header (checksum mismatch)");
    await expectImportError(root, Buffer.from("short\n"), "import: invalid tar archive: unexpected EOF");
    unchanged();
  });

  it("a damaged header in the middle", async () => {
    const bad = Buffer.from(good);
    bad[512 * 11 + 10] = 0x41; // second header, name field
    await expectImportError(root, bad, "import: invalid tar archive: invalid tar header (checksum mismatch)");
    unchanged();
  });

  it("unsupported compression", async () => {
    await expectImportError(root, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2]),
      "import: xz-compressed archives are not supported");
    unchanged();
  });

  it("an input stream that fails", async () => {
    const input = new Readable({ read() {} });
    input.push(good.subarray(0, 4096));
    setTimeout(() => input.destroy(new Error("connection reset")), 20);
    await expectImportError(root, input, "import: connection reset");
    unchanged();
  });
});
