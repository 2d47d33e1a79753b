// The registry protocol against a registry played by this test (node:http on
// 127.0.0.1): the Bearer token flow with credentials from a docker
// config.json, a blob redirected to another host (127.0.0.2) that must not see
// the token, retries, a broken connection resumed with Range, and every kind
// of bad answer — each a one-line error, exit 1, and the store unchanged.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, busyboxTarball, makeRoot, removeRoot, until } from "./helpers.js";
import {
  buildAttestation, buildImage, buildIndex, freePort, layerBlob, listTree, sha256, tarball, tsboxAsync,
  type Blob, type BuiltImage,
} from "./registry.fixtures.js";

const USER = "alice";
const PASSWORD = "s3cret:with:colons";
const SERVICE = "mock-registry";

interface Served {
  manifests: Map<string, { bytes: Buffer; contentType: string }>;
  blobs: Map<string, Buffer>;
}

interface Seen {
  host: string;
  method: string;
  url: string;
  authorization?: string;
  range?: string;
}

const repos = new Map<string, Served>();
const seen: Seen[] = [];
const counters = new Map<string, number>();
let registry: http.Server;
let blobHost: http.Server;
let port = 0;
let blobPort = 0;
let root: string;
let home: string;
let env: NodeJS.ProcessEnv;

function count(key: string): number {
  const n = (counters.get(key) ?? 0) + 1;
  counters.set(key, n);
  return n;
}

function errors(res: http.ServerResponse, status: number, code: string, message: string, headers: http.OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify({ errors: [{ code, message, detail: null }] });
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

function challenge(scope?: string): http.OutgoingHttpHeaders {
  return { "WWW-Authenticate": `Bearer realm="http://127.0.0.1:${port}/token",service="${SERVICE}"${scope ? `,scope="${scope}"` : ""}` };
}

/** Serves `bytes`, honouring `Range: bytes=N-`. */
function sendBlob(req: http.IncomingMessage, res: http.ServerResponse, bytes: Buffer): void {
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
  if (range) {
    const start = Number(range[1]);
    res.writeHead(206, {
      "Content-Type": "application/octet-stream", "Content-Length": bytes.length - start,
      "Content-Range": `bytes ${start}-${bytes.length - 1}/${bytes.length}`,
    });
    res.end(bytes.subarray(start));
    return;
  }
  res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": bytes.length });
  res.end(bytes);
}

/** Sends the headers for the whole blob, then part of it, then drops the connection. */
function cutBlob(res: http.ServerResponse, bytes: Buffer, start = 0): void {
  res.writeHead(start > 0 ? 206 : 200, {
    "Content-Type": "application/octet-stream", "Content-Length": bytes.length - start,
    ...(start > 0 ? { "Content-Range": `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}),
  });
  const half = start + Math.floor((bytes.length - start) / 2);
  res.write(bytes.subarray(start, half), () => setTimeout(() => res.socket?.destroy(), 20));
}

function handleToken(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
  const scope = url.searchParams.get("scope") ?? "";
  const repo = /^repository:([a-z0-9/._-]+):pull$/.exec(scope)?.[1];
  if (url.searchParams.get("service") !== SERVICE || repo === undefined) {
    errors(res, 400, "UNSUPPORTED", `bad token request ${url.search}`);
    return;
  }
  if (repo.startsWith("private/")) {
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const creds = basic === undefined ? undefined : Buffer.from(basic, "base64").toString();
    if (creds === undefined) {
      errors(res, 401, "UNAUTHORIZED", "authentication required");
      return;
    }
    if (creds !== `${USER}:${PASSWORD}` || url.searchParams.get("account") !== USER) {
      errors(res, 401, "UNAUTHORIZED", "incorrect username or password");
      return;
    }
  }
  const body = JSON.stringify({ token: `tok:${repo}`, expires_in: 300, issued_at: new Date().toISOString() });
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(body);
}

function handleRegistry(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
  seen.push({ host: "registry", method: req.method ?? "", url: url.pathname, authorization: req.headers.authorization, range: req.headers.range });
  if (url.pathname === "/token") return handleToken(req, res, url);
  if (url.pathname === "/v2/") {
    errors(res, 401, "UNAUTHORIZED", "authentication required", challenge());
    return;
  }
  const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
  if (!m) return errors(res, 404, "NOT_FOUND", "not found");
  const [, name = "", kind, ref = ""] = m;
  if (req.headers.authorization !== `Bearer tok:${name}`) {
    errors(res, 401, "UNAUTHORIZED", "authentication required", challenge(`repository:${name}:pull`));
    return;
  }
  const repo = repos.get(name);
  if (repo === undefined) return errors(res, 404, "NAME_UNKNOWN", "repository name not known to registry");
  if (kind === "manifests") {
    if (name === "flaky/app" && count("flaky") <= 2) return errors(res, 503, "UNAVAILABLE", "try again");
    const man = repo.manifests.get(ref);
    if (man === undefined) return errors(res, 404, "MANIFEST_UNKNOWN", "manifest unknown");
    res.writeHead(200, { "Content-Type": man.contentType, "Content-Length": man.bytes.length, "Docker-Content-Digest": sha256(man.bytes) });
    res.end(man.bytes);
    return;
  }
  const bytes = repo.blobs.get(ref);
  if (bytes === undefined) return errors(res, 404, "BLOB_UNKNOWN", "blob unknown to registry");
  const isLayer = bytes.length > 4096;
  if (name === "redirect/app") {
    res.writeHead(307, { Location: `http://127.0.0.2:${blobPort}/store/${ref}?sig=abc` });
    res.end();
    return;
  }
  if (name === "cut/app" && isLayer && req.headers.range === undefined) return cutBlob(res, bytes);
  if (name === "cutalways/app" && isLayer) {
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
    return cutBlob(res, bytes, start);
  }
  if ((name === "corrupt/app" || name === "corruptgz/app") && isLayer) {
    const bad = Buffer.from(bytes);
    bad[bad.length - 2000] = (bad[bad.length - 2000] ?? 0) ^ 0xff;
    return sendBlob(req, res, bad);
  }
  if (name === "stall/app" && isLayer) {
    // Half the blob, then silence: the client is still waiting when it is interrupted.
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": bytes.length });
    res.write(bytes.subarray(0, bytes.length >> 1));
    return;
  }
  if (name === "truncated/app" && isLayer) return sendBlob(req, res, bytes.subarray(0, bytes.length - 1000));
  if (name === "oversized/app" && isLayer) return sendBlob(req, res, Buffer.concat([bytes, Buffer.alloc(4096)]));
  sendBlob(req, res, bytes);
}

function handleBlobHost(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
  seen.push({ host: "blobs", method: req.method ?? "", url: url.pathname, authorization: req.headers.authorization, range: req.headers.range });
  const digest = /^\/store\/(sha256:[a-f0-9]{64})$/.exec(url.pathname)?.[1];
  const bytes = digest === undefined ? undefined : repos.get("redirect/app")?.blobs.get(digest);
  if (bytes === undefined || url.searchParams.get("sig") !== "abc") {
    res.writeHead(404);
    res.end();
    return;
  }
  sendBlob(req, res, bytes);
}

function serve(name: string, tags: Record<string, { image?: BuiltImage; index?: Blob; raw?: { bytes: Buffer; contentType: string } }>, extra: Blob[] = []): void {
  const repo: Served = repos.get(name) ?? { manifests: new Map(), blobs: new Map() };
  repos.set(name, repo);
  for (const b of extra) repo.blobs.set(b.digest, b.bytes);
  for (const [tag, t] of Object.entries(tags)) {
    if (t.image) {
      for (const b of t.image.blobs) repo.blobs.set(b.digest, b.bytes);
      const m = { bytes: t.image.manifest.bytes, contentType: t.image.manifest.mediaType };
      repo.manifests.set(tag, m);
      repo.manifests.set(t.image.manifest.digest, m);
    }
    if (t.index) {
      const m = { bytes: t.index.bytes, contentType: t.index.mediaType };
      repo.manifests.set(tag, m);
      repo.manifests.set(t.index.digest, m);
    }
    if (t.raw) repo.manifests.set(tag, t.raw);
  }
}

function listen(server: http.Server, host: string): Promise<number> {
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as AddressInfo).port)));
}

/** A layer no other image has, big enough to be cut in the middle (random bytes do not compress). */
async function uniqueLayer(tag: string, compression: "gzip" | "none" = "gzip") {
  return layerBlob(await tarball([
    [{ name: "data/", type: "directory" }],
    [{ name: `data/${tag}.bin` }, crypto.randomBytes(600_000)],
  ]), compression);
}

let base: ReturnType<typeof layerBlob>;
const pull = (ref: string, extraEnv: NodeJS.ProcessEnv = {}, args: string[] = []) =>
  tsboxAsync(root, ["pull", ...args, `127.0.0.1:${port}/${ref}`], { ...env, ...extraEnv });

beforeAll(async () => {
  registry = http.createServer(handleRegistry);
  blobHost = http.createServer(handleBlobHost);
  port = await listen(registry, "127.0.0.1");
  blobPort = await listen(blobHost, "127.0.0.2");
  root = makeRoot();
  home = fs.mkdtempSync("/var/tmp/tsbox-registry-home-");
  fs.mkdirSync(path.join(home, ".docker"));
  fs.writeFileSync(path.join(home, ".docker", "config.json"), JSON.stringify({
    auths: { [`127.0.0.1:${port}`]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString("base64") } },
  }));
  env = { HOME: home, DOCKER_CONFIG: "", TSBOX_REGISTRY_RETRY_DELAY_MS: "10", TSBOX_REGISTRY_RETRIES: "4" };

  base = layerBlob(fs.readFileSync(busyboxTarball()), "gzip");
  const good = buildImage([base, await uniqueLayer("good")]);
  serve("good/app", { v1: { image: good } });
  serve("private/app", { v1: { image: buildImage([base, await uniqueLayer("private")]) } });
  serve("redirect/app", { v1: { image: buildImage([base, await uniqueLayer("redirect")]) } });
  serve("flaky/app", { v1: { image: buildImage([base, await uniqueLayer("flaky")]) } });
  serve("cut/app", { v1: { image: buildImage([base, await uniqueLayer("cut")]) } });
  for (const name of ["cutalways", "corruptgz", "truncated", "oversized", "stall"]) {
    serve(`${name}/app`, { v1: { image: buildImage([base, await uniqueLayer(name)]) } });
  }
  // Uncompressed, so that a flipped byte is still a valid tar: only the digest can tell.
  serve("corrupt/app", { v1: { image: buildImage([base, await uniqueLayer("corrupt", "none")]) } });
  const l = await uniqueLayer("baddiff");
  serve("baddiff/app", { v1: { image: buildImage([base, l], { diffIDs: [base.diffID, sha256("not this layer")] }) } });
  serve("weird/app", { v1: { raw: {
    bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.example.weird+json", config: {} })),
    contentType: "application/vnd.example.weird+json",
  } } });
  serve("schema1/app", { v1: { raw: {
    bytes: Buffer.from(JSON.stringify({ schemaVersion: 1, name: "schema1/app", tag: "v1", fsLayers: [], signatures: [] })),
    contentType: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  } } });
  const arm = buildImage([await uniqueLayer("arm")], { architecture: "arm64" });
  const att = buildAttestation(arm.manifest.digest);
  serve("noplat/app", { v1: { index: buildIndex([
    { manifest: att.manifest, platform: { os: "unknown", architecture: "unknown" }, annotations: { "vnd.docker.reference.type": "attestation-manifest" } },
    { manifest: arm.manifest, platform: { os: "linux", architecture: "arm64" } },
  ]) } }, [...arm.blobs, ...att.blobs]);

  // The store exists before the failure cases, so "unchanged" is a strong claim.
  const r = await pull("good/app:v1");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
});

afterAll(async () => {
  for (const s of [registry, blobHost]) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  if (root) removeRoot(root);
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

describe("pull: auth, redirects, retries, resume", () => {
  it("takes an anonymous Bearer token for the repository's pull scope", () => {
    const tokenRequests = seen.filter((s) => s.url === "/token");
    expect(tokenRequests.length).toBeGreaterThan(0);
    const layerGets = seen.filter((s) => s.host === "registry" && s.url.startsWith("/v2/good/app/blobs/"));
    expect(layerGets.length).toBeGreaterThan(0);
    for (const g of layerGets) expect(g.authorization).toBe("Bearer tok:good/app");
  });

  it("uses the credentials from the docker config.json for a private repository", async () => {
    const r = await pull("private/app:v1");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(": Already exists\n");
    expect(r.stdout).toContain(": Pull complete\n");
    expect(r.stdout.trimEnd().split("\n").at(-1)).toBe(`127.0.0.1:${port}/private/app:v1`);
  });

  it("fails with the token server's words when the credentials are wrong or missing", async () => {
    const before = listTree(root);
    const other = fs.mkdtempSync("/var/tmp/tsbox-registry-home-");
    try {
      fs.mkdirSync(path.join(other, ".docker"));
      fs.writeFileSync(path.join(other, ".docker", "config.json"), JSON.stringify({
        auths: { [`http://127.0.0.1:${port}`]: { auth: Buffer.from(`${USER}:wrong`).toString("base64") } },
      }));
      const wrong = await pull("private/app:v1", { HOME: other });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toBe("tsbox: unauthorized: incorrect username or password\n");
      fs.rmSync(path.join(other, ".docker", "config.json"));
      const none = await pull("private/app:v1", { HOME: other });
      expect(none.code).toBe(1);
      expect(none.stderr).toBe("tsbox: unauthorized: authentication required\n");
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
    expect(listTree(root)).toEqual(before);
  });

  it("follows a blob redirect to another host without forwarding Authorization", async () => {
    const r = await pull("redirect/app:v1");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const atBlobHost = seen.filter((s) => s.host === "blobs");
    expect(atBlobHost.length).toBeGreaterThan(0);
    for (const s of atBlobHost) expect(s.authorization).toBeUndefined();
    const atRegistry = seen.filter((s) => s.host === "registry" && s.url.startsWith("/v2/redirect/app/blobs/"));
    for (const s of atRegistry) expect(s.authorization).toBe("Bearer tok:redirect/app");
  });

  it("retries 5xx answers", async () => {
    const r = await pull("flaky/app:v1");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(counters.get("flaky")).toBe(3);
  });

  it("resumes a blob whose connection broke with a Range request", async () => {
    const r = await pull("cut/app:v1");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/: Retrying in 1 second\n/);
    const gets = seen.filter((s) => s.host === "registry" && s.url.startsWith("/v2/cut/app/blobs/") && s.range !== undefined);
    expect(gets).toHaveLength(1);
    const from = Number(/^bytes=(\d+)-$/.exec(gets[0]?.range ?? "")?.[1]);
    expect(from).toBeGreaterThan(0);
    // The image is whole: its files read back.
    const run = await tsboxAsync(root, ["run", "--rm", `127.0.0.1:${port}/cut/app:v1`, "sh", "-c", "wc -c < /data/cut.bin"], env);
    expect(run.stdout.trim()).toBe("600000");
  });
});

describe("pull: failures leave the store unchanged", () => {
  const cases: [string, string | RegExp, string[]?][] = [
    ["corrupt/app:v1", /^layer [0-9a-f]{12}: blob digest mismatch: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}$/],
    // gzip's own check fires before the blob has ended and its digest could be compared.
    ["corruptgz/app:v1", /^layer [0-9a-f]{12}: (invalid tar archive: gzip: incorrect data check|blob digest mismatch: .*)$/],
    ["truncated/app:v1", /^layer [0-9a-f]{12}: (size mismatch: expected \d+ bytes, got \d+|invalid tar archive: gzip: unexpected end of file)$/],
    ["oversized/app:v1", /^blob sha256:[0-9a-f]{64}: the registry sent more than the \d+ bytes the manifest declares$/],
    ["cutalways/app:v1", /^Get "http:\/\/127\.0\.0\.1:\d+\/v2\/cutalways\/app\/blobs\/sha256:[0-9a-f]{64}": connection closed before the response was complete$/],
    ["baddiff/app:v1", /^layer [0-9a-f]{12}: wrong diff ID: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}$/],
    ["weird/app:v1", "unsupported manifest media type and no default available: application/vnd.example.weird+json"],
    ["schema1/app:v1", /^127\.0\.0\.1:\d+\/schema1\/app:v1: Docker Image manifest version 2, schema 1 is not supported/],
    ["noplat/app:v1", "no matching manifest for linux/amd64 in the manifest list entries"],
    ["good/app:nope", /^manifest for 127\.0\.0\.1:\d+\/good\/app:nope not found: manifest unknown: manifest unknown$/],
    ["missing/app:v1", /^repository 127\.0\.0\.1:\d+\/missing\/app not found: name unknown: repository name not known to registry$/],
    ["good/app@sha256:" + "0".repeat(64), /^manifest for 127\.0\.0\.1:\d+\/good\/app@sha256:0{64} not found: manifest unknown: manifest unknown$/],
    ["good/app:v1", /^"linux\/s390x": operating system|no matching manifest|does not match the specified platform: wanted linux\/s390x, actual: linux\/amd64$/, ["--platform", "linux/s390x"]],
  ];
  for (const [ref, message, args] of cases) {
    it(`${ref}${args ? ` ${args.join(" ")}` : ""}`, async () => {
      const before = listTree(root);
      const r = await pull(ref, {}, args ?? []);
      expect(r.code).toBe(1);
      const lines = r.stderr.split("\n").filter((x) => x !== "");
      expect(lines).toHaveLength(1);
      const msg = (lines[0] ?? "").replace(/^tsbox: /, "");
      if (typeof message === "string") expect(msg).toBe(message);
      else expect(msg).toMatch(message);
      expect(listTree(root)).toEqual(before);
    });
  }

  it("registry down: connection refused, at once", async () => {
    const closed = await freePort();
    const before = listTree(root);
    const t0 = Date.now();
    const r = await tsboxAsync(root, ["pull", `127.0.0.1:${closed}/x/y:1`], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`tsbox: Get "http://127.0.0.1:${closed}/v2/x/y/manifests/1": dial tcp 127.0.0.1:${closed}: connect: connection refused\n`);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(listTree(root)).toEqual(before);
  });

  it("Ctrl-C stops the transfers, cleans up and exits 130", async () => {
    const before = listTree(root);
    const child = spawn(process.execPath, [CLI, "--root", root, "pull", `127.0.0.1:${port}/stall/app:v1`], {
      stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env },
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => { stderr += c.toString(); });
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    // The config, then the layer that stalls.
    await until(() => seen.filter((s) => s.url.startsWith("/v2/stall/app/blobs/")).length >= 2, "the stalled layer request");
    await new Promise((r) => setTimeout(r, 200));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(stderr).toBe("");
    expect(listTree(root)).toEqual(before);
  });
});
