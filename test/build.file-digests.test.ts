// The context's file digests kept between builds (src/build/file-digests.ts):
// trusted while inode, size, mtime and ctime hold; a changed file is hashed
// again; a file too young to tell (git's racily-clean case) is never kept.
import { createHash } from "node:crypto";
import { appendFileSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileDigests } from "../src/build/file-digests.js";

const sha = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

describe("build context file digests", () => {
  const root = mkdtempSync(join(tmpdir(), "tsbox-digests-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const file = join(root, "a.txt");
  const later = (): number => Date.now() + 60_000; // every file looks old enough to keep

  it("hashes a file once, then trusts what stat says of it until the file changes", () => {
    writeFileSync(file, "one");
    const d1 = new FileDigests(root, later);
    expect(d1.digest(file, lstatSync(file))).toBe(sha("one"));
    d1.save();
    // The next build takes the kept digest without reading the file: shown by a kept value that is not the file's.
    const stored = JSON.parse(readFileSync(join(root, "build-digests.json"), "utf8")) as { files: Record<string, string> };
    const [key] = stored.files[file]!.split(" ");
    stored.files[file] = `${key} ${"f".repeat(64)}`;
    writeFileSync(join(root, "build-digests.json"), JSON.stringify({ v: 1, files: stored.files }));
    expect(new FileDigests(root, later).digest(file, lstatSync(file))).toBe("f".repeat(64));
    // a write moves ctime (and size here): hashed again
    appendFileSync(file, "two");
    expect(new FileDigests(root, later).digest(file, lstatSync(file))).toBe(sha("onetwo"));
  });

  it("keeps no digest of a file changed within the clock's reach of the hashing", () => {
    const young = join(root, "young.txt");
    writeFileSync(young, "x");
    const d = new FileDigests(root); // now: the file's ctime is this instant
    expect(d.digest(young, lstatSync(young))).toBe(sha("x"));
    d.save();
    const stored = JSON.parse(readFileSync(join(root, "build-digests.json"), "utf8")) as { files: Record<string, string> };
    expect(stored.files[young]).toBeUndefined();
  });

  it("a corrupt file is an empty cache, not an error", () => {
    writeFileSync(join(root, "build-digests.json"), "{not json");
    expect(new FileDigests(root, later).digest(file, lstatSync(file))).toBe(sha("onetwo"));
  });
});
