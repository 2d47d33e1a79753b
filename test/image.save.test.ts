// `tsbox save` (legacy docker-save layout) and the image commands around it:
// round trips through `tsbox load`, what the archive holds, Docker's rules for
// which tags go in, output to a file or a pipe, and `image inspect`,
// `image prune`, `tag`, `images --digests`, `rmi` of an image in use.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import * as tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitImage } from "../src/image/store-commit.js";
import { ingestLayer } from "../src/image/ingest.js";
import { ensureStore } from "../src/image/store.js";
import {
  CLI, buildImage, busyboxTarball, dockerSaveMembers, listTree, makeRoot, ociLayoutMembers, removeRoot, sha256, tarball,
  tsbox, type ImageSpec,
} from "./helpers.js";

const roots: string[] = [];
const newRoot = (): string => {
  const r = makeRoot();
  roots.push(r);
  return r;
};
const scratch = fs.mkdtempSync("/var/tmp/tsbox-save-files-");
afterAll(() => {
  for (const r of roots) removeRoot(r);
  fs.rmSync(scratch, { recursive: true, force: true });
});
let n = 0;
const file = (data: Buffer): string => {
  const f = path.join(scratch, `in${n++}.tar`);
  fs.writeFileSync(f, data);
  return f;
};
const out = (): string => path.join(scratch, `out${n++}.tar`);

/** Every member of a tar: name → content (symlinks as "-> target"). */
async function members(archive: Buffer): Promise<Map<string, Buffer>> {
  const m = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => { chunks.push(Buffer.from(c as Uint8Array)); });
      stream.on("end", () => {
        m.set(h.name, h.type === "symlink" ? Buffer.from(`-> ${h.linkname}`) : Buffer.concat(chunks));
        next();
      });
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  extract.end(archive);
  await done;
  return m;
}

let busybox: Buffer;
let upper: Buffer;
let whiteout: Buffer;
beforeAll(async () => {
  busybox = fs.readFileSync(busyboxTarball());
  upper = await tarball([
    [{ name: "srv/", type: "directory", mode: 0o755 }],
    [{ name: "srv/a", mode: 0o644 }, "a\n"],
    [{ name: "srv/b", mode: 0o600, uid: 7, gid: 8 }, "b\n"],
    [{ name: "srv/ln", type: "symlink", linkname: "a" }],
  ]);
  whiteout = await tarball([
    [{ name: "srv/.wh.a" }], [{ name: "srv/c", mode: 0o644 }, "c\n"], [{ name: "srv/h", type: "link", linkname: "srv/c" }],
  ]);
});
const spec = (names: string[], gzip = false): ImageSpec => ({
  layers: [busybox, upper, whiteout], names, gzip, config: { Cmd: ["sh", "-c", "ls /srv; cat /srv/h"], WorkingDir: "/srv" },
});
const VIEW = "b\nc\nh\nln\nc\n";

describe("save", () => {
  it("round-trips through load: same ID, layers, view; the archive is docker save's layout", async () => {
    const a = newRoot();
    expect(tsbox(a, ["load", "-i", file(await tarball(ociLayoutMembers([spec(["rt:1"], true)])))]).code).toBe(0);
    const saved = out();
    const r = tsbox(a, ["save", "rt:1", "-o", saved]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);

    const img = buildImage(spec([]));
    const m = await members(fs.readFileSync(saved));
    const manifest = JSON.parse(m.get("manifest.json")?.toString() ?? "") as { Config: string; RepoTags: string[]; Layers: string[] }[];
    expect(manifest).toHaveLength(1);
    expect(manifest[0]?.RepoTags).toEqual(["rt:1"]);
    expect(manifest[0]?.Config).toBe(`${img.id.slice(7)}.json`);
    expect(m.get(manifest[0]?.Config ?? "")?.equals(img.config)).toBe(true);
    // gzip blobs in the store, plain tars in the archive: each hashes to its diff ID.
    expect(manifest[0]?.Layers.map((l) => sha256(m.get(l) ?? Buffer.alloc(0)))).toEqual(img.diffIDs);
    for (const l of manifest[0]?.Layers ?? []) {
      expect(m.get(path.join(path.dirname(l), "VERSION"))?.toString()).toBe("1.0");
      expect(JSON.parse(m.get(path.join(path.dirname(l), "json"))?.toString() ?? "")).toMatchObject({ id: path.dirname(l) });
    }
    const top = path.dirname(manifest[0]?.Layers[2] ?? "");
    expect(JSON.parse(m.get("repositories")?.toString() ?? "")).toEqual({ rt: { 1: top } });

    const b = newRoot();
    expect(tsbox(b, ["load", "-i", saved]).stdout).toBe("Loaded image: rt:1\n");
    const ids = (root: string): unknown => JSON.parse(tsbox(root, ["image", "inspect", "rt:1"]).stdout);
    expect((ids(b) as { Id: string }[])[0]?.Id).toBe(img.id);
    expect((ids(b) as { RootFS: unknown }[])[0]?.RootFS).toEqual((ids(a) as { RootFS: unknown }[])[0]?.RootFS);
    expect(tsbox(b, ["run", "--rm", "rt:1"]).stdout).toBe(VIEW);
    expect(tsbox(a, ["run", "--rm", "rt:1"]).stdout).toBe(VIEW);
  });

  it("picks tags as Docker does: a bare name is every tag, name:tag that tag, an ID none", async () => {
    const root = newRoot();
    const one = { layers: [busybox], names: ["pick:1", "pick:2", "other:x"] };
    const two = { layers: [busybox, upper], names: ["pick:3"] };
    tsbox(root, ["load", "-i", file(await tarball(dockerSaveMembers([one, two])))]);
    const tagsOf = async (args: string[]): Promise<unknown> => {
      const f = out();
      const r = tsbox(root, ["save", ...args, "-o", f]);
      expect(r.stderr).toBe("");
      const m = await members(fs.readFileSync(f));
      return (JSON.parse(m.get("manifest.json")?.toString() ?? "") as { RepoTags: unknown }[]).map((e) => e.RepoTags);
    };
    expect(await tagsOf(["pick"])).toEqual([["pick:1", "pick:2"], ["pick:3"]]);
    expect(await tagsOf(["pick:2", "other:x"])).toEqual([["pick:2", "other:x"]]);
    expect(await tagsOf([buildImage(two).id.slice(7, 19)])).toEqual([null]);
    const f = out();
    tsbox(root, ["save", buildImage(two).id, "-o", f]);
    expect((await members(fs.readFileSync(f))).has("repositories")).toBe(false);
  });

  it("streams to a pipe byte-identically, refuses a terminal, and leaves no file when it fails", async () => {
    const root = newRoot();
    tsbox(root, ["load", "-i", file(await tarball(dockerSaveMembers([{ layers: [busybox, upper], names: ["pipe:1"] }])))]);
    const f = out();
    tsbox(root, ["save", "-o", f, "pipe:1"]);
    const piped = spawnSync(process.execPath, [CLI, "--root", root, "save", "pipe:1"], { maxBuffer: 1 << 28 });
    expect(piped.status).toBe(0);
    expect(Buffer.compare(piped.stdout, fs.readFileSync(f))).toBe(0);

    // A pseudo-terminal on stdout (python's pty), as when a user forgets -o.
    const tty = spawnSync("python3", ["-c", "import pty,sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)",
      process.execPath, CLI, "--root", root, "save", "pipe:1"], { encoding: "utf8" });
    expect(tty.stdout.trim()).toBe("tsbox: cowardly refusing to save to a terminal. Use the -o flag or redirect");
    expect(tty.status).toBe(1);

    // A reader that goes away early: one line, nothing left behind.
    const closed = spawnSync("bash", ["-c", `${JSON.stringify(process.execPath)} ${CLI} --root ${root} save pipe:1 | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`],
      { encoding: "utf8" });
    expect(closed.stdout).toBe("1\n");
    expect(closed.stderr).toBe("tsbox: save: writing the archive failed: write EPIPE\n");
    expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([]);

    const dir = fs.mkdtempSync(path.join(scratch, "o-"));
    const missing = tsbox(root, ["save", "-o", path.join(dir, "x.tar"), "pipe:1", "nosuch:1"]);
    expect(missing.stderr).toBe("tsbox: No such image: nosuch:1\n");
    expect(missing.code).toBe(1);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(tsbox(root, ["save", "-o", path.join(dir, "no", "x.tar"), "pipe:1"]).stderr)
      .toBe(`tsbox: failed to save image: open ${path.join(dir, "no", "x.tar")}: no such file or directory\n`);
    expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([]);
  });

  it("refuses to write a layer whose stored blob no longer hashes to its diff ID", async () => {
    const root = newRoot();
    tsbox(root, ["load", "-i", file(await tarball(dockerSaveMembers([{ layers: [busybox, upper], names: ["rot:1"] }])))]);
    const diffID = buildImage({ layers: [busybox, upper] }).diffIDs[1] ?? "";
    const blob = path.join(root, "blobs", "sha256", diffID.slice(7));
    const bytes = fs.readFileSync(blob);
    bytes[700] = (bytes[700] ?? 0) ^ 0xff;
    fs.writeFileSync(blob, bytes);
    const dir = fs.mkdtempSync(path.join(scratch, "rot-"));
    const r = tsbox(root, ["save", "-o", path.join(dir, "x.tar"), "rot:1"]);
    expect(r.stderr).toBe(`tsbox: save: layer blob ${diffID}: wrong diff ID: expected ${diffID}, got ${sha256(bytes)}\n`);
    expect(r.code).toBe(1);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([]);
  });

  it("finds a layer's archive in another image when its own blob was never stored", async () => {
    const root = newRoot();
    tsbox(root, ["load", "-i", file(await tarball(dockerSaveMembers([{ layers: [busybox, upper], names: ["has:blobs"] }])))]);
    // A pulled image whose bottom layer was already unpacked arrives without that blob.
    const img = buildImage({ layers: [busybox, upper], config: { Cmd: ["true"] } }, "2025-01-01T00:00:00Z");
    const p = ensureStore(root);
    const staged = await ingestLayer(p, Readable.from([upper]), "pull", { diffID: img.diffIDs[1] ?? "" });
    const fake = Buffer.from(img.manifest.toString().replace(img.diffIDs[0] ?? "", sha256("never stored")));
    commitImage(root, { manifest: fake, config: img.config, layers: [{ existing: img.diffIDs[0] ?? "" }, staged], refs: ["no:blob"] });
    const f = out();
    const r = tsbox(root, ["save", "no:blob", "-o", f]);
    expect(r.stderr).toBe("");
    const m = await members(fs.readFileSync(f));
    const manifest = JSON.parse(m.get("manifest.json")?.toString() ?? "") as { Layers: string[] }[];
    expect(manifest[0]?.Layers.map((l) => sha256(m.get(l) ?? Buffer.alloc(0)))).toEqual(img.diffIDs);
  });
});

describe("image inspect, tag, images --digests, prune, rmi", () => {
  let root: string;
  beforeAll(async () => {
    root = newRoot();
    tsbox(root, ["load", "-i", file(await tarball(ociLayoutMembers([spec(["insp:1"])])))]);
  });

  it("image inspect: Docker's fields; a missing image prints [] and exits 1", () => {
    const img = buildImage(spec([]));
    const r = tsbox(root, ["image", "inspect", "insp:1"]);
    expect(r.code).toBe(0);
    const [i] = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(i).toMatchObject({
      Id: img.id, RepoTags: ["insp:1"], RepoDigests: [], Created: "2024-01-02T03:04:05Z", Architecture: "amd64", Os: "linux",
      Config: { Cmd: ["sh", "-c", "ls /srv; cat /srv/h"], WorkingDir: "/srv", Entrypoint: null, Env: null, User: "" },
      RootFS: { Type: "layers", Layers: img.diffIDs },
      GraphDriver: { Name: "overlay2" },
    });
    const data = (i?.GraphDriver as { Data: { UpperDir: string; LowerDir: string } }).Data;
    expect(data.LowerDir.split(":")).toHaveLength(2);
    expect(fs.existsSync(path.join(data.UpperDir, "srv", "h"))).toBe(true);
    expect(i?.Size).toBeGreaterThan(busybox.length / 2);
    const missing = tsbox(root, ["image", "inspect", "nosuch", "insp:1"]);
    expect((JSON.parse(missing.stdout) as unknown[]).length).toBe(1);
    expect(missing.stderr).toBe("tsbox: No such image: nosuch:latest\n");
    expect(missing.code).toBe(1);
  });

  it("tag, then images --digests shows a digest reference's digest", async () => {
    expect(tsbox(root, ["tag", "insp:1", "localhost:5000/insp:copy"]).code).toBe(0);
    expect(tsbox(root, ["tag", "insp:1", `x@sha256:${"a".repeat(64)}`]).stderr).toBe("tsbox: refusing to create a tag with a digest reference\n");
    const img = buildImage(spec([]));
    const p = ensureStore(root);
    const layers = await Promise.all(spec([]).layers.map((l) => ingestLayer(p, Readable.from([l]), "pull")));
    commitImage(root, { manifest: img.manifest, config: img.config, layers, refs: [`insp@${img.manifestDigest}`] });
    const rows = tsbox(root, ["images", "--digests"]).stdout.split("\n").map((l) => l.split(/ {2,}/).slice(0, 4));
    expect(rows[0]).toEqual(["REPOSITORY", "TAG", "DIGEST", "IMAGE ID"]);
    expect(rows).toContainEqual(["insp", "1", img.manifestDigest, img.id.slice(7, 19)]);
    expect(rows).toContainEqual(["localhost:5000/insp", "copy", "<none>", img.id.slice(7, 19)]);
    const [i] = JSON.parse(tsbox(root, ["image", "inspect", "insp:1"]).stdout) as { RepoDigests: string[] }[];
    expect(i?.RepoDigests).toEqual([`insp@${img.manifestDigest}`]);
  });

  it("prune removes dangling images only, -a every image no container uses; rmi keeps an image in use", async () => {
    const r = newRoot();
    const dangling = { layers: [busybox, whiteout], config: { Cmd: ["true"] } };
    const used = { layers: [busybox, upper], names: ["used:1"], config: { Cmd: ["true"] } };
    const tagged = { layers: [busybox], names: ["tagged:1"], config: { Cmd: ["true"] } };
    tsbox(r, ["load", "-i", file(await tarball(dockerSaveMembers([dangling, used, tagged])))]);
    expect(tsbox(r, ["run", "--name", "keeper", "used:1"]).code).toBe(0);

    const asked = tsbox(r, ["image", "prune"], { input: "n\n" });
    expect(asked.stdout).toBe("WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ");
    expect(tsbox(r, ["images", "-q"]).stdout.split("\n").filter(Boolean)).toHaveLength(3);

    const d = buildImage(dangling);
    const layerDir = sha256(`${d.diffIDs[0]} ${d.diffIDs[1]}`);
    const pruned = tsbox(r, ["image", "prune"], { input: "y\n" });
    expect(pruned.stdout).toBe("WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] " +
      `Deleted Images:\ndeleted: ${d.id}\ndeleted: ${layerDir}\n\nTotal reclaimed space: 2B\n`);
    expect(tsbox(r, ["image", "prune", "-f"]).stdout).toBe("Total reclaimed space: 0B\n");

    const rmi = tsbox(r, ["rmi", "used:1"]);
    expect(rmi.stderr).toBe(`tsbox: conflict: unable to remove repository reference "used:1" (must force) - a container is using its referenced image ${buildImage(used).id.slice(7, 19)}\n`);
    // Forced: the tag goes, the image stays (containers mount its layers directly).
    expect(tsbox(r, ["rmi", "-f", buildImage(used).id]).code).toBe(1);
    expect(tsbox(r, ["images", "-q"]).stdout).toContain(buildImage(used).id.slice(7, 19));
    expect(rmi.code).toBe(1);

    const all = tsbox(r, ["image", "prune", "-a", "-f"]);
    const t = buildImage(tagged);
    expect(all.stdout).toBe(`Deleted Images:\nuntagged: tagged:1\ndeleted: ${t.id}\n\nTotal reclaimed space: 0B\n`);
    // The busybox layer stays: the used image still needs it.
    expect(tsbox(r, ["images", "--format", "json"]).stdout).toContain('"Repository":"used"');
    expect(tsbox(r, ["rm", "keeper"]).code).toBe(0);
    const rest = tsbox(r, ["image", "prune", "-a", "-f"]);
    expect(rest.stdout).toMatch(/^Deleted Images:\nuntagged: used:1\ndeleted: sha256:[0-9a-f]{64}\ndeleted: sha256:[0-9a-f]{64}\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: [0-9.]+MB\n$/);
    expect(listTree(r).filter((l) => /^(f|d) (layers|blobs\/sha256|images)\//.test(l))).toEqual([]);
  });
});

