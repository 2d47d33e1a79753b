// `tsbox pull` against a real registry: Debian's docker-registry (CNCF
// distribution 2.8) on 127.0.0.1, images built here as OCI layouts (busybox
// plus generated layers with whiteouts, gzip/zstd/plain) and pushed with
// skopeo, a multi-platform index with an attestation, Docker schema 2
// manifests, and a second registry with htpasswd Basic auth for login/logout.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, busyboxTarball, makeRoot, removeRoot, type Result } from "./helpers.js";
import {
  buildAttestation, buildImage, buildIndex, layerBlob, listTree, missingRegistryTools, push, startRegistry, tarball, writeLayout,
  type BuiltImage, type RunningRegistry,
} from "./registry.fixtures.js";
import { resolveImage } from "../src/image/index.js";

const AUTH_USER = "bob";
const AUTH_PASSWORD = "hunter2";

const missing = missingRegistryTools();
if (missing.length > 0) process.stdout.write(`SKIP registry.real: not installed: ${missing.join(", ")}\n`);
const skip = missing.length > 0;

let work: string;
let home: string;
let root: string;
/** every registry started, stopped in afterAll even when starting another failed */
const registries: RunningRegistry[] = [];
let plain: RunningRegistry;
let secured: RunningRegistry;
let app: BuiltImage;
let sibling: BuiltImage;
let amd64: BuiltImage;
let arm64: BuiltImage;
let multiDigest: string;

function tsbox(args: string[], o: { input?: string; env?: NodeJS.ProcessEnv } = {}): Result {
  const r = spawnSync(process.execPath, [CLI, "--root", root, ...args], {
    encoding: "utf8", timeout: 90_000, input: o.input ?? "", env: { ...process.env, HOME: home, DOCKER_CONFIG: "", ...o.env },
  });
  return { code: r.status ?? 137, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

const id12 = (digest: string): string => digest.slice(7, 19);

beforeAll(async () => {
  if (skip) return;
  work = fs.mkdtempSync("/var/tmp/tsbox-registry-real-");
  home = path.join(work, "home");
  fs.mkdirSync(home);
  root = makeRoot();
  const started = await Promise.allSettled([
    startRegistry(path.join(work, "plain")),
    startRegistry(path.join(work, "secured"), { htpasswd: { user: AUTH_USER, password: AUTH_PASSWORD } }),
  ]);
  for (const s of started) if (s.status === "fulfilled") registries.push(s.value);
  for (const s of started) if (s.status === "rejected") throw s.reason;
  // Both started (in this order): nothing was rejected.
  plain = registries[0]!;
  secured = registries[1]!;

  const base = layerBlob(fs.readFileSync(busyboxTarball()), "gzip");
  // Layer 2 (zstd): a file, and a whiteout deleting /etc/group from the base.
  const changes = layerBlob(await tarball([
    [{ name: "etc/", type: "directory" }],
    [{ name: "etc/motd" }, "hello from layer 2\n"],
    [{ name: "etc/.wh.group" }],
    [{ name: "srv/", type: "directory" }],
    [{ name: "srv/old" }, "old"],
    [{ name: "srv/keep/", type: "directory" }],
  ]), "zstd");
  // Layer 3 (plain tar): /srv made opaque, so layer 2's /srv contents vanish.
  const opaque = layerBlob(await tarball([
    [{ name: "srv/", type: "directory" }],
    [{ name: "srv/.wh..wh..opq" }],
    [{ name: "srv/new" }, "new"],
  ]), "none");
  app = buildImage([base, changes, opaque], { cmd: ["cat", "/etc/motd"] });
  sibling = buildImage([base, layerBlob(await tarball([[{ name: "sibling" }, "s\n"]]), "gzip")]);
  amd64 = buildImage([base, layerBlob(await tarball([[{ name: "arch" }, "amd64\n"]]), "gzip")]);
  arm64 = buildImage([base, layerBlob(await tarball([[{ name: "arch" }, "arm64\n"]]), "gzip")], { architecture: "arm64" });
  const attestation = buildAttestation(amd64.manifest.digest);
  const attest = { "vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": amd64.manifest.digest };
  const multi = buildIndex([
    { manifest: arm64.manifest, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
    { manifest: attestation.manifest, platform: { os: "unknown", architecture: "unknown" }, annotations: attest },
    { manifest: amd64.manifest, platform: { os: "linux", architecture: "amd64" } },
  ]);
  multiDigest = multi.digest;
  const armOnly = buildIndex([
    { manifest: attestation.manifest, platform: { os: "unknown", architecture: "unknown" }, annotations: attest },
    { manifest: arm64.manifest, platform: { os: "linux", architecture: "arm64" } },
  ]);
  const docker = buildImage([base, layerBlob(await tarball([[{ name: "docker-v2s2" }, "yes\n"]]), "gzip")]);

  const layout = path.join(work, "layout");
  writeLayout(layout, [...app.blobs, ...sibling.blobs, ...amd64.blobs, ...arm64.blobs, ...attestation.blobs, ...docker.blobs], {
    app: app.manifest, sibling: sibling.manifest, multi, armonly: armOnly, docker: docker.manifest,
  });
  push(layout, "app", `${plain.host}/test/app:v1`);
  push(layout, "sibling", `${plain.host}/test/sibling:v1`);
  push(layout, "multi", `${plain.host}/test/multi:v1`, { all: true });
  push(layout, "armonly", `${plain.host}/test/armonly:v1`, { all: true });
  push(layout, "docker", `${plain.host}/test/docker:v1`, { dockerSchema2: true });
  push(layout, "app", `${secured.host}/private/app:v1`, { creds: `${AUTH_USER}:${AUTH_PASSWORD}` });
});

afterAll(async () => {
  await Promise.all(registries.map((r) => r.stop()));
  if (root) removeRoot(root);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skip)("pull from docker-registry", () => {
  it("pulls a three-layer image with Docker's progress lines", () => {
    const ref = `${plain.host}/test/app:v1`;
    const r = tsbox(["pull", ref]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    const ids = app.layers.map((l) => id12(l.digest));
    expect(lines.slice(0, 4)).toEqual([`v1: Pulling from test/app`, ...ids.map((id) => `${id}: Pulling fs layer`)]);
    // Each layer's statuses in Docker's order (layers interleave: 3 download at once).
    for (const id of ids) {
      expect(lines.filter((l) => l.startsWith(`${id}: `))).toEqual([
        `${id}: Pulling fs layer`, `${id}: Verifying Checksum`, `${id}: Download complete`, `${id}: Pull complete`,
      ]);
    }
    expect(lines.slice(-3)).toEqual([`Digest: ${app.manifest.digest}`, `Status: Downloaded newer image for ${ref}`, ref]);
    const image = resolveImage(root, ref);
    expect(image.id).toBe(app.config.digest);
    expect(image.manifestDigest).toBe(app.manifest.digest);
    expect(image.layers.map((l) => l.diffID)).toEqual(app.layers.map((l) => l.diffID));
  });

  it("runs it: whiteouts and opaque directories applied", () => {
    const r = tsbox(["run", "--rm", `${plain.host}/test/app:v1`]);
    expect(r.stdout).toBe("hello from layer 2\n");
    expect(r.code).toBe(0);
    const ls = tsbox(["run", "--rm", `${plain.host}/test/app:v1`, "sh", "-c", "ls -A /srv; test -e /etc/group || echo no-group; test -e /etc/passwd && echo passwd"]);
    expect(ls.stdout).toBe("new\nno-group\npasswd\n");
    expect(ls.code).toBe(0);
  });

  it("a second pull is up to date, fetches nothing and leaves the store as it was", () => {
    // The event log records every pull, as Docker's daemon does; the store is the rest.
    const store = (): string[] => listTree(root).filter((e) => !/ events\.log(\.1)?$/.test(e));
    const before = store();
    const r = tsbox(["pull", `${plain.host}/test/app:v1`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe([
      "v1: Pulling from test/app", `Digest: ${app.manifest.digest}`,
      `Status: Image is up to date for ${plain.host}/test/app:v1`, `${plain.host}/test/app:v1`, "",
    ].join("\n"));
    expect(store()).toEqual(before);
    expect(tsbox(["events", "--since", "1m", "--until", "0s", "--filter", "event=pull", "--format", "{{.Actor.ID}}"]).stdout.trim().split("\n").at(-1))
      .toBe(`${plain.host}/test/app:v1`);
  });

  it("layers already in the store are not fetched again", () => {
    const r = tsbox(["pull", `${plain.host}/test/sibling:v1`]);
    expect(r.code).toBe(0);
    const [base, own] = sibling.layers.map((l) => id12(l.digest));
    expect(r.stdout).toContain(`${base}: Already exists\n`);
    expect(r.stdout).not.toContain(`${base}: Pull complete`);
    expect(r.stdout).toContain(`${own}: Pull complete\n`);
    // The shared layer is stored once.
    const a = resolveImage(root, `${plain.host}/test/app:v1`);
    const b = resolveImage(root, `${plain.host}/test/sibling:v1`);
    expect(b.layers[0]?.dir).toBe(a.layers[0]?.dir);
  });

  it("pulls by digest, and the digest reference runs", () => {
    const ref = `${plain.host}/test/app@${app.manifest.digest}`;
    const q = tsbox(["pull", "-q", ref]);
    expect(q.stderr).toBe("");
    expect(q.stdout).toBe(`${ref}\n`);
    const r = tsbox(["pull", ref]);
    expect(r.stdout).toContain(`${app.manifest.digest}: Pulling from test/app\n`);
    expect(r.stdout).toContain(`Status: Image is up to date for ${ref}\n`);
    const run = tsbox(["run", "--rm", ref]);
    expect(run.stdout).toBe("hello from layer 2\n");
  });

  it("--max-concurrent-downloads 1: the others wait, then come one by one", () => {
    const other = makeRoot();
    try {
      const r = spawnSync(process.execPath, [CLI, "--root", other, "pull", "--max-concurrent-downloads", "1", `${plain.host}/test/app:v1`], {
        encoding: "utf8", timeout: 90_000, env: { ...process.env, HOME: home, DOCKER_CONFIG: "" },
      });
      expect(r.status).toBe(0);
      const ids = app.layers.map((l) => id12(l.digest));
      const lines = r.stdout.split("\n");
      expect(lines.slice(1, 6)).toEqual([
        ...ids.map((id) => `${id}: Pulling fs layer`), `${ids[1]}: Waiting`, `${ids[2]}: Waiting`,
      ]);
      // One at a time: each completes before the next starts verifying.
      const order = lines.filter((l) => l.endsWith(": Pull complete")).map((l) => l.slice(0, 12));
      expect(order).toEqual(ids);
      expect(listTree(other).filter((l) => l.includes(" tmp/"))).toEqual([]);
    } finally {
      removeRoot(other);
    }
  });

  it("pulls a Docker schema 2 manifest (Docker media types)", () => {
    const r = tsbox(["pull", `${plain.host}/test/docker:v1`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const run = tsbox(["run", "--rm", `${plain.host}/test/docker:v1`, "cat", "/docker-v2s2"]);
    expect(run.stdout).toBe("yes\n");
  });

  it("unknown tags and repositories: the registry's answer in Docker's words", () => {
    const before = listTree(root);
    const tag = tsbox(["pull", `${plain.host}/test/app:nope`]);
    expect(tag.code).toBe(1);
    expect(tag.stderr).toBe(`tsbox: manifest for ${plain.host}/test/app:nope not found: manifest unknown: manifest unknown\n`);
    const repo = tsbox(["pull", `${plain.host}/test/none`]);
    expect(repo.code).toBe(1);
    expect(repo.stdout).toBe("Using default tag: latest\nlatest: Pulling from test/none\n");
    expect(repo.stderr).toMatch(/^tsbox: (manifest for .* not found|repository .* not found): .*\n$/);
    expect(listTree(root)).toEqual(before);
  });
});

describe.skipIf(skip)("multi-platform index", () => {
  it("picks this machine's platform, never the attestation", () => {
    const ref = `${plain.host}/test/multi:v1`;
    const r = tsbox(["pull", ref]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // The digest shown is the index's: what the tag points at.
    expect(r.stdout).toContain(`Digest: ${multiDigest}\n`);
    expect(resolveImage(root, ref).id).toBe(amd64.config.digest);
    expect(tsbox(["run", "--rm", ref, "cat", "/arch"]).stdout).toBe("amd64\n");
    // RepoDigests: name@<index digest>.
    expect(resolveImage(root, `${plain.host}/test/multi@${multiDigest}`).id).toBe(amd64.config.digest);
  });

  it("--platform chooses another entry (arm64/v8 is arm64)", () => {
    const ref = `${plain.host}/test/multi:v1`;
    const r = tsbox(["pull", "--platform", "linux/arm64", ref]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(`${id12(arm64.layers[0]?.digest ?? "")}: Already exists\n`);
    const image = resolveImage(root, ref);
    expect(image.id).toBe(arm64.config.digest);
    expect(image.config.architecture).toBe("arm64");
  });

  it("no entry for the platform: Docker's message, store unchanged", () => {
    const before = listTree(root);
    const arm = tsbox(["pull", "--platform", "linux/arm/v7", `${plain.host}/test/multi:v1`]);
    expect(arm.code).toBe(1);
    expect(arm.stderr).toBe("tsbox: no matching manifest for linux/arm/v7 in the manifest list entries\n");
    // Only arm64 and an attestation (unknown/unknown): nothing for amd64.
    const only = tsbox(["pull", `${plain.host}/test/armonly:v1`]);
    expect(only.code).toBe(1);
    expect(only.stderr).toBe("tsbox: no matching manifest for linux/amd64 in the manifest list entries\n");
    expect(listTree(root)).toEqual(before);
  });
});

describe.skipIf(skip)("registry with Basic auth (htpasswd)", () => {
  it("without credentials: refused, store unchanged", () => {
    const before = listTree(root);
    const r = tsbox(["pull", `${secured.host}/private/app:v1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("tsbox: no basic auth credentials\n");
    expect(listTree(root)).toEqual(before);
  });

  it("login with a wrong password fails and stores nothing", () => {
    const r = tsbox(["login", "-u", AUTH_USER, "--password-stdin", secured.host], { input: "wrong\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`tsbox: login attempt to ${secured.host} failed: unauthorized: authentication required\n`);
    expect(fs.existsSync(path.join(home, ".docker", "config.json"))).toBe(false);
  });

  it("login stores the credentials (0600), pull uses them, logout removes them", () => {
    const login = tsbox(["login", "-u", AUTH_USER, "--password-stdin", secured.host], { input: `${AUTH_PASSWORD}\n` });
    expect(login.stdout).toBe("Login Succeeded\n");
    expect(login.code).toBe(0);
    const file = path.join(home, ".docker", "config.json");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const config = JSON.parse(fs.readFileSync(file, "utf8")) as { auths: Record<string, { auth: string }> };
    expect(Buffer.from(config.auths[secured.host]?.auth ?? "", "base64").toString()).toBe(`${AUTH_USER}:${AUTH_PASSWORD}`);

    const pull = tsbox(["pull", `${secured.host}/private/app:v1`]);
    expect(pull.stderr).toBe("");
    expect(pull.code).toBe(0);
    // The same image as test/app, so nothing is fetched; the new name still counts as newer.
    expect(pull.stdout).not.toContain("Pull complete");
    expect(pull.stdout).toContain(`Status: Downloaded newer image for ${secured.host}/private/app:v1\n`);
    expect(resolveImage(root, `${secured.host}/private/app:v1`).id).toBe(app.config.digest);

    expect(tsbox(["logout", secured.host]).stdout).toBe(`Removing login credentials for ${secured.host}\n`);
    expect(tsbox(["logout", secured.host]).stdout).toBe(`Not logged in to ${secured.host}\n`);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({ auths: {} });
  });

  it("login flags are checked like Docker's", () => {
    expect(tsbox(["login", "--password-stdin", secured.host]).stderr).toBe("tsbox: Must provide --username with --password-stdin\n");
    expect(tsbox(["login", secured.host]).stderr).toBe("tsbox: Cannot perform an interactive login from a non TTY device\n");
    const p = tsbox(["login", "-u", AUTH_USER, "-p", AUTH_PASSWORD, secured.host]);
    expect(p.stderr).toContain("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
    expect(p.stdout).toBe("Login Succeeded\n");
    expect(tsbox(["logout", secured.host]).code).toBe(0);
  });
});
