// What a killed pull leaves in the store's tmp/ (its layer staging directory,
// its ingest lock) is removed by the next store writer (pull) and by `system
// prune`, but never the staging directory of a writer that is still alive.
// A registry played by this test serves a large layer blob in part and then
// stalls, so a pull is caught mid-way.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, makeRoot, removeRoot, until } from "./helpers.js";
import { buildImage, layerBlob, serveImages, tarball, tsboxAsync, type BuiltImage } from "./registry.fixtures.js";

const roots: string[] = [];
const repos = new Map<string, BuiltImage>();
/** Repositories whose layer blobs are sent in part, then never finished. */
const stalled = new Set<string>();
const hanging = new Set<http.ServerResponse>();
let registry: http.Server;
let port = 0;
let big: BuiltImage;
let small: BuiltImage;

beforeAll(async () => {
  ({ server: registry, port } = await serveImages(repos, (res, repo, blob, image) => {
    if (!stalled.has(repo) || !image.layers.some((l) => l.digest === blob.digest)) return false;
    res.write(blob.bytes.subarray(0, 2 << 20));
    hanging.add(res);
    return true;
  }));
  big = buildImage([layerBlob(await tarball([[{ name: "big" }, randomBytes(8 << 20)]]), "none")]);
  small = buildImage([layerBlob(await tarball([[{ name: "small" }, "small\n"]]), "none")]);
});

afterAll(async () => {
  for (const r of hanging) r.destroy();
  registry.closeAllConnections();
  await new Promise((r) => registry.close(r));
  for (const r of roots) removeRoot(r);
});

const ref = (name: string): string => `127.0.0.1:${port}/${name}:v1`;

/** Leftovers of writers in tmp/: staging directories and ingest locks. */
const debris = (root: string): string[] =>
  fs.readdirSync(path.join(root, "tmp")).filter((n) => /^(layer|load|save)-|^ingest-/.test(n)).sort();

/** A pull that blocks mid-way through its layer, with its staging directory made. */
async function stalledPull(root: string, name: string): Promise<{ child: ChildProcess; staging: string[] }> {
  repos.set(name, big);
  stalled.add(name);
  const child = spawn(process.execPath, [CLI, "--root", root, "pull", ref(name)], { stdio: "ignore" });
  const staging = await until(() => {
    const d = fs.existsSync(path.join(root, "tmp")) ? debris(root).filter((n) => n.startsWith(`layer-${child.pid}-`)) : [];
    return d.length > 0 ? d : undefined;
  }, "the pull's staging directory", 30_000);
  return { child, staging };
}

async function kill(child: ChildProcess): Promise<void> {
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await gone;
}

describe("staging left by a killed pull", () => {
  it("is removed by the next pull", async () => {
    const root = makeRoot();
    roots.push(root);
    const { child } = await stalledPull(root, "big/a");
    await kill(child);
    expect(debris(root)).not.toEqual([]);
    repos.set("small/a", small);
    const r = await tsboxAsync(root, ["pull", ref("small/a")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(debris(root)).toEqual([]);
  });

  it("is removed by system prune, which keeps a live pull's", async () => {
    const root = makeRoot();
    roots.push(root);
    const dead = await stalledPull(root, "big/b");
    await kill(dead.child);
    const live = await stalledPull(root, "big/c");
    try {
      const r = await tsboxAsync(root, ["system", "prune", "-f"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      // Only the live pull's staging directory and ingest lock are left.
      const left = debris(root);
      expect(left.filter((n) => n.startsWith("layer-"))).toEqual(live.staging);
      expect(left.filter((n) => n.startsWith("ingest-"))).toHaveLength(1);
    } finally {
      await kill(live.child);
    }
  });
});
