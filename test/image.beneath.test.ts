// Layers whose later entries replace a directory after something was recorded
// for a path inside it (an opaque marker, a whiteout): the write must land in
// the directory the entry named, inside the layer, or nowhere; never in what
// the replacement points to. The canary tree outside the store has the
// directories the layer's names would reach through the replacement; after
// every import, load (both forms) and pull it has no trusted.overlay.* xattr
// and no new entry. Each case also comes padded past 4 MiB, so that the
// unpack runs in the worker (its xattrs and device nodes go through the main
// thread).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { lgetxattrLen, mknodBeneath, setxattrBeneath } from "../src/native/shim.js";
import { dockerSaveMembers, listTree, makeRoot, ociLayoutMembers, removeRoot, tarball, type Members } from "./helpers.js";
import { buildImage, layerBlob, serveImages, tsboxAsync, type BuiltImage } from "./registry.fixtures.js";

const base = fs.mkdtempSync("/var/tmp/tsbox-beneath-");
const outside = path.join(base, "outside");
const root = makeRoot();
const pad = randomBytes(4608 << 10);

/** Every path under `dir` with its overlay xattrs (symlinks not followed). */
function overlayXattrs(dir: string): string {
  return execFileSync("python3", ["-c", [
    "import os,sys",
    "out=[]",
    "for d,ds,fs in os.walk(sys.argv[1]):",
    "  for n in [d]+[os.path.join(d,f) for f in ds+fs]:",
    "    out+=[n+' '+x for x in os.listxattr(n, follow_symlinks=False) if x.startswith('trusted.overlay.')]",
    "print(sorted(set(out)))",
  ].join("\n"), dir], { encoding: "utf8" });
}

const dir = (name: string): Members[number] => [{ name, type: "directory", mode: 0o755 }];
const file = (name: string, body: string | Buffer): Members[number] => [{ name, mode: 0o644 }, body];

/** [description, entries]: each records something under x/etc, then redirects x (or its parent). */
const cases = (): [string, Members][] => [
  ["the parent replaced by a symlink", [
    dir("x/"), dir("x/etc/"), file("x/etc/f", "f"), [{ name: "x/etc/.wh..wh..opq", mode: 0o644 }],
    [{ name: "x/etc/.wh.victim", mode: 0o644 }],
    [{ name: "x", type: "symlink", linkname: outside }],
  ]],
  ["the grandparent replaced by a symlink", [
    dir("g/"), dir("g/x/"), dir("g/x/etc/"), [{ name: "g/x/etc/.wh..wh..opq", mode: 0o644 }],
    [{ name: "g/x/etc/.wh.victim", mode: 0o644 }],
    [{ name: "g", type: "symlink", linkname: outside }],
  ]],
  ["the parent replaced by a hard link to a symlink", [
    dir("x/"), dir("x/etc/"), [{ name: "x/etc/.wh..wh..opq", mode: 0o644 }],
    [{ name: "s", type: "symlink", linkname: outside }],
    [{ name: "x", type: "link", linkname: "s" }],
  ]],
  ["the parent replaced by a relative symlink", [
    dir("x/"), dir("x/etc/"), [{ name: "x/etc/.wh..wh..opq", mode: 0o644 }],
    [{ name: "x", type: "symlink", linkname: `../../../../../../../../../../..${outside}` }],
  ]],
];

const all = (): [string, Members][] => cases().flatMap(([what, entries]) => [
  [what, entries] as [string, Members],
  [`${what} (past 4 MiB: the unpack worker)`, [file("pad", pad), ...entries]] as [string, Members],
]);

let before: string[];
let beforeXattrs: string;
const repos = new Map<string, BuiltImage>();
let registry: http.Server;
let port = 0;

beforeAll(async () => {
  // What the names would reach through each replacement: outside/etc, outside/x/etc.
  for (const d of ["etc", "x/etc"]) fs.mkdirSync(path.join(outside, d), { recursive: true });
  fs.writeFileSync(path.join(outside, "etc", "victim"), "host\n");
  fs.writeFileSync(path.join(outside, "x", "etc", "victim"), "host\n");
  before = listTree(outside);
  beforeXattrs = overlayXattrs(outside);
  expect(beforeXattrs).toBe("[]\n");
  ({ server: registry, port } = await serveImages(repos));
});

afterAll(async () => {
  registry.closeAllConnections();
  await new Promise((r) => registry.close(r));
  removeRoot(root);
  fs.rmSync(base, { recursive: true, force: true });
});

// Each case on its own: what an earlier one wrote outside is undone before the next.
beforeEach(() => {
  execFileSync("python3", ["-c", [
    "import os,sys",
    "for d,ds,fs in os.walk(sys.argv[1]):",
    "  for x in os.listxattr(d):",
    "    if x.startswith('trusted.overlay.'): os.removexattr(d, x)",
  ].join("\n"), outside]);
});

function assertOutsideUntouched(): void {
  expect(overlayXattrs(outside)).toBe(beforeXattrs);
  expect(listTree(outside)).toEqual(before);
  expect(fs.readFileSync(path.join(outside, "etc", "victim"), "utf8")).toBe("host\n");
}

/** Accepted (the replacement wins, as in Docker) or refused; either way nothing outside changed. */
function expectSettled(r: { code: number; stderr: string }): void {
  if (r.code !== 0) expect(r.stderr).toMatch(/^tsbox: .*\n$/);
  else expect(r.stderr).toBe("");
}

let n = 0;
/** A name of its own in every layer: a layer already in the store would not be unpacked again. */
const unique = (entries: Members): Members => [file(`u${n++}`, "u"), ...entries];
const archive = async (members: Members): Promise<string> => {
  const f = path.join(base, `a${n++}.tar`);
  fs.writeFileSync(f, await tarball(members));
  return f;
};

describe("a directory replaced after a marker was met: nothing is written outside the layer", () => {
  it.each(all())("import: %s", async (_, entries) => {
    const r = await tsboxAsync(root, ["import", await archive(unique(entries)), `imp${n}`]);
    expectSettled(r);
    assertOutsideUntouched();
  });

  it.each(all())("load (docker save): %s", async (_, entries) => {
    const layer = await tarball(unique(entries));
    const r = await tsboxAsync(root, ["load", "-i", await archive(dockerSaveMembers([{ layers: [layer], names: [`legacy${n}:1`] }]))]);
    expectSettled(r);
    assertOutsideUntouched();
  });

  it.each(all())("load (OCI layout): %s", async (_, entries) => {
    const layer = await tarball(unique(entries));
    const r = await tsboxAsync(root, ["load", "-i", await archive(ociLayoutMembers([{ layers: [layer], names: [`oci${n}:1`] }]))]);
    expectSettled(r);
    assertOutsideUntouched();
  });

  it.each(all())("pull: %s", async (_, entries) => {
    const name = `evil/p${n++}`;
    repos.set(name, buildImage([layerBlob(await tarball(unique(entries)), "none")]));
    const r = await tsboxAsync(root, ["pull", `127.0.0.1:${port}/${name}:v1`], { TSBOX_REGISTRY_RETRIES: "0" });
    expectSettled(r);
    assertOutsideUntouched();
  });
});

describe("the shim's beneath-root calls", () => {
  it("write inside the root, and refuse any path through a symlink or out of it", () => {
    const layer = path.join(base, "layer");
    fs.mkdirSync(path.join(layer, "d"), { recursive: true });
    fs.symlinkSync(outside, path.join(layer, "s"));
    fs.symlinkSync("../outside", path.join(layer, "rel"));
    mknodBeneath(layer, "d", "w", fs.constants.S_IFCHR, 0, 0);
    expect(fs.lstatSync(path.join(layer, "d", "w")).isCharacterDevice()).toBe(true);
    setxattrBeneath(layer, "d", "", "trusted.overlay.opaque", "y");
    expect(lgetxattrLen(path.join(layer, "d"), "trusted.overlay.opaque")).toBe(1);
    setxattrBeneath(layer, "", "s", "trusted.tsbox-test", "1");
    expect(lgetxattrLen(path.join(layer, "s"), "trusted.tsbox-test")).toBe(1);
    for (const dir of ["s", "rel", "s/etc", "..", "../outside", outside, "/proc/self/cwd"]) {
      expect(() => setxattrBeneath(layer, dir, "", "trusted.overlay.opaque", "y")).toThrow(/^E(LOOP|XDEV|NOTDIR):/);
      expect(() => mknodBeneath(layer, dir, "w", fs.constants.S_IFCHR, 0, 0)).toThrow(/^E(LOOP|XDEV|NOTDIR):/);
    }
    for (const name of ["..", ".", "a/b"]) {
      expect(() => mknodBeneath(layer, "d", name, fs.constants.S_IFCHR, 0, 0)).toThrow(/^EINVAL:/);
      expect(() => setxattrBeneath(layer, "d", name, "trusted.x", "1")).toThrow(/^EINVAL:/);
    }
    assertOutsideUntouched();
  });
});
