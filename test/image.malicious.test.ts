// Archives that try to write outside the layer: each is refused, a canary
// outside the store is untouched, and the store is exactly as before.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageError } from "../src/errors.js";
import { importImage, resolveImage } from "../src/image/index.js";
import { layerBreakouts } from "./malicious-corpus.js";
import { listTree, tarball } from "./helpers.js";

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

const corpus = () => layerBreakouts(outside, canary);

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
