// Blobs no image references any more are removed by rmi, image prune and
// system prune. The leak: a second manifest of the same image (same config,
// layers compressed differently) loaded under another name; the first
// manifest and its layer blob, once their tag is gone or moved, were named by
// no image record or reference and stayed in blobs/ forever.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, makeRoot, ociLayoutMembers, removeRoot, sha256, tarball, tsbox, type ImageSpec } from "./helpers.js";

const roots: string[] = [];
const scratch = fs.mkdtempSync("/var/tmp/tsbox-blobs-");
let plain: ImageSpec;
let gzipped: ImageSpec;
let other: ImageSpec;

beforeAll(async () => {
  const layer = await tarball([[{ name: "f", mode: 0o644 }, "same layer\n"]]);
  plain = { layers: [layer], names: ["app:1"] };
  gzipped = { layers: [layer], names: ["app:2"], gzip: true };
  other = { layers: [await tarball([[{ name: "g", mode: 0o644 }, "another image\n"]])], names: ["keep:1"] };
  // One image (one config), two manifests.
  expect(buildImage(gzipped).id).toBe(buildImage(plain).id);
  expect(buildImage(gzipped).manifestDigest).not.toBe(buildImage(plain).manifestDigest);
});

afterAll(() => {
  for (const r of roots) removeRoot(r);
  fs.rmSync(scratch, { recursive: true, force: true });
});

const blobs = (root: string): string[] => fs.readdirSync(path.join(root, "blobs", "sha256")).map((h) => `sha256:${h}`).sort();
const blobsOf = (...specs: ImageSpec[]): string[] => [...new Set(specs.flatMap((s) => {
  const i = buildImage(s);
  return [i.id, i.manifestDigest, ...i.blobs.map(sha256)];
}))].sort();

function ok(root: string, args: string[]): void {
  const r = tsbox(root, args);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
}

let n = 0;
/** A store holding keep:1, and app:1 and app:2: one image under two manifests. */
async function twoManifests(): Promise<string> {
  const root = makeRoot();
  roots.push(root);
  for (const spec of [other, plain, gzipped]) {
    const f = path.join(scratch, `a${n++}.tar`);
    fs.writeFileSync(f, await tarball(ociLayoutMembers([spec])));
    ok(root, ["load", "-q", "-i", f]);
  }
  expect(blobs(root)).toEqual(blobsOf(other, plain, gzipped));
  return root;
}

describe("blobs nothing references are removed", () => {
  it("by rmi: of a tag (the image stays) and of the image", async () => {
    const root = await twoManifests();
    ok(root, ["rmi", "app:1"]);
    expect(blobs(root)).toEqual(blobsOf(other, gzipped));
    ok(root, ["rmi", "app:2"]);
    expect(blobs(root)).toEqual(blobsOf(other));
  });

  it("by image prune, even when no image goes", async () => {
    const root = await twoManifests();
    // app:1 moves to the image's other manifest: the first is named by nothing.
    ok(root, ["tag", "app:2", "app:1"]);
    ok(root, ["image", "prune", "-f"]);
    expect(blobs(root)).toEqual(blobsOf(other, gzipped));
  });

  it("by system prune -a", async () => {
    const root = await twoManifests();
    ok(root, ["tag", "app:2", "app:1"]);
    ok(root, ["system", "prune", "-a", "-f"]);
    expect(blobs(root)).toEqual([]);
  });
});
