// The unpacker's host calls, seen through a recording fake (no root needed):
// which device nodes and xattrs a layer asks for, beneath which directory of
// the layer root, in archive order. Whiteouts become overlayfs's char 0:0
// device, an opaque marker the trusted.overlay.opaque xattr on its directory
// (the real calls are tested in image.beneath.test.ts and the load tests).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { ImageError } from "../src/errors.js";
import type { LayerHostCalls } from "../src/image/host-calls.js";
import { ByteSource, readTar } from "../src/image/tar.js";
import { unpackLayer, type UnpackResult } from "../src/image/unpack.js";
import { tarball, type ArchiveEntry, type Members } from "./helpers.js";

const { S_IFCHR, S_IFBLK, S_IFIFO } = fs.constants;

/**
 * Records each call; a mknod leaves an empty regular file where the node
 * would be, so that the unpacker's chown, chmod and utimes of it that follow
 * find something (as they would find the node).
 */
class RecordingHost implements LayerHostCalls {
  readonly calls: string[] = [];

  mknodBeneath(root: string, dir: string, name: string, mode: number, major: number, minor: number): void {
    const kind = (mode & S_IFCHR) === S_IFCHR ? "char" : (mode & S_IFBLK) === S_IFBLK ? "block" : (mode & S_IFIFO) === S_IFIFO ? "fifo" : "?";
    this.calls.push(`mknod ${JSON.stringify(dir)} ${JSON.stringify(name)} ${kind} ${(mode & 0o7777).toString(8)} ${major}:${minor}`);
    fs.writeFileSync(path.join(root, dir, name), "", { flag: "wx" });
  }

  setxattrBeneath(_root: string, dir: string, name: string, xattr: string, value: string | Buffer): void {
    this.calls.push(`setxattr ${JSON.stringify(dir)} ${JSON.stringify(name)} ${xattr}=${String(value)}`);
  }
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tsbox-unpack-fake-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

// Owned by whoever runs the test, so that the unpacker's chown needs no privilege.
const own = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
const e = (h: ArchiveEntry, body?: string): [ArchiveEntry, string?] => [{ ...own, ...h }, ...(body === undefined ? [] : [body])] as [ArchiveEntry, string?];
const dir = (name: string): [ArchiveEntry, string?] => e({ name, type: "directory", mode: 0o755 });

async function unpackWith(host: RecordingHost, members: Members): Promise<{ dest: string; result: UnpackResult }> {
  const dest = fs.mkdtempSync(path.join(scratch, "layer-"));
  const src = new ByteSource(Readable.from([await tarball(members)])[Symbol.asyncIterator]());
  const result = await unpackLayer(readTar(src), dest, { context: "test", host });
  return { dest, result };
}

describe("unpack: the host calls, recorded", () => {
  it("a whiteout, an opaque directory, a device node, a FIFO and an xattr, in archive order", async () => {
    const host = new RecordingHost();
    const { dest, result } = await unpackWith(host, [
      dir("etc/"),
      e({ name: "etc/.wh.passwd" }),
      dir("var/"),
      dir("var/cache/"),
      e({ name: "var/cache/.wh..wh..opq" }),
      e({ name: "var/cache/kept", mode: 0o644 }, "kept\n"),
      dir("dev/"),
      e({ name: "dev/null", type: "character-device", mode: 0o666, devmajor: 1, devminor: 3 }),
      e({ name: "run/fifo", type: "fifo", mode: 0o600 }),
      e({ name: "tool", mode: 0o755, pax: { "SCHILY.xattr.user.tsbox": "value" } }, "#!/bin/sh\n"),
      // AUFS metadata means nothing to overlayfs: no call, no file.
      e({ name: ".wh..wh.plnk/123.456", mode: 0o644 }, "x"),
    ]);
    expect(host.calls).toEqual([
      `mknod "etc" "passwd" char 0 0:0`,
      `setxattr "var/cache" "" trusted.overlay.opaque=y`,
      `mknod "dev" "null" char 666 1:3`,
      `mknod "run" "fifo" fifo 600 0:0`,
      `setxattr "" "tool" user.tsbox=value`,
    ]);
    expect(result.opaqueDirs).toEqual(["var/cache"]);
    expect(fs.readFileSync(path.join(dest, "var/cache/kept"), "utf8")).toBe("kept\n");
    expect(fs.existsSync(path.join(dest, ".wh..wh.plnk"))).toBe(false);
    expect(fs.existsSync(path.join(dest, "etc/.wh.passwd"))).toBe(false);
  });

  it("a whiteout of an entry of the same layer removes it before the node is made", async () => {
    const host = new RecordingHost();
    const { dest } = await unpackWith(host, [
      dir("data/"),
      e({ name: "data/old", mode: 0o644 }, "old\n"),
      e({ name: "data/.wh.old" }),
    ]);
    expect(host.calls).toEqual([`mknod "data" "old" char 0 0:0`]);
    // The fake's placeholder, not the file.
    expect(fs.readFileSync(path.join(dest, "data/old"), "utf8")).toBe("");
  });

  it("an opaque marker at the root marks the root; a later replacement of an opaque directory drops it", async () => {
    const host = new RecordingHost();
    const { result } = await unpackWith(host, [
      e({ name: ".wh..wh..opq" }),
      dir("a/"),
      e({ name: "a/.wh..wh..opq" }),
      e({ name: "a", type: "symlink", linkname: "/tmp" }),
    ]);
    expect(host.calls).toEqual([`setxattr "" "" trusted.overlay.opaque=y`, `setxattr "a" "" trusted.overlay.opaque=y`]);
    expect(result.opaqueDirs).toEqual([""]);
  });

  it("refuses an overlay xattr in the archive, and whiteouts that name nothing or a relative component", async () => {
    for (const [entry, reason] of [
      [e({ name: "f", mode: 0o644, pax: { "SCHILY.xattr.trusted.overlay.opaque": "y" } }, "x"), "xattr trusted.overlay.opaque is reserved for the overlay filesystem"],
      [e({ name: "d/.wh." }), "whiteout names no file"],
      [e({ name: "d/.wh.." }), "whiteout of a relative path component"],
    ] as const) {
      const host = new RecordingHost();
      const failed = unpackWith(host, [entry]);
      await expect(failed).rejects.toBeInstanceOf(ImageError);
      await expect(failed).rejects.toThrow(`test: refusing archive entry ${JSON.stringify(entry[0].name)}: ${reason}`);
      expect(host.calls).toEqual([]);
    }
  });
});
