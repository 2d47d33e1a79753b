// The store after imports: resolving, listing, tagging, removing (with shared
// blobs and layers), reading files through layers, and concurrent writers.
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { ImageError, NotFoundError, UsageError } from "../src/errors.js";
import {
  importImage, listImages, readImageFile, removeImage, resolveImage, shortId, tagImage, type ResolvedImage,
} from "../src/image/index.js";
import { tarball } from "./helpers.js";


const roots: string[] = [];
function newRoot(): string {
  const r = fs.mkdtempSync("/var/tmp/tsbox-image-store-");
  roots.push(r);
  return r;
}
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

const REPO = path.resolve(import.meta.dirname, "..");
const fileTar = (content: string): Promise<Buffer> => tarball([[{ name: "etc/hostname", mode: 0o644 }, content]]);
const imp = async (root: string, buf: Buffer, ref?: string, message?: string): Promise<ResolvedImage> =>
  importImage(root, Readable.from([buf]), ref, message === undefined ? {} : { message });
const ls = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

describe("resolveImage", () => {
  it("finds an image by name, tag, full ID and ID prefix", async () => {
    const root = newRoot();
    const img = await imp(root, await fileTar("a"), "user/app:1.0");
    const hex = img.id.slice(7);
    for (const ref of ["user/app:1.0", "docker.io/user/app:1.0", "index.docker.io/user/app:1.0"]) {
      expect(resolveImage(root, ref)).toMatchObject({ id: img.id, name: "docker.io/user/app:1.0" });
    }
    for (const ref of [img.id, hex, hex.slice(0, 12), `sha256:${hex.slice(0, 12)}`, hex.slice(0, 5)]) {
      const r = resolveImage(root, ref);
      expect(r.id).toBe(img.id);
      expect(r.name).toBeUndefined();
      expect(r.manifestDigest).toBe(img.manifestDigest);
    }
    expect(resolveImage(root, "user/app:1.0").layers).toEqual(img.layers);
  });

  it("reports missing images in Docker's words", async () => {
    const root = newRoot();
    await imp(root, await fileTar("a"), "present");
    const notFound = (ref: string): string => {
      try {
        resolveImage(root, ref);
      } catch (e) {
        expect(e).toBeInstanceOf(NotFoundError);
        return (e as Error).message;
      }
      throw new Error("resolved");
    };
    expect(notFound("busybox")).toBe("No such image: busybox:latest");
    expect(notFound("present:2")).toBe("No such image: present:2");
    expect(notFound("localhost:5000/x")).toBe("No such image: localhost:5000/x:latest");
    expect(notFound("0123456789ab")).toBe("No such image: 0123456789ab:latest");
    expect(notFound(`sha256:${"0".repeat(64)}`)).toBe(`No such image: sha256:${"0".repeat(64)}`);
    expect(() => resolveImage(root, "Bad")).toThrow(UsageError);
  });

  it("does not resolve an ambiguous ID prefix", async () => {
    const root = newRoot();
    const ids = new Set<string>();
    for (let i = 0; i < 40; i++) ids.add((await imp(root, await fileTar(String(i)), undefined, String(i))).id);
    const firstChars = [...ids].map((id) => id.charAt(7));
    const shared = firstChars.find((c, i) => firstChars.indexOf(c) !== i);
    expect(shared).toBeDefined();
    expect(() => resolveImage(root, shared ?? "")).toThrow(NotFoundError);
  });
});

describe("listImages and tags", () => {
  it("lists tags, shares one ID between tags of the same image, shows <none> for untagged", async () => {
    const root = newRoot();
    const a = await imp(root, await fileTar("a"), "busybox");
    const b = await imp(root, await fileTar("b"), undefined);
    expect(tagImage(root, "busybox", "localhost:5000/bb:v1")).toBe("localhost:5000/bb:v1");
    expect(tagImage(root, a.id.slice(7, 19), "mirror/busybox")).toBe("docker.io/mirror/busybox:latest");
    const rows = listImages(root).map((r) => [r.repository, r.tag, r.id]);
    expect(rows).toEqual(expect.arrayContaining([
      ["busybox", "latest", a.id], ["localhost:5000/bb", "v1", a.id], ["mirror/busybox", "latest", a.id],
      ["<none>", "<none>", b.id],
    ]));
    expect(rows).toHaveLength(4);
    expect(resolveImage(root, "localhost:5000/bb:v1").id).toBe(a.id);
    // Newest first, as `docker images` sorts.
    expect(listImages(root)[0]?.id).toBe(b.id);
    expect(() => tagImage(root, "busybox", `x@sha256:${"a".repeat(64)}`)).toThrow("refusing to create a tag with a digest reference");
    expect(() => tagImage(root, "nope", "x")).toThrow("No such image: nope:latest");
  });

  it("moves a tag on re-import; the old image stays as <none>", async () => {
    const root = newRoot();
    const first = await imp(root, await fileTar("1"), "app");
    const second = await imp(root, await fileTar("2"), "app");
    expect(resolveImage(root, "app").id).toBe(second.id);
    const rows = listImages(root).map((r) => `${r.repository}:${r.tag} ${r.id}`);
    expect(rows.sort()).toEqual([`<none>:<none> ${first.id}`, `app:latest ${second.id}`].sort());
  });
});

describe("removeImage", () => {
  it("untags while other tags remain, then deletes the image and what only it used", async () => {
    const root = newRoot();
    const img = await imp(root, await fileTar("x"), "busybox");
    tagImage(root, "busybox", "busybox:other");
    expect(removeImage(root, "busybox")).toEqual(["Untagged: busybox:latest"]);
    expect(resolveImage(root, "busybox:other").id).toBe(img.id);
    const chain = img.layers[0]?.chainID ?? "";
    expect(removeImage(root, "busybox:other")).toEqual(["Untagged: busybox:other", `Deleted: ${img.id}`, `Deleted: ${chain}`]);
    expect(ls(path.join(root, "blobs/sha256"))).toEqual([]);
    expect(ls(path.join(root, "layers"))).toEqual([]);
    expect(ls(path.join(root, "l"))).toEqual([]);
    expect(ls(path.join(root, "images"))).toEqual([]);
    expect(ls(path.join(root, "tmp"))).toEqual([]);
    expect(JSON.parse(fs.readFileSync(path.join(root, "repositories.json"), "utf8"))).toEqual({});
    expect(listImages(root)).toEqual([]);
  });

  it("keeps a layer and its blob while another image uses them", async () => {
    const root = newRoot();
    const buf = await fileTar("shared");
    const one = await imp(root, buf, "one", "first");
    const two = await imp(root, buf, "two", "second");
    expect(one.id).not.toBe(two.id);
    expect(one.layers[0]?.chainID).toBe(two.layers[0]?.chainID);
    expect(ls(path.join(root, "layers"))).toHaveLength(1);
    expect(removeImage(root, "one")).toEqual(["Untagged: one:latest", `Deleted: ${one.id}`]);
    const still = resolveImage(root, "two");
    expect(fs.readFileSync(path.join(still.layers[0]?.dir ?? "", "etc/hostname"), "utf8")).toBe("shared");
    expect(fs.existsSync(path.join(root, "l", still.layers[0]?.link ?? ""))).toBe(true);
    // two's config, its manifest, the shared layer blob.
    expect(ls(path.join(root, "blobs/sha256"))).toHaveLength(3);
    expect(removeImage(root, "two")).toEqual(["Untagged: two:latest", `Deleted: ${two.id}`, `Deleted: ${two.layers[0]?.chainID}`]);
    expect(ls(path.join(root, "blobs/sha256"))).toEqual([]);
  });

  it("by ID: refuses an image in several repositories unless forced", async () => {
    const root = newRoot();
    const img = await imp(root, await fileTar("x"), "a");
    tagImage(root, "a", "b");
    expect(() => removeImage(root, shortId(img.id))).toThrow(
      `conflict: unable to delete ${shortId(img.id)} (must be forced) - image is referenced in multiple repositories`);
    expect(removeImage(root, shortId(img.id), { force: true })).toEqual([
      "Untagged: a:latest", "Untagged: b:latest", `Deleted: ${img.id}`, `Deleted: ${img.layers[0]?.chainID}`]);
  });

  it("by ID: untags a single repository's tags and deletes", async () => {
    const root = newRoot();
    const img = await imp(root, await fileTar("x"), "a:1");
    const untagged = await imp(root, await fileTar("y"), undefined);
    expect(removeImage(root, img.id)).toEqual(["Untagged: a:1", `Deleted: ${img.id}`, `Deleted: ${img.layers[0]?.chainID}`]);
    expect(removeImage(root, untagged.id.slice(7))).toEqual([`Deleted: ${untagged.id}`, `Deleted: ${untagged.layers[0]?.chainID}`]);
  });

  it("never deletes an image a container uses", async () => {
    const root = newRoot();
    const img = await imp(root, await fileTar("x"), "busybox");
    const cid = "0123456789abcdef0123456789abcdef";
    const inUse = (id: string): string | false => (id === img.id ? cid : false);
    let err: unknown;
    try {
      removeImage(root, "busybox", { inUse });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ImageError);
    expect((err as Error).message).toBe(
      `conflict: unable to remove repository reference "busybox" (must force) - container 0123456789ab is using its referenced image ${shortId(img.id)}`);
    expect(() => removeImage(root, shortId(img.id), { inUse, force: true })).toThrow(
      `conflict: unable to delete ${shortId(img.id)} (cannot be forced) - image is being used by container 0123456789ab`);
    expect(() => removeImage(root, img.id, { inUse: () => true })).toThrow(
      `conflict: unable to delete ${shortId(img.id)} (cannot be forced) - image is being used by a container`);
    // Forced by name: the tag goes, the image stays (dangling) for the container.
    expect(removeImage(root, "busybox", { inUse, force: true })).toEqual(["Untagged: busybox:latest"]);
    expect(listImages(root).map((r) => [r.repository, r.id])).toEqual([["<none>", img.id]]);
    expect(fs.existsSync(img.layers[0]?.dir ?? "")).toBe(true);
    expect(removeImage(root, img.id)).toEqual([`Deleted: ${img.id}`, `Deleted: ${img.layers[0]?.chainID}`]);
  });

  it("reports unknown images", async () => {
    const root = newRoot();
    expect(() => removeImage(root, "nothing")).toThrow("No such image: nothing:latest");
  });
});

describe("readImageFile", () => {
  it("reads through layers: top first, whiteouts, opaque directories, symlinks inside the image", async () => {
    const root = newRoot();
    const host = fs.mkdtempSync("/var/tmp/tsbox-image-host-");
    roots.push(host);
    fs.writeFileSync(path.join(host, "secret"), "host secret");
    const lower = await imp(root, await tarball([
      [{ name: "etc/passwd", mode: 0o644 }, "lower passwd"],
      [{ name: "etc/group", mode: 0o644 }, "lower group"],
      [{ name: "etc/hosts", mode: 0o644 }, "lower hosts"],
      [{ name: "data/a", mode: 0o644 }, "a"],
      [{ name: "data/b", mode: 0o644 }, "b"],
      [{ name: "keep/x", mode: 0o644 }, "kept"],
      [{ name: "dirlink", type: "symlink", linkname: "keep" }],
    ]), "lower");
    const upper = await imp(root, await tarball([
      [{ name: "etc/passwd", mode: 0o644 }, "upper passwd"],
      [{ name: "etc/.wh.group" }],
      [{ name: "data/.wh..wh..opq" }],
      [{ name: "data/c", mode: 0o644 }, "c"],
      [{ name: "alias", type: "symlink", linkname: "../../etc/passwd" }],
      [{ name: "abs", type: "symlink", linkname: "/etc/hosts" }],
      [{ name: "hostlink", type: "symlink", linkname: path.join(host, "secret") }],
      [{ name: "loop", type: "symlink", linkname: "loop" }],
      [{ name: "etcdir", type: "symlink", linkname: host }],
    ]), "upper");
    const image: ResolvedImage = { ...upper, layers: [...lower.layers, ...upper.layers] };
    const read = (p: string): string | undefined => readImageFile(image, p)?.toString("utf8");
    expect(read("/etc/passwd")).toBe("upper passwd");
    expect(read("etc/passwd")).toBe("upper passwd");
    expect(read("/etc/hosts")).toBe("lower hosts");
    expect(read("/etc/group")).toBeUndefined();
    expect(read("/data/a")).toBeUndefined();
    expect(read("/data/c")).toBe("c");
    expect(read("/keep/x")).toBe("kept");
    expect(read("/dirlink/x")).toBe("kept");
    expect(read("/alias")).toBe("upper passwd");
    expect(read("/abs")).toBe("lower hosts");
    expect(read("/../../etc/passwd")).toBe("upper passwd");
    expect(read("/hostlink")).toBeUndefined();
    expect(read("/etcdir/secret")).toBeUndefined();
    expect(read("/loop")).toBeUndefined();
    expect(read("/etc")).toBeUndefined();
    expect(read("/etc/passwd/x")).toBeUndefined();
    expect(read("/missing")).toBeUndefined();
    expect(readImageFile(lower, "/etc/group")?.toString()).toBe("lower group");
  });
});

describe("layers under overlayfs", () => {
  it("the kernel honours the converted whiteouts and opaque directories, through the short links", async () => {
    const root = newRoot();
    const lower = await imp(root, await tarball([
      [{ name: "etc/passwd", mode: 0o644 }, "lower passwd"],
      [{ name: "etc/group", mode: 0o644 }, "lower group"],
      [{ name: "data/a", mode: 0o644 }, "a"],
    ]), "ovl-lower");
    const upper = await imp(root, await tarball([
      [{ name: "etc/.wh.group" }],
      [{ name: "data/.wh..wh..opq" }],
      [{ name: "data/c", mode: 0o644 }, "c"],
    ]), "ovl-upper");
    const merged = path.join(root, "merged");
    fs.mkdirSync(merged);
    // Top layer first; names relative to l/, as the container's mount uses them.
    const lowers = [...upper.layers, ...lower.layers].map((l) => l.link).join(":");
    execFileSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${lowers}`, merged], { cwd: path.join(root, "l") });
    try {
      expect(fs.readdirSync(path.join(merged, "etc"))).toEqual(["passwd"]);
      expect(fs.readdirSync(path.join(merged, "data"))).toEqual(["c"]);
      expect(fs.readFileSync(path.join(merged, "etc/passwd"), "utf8")).toBe("lower passwd");
    } finally {
      execFileSync("umount", [merged]);
    }
  });
});

describe("concurrent writers", () => {
  it("imports running at once in one process keep repositories.json whole", async () => {
    const root = newRoot();
    const bufs = await Promise.all(Array.from({ length: 12 }, (_, i) => fileTar(`c${i}`)));
    const images = await Promise.all(bufs.map((b, i) => imp(root, b, `conc:${i}`)));
    const repos = JSON.parse(fs.readFileSync(path.join(root, "repositories.json"), "utf8")) as Record<string, string>;
    expect(Object.keys(repos).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `docker.io/library/conc:${i}`).sort());
    images.forEach((img, i) => expect(resolveImage(root, `conc:${i}`).id).toBe(img.id));
    expect(ls(path.join(root, "tmp"))).toEqual([]);
    expect(fs.existsSync(path.join(root, ".lock"))).toBe(false);
  });

  it("imports and removals from several processes keep repositories.json whole", async () => {
    const root = newRoot();
    const script = path.join(root, "..", `${path.basename(root)}-worker.mts`);
    roots.push(script);
    fs.writeFileSync(script, `
      import { Readable } from "node:stream";
      import tar from ${JSON.stringify(path.join(REPO, "node_modules/tar-stream/index.js"))};
      import { importImage, removeImage } from ${JSON.stringify(path.join(REPO, "src/image/index.ts"))};
      const [root, worker] = process.argv.slice(2);
      for (let i = 0; i < 6; i++) {
        const pack = tar.pack();
        pack.entry({ name: "f", mode: 0o644 }, worker + "-" + i);
        pack.finalize();
        await importImage(root, pack, "w" + worker + ":" + i);
        await importImage(root, Readable.from([Buffer.from("")]), "scratch" + worker);
        if (i % 2 === 1) removeImage(root, "w" + worker + ":" + (i - 1));
      }
    `);
    const workers = Array.from({ length: 4 }, (_, w) => new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", script, root, String(w)], { cwd: REPO, stdio: ["ignore", "inherit", "inherit"] });
      child.on("error", reject);
      child.on("exit", (code) => resolve(code ?? 1));
    }));
    expect(await Promise.all(workers)).toEqual([0, 0, 0, 0]);
    const repos = JSON.parse(fs.readFileSync(path.join(root, "repositories.json"), "utf8")) as Record<string, string>;
    const expected: string[] = [];
    for (let w = 0; w < 4; w++) {
      expected.push(`docker.io/library/scratch${w}:latest`);
      for (const i of [1, 3, 5]) expected.push(`docker.io/library/w${w}:${i}`);
    }
    expect(Object.keys(repos).sort()).toEqual(expected.sort());
    for (let w = 0; w < 4; w++) {
      for (const i of [1, 3, 5]) {
        const img = resolveImage(root, `w${w}:${i}`);
        expect(fs.readFileSync(path.join(img.layers[0]?.dir ?? "", "f"), "utf8")).toBe(`${w}-${i}`);
      }
    }
    expect(ls(path.join(root, "tmp"))).toEqual([]);
    expect(fs.existsSync(path.join(root, ".lock"))).toBe(false);
    // 12 w-tags and 4 scratch tags; each re-import of scratch leaves the previous one as <none>.
    expect(listImages(root).filter((r) => r.repository !== "<none>")).toHaveLength(16);
  }, 120_000);

  it("breaks a lock left by a dead process", async () => {
    const root = newRoot();
    await imp(root, await fileTar("x"), "first");
    fs.writeFileSync(path.join(root, ".lock"), "999999999\n");
    await imp(root, await fileTar("y"), "second");
    expect(resolveImage(root, "second").id).toBeDefined();
    expect(fs.existsSync(path.join(root, ".lock"))).toBe(false);
  });
});
