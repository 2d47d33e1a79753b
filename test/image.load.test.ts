// `tsbox load` of generated archives in the three forms (legacy docker save,
// Docker 25+ OCI layout with manifest.json, plain OCI layout): the merged view
// a container sees, the lines Docker prints, and refusal of corrupt and
// malicious archives with the store left exactly as it was.
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageError } from "../src/errors.js";
import { commitImage } from "../src/image/store-commit.js";
import { ingestLayer } from "../src/image/ingest.js";
import { ensureStore } from "../src/image/store.js";
import {
  buildImage, busyboxTarball, dockerSaveMembers, hex, listTree, makeRoot, ociLayoutMembers, removeRoot, rootWithBusybox,
  sha256, tarball, tsbox, type ImageSpec, type Members,
} from "./helpers.js";
import { layerBreakouts, type BreakoutCase } from "./malicious-corpus.js";

const roots: string[] = [];
const newRoot = (withBusybox = false): string => {
  const r = withBusybox ? rootWithBusybox() : makeRoot();
  roots.push(r);
  return r;
};
afterAll(() => {
  for (const r of roots) removeRoot(r);
});

const scratch = fs.mkdtempSync("/var/tmp/tsbox-load-files-");
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
let n = 0;
function file(data: Buffer): string {
  const f = path.join(scratch, `a${n++}.tar`);
  fs.writeFileSync(f, data);
  return f;
}

// Layers over busybox exercising whiteouts across layers, opaque directories,
// a directory replaced by a file, hard links and symlinks.
let busybox: Buffer;
let layers: Buffer[];
beforeAll(async () => {
  busybox = fs.readFileSync(busyboxTarball());
  const d = { type: "directory" as const, mode: 0o755 };
  layers = [
    busybox,
    await tarball([
      [{ name: "data/", ...d }],
      [{ name: "data/keep", mode: 0o644 }, "keep\n"],
      [{ name: "data/gone", mode: 0o644 }, "gone\n"],
      [{ name: "data/orig", mode: 0o644 }, "orig\n"],
      [{ name: "data/lnk", type: "symlink", linkname: "orig" }],
      [{ name: "data/dir/", ...d }],
      [{ name: "data/dir/old1", mode: 0o644 }, "old1\n"],
      [{ name: "data/dir/sub/", ...d }],
      [{ name: "data/dir/sub/old2", mode: 0o644 }, "old2\n"],
      [{ name: "data/replaced/", ...d }],
      [{ name: "data/replaced/x", mode: 0o644 }, "x\n"],
    ]),
    await tarball([
      [{ name: "data/.wh.gone" }],
      [{ name: "data/two", mode: 0o640, uid: 1000, gid: 1000 }, "two\n"],
      [{ name: "data/hard", type: "link", linkname: "data/two" }],
    ]),
    await tarball([
      // The opaque marker after a sibling: it applies regardless of order.
      [{ name: "data/dir/new", mode: 0o644 }, "new\n"],
      [{ name: "data/dir/.wh..wh..opq" }],
      [{ name: "data/replaced", mode: 0o644 }, "now a file\n"],
      [{ name: "data/abs", type: "symlink", linkname: "/data/keep" }],
    ]),
  ];
});

const VIEW = [
  "cd /data && find . | sort",
  "for f in keep orig two hard dir/new replaced lnk abs; do echo \"$f=$(cat $f)\"; done",
  "readlink lnk; readlink abs",
  "[ \"$(stat -c %i two)\" = \"$(stat -c %i hard)\" ] && echo hardlinked",
  "stat -c '%a %u:%g %h' two",
].join("; ");
const EXPECTED_VIEW = [
  ".", "./abs", "./dir", "./dir/new", "./hard", "./keep", "./lnk", "./orig", "./replaced", "./two",
  "keep=keep", "orig=orig", "two=two", "hard=two", "dir/new=new", "replaced=now a file", "lnk=orig", "abs=keep",
  "orig", "/data/keep", "hardlinked", "640 1000:1000 2", "",
].join("\n");

function spec(names: string[], gzip = false): ImageSpec {
  return { layers, names, gzip, config: { Env: ["PATH=/bin", "WHO=load"], Cmd: ["sh", "-c", "echo $WHO"] } };
}

describe("load: the three archive forms", () => {
  // [form, archive, whether the archive's own manifest is kept (its digest survives)]
  const forms: [string, () => Promise<Buffer>, boolean][] = [
    ["legacy docker save", () => tarball(dockerSaveMembers([spec(["legacy:1"])])), false],
    ["Docker 25 OCI layout with manifest.json", () => tarball(ociLayoutMembers([spec(["docker25:1"])], { dockerManifest: true })), true],
    ["plain OCI layout, gzip layers", () => tarball(ociLayoutMembers([spec(["localhost:5000/oci/img:1"], true)])), true],
  ];
  it.each(forms)("%s: loads, prints Docker's line, runs with the merged view", async (form, make, exact) => {
    const root = newRoot();
    const archive = await make();
    const r = tsbox(root, ["load", "-i", file(archive)]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const name = /^Loaded image: (.*)\n$/.exec(r.stdout)?.[1];
    expect(name).toBeDefined();
    expect(["legacy:1", "docker25:1", "localhost:5000/oci/img:1"]).toContain(name);

    const img = buildImage(spec([]));
    const inspect = JSON.parse(tsbox(root, ["image", "inspect", name ?? ""]).stdout) as { Id: string; RootFS: { Layers: string[] } }[];
    expect(inspect[0]?.Id).toBe(img.id);
    expect(inspect[0]?.RootFS.Layers).toEqual(img.diffIDs);
    const repos = JSON.parse(fs.readFileSync(path.join(root, "repositories.json"), "utf8")) as Record<string, string>;
    const manifestDigest = Object.values(repos)[0];
    const archived = buildImage(spec([], form.includes("gzip"))).manifestDigest;
    if (exact) expect(manifestDigest).toBe(archived);
    // The legacy form has no manifest: the one built lists the layer.tar blobs, which hash to the diff IDs.
    const stored = JSON.parse(fs.readFileSync(path.join(root, "blobs", "sha256", hex(manifestDigest ?? "")), "utf8")) as
      { config: { digest: string }; layers: { digest: string }[] };
    expect(stored.config.digest).toBe(img.id);
    if (!exact) expect(stored.layers.map((l) => l.digest)).toEqual(img.diffIDs);
    for (const l of stored.layers) expect(fs.existsSync(path.join(root, "blobs", "sha256", hex(l.digest)))).toBe(true);

    const run = tsbox(root, ["run", "--rm", name ?? "", "sh", "-c", VIEW]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe(EXPECTED_VIEW);
    expect(tsbox(root, ["run", "--rm", name ?? ""]).stdout).toBe("load\n");
    expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([]);
  });

  it("reads standard input, gzip-compressed, and keeps the exact manifest of an OCI layout", async () => {
    const root = newRoot();
    const archive = gzipSync(await tarball(ociLayoutMembers([spec(["stdin:gz"], true)])));
    const r = tsbox(root, ["load"], { input: archive });
    expect(r.stdout).toBe("Loaded image: stdin:gz\n");
    const repos = JSON.parse(fs.readFileSync(path.join(root, "repositories.json"), "utf8")) as Record<string, string>;
    expect(repos["docker.io/library/stdin:gz"]).toBe(buildImage(spec([], true)).manifestDigest);
  });

  it("names unnamed images by ID, loads several images, moves a tag as Docker says", async () => {
    const root = newRoot();
    const a = { layers: layers.slice(0, 2), config: { Cmd: ["a"] } };
    const b = { layers: layers.slice(0, 3), config: { Cmd: ["b"] }, names: ["multi:b", "multi:also"] };
    const idA = buildImage(a).id;
    const r = tsbox(root, ["load", "-i", file(await tarball(dockerSaveMembers([a, b])))]);
    expect(r.stdout).toBe(`Loaded image ID: ${idA}\nLoaded image: multi:b\nLoaded image: multi:also\n`);
    // The shared layers were unpacked once: one directory per chain.
    expect(fs.readdirSync(path.join(root, "layers"))).toHaveLength(3);

    const moved = tsbox(root, ["load", "-q", "-i", file(await tarball(dockerSaveMembers([{ ...a, names: ["multi:b"] }])))]);
    const idB = buildImage(b).id;
    expect(moved.stdout).toBe(`The image multi:b already exists, renaming the old one with ID ${idB} to empty string\nLoaded image: multi:b\n`);
    // Loading the same archive again changes nothing and says the same.
    const again = tsbox(root, ["load", "-i", file(await tarball(dockerSaveMembers([{ ...a, names: ["multi:b"] }])))]);
    expect(again.stdout).toBe("Loaded image: multi:b\n");
  });

  it("picks this machine's manifest from a multi-platform index, skipping attestations; a bare tag names nothing", async () => {
    const root = newRoot();
    const img = buildImage({ layers: layers.slice(0, 2), config: { Cmd: ["true"] } });
    const desc = (digest: string, platform: object, annotations?: object): object => ({
      mediaType: "application/vnd.oci.image.manifest.v1+json", digest, size: 1234, platform, ...(annotations ? { annotations } : {}) });
    const nested = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
      desc(sha256("arm64 manifest, not in the archive"), { os: "linux", architecture: "arm64", variant: "v8" }),
      desc(sha256("attestation"), { os: "unknown", architecture: "unknown" }, { "vnd.docker.reference.type": "attestation-manifest" }),
      { ...desc(img.manifestDigest, { os: "linux", architecture: "amd64" }), size: img.manifest.length },
    ] }));
    const indexDesc = { mediaType: "application/vnd.oci.image.index.v1+json", digest: sha256(nested), size: nested.length };
    const members: Members = [
      ...[img.config, img.manifest, nested, ...img.blobs].map((b): Members[number] => [{ name: `blobs/sha256/${hex(sha256(b))}` }, b]),
      [{ name: "oci-layout" }, '{"imageLayoutVersion":"1.0.0"}'],
      [{ name: "index.json" }, JSON.stringify({ schemaVersion: 2, manifests: [
        { ...indexDesc, annotations: { "org.opencontainers.image.ref.name": "multi:arch" } },
        { ...indexDesc, annotations: { "org.opencontainers.image.ref.name": "latest" } },
      ] })],
    ];
    const r = tsbox(root, ["load", "-i", file(await tarball(members))]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("Loaded image: multi:arch\n");
    expect(JSON.parse(fs.readFileSync(path.join(root, "repositories.json"), "utf8"))).toEqual({ "docker.io/library/multi:arch": img.manifestDigest });
    const unnamed = members.map(([h, b]): Members[number] => (h.name === "index.json"
      ? [h, JSON.stringify({ schemaVersion: 2, manifests: [{ ...indexDesc, annotations: { "org.opencontainers.image.ref.name": "v1" } }] })] : [h, b]));
    expect(tsbox(newRoot(), ["load", "-i", file(await tarball(unnamed))]).stdout).toBe(`Loaded image ID: ${img.id}\n`);
  });

  it("accepts layer.tar symlinks between layer directories, as docker save writes for repeated layers", async () => {
    const root = newRoot();
    const same = await tarball([[{ name: "f", mode: 0o644 }, "same\n"]]);
    const members = dockerSaveMembers([{ layers: [busybox, same, same], names: ["dup:1"] }]);
    const manifest = JSON.parse(String(members.find(([h]) => h.name === "manifest.json")?.[1])) as { Layers: string[] }[];
    const [, first, second] = manifest[0]?.Layers ?? [];
    const i = members.findIndex(([h]) => h.name === second);
    members[i] = [{ name: second ?? "", type: "symlink", linkname: `../${path.dirname(first ?? "")}/layer.tar` }];
    const r = tsbox(root, ["load", "-i", file(await tarball(members))]);
    expect(r.stderr).toBe("");
    expect(tsbox(root, ["run", "--rm", "dup:1", "cat", "/f"]).stdout).toBe("same\n");
  });
});

describe("load: corrupt archives change nothing", () => {
  let root: string;
  let before: string[];
  beforeAll(() => {
    root = newRoot(true);
    before = listTree(root);
  });

  async function refused(archive: Buffer, message: string | RegExp): Promise<void> {
    const r = tsbox(root, ["load", "-i", file(archive)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")).toHaveLength(2); // one line and its newline
    if (typeof message === "string") expect(r.stderr).toBe(`tsbox: ${message}\n`);
    else expect(r.stderr).toMatch(message);
    expect(listTree(root)).toEqual(before);
  }

  const small = (): ImageSpec => ({ layers: layers.slice(0, 3), names: ["bad:1"] });

  it("a blob whose content does not match its digest", async () => {
    const members = ociLayoutMembers([small()]);
    const layer = buildImage(small()).blobs[2] ?? Buffer.alloc(0);
    const i = members.findIndex(([h]) => h.name === `blobs/sha256/${hex(sha256(layer))}`);
    const evil = Buffer.from(layer);
    evil[600] = (evil[600] ?? 0) ^ 1;
    members[i] = [members[i]?.[0] ?? { name: "" }, evil];
    await refused(await tarball(members), `load: blob digest mismatch: expected ${sha256(layer)}, got ${sha256(evil)}`);
  });

  it("a truncated archive, plain and gzip-compressed", async () => {
    const archive = await tarball(dockerSaveMembers([small()]));
    await refused(archive.subarray(0, Math.floor(archive.length / 2)), "load: invalid tar archive: unexpected EOF");
    const gz = gzipSync(archive);
    await refused(gz.subarray(0, gz.length - 100), /^tsbox: load: invalid gzip stream: unexpected end of file\n$/);
  });

  it("a layer that does not hash to its diff ID", async () => {
    const members = dockerSaveMembers([small()]);
    const manifest = JSON.parse(String(members.find(([h]) => h.name === "manifest.json")?.[1])) as { Layers: string[] }[];
    const name = manifest[0]?.Layers[2] ?? "";
    const i = members.findIndex(([h]) => h.name === name);
    const other = await tarball([[{ name: "other", mode: 0o644 }, "other\n"]]);
    members[i] = [{ name, mode: 0o644 }, other];
    const diffID = buildImage(small()).diffIDs[2];
    await refused(await tarball(members), `load: wrong diff ID: expected ${diffID}, got ${sha256(other)}`);
  });

  it("a garbage layer.tar under the diff ID of a layer already in the store (legacy form)", async () => {
    // The store holds busybox's layer: its unpacked form is not unpacked again,
    // but the blob recorded for it must still be what the config names.
    const spec: ImageSpec = { layers: [busybox, layers[1] ?? Buffer.alloc(0)], names: ["bad:1"] };
    const members = dockerSaveMembers([spec]);
    const manifest = JSON.parse(String(members.find(([h]) => h.name === "manifest.json")?.[1])) as { Layers: string[] }[];
    const name = manifest[0]?.Layers[0] ?? "";
    const i = members.findIndex(([h]) => h.name === name);
    const garbage = Buffer.from("this is not the busybox layer\n".repeat(100));
    members[i] = [{ name, mode: 0o644 }, garbage];
    const diffID = buildImage(spec).diffIDs[0];
    await refused(await tarball(members), `load: layer ${JSON.stringify(name)}: wrong diff ID: expected ${diffID}, got ${sha256(garbage)}`);
  });

  it("a compressed blob with the right digest whose content is not the diff ID of a layer already in the store (OCI)", async () => {
    const garbage = await tarball([[{ name: "not-busybox", mode: 0o644 }, "x\n"]]);
    const gz = gzipSync(garbage);
    const config = Buffer.from(JSON.stringify({
      created: "2024-01-02T03:04:05Z", architecture: "amd64", os: "linux", config: {},
      rootfs: { type: "layers", diff_ids: [sha256(busybox)] },
    }));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(gz), size: gz.length }],
    }));
    const members: Members = [
      [{ name: `blobs/sha256/${hex(sha256(gz))}` }, gz],
      [{ name: `blobs/sha256/${hex(sha256(config))}` }, config],
      [{ name: `blobs/sha256/${hex(sha256(manifest))}` }, manifest],
      [{ name: "oci-layout" }, '{"imageLayoutVersion":"1.0.0"}'],
      [{ name: "index.json" }, JSON.stringify({ schemaVersion: 2, manifests: [{
        mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(manifest), size: manifest.length,
        annotations: { "io.containerd.image.name": "bad:2" } }] })],
    ];
    await refused(await tarball(members),
      `load: layer ${JSON.stringify(`blobs/sha256/${hex(sha256(gz))}`)}: wrong diff ID: expected ${sha256(busybox)}, got ${sha256(garbage)}`);
  });

  it("a manifest of unknown media type, and an index that lists nothing loadable", async () => {
    const img = buildImage(small());
    const manifest = Buffer.from(img.manifest.toString().replace(
      '"mediaType":"application/vnd.oci.image.manifest.v1+json"', '"mediaType":"application/vnd.example.thing+json"'));
    const members: Members = [
      ...img.blobs.map((b): Members[number] => [{ name: `blobs/sha256/${hex(sha256(b))}` }, b]),
      [{ name: `blobs/sha256/${hex(img.id)}` }, img.config],
      [{ name: `blobs/sha256/${hex(sha256(manifest))}` }, manifest],
      [{ name: "oci-layout" }, '{"imageLayoutVersion":"1.0.0"}'],
    ];
    const index = (mediaType: string): Members[number] => [{ name: "index.json" }, JSON.stringify({
      schemaVersion: 2, manifests: [{ mediaType, digest: sha256(manifest), size: manifest.length }] })];
    await refused(await tarball([...members, index("application/vnd.oci.image.manifest.v1+json")]),
      "load: unsupported manifest media type application/vnd.example.thing+json");
    await refused(await tarball([...members, index("application/vnd.example.thing+json")]), "load: index.json lists no image");
  });

  it("a layer of unknown media type", async () => {
    const img = buildImage(small());
    const manifest = Buffer.from(img.manifest.toString().replaceAll(
      "application/vnd.oci.image.layer.v1.tar", "application/vnd.example.layer"));
    const members: Members = [
      ...img.blobs.map((b): Members[number] => [{ name: `blobs/sha256/${hex(sha256(b))}` }, b]),
      [{ name: `blobs/sha256/${hex(img.id)}` }, img.config],
      [{ name: `blobs/sha256/${hex(sha256(manifest))}` }, manifest],
      [{ name: "index.json" }, JSON.stringify({ schemaVersion: 2, manifests: [
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(manifest), size: manifest.length }] })],
    ];
    await refused(await tarball(members), "load: unsupported layer media type application/vnd.example.layer");
  });

  it("not an image archive, an empty input, a missing layer, a config that disagrees on the layer count", async () => {
    await refused(await tarball([[{ name: "hello" }, "x"]]), "load: not an image archive: no manifest.json or index.json");
    await refused(Buffer.alloc(0), "load: not an image archive: no manifest.json or index.json");
    const members = dockerSaveMembers([small()]);
    const manifest = JSON.parse(String(members.find(([h]) => h.name === "manifest.json")?.[1])) as { Layers: string[] }[];
    const missing = manifest[0]?.Layers[1] ?? "";
    await refused(await tarball(members.filter(([h]) => h.name !== missing)), `load: layer ${JSON.stringify(missing)} is missing from the archive`);
    const fewer = members.map(([h, b]): Members[number] => (h.name === "manifest.json"
      ? [h, JSON.stringify([{ ...(manifest[0] ?? {}), Layers: manifest[0]?.Layers.slice(0, 2) }])] : [h, b]));
    await refused(await tarball(fewer), `load: image ${buildImage(small()).id}: the archive has 2 layers, its config lists 3`);
  });
});

describe("load: malicious archives are refused, nothing outside is touched", () => {
  const base = fs.mkdtempSync("/var/tmp/tsbox-load-evil-");
  const outside = path.join(base, "outside");
  const canary = path.join(outside, "canary");
  let root: string;
  let before: string[];
  let outsideBefore: string[];
  beforeAll(async () => {
    root = newRoot(true);
    before = listTree(root);
    fs.mkdirSync(outside);
    fs.writeFileSync(canary, "untouched\n");
    // Valid blobs outside: if `blobs` were followed out of the archive, the load would succeed.
    const img = buildImage({ layers: [await tarball([[{ name: "f" }, "f"]])] });
    fs.mkdirSync(path.join(outside, "sha256"));
    for (const b of [img.config, img.manifest, ...img.blobs]) fs.writeFileSync(path.join(outside, "sha256", hex(sha256(b))), b);
    outsideBefore = listTree(base);
  });
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

  function assertUntouched(): void {
    expect(listTree(root)).toEqual(before);
    expect(listTree(base)).toEqual(outsideBefore);
    expect(fs.readFileSync(canary, "utf8")).toBe("untouched\n");
  }

  async function indexOnly(): Promise<{ index: string; layout: string }> {
    const img = buildImage({ layers: [await tarball([[{ name: "f" }, "f"]])] });
    return {
      index: JSON.stringify({ schemaVersion: 2, manifests: [
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: img.manifestDigest, size: img.manifest.length,
          annotations: { "io.containerd.image.name": "evil:1" } }] }),
      layout: '{"imageLayoutVersion":"1.0.0"}',
    };
  }

  const cases: [string, () => Promise<Members>, string | RegExp][] = [
    ["a member path with ..", async () => [[{ name: "../x" }, "x"], ...dockerSaveMembers([{ layers: [busybox] }])],
      'load: refusing archive member "../x": path escapes the archive'],
    ["a member path that climbs back out", async () => [[{ name: "a/../../outside/canary" }, "pwned"]],
      'load: refusing archive member "a/../../outside/canary": path escapes the archive'],
    ["an absolute member path", async () => [[{ name: canary }, "pwned"]],
      `load: refusing archive member ${JSON.stringify(canary)}: absolute path`],
    ["blobs/ as an absolute symlink out of the archive", async () => {
      const { index, layout } = await indexOnly();
      return [[{ name: "blobs", type: "symlink", linkname: outside }], [{ name: "index.json" }, index], [{ name: "oci-layout" }, layout]];
    }, `load: refusing archive member "blobs": symlink target ${JSON.stringify(outside)} is absolute`],
    ["blobs/ as a relative symlink out of the archive", async () => {
      const { index, layout } = await indexOnly();
      return [[{ name: "blobs", type: "symlink", linkname: "../../../../outside" }], [{ name: "index.json" }, index],
        [{ name: "oci-layout" }, layout]];
    }, 'load: refusing archive member "blobs": symlink target "../../../../outside" escapes the archive'],
    ["blobs/ as a symlink inside the archive, read through", async () => {
      const { index, layout } = await indexOnly();
      return [[{ name: "elsewhere/", type: "directory" }], [{ name: "blobs", type: "symlink", linkname: "elsewhere" }],
        [{ name: "index.json" }, index], [{ name: "oci-layout" }, layout]];
    }, /^load: refusing archive member "blobs\/sha256\/[0-9a-f]{64}": path goes through symlink "blobs"$/],
    ["a member below a symlinked directory", async () => [
      [{ name: "blobs", type: "symlink", linkname: "x" }], [{ name: "blobs/sha256/abc" }, "x"]],
    'load: refusing archive member "blobs/sha256/abc": path goes through symlink "blobs"'],
    ["layer.tar as a symlink to a host file", async () => {
      const members = dockerSaveMembers([{ layers: [busybox], names: ["evil:1"] }]);
      const i = members.findIndex(([h]) => h.name.endsWith("/layer.tar"));
      members[i] = [{ name: members[i]?.[0].name ?? "", type: "symlink", linkname: "/etc/passwd" }];
      return members;
    }, /^load: refusing archive member "[0-9a-f]{64}\/layer.tar": symlink target "\/etc\/passwd" is absolute$/],
    ["layer.tar as a hard link out of the archive", async () => {
      const members = dockerSaveMembers([{ layers: [busybox], names: ["evil:1"] }]);
      const i = members.findIndex(([h]) => h.name.endsWith("/layer.tar"));
      members[i] = [{ name: members[i]?.[0].name ?? "", type: "link", linkname: "../../outside/canary" }];
      return members;
    }, /^load: refusing archive member "[0-9a-f]{64}\/layer.tar": path escapes the archive$/],
    ["a duplicate member", async () => [[{ name: "manifest.json" }, "[]"], [{ name: "manifest.json" }, "[]"]],
      'load: refusing archive member "manifest.json": duplicate archive member'],
    ["a layer writing through a symlink out of the layer", async () => dockerSaveMembers([{ names: ["evil:1"], layers: [
      busybox, await tarball([[{ name: "evil", type: "symlink", linkname: outside }], [{ name: "evil/canary" }, "pwned"]])] }]),
    'load: refusing archive entry "evil/canary": path goes through symlink "evil" and could escape the layer'],
    ["a layer climbing out with ..", async () => ociLayoutMembers([{ names: ["evil:1"], gzip: true, layers: [
      await tarball([[{ name: "../../../../outside/canary" }, "pwned"]])] }]),
    'load: refusing archive entry "../../../../outside/canary": path escapes the layer'],
    ["a layer hard-linking a host file", async () => dockerSaveMembers([{ names: ["evil:1"], layers: [
      await tarball([[{ name: "h", type: "link", linkname: "../../../../outside/canary" }]])] }]),
    'load: refusing archive entry "h": hard link target "../../../../outside/canary" escapes the layer'],
  ];

  // The layer breakouts of image.malicious.test.ts (the shared corpus), arriving through load instead of import.
  const layerCases = (): BreakoutCase[] => layerBreakouts(outside, canary);
  it.each(layerCases().map((c) => [c[0], c] as const))("a layer with %s", async (_, [, entries, entry, reason]) => {
    // 5 MiB before the bad entry: the plain layer is unpacked in a worker (layers
    // under 4 MiB, like the gzip one, on the main thread), so both paths see the corpus.
    const evil = await tarball([[{ name: "before/", type: "directory" }], [{ name: "before/f" }, Buffer.alloc(5 << 20, 120)], ...entries]);
    for (const members of [dockerSaveMembers([{ layers: [busybox, evil], names: ["evil:1"] }]),
      ociLayoutMembers([{ layers: [busybox, evil], names: ["evil:1"], gzip: true }])]) {
      const r = tsbox(root, ["load", "-i", file(await tarball(members))]);
      expect(r.stderr).toBe(`tsbox: load: refusing archive entry ${JSON.stringify(entry)}: ${reason}\n`);
      expect(r.code).toBe(1);
      assertUntouched();
    }
  });

  it.each(cases)("%s", async (_, make, message) => {
    const r = tsbox(root, ["load", "-i", file(await tarball(await make()))]);
    expect(r.code).toBe(1);
    if (typeof message === "string") expect(r.stderr).toBe(`tsbox: ${message}\n`);
    else expect(r.stderr.replace(/^tsbox: /, "").trimEnd()).toMatch(message);
    assertUntouched();
  });
});

describe("ingestLayer expectations and commitImage checks (the shared commit path)", () => {
  let root: string;
  let before: string[];
  let layer: Buffer;
  beforeAll(async () => {
    root = newRoot(true);
    layer = await tarball([[{ name: "a", mode: 0o644 }, "a".repeat(5000)]]);
    before = listTree(root);
  });

  async function failure(input: Buffer, expect_: Parameters<typeof ingestLayer>[3]): Promise<string> {
    const p = ensureStore(root);
    const err = await ingestLayer(p, Readable.from([input]), "pull", expect_).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect(listTree(root)).toEqual(before);
    return (err as Error).message;
  }

  it("refuses wrong digests, sizes, diff IDs, media types and truncated input", async () => {
    const gz = gzipSync(layer);
    expect(await failure(gz, { digest: sha256(layer) })).toBe(`pull: blob digest mismatch: expected ${sha256(layer)}, got ${sha256(gz)}`);
    expect(await failure(gz, { size: gz.length + 1 })).toBe(`pull: size mismatch: expected ${gz.length + 1} bytes, got ${gz.length}`);
    expect(await failure(gz, { size: 10 })).toBe("pull: size mismatch: expected 10 bytes, got more");
    expect(await failure(gz, { diffID: sha256(gz) })).toBe(`pull: wrong diff ID: expected ${sha256(gz)}, got ${sha256(layer)}`);
    expect(await failure(gz, { mediaType: "application/vnd.oci.image.config.v1+json" }))
      .toBe("pull: unsupported layer media type application/vnd.oci.image.config.v1+json");
    expect(await failure(gz.subarray(0, gz.length - 30), {})).toBe("pull: invalid tar archive: gzip: unexpected end of file");
    expect(await failure(layer.subarray(0, 1000), {})).toBe("pull: invalid tar archive: unexpected EOF");
    expect(await failure(gz, { digest: "sha512:abc" })).toBe('pull: unsupported or invalid digest "sha512:abc"');
  });

  it("trusts the magic bytes over the media type and accepts a matching layer", async () => {
    const p = ensureStore(root);
    const gz = gzipSync(layer);
    const l = await ingestLayer(p, Readable.from([gz]), "pull", {
      digest: sha256(gz), size: gz.length, diffID: sha256(layer), mediaType: "application/vnd.docker.image.rootfs.diff.tar" });
    expect(l.compression).toBe("gzip");
    expect(l.mediaType).toBe("application/vnd.docker.image.rootfs.diff.tar");
    fs.rmSync(l.staging, { recursive: true });
  });

  it("commitImage refuses a config, diff ID or chain ID that disagrees, and removes the staging", async () => {
    const p = ensureStore(root);
    const img = buildImage({ layers: [layer], names: [] });
    const stage = () => ingestLayer(p, Readable.from([layer]), "pull", { diffID: sha256(layer) });
    const attempts: [() => Promise<Parameters<typeof commitImage>[1]>, string][] = [
      [async () => ({ manifest: img.manifest, config: Buffer.concat([img.config, Buffer.from(" ")]), layers: [await stage()], refs: ["x"] }),
        `image config digest mismatch: expected ${img.id}, got ${sha256(Buffer.concat([img.config, Buffer.from(" ")]))}`],
      [async () => ({ manifest: img.manifest, config: img.config, layers: [{ existing: sha256("nope") }], refs: ["x"] }),
        `layer 1: wrong chain ID: expected ${img.diffIDs[0]}, got ${sha256("nope")}`],
      [async () => ({ manifest: img.manifest, config: img.config, layers: [{ existing: img.diffIDs[0] ?? "" }], refs: ["x"] }),
        `image store is missing layer ${img.diffIDs[0]}`],
      [async () => ({ manifest: img.manifest, config: img.config, layers: [], refs: ["x"] }),
        `image ${img.id}: layer count mismatch (config 1, manifest 1, staged 0)`],
    ];
    for (const [make, message] of attempts) {
      const staged = await make();
      expect(() => commitImage(root, staged)).toThrow(message);
      expect(listTree(root)).toEqual(before);
    }
    const ok = commitImage(root, { manifest: img.manifest, config: img.config, layers: [await stage()], refs: ["committed:1"] });
    expect(ok.id).toBe(img.id);
    expect(ok.name).toBe("docker.io/library/committed:1");
    expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([]);
  });
});
