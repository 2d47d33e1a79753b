// The breakout corpus (test/malicious-corpus.ts) through `pull`: a registry
// played by this test (node:http on 127.0.0.1) serves a manifest, a config
// with the right diff IDs and a gzip layer holding the malicious entries.
// Every pull is refused with a one-line error naming the entry, exit 1; the
// canary outside is untouched and the store is exactly as before. The benign
// twin of the same layer, served the same way, pulls fine.
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { busyboxTarball, removeRoot } from "./helpers.js";
import { benignEntries, layerBreakouts, type CorpusEntry } from "./malicious-corpus.js";
import { buildImage, layerBlob, listTree, tarball, tsboxAsync, type BuiltImage, type Entry } from "./registry.fixtures.js";

const repos = new Map<string, { manifests: Map<string, BuiltImage>; blobs: Map<string, Buffer> }>();
let registry: http.Server;
let port = 0;

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
  const notFound = (code: string): void => {
    const body = JSON.stringify({ errors: [{ code, message: code.toLowerCase().replace("_", " "), detail: null }] });
    res.writeHead(404, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  };
  if (url.pathname === "/v2/") {
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 2 });
    res.end("{}");
    return;
  }
  const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
  const repo = m ? repos.get(m[1] ?? "") : undefined;
  if (!m || !repo) return notFound("NAME_UNKNOWN");
  if (m[2] === "manifests") {
    const image = repo.manifests.get(m[3] ?? "");
    if (!image) return notFound("MANIFEST_UNKNOWN");
    res.writeHead(200, {
      "Content-Type": image.manifest.mediaType, "Content-Length": image.manifest.size, "Docker-Content-Digest": image.manifest.digest,
    });
    res.end(req.method === "HEAD" ? undefined : image.manifest.bytes);
    return;
  }
  const bytes = repo.blobs.get(m[3] ?? "");
  if (!bytes) return notFound("BLOB_UNKNOWN");
  res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": bytes.length });
  res.end(req.method === "HEAD" ? undefined : bytes);
}

function serve(name: string, image: BuiltImage): string {
  repos.set(name, { manifests: new Map([["v1", image], [image.manifest.digest, image]]), blobs: new Map(image.blobs.map((b) => [b.digest, b.bytes])) });
  return `127.0.0.1:${port}/${name}:v1`;
}

// Fixed at collection time (the corpus names them), created in beforeAll.
// The store is five levels below `base`, so the relative escapes in the corpus
// would land next to `outside` if they were followed.
const base = fs.mkdtempSync("/var/tmp/tsbox-registry-evil-");
const root = path.join(base, "a", "b", "c", "root");
const outside = path.join(base, "outside");
const canary = path.join(outside, "canary");
const corpus = layerBreakouts(outside, canary);
let baseLayer: ReturnType<typeof layerBlob>;
let before: string[];
let outsideBefore: string[];
const env = { TSBOX_REGISTRY_RETRY_DELAY_MS: "10", TSBOX_REGISTRY_RETRIES: "1" };

const outsideTree = (): string[] => listTree(base).filter((l) => !/^\S+ a(\/|$)/.test(l));

/** The layer a case is served in: valid entries first, so a partial unpack must be cleaned up too. */
async function evilLayer(entries: [CorpusEntry, string?][]) {
  // registry.fixtures' tarball defaults the modes; pax headers (xattrs) pass through to tar-stream.
  return layerBlob(await tarball([[{ name: "before/", type: "directory" }], [{ name: "before/f" }, "x"], ...(entries as [Entry, string?][])]), "gzip");
}

beforeAll(async () => {
  registry = http.createServer(handle);
  port = await new Promise<number>((resolve) => registry.listen(0, "127.0.0.1", () => resolve((registry.address() as AddressInfo).port)));
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(canary, "untouched\n");
  fs.chmodSync(canary, 0o644);
  baseLayer = layerBlob(fs.readFileSync(busyboxTarball()), "gzip");
  // A store with an image in it, so "unchanged" is a strong claim, and the
  // evil images' first layer is already there (only the evil layer is fetched).
  const r = await tsboxAsync(root, ["pull", serve("base/app", buildImage([baseLayer]))], env);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  before = listTree(root);
  outsideBefore = outsideTree();
});

afterAll(async () => {
  registry.closeAllConnections();
  await new Promise((r) => registry.close(r));
  removeRoot(root);
  fs.rmSync(base, { recursive: true, force: true });
});

describe("pull: malicious layers are refused, nothing outside is touched", () => {
  it.each(corpus.map((c, i) => [c[0], i] as const))("refuses a layer with %s", async (_, i) => {
    const [, entries, entry, reason] = corpus[i]!;
    const evil = await evilLayer(entries);
    const ref = serve(`evil/case${i}`, buildImage([baseLayer, evil]));
    const r = await tsboxAsync(root, ["pull", ref], env);
    expect(r.stderr).toBe(`tsbox: layer ${evil.digest.slice(7, 19)}: refusing archive entry ${JSON.stringify(entry)}: ${reason}\n`);
    expect(r.code).toBe(1);
    expect(fs.readFileSync(canary, "utf8")).toBe("untouched\n");
    expect(fs.lstatSync(canary).mode & 0o7777).toBe(0o644);
    expect(outsideTree()).toEqual(outsideBefore);
    expect(listTree(root)).toEqual(before);
  });

  it("pulls the benign twin of those layers, served the same way", async () => {
    // The same server, the same base layer, a layer of the same shape with
    // the offending entries made harmless: the refusals above are the
    // entries', not the server's.
    const ok = await evilLayer(benignEntries.slice(2));
    const ref = serve("benign/app", buildImage([baseLayer, ok]));
    const r = await tsboxAsync(root, ["pull", ref], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split("\n").at(-1)).toBe(ref);
    const after = listTree(root);
    expect(after).not.toEqual(before);
    const run = await tsboxAsync(root, ["run", "--rm", ref, "sh", "-c", "cat /evil/f /h; ls -d /before/sub"], env);
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("xx/before/sub\n");
    expect(fs.readFileSync(canary, "utf8")).toBe("untouched\n");
    expect(outsideTree()).toEqual(outsideBefore);
  });
});
