// Archives that try to write outside the layer: each is refused, a canary
// outside the store is untouched, and the store is exactly as before.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import * as tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageError } from "../src/errors.js";
import { importImage, resolveImage } from "../src/image/index.js";

type Entry = Partial<tar.Header> & { name: string; pax?: Record<string, string> };

async function tarball(entries: [Entry, string?][]): Promise<Buffer> {
  const pack = tar.pack();
  for (const [h, body] of entries) pack.entry(h, body ?? "");
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      out.push(`${st.isDirectory() ? "d" : st.isSymbolicLink() ? "l" : "f"} ${path.relative(root, p)} ${st.isFile() ? st.size : ""}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

function xattrs(p: string): string {
  return execFileSync("python3", ["-c",
    "import os,sys; print(sorted(os.listxattr(sys.argv[1], follow_symlinks=False)))", p], { encoding: "utf8" });
}

// Fixed before the corpus is built (at collection time), filled in beforeAll.
const base = fs.mkdtempSync("/var/tmp/tsbox-image-evil-");
const root = path.join(base, "a", "b", "root");
const outside = path.join(base, "outside");
const canary = path.join(outside, "canary");
let baseline: string[];
let outsideBaseline: string[];
let outsideXattrs: string;

beforeAll(async () => {
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(canary, "untouched\n");
  fs.chmodSync(canary, 0o644);
  fs.writeFileSync(path.join(base, "canary"), "untouched\n");
  await importImage(root, Readable.from([await tarball([[{ name: "ok", mode: 0o644 }, "ok"]])]), "baseline");
  baseline = listTree(root);
  outsideBaseline = listTree(base).filter((l) => !l.includes(" a/"));
  outsideXattrs = xattrs(outside);
});

afterAll(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

function assertNothingChanged(): void {
  expect(listTree(root)).toEqual(baseline);
  expect(listTree(base).filter((l) => !l.includes(" a/"))).toEqual(outsideBaseline);
  expect(fs.readFileSync(canary, "utf8")).toBe("untouched\n");
  expect(fs.readFileSync(path.join(base, "canary"), "utf8")).toBe("untouched\n");
  expect(fs.lstatSync(canary).mode & 0o7777).toBe(0o644);
  expect(fs.lstatSync(canary).uid).toBe(0);
  expect(xattrs(outside)).toBe(outsideXattrs);
  expect(fs.existsSync(path.join(root, ".lock"))).toBe(false);
  expect(resolveImage(root, "baseline").layers).toHaveLength(1);
}

// [description, entries, offending entry, reason]
const corpus = (): [string, [Entry, string?][], string, string][] => [
  ["a relative path above the layer", [[{ name: "../../../canary", mode: 0o644 }, "pwned"]],
    "../../../canary", "path escapes the layer"],
  ["a dotdot path that climbs back out", [[{ name: "x/../../outside/canary", mode: 0o644 }, "pwned"]],
    "x/../../outside/canary", "path escapes the layer"],
  ["an absolute path with dotdot", [[{ name: "/../outside/canary", mode: 0o644 }, "pwned"]],
    "/../outside/canary", "path escapes the layer"],
  ["a bare dotdot directory", [[{ name: "../", type: "directory", mode: 0o777 }]], "../", "path escapes the layer"],
  ["a file through a symlinked directory",
    [[{ name: "evil", type: "symlink", linkname: outside }], [{ name: "evil/canary", mode: 0o644 }, "pwned"]],
    "evil/canary", 'path goes through symlink "evil" and could escape the layer'],
  ["a file through a relative symlink",
    [[{ name: "evil", type: "symlink", linkname: "../../../../../outside" }], [{ name: "evil/new", mode: 0o644 }, "x"]],
    "evil/new", 'path goes through symlink "evil" and could escape the layer'],
  ["a directory through a symlink",
    [[{ name: "evil", type: "symlink", linkname: outside }], [{ name: "evil/sub/", type: "directory", mode: 0o777 }]],
    "evil/sub/", 'path goes through symlink "evil" and could escape the layer'],
  ["a symlink nested in a directory",
    [[{ name: "d/", type: "directory" }], [{ name: "d/l", type: "symlink", linkname: "/" }],
      [{ name: "d/l/var/tmp/x", mode: 0o644 }, "x"]],
    "d/l/var/tmp/x", 'path goes through symlink "d/l" and could escape the layer'],
  ["a device node through a symlink",
    [[{ name: "evil", type: "symlink", linkname: outside }],
      [{ name: "evil/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 }]],
    "evil/null", 'path goes through symlink "evil" and could escape the layer'],
  ["a whiteout through a symlink (would replace the canary)",
    [[{ name: "evil", type: "symlink", linkname: outside }], [{ name: "evil/.wh.canary" }]],
    "evil/.wh.canary", 'path goes through symlink "evil" and could escape the layer'],
  ["an opaque marker through a symlink (would set an xattr outside)",
    [[{ name: "evil", type: "symlink", linkname: outside }], [{ name: "evil/.wh..wh..opq" }]],
    "evil/.wh..wh..opq", 'path goes through symlink "evil" and could escape the layer'],
  ["a hard link to a file above the layer", [[{ name: "h", type: "link", linkname: "../../../outside/canary" }]],
    "h", 'hard link target "../../../outside/canary" escapes the layer'],
  ["a hard link through a symlink",
    [[{ name: "evil", type: "symlink", linkname: outside }], [{ name: "h", type: "link", linkname: "evil/canary" }]],
    "h", 'hard link target goes through symlink "evil" and could escape the layer'],
  ["a hard link to an absolute host path", [[{ name: "h", type: "link", linkname: canary }]],
    "h", `hard link target ${JSON.stringify(canary)} does not exist in the layer`],
  ["a hard link placed through a symlink",
    [[{ name: "f", mode: 0o644 }, "f"], [{ name: "evil", type: "symlink", linkname: outside }],
      [{ name: "evil/h", type: "link", linkname: "f" }]],
    "evil/h", 'path goes through symlink "evil" and could escape the layer'],
  ["a bare whiteout", [[{ name: "dir/.wh." }]], "dir/.wh.", "whiteout names no file"],
  ["a whiteout of dotdot", [[{ name: "dir/.wh..." }]], "dir/.wh...", "whiteout of a relative path component"],
  ["a whiteout of dot", [[{ name: ".wh.." }]], ".wh..", "whiteout of a relative path component"],
  ["an overlay xattr", [[{ name: "f", mode: 0o644, pax: { "SCHILY.xattr.trusted.overlay.redirect": "/etc" } }, "x"]],
    "f", "xattr trusted.overlay.redirect is reserved for the overlay filesystem"],
  ["the layer root as a symlink", [[{ name: "./", type: "symlink", linkname: outside }]],
    "./", "the layer root must be a directory"],
  ["a file under a file", [[{ name: "f", mode: 0o644 }, "f"], [{ name: "f/g", mode: 0o644 }, "g"]],
    "f/g", 'parent "f" is not a directory'],
];

describe("malicious archives", () => {
  it.each(corpus().map((c) => [c[0], c] as const))("refuses %s", async (_, [, entries, entry, reason]) => {
    // Valid entries before the bad one: the partial unpack must be cleaned up too.
    const tarBuf = await tarball([[{ name: "before/", type: "directory" }], [{ name: "before/f", mode: 0o644 }, "x"], ...entries]);
    const err = await importImage(root, Readable.from([tarBuf]), "evil").then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as Error).message).toBe(`import: refusing archive entry ${JSON.stringify(entry)}: ${reason}`);
    assertNothingChanged();
  });

  it("refuses while the input is still streaming, without waiting for its end", async () => {
    const evil = await tarball([[{ name: "../escape", mode: 0o644 }, "x"]]);
    const input = new Readable({ read() {} });
    input.push(evil.subarray(0, 1024)); // header and data, no end-of-archive: more could follow
    const err = await importImage(root, input, "evil").then(() => undefined, (e: unknown) => e);
    expect((err as Error).message).toBe('import: refusing archive entry "../escape": path escapes the layer');
    expect(input.destroyed).toBe(true);
    assertNothingChanged();
  });

  it("confines absolute names to the layer (as Docker does) rather than writing to the host", async () => {
    const abs = path.join(outside, "created-by-import");
    const image = await importImage(root, Readable.from([await tarball([[{ name: abs, mode: 0o644 }, "inside"]])]), undefined);
    expect(fs.existsSync(abs)).toBe(false);
    expect(fs.readFileSync(path.join(image.layers[0]?.dir ?? "", abs), "utf8")).toBe("inside");
  });

  it("replaces a symlink with a file instead of writing through it", async () => {
    const image = await importImage(root, Readable.from([await tarball([
      [{ name: "x", type: "symlink", linkname: canary }],
      [{ name: "x", mode: 0o644 }, "pwned"],
      [{ name: "y", type: "symlink", linkname: outside }],
      [{ name: "y/", type: "directory", mode: 0o777 }],
    ])]), undefined);
    expect(fs.readFileSync(canary, "utf8")).toBe("untouched\n");
    expect(fs.readFileSync(path.join(image.layers[0]?.dir ?? "", "x"), "utf8")).toBe("pwned");
    expect(fs.lstatSync(path.join(image.layers[0]?.dir ?? "", "y")).isDirectory()).toBe(true);
    expect(fs.lstatSync(outside).mode & 0o777).not.toBe(0o777);
  });

  it("cleans dotdot that stays inside the layer lexically", async () => {
    const image = await importImage(root, Readable.from([await tarball([
      [{ name: "a", type: "symlink", linkname: outside }],
      [{ name: "a/../b", mode: 0o644 }, "b"],
    ])]), undefined);
    expect(fs.readFileSync(path.join(image.layers[0]?.dir ?? "", "b"), "utf8")).toBe("b");
    expect(fs.readFileSync(canary, "utf8")).toBe("untouched\n");
  });
});
