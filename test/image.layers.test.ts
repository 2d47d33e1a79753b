// Many layers and many loaders: a 120-layer image loads, mounts and runs; 20
// concurrent `tsbox load` processes of the same archive (and of two archives
// sharing layers) leave a consistent store with every layer unpacked exactly
// once, and no staging or lock files behind.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageError } from "../src/errors.js";
import { chainIDs } from "../src/image/digest.js";
import { MOUNT_DATA_MAX, fitLowerdirs } from "../src/oci/overlay-lowerdirs.js";
import {
  buildImage, busyboxTarball, containerIds, dockerSaveMembers, makeRoot, ociLayoutMembers, removeRoot, tarball, tsbox, tsboxAsync,
  type ImageSpec,
} from "./helpers.js";

const roots: string[] = [];
const newRoot = (): string => {
  const r = makeRoot();
  roots.push(r);
  return r;
};
const scratch = fs.mkdtempSync("/var/tmp/tsbox-layers-files-");
afterAll(() => {
  for (const r of roots) removeRoot(r);
  fs.rmSync(scratch, { recursive: true, force: true });
});

let busybox: Buffer;
beforeAll(() => {
  busybox = fs.readFileSync(busyboxTarball());
});

/** Layer i adds /layers/<i>; every tenth layer deletes the file the layer below added. */
async function stackOf(count: number): Promise<Buffer[]> {
  const layers = [busybox];
  for (let i = 1; i < count; i++) {
    const entries: Parameters<typeof tarball>[0] = [[{ name: `layers/${String(i).padStart(3, "0")}`, mode: 0o644 }, `${i}\n`]];
    if (i % 10 === 0) entries.push([{ name: `layers/.wh.${String(i - 1).padStart(3, "0")}` }]);
    layers.push(await tarball(entries));
  }
  return layers;
}

function expectedListing(count: number): string {
  const names: string[] = [];
  for (let i = 1; i < count; i++) if ((i + 1) % 10 !== 0 || i === count - 1) names.push(String(i).padStart(3, "0"));
  return names.map((n) => `${n}\n`).join("");
}

describe("many layers", () => {
  it("a 120-layer image loads, mounts and runs with every layer's effect", async () => {
    const root = newRoot();
    const layers = await stackOf(120);
    const f = path.join(scratch, "deep.tar");
    fs.writeFileSync(f, await tarball(dockerSaveMembers([{ layers, names: ["deep:120"] }])));
    const load = tsbox(root, ["load", "-i", f]);
    expect(load.stderr).toBe("");
    expect(load.stdout).toBe("Loaded image: deep:120\n");
    expect(fs.readdirSync(path.join(root, "layers"))).toHaveLength(120);
    const run = tsbox(root, ["run", "--rm", "deep:120", "sh", "-c", "ls /layers; cat /layers/119"]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe(`${expectedListing(120)}119\n`);
  });
});

describe("deeper than one page of mount options", () => {
  const link = (i: number): string => `L${String(i).padStart(25, "0")}`;
  const rest = `,upperdir=/var/lib/tsbox/containers/${"f".repeat(64)}/upper,workdir=/var/lib/tsbox/containers/${"f".repeat(64)}/work`;

  it("fitLowerdirs stacks the bottom run only when needed, and each mount's data fits in a page", () => {
    const shallow = Array.from({ length: 120 }, (_, i) => link(i));
    expect(fitLowerdirs(shallow, rest)).toEqual({ lowers: shallow, stacks: [] });
    // 120 layers: 9 + 120 × 27 - 1 + ~190 bytes, well inside the page.
    expect(`lowerdir=${shallow.join(":")}${rest}`.length).toBeLessThan(MOUNT_DATA_MAX);

    const deep = Array.from({ length: 250 }, (_, i) => link(i));
    const { lowers, stacks } = fitLowerdirs(deep, rest);
    expect(stacks).toHaveLength(1);
    const [stack] = stacks;
    expect(`lowerdir=${lowers.join(":")}${rest}`.length).toBeLessThanOrEqual(MOUNT_DATA_MAX);
    expect(`lowerdir=${stack?.lowers.join(":")}`.length).toBeLessThanOrEqual(MOUNT_DATA_MAX);
    // Order kept: the layers above the run, then the run's top standing for the whole run.
    expect([...lowers.slice(0, -1), ...(stack?.lowers ?? [])]).toEqual(deep);
    expect(lowers[lowers.length - 1]).toBe(stack?.target);
    expect(stack?.target).toBe(stack?.lowers[0]);

    expect(() => fitLowerdirs(Array.from({ length: 450 }, (_, i) => link(i)), rest)).toThrow(ImageError);
    expect(() => fitLowerdirs(Array.from({ length: 450 }, (_, i) => link(i)), rest))
      .toThrow(/^the image has 450 layers, more than overlayfs can mount here \(at most 29\d\)$/);
  });

  it("a 250-layer image runs; deletions above the stacked run hide its files", async () => {
    const root = newRoot();
    const layers = await stackOf(249);
    layers.splice(1, 0, await tarball([[{ name: "deep/a", mode: 0o644 }, "a"], [{ name: "deep/b", mode: 0o644 }, "b"]]));
    // The top layer: an opaque directory and a whiteout over files of the bottom (stacked) layers.
    layers.push(await tarball([[{ name: "deep/.wh..wh..opq" }], [{ name: "deep/c", mode: 0o644 }, "c"], [{ name: "layers/.wh.005" }]]));
    expect(layers).toHaveLength(251);
    const f = path.join(scratch, "deeper.tar");
    fs.writeFileSync(f, await tarball(dockerSaveMembers([{ layers, names: ["deep:251"] }])));
    expect(tsbox(root, ["load", "-i", f]).stdout).toBe("Loaded image: deep:251\n");
    const run = tsbox(root, ["run", "--rm", "deep:251", "sh", "-c", "ls /deep; ls /layers"]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe(`c\n${expectedListing(249).replace("005\n", "")}`);
  });

  it("an image too deep to mount is refused with the reason, and leaves no container", async () => {
    const root = newRoot();
    const f = path.join(scratch, "too-deep.tar");
    fs.writeFileSync(f, await tarball(dockerSaveMembers([{ layers: await stackOf(450), names: ["deep:450"] }])));
    expect(tsbox(root, ["load", "-i", f]).code).toBe(0);
    const run = tsbox(root, ["run", "--rm", "deep:450", "true"]);
    expect(run.stderr).toMatch(/^tsbox: the image has 450 layers, more than overlayfs can mount here \(at most 2\d\d\)\n$/);
    expect(run.code).toBe(125);
    expect(containerIds(root)).toEqual([]);
  }, 120_000);
});

describe("concurrent loads", () => {
  const randomLayer = async (name: string, bytes: number): Promise<Buffer> =>
    tarball([[{ name, mode: 0o644 }, randomBytes(bytes)]]);

  /** Starts `tsbox load` of each file at once; resolves with each process's result. */
  async function loadAll(root: string, files: string[]): Promise<{ code: number | null; stdout: string; stderr: string }[]> {
    return Promise.all(files.map((f) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = tsboxAsync(root, ["--log-level", "debug", "--log-format", "json", "load", "-i", f]);
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (c: Buffer) => { stdout += c.toString(); });
      p.stderr.on("data", (c: Buffer) => { stderr += c.toString(); });
      p.on("close", (code) => resolve({ code, stdout, stderr }));
    })));
  }

  /** chainID → how many processes unpacked it (from the debug log line each unpack writes). */
  function unpacks(results: { stderr: string }[]): Map<string, number> {
    const count = new Map<string, number>();
    for (const r of results) {
      for (const line of r.stderr.split("\n")) {
        if (!line.startsWith("{")) continue;
        const rec = JSON.parse(line) as { msg?: string; chainID?: string };
        if (rec.msg === "unpacking layer" && rec.chainID !== undefined) count.set(rec.chainID, (count.get(rec.chainID) ?? 0) + 1);
      }
    }
    return count;
  }

  function assertClean(root: string): void {
    expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([]);
    expect(fs.existsSync(path.join(root, ".lock"))).toBe(false);
    // Every short link resolves to a layer, every layer has one.
    const links = fs.readdirSync(path.join(root, "l"));
    expect(links).toHaveLength(fs.readdirSync(path.join(root, "layers")).length);
    for (const l of links) expect(fs.existsSync(path.join(root, "l", l))).toBe(true);
  }

  it("20 loads of the same archive: one unpack per layer, consistent store, no temp left", async () => {
    const root = newRoot();
    const layers = [busybox, ...(await Promise.all([1, 2, 3, 4].map((i) => randomLayer(`r${i}`, 1 << 20))))];
    const spec: ImageSpec = { layers, names: ["same:1"] };
    const f = path.join(scratch, "same.tar");
    fs.writeFileSync(f, await tarball(dockerSaveMembers([spec])));
    const results = await loadAll(root, Array.from({ length: 20 }, () => f));
    for (const r of results) {
      expect(r.stdout).toBe("Loaded image: same:1\n");
      expect(r.code).toBe(0);
    }
    const img = buildImage(spec);
    const chain = chainIDs(img.diffIDs);
    expect(Object.fromEntries(unpacks(results))).toEqual(Object.fromEntries(chain.map((c) => [c, 1])));
    expect(fs.readdirSync(path.join(root, "layers")).sort()).toEqual(chain.map((c) => c.slice(7)).sort());
    assertClean(root);

    // A later load finds everything and unpacks nothing; the layer directories stay the same inodes.
    const inodes = chain.map((c) => fs.statSync(path.join(root, "layers", c.slice(7), "diff")).ino);
    const again = await loadAll(root, [f, f]);
    expect(unpacks(again).size).toBe(0);
    expect(chain.map((c) => fs.statSync(path.join(root, "layers", c.slice(7), "diff")).ino)).toEqual(inodes);
    expect(tsbox(root, ["run", "--rm", "same:1", "sh", "-c", "ls /r1 /r4"]).stdout).toBe("/r1\n/r4\n");
    assertClean(root);
  });

  it("20 loads of two archives sharing their lower layers: each layer unpacked once", async () => {
    const root = newRoot();
    const shared = [busybox, await randomLayer("shared", 1 << 20)];
    const a: ImageSpec = { layers: [...shared, await randomLayer("a", 1 << 20)], names: ["two:a"] };
    const b: ImageSpec = { layers: [...shared, await randomLayer("b", 1 << 20), await randomLayer("b2", 1 << 19)], names: ["two:b"] };
    const fa = path.join(scratch, "a.tar");
    const fb = path.join(scratch, "b.tar");
    fs.writeFileSync(fa, await tarball(dockerSaveMembers([a])));
    fs.writeFileSync(fb, await tarball(ociLayoutMembers([b], { dockerManifest: true })));
    const results = await loadAll(root, Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? fa : fb)));
    results.forEach((r, i) => {
      expect(r.stdout).toBe(i % 2 === 0 ? "Loaded image: two:a\n" : "Loaded image: two:b\n");
      expect(r.code).toBe(0);
    });
    const chains = new Set([...chainIDs(buildImage(a).diffIDs), ...chainIDs(buildImage(b).diffIDs)]);
    expect(chains.size).toBe(5);
    expect(Object.fromEntries(unpacks(results))).toEqual(Object.fromEntries([...chains].map((c) => [c, 1])));
    expect(fs.readdirSync(path.join(root, "layers"))).toHaveLength(5);
    const repos = JSON.parse(fs.readFileSync(path.join(root, "repositories.json"), "utf8")) as Record<string, string>;
    expect(Object.keys(repos).sort()).toEqual(["docker.io/library/two:a", "docker.io/library/two:b"]);
    expect(tsbox(root, ["run", "--rm", "two:a", "ls", "/shared", "/a"]).stdout).toBe("/a\n/shared\n");
    expect(tsbox(root, ["run", "--rm", "two:b", "ls", "/shared", "/b", "/b2"]).stdout).toBe("/b\n/b2\n/shared\n");
    assertClean(root);
  });

  it("a stale ingest lock left by a killed loader is broken", async () => {
    const root = newRoot();
    const spec: ImageSpec = { layers: [busybox], names: ["stale:1"] };
    const f = path.join(scratch, "stale.tar");
    fs.writeFileSync(f, await tarball(dockerSaveMembers([spec])));
    fs.mkdirSync(path.join(root, "tmp"), { recursive: true });
    // A pid that cannot be alive (above pid_max), holding the lock of the only layer.
    const lock = path.join(root, "tmp", `ingest-${buildImage(spec).diffIDs[0]?.slice(7)}.lock`);
    fs.writeFileSync(lock, "4194305\n");
    fs.mkdirSync(path.join(root, "tmp", "load-4194305-abcdef"));
    const r = tsbox(root, ["load", "-i", f]);
    expect(r.stdout).toBe("Loaded image: stale:1\n");
    assertClean(root);
  });
});
