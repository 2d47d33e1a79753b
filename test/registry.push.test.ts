// Acceptance (issue 15, push): `tsbox push` to Debian's docker-registry
// (distribution 2.8) on 127.0.0.1: an image made here (commit, build) pushed
// and pulled back into another store runs the same; a second push uploads
// nothing ("Layer already exists") and compresses nothing; another repository
// of the same registry gets the blobs by cross-repository mounts; large blobs
// go up in chunks; a registry with Basic auth takes the stored credentials;
// --all-tags; bad input; a SIGKILL mid-push. With a Docker engine: a tsbox
// image pushed and run by Docker, a Docker image pushed and run by tsbox.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, busyboxTarball, makeRoot, removeRoot, type Result, until } from "./helpers.js";
import { missingRegistryTools, startRegistry, type RunningRegistry } from "./registry.fixtures.js";

const missing = missingRegistryTools();
if (missing.length > 0) process.stdout.write(`SKIP registry.push: not installed: ${missing.join(", ")}\n`);

let work: string;
let home: string;
let root: string;
let other: string;
const registries: RunningRegistry[] = [];
let plain: RunningRegistry;
let secured: RunningRegistry;

function tsboxIn(r: string, args: string[], o: { input?: string; env?: NodeJS.ProcessEnv } = {}): Result {
  const res = spawnSync(process.execPath, [CLI, "--root", r, ...args], {
    encoding: "utf8", timeout: 120_000, input: o.input ?? "", env: { ...process.env, HOME: home, DOCKER_CONFIG: "", ...o.env },
  });
  return { code: res.status ?? 137, stdout: String(res.stdout ?? ""), stderr: String(res.stderr ?? "") };
}
const tsbox = (args: string[], o: { input?: string; env?: NodeJS.ProcessEnv } = {}): Result => tsboxIn(root, args, o);

const layerLines = (out: string, status: string): number => out.split("\n").filter((l) => new RegExp(`^[0-9a-f]{12}: ${status}$`).test(l)).length;

beforeAll(async () => {
  if (missing.length > 0) return;
  work = fs.mkdtempSync("/var/tmp/tsbox-push-");
  home = path.join(work, "home");
  fs.mkdirSync(home);
  root = makeRoot();
  other = makeRoot();
  const started = await Promise.allSettled([
    startRegistry(path.join(work, "plain")),
    startRegistry(path.join(work, "secured"), { htpasswd: { user: "alice", password: "s3cret" } }),
  ]);
  for (const s of started) if (s.status === "fulfilled") registries.push(s.value);
  for (const s of started) if (s.status === "rejected") throw s.reason;
  plain = registries[0]!;
  secured = registries[1]!;
  expect(tsbox(["import", busyboxTarball(), "busybox"]).code).toBe(0);
  // An image made here: two layers over the base, one of them ~3 MB of random bytes.
  const ctx = path.join(work, "ctx");
  fs.mkdirSync(ctx);
  fs.writeFileSync(path.join(ctx, "Dockerfile"),
    "FROM busybox\nRUN head -c 3000000 /dev/urandom > /big && echo made > /made\nCOPY note /note\nCMD cat /made /note\n");
  fs.writeFileSync(path.join(ctx, "note"), "a note\n");
  const b = tsbox(["build", "-t", "app:1", ctx]);
  expect(b.code, b.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(registries.map((r) => r.stop()));
  if (root) removeRoot(root);
  if (other) removeRoot(other);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.skipIf(missing.length > 0)("tsbox push", () => {
  it("pushes an image made here; another store pulls and runs it; a second push uploads and compresses nothing", () => {
    const name = `${plain.host}/team/app:1`;
    expect(tsbox(["tag", "app:1", name]).code).toBe(0);
    const first = tsbox(["push", name]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^The push refers to repository \\[${plain.host}/team/app\\]\\n`));
    expect(layerLines(first.stdout, "Pushed")).toBe(3);
    expect(first.stdout).toMatch(/\n1: digest: sha256:[0-9a-f]{64} size: \d+\n$/);
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(first.stdout)?.[1] ?? "";

    const blobs = fs.readdirSync(path.join(root, "blobs", "sha256")).length;
    const again = tsbox(["push", name]);
    expect(again.code, again.stderr).toBe(0);
    expect(layerLines(again.stdout, "Layer already exists")).toBe(3);
    expect(again.stdout).toContain(`1: digest: ${digest} `);
    expect(fs.readdirSync(path.join(root, "blobs", "sha256")).length).toBe(blobs); // nothing compressed again

    const pull = tsboxIn(other, ["pull", name]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout).toContain(`Digest: ${digest}`);
    expect(tsboxIn(other, ["run", "--rm", "--network", "none", name]).stdout).toBe("made\na note\n");
    expect(tsboxIn(other, ["run", "--rm", "--network", "none", name, "wc", "-c", "/big"]).stdout).toBe("3000000 /big\n");
    // the same image: same config digest on both sides
    expect(tsboxIn(other, ["images", "-q", name]).stdout).toBe(tsbox(["images", "-q", "app:1"]).stdout);
    // RepoDigests: name@digest names the pushed manifest here too
    expect(tsbox(["run", "--rm", "--network", "none", `${plain.host}/team/app@${digest}`]).stdout).toBe("made\na note\n");
  });

  it("another repository of the registry gets the layers by cross-repository mounts", () => {
    const name = `${plain.host}/elsewhere/copy:1`;
    expect(tsbox(["tag", "app:1", name]).code).toBe(0);
    const r = tsbox(["push", name]);
    expect(r.code, r.stderr).toBe(0);
    expect(layerLines(r.stdout, "Mounted from team/app")).toBe(3);
    expect(tsboxIn(other, ["pull", name]).code).toBe(0);
    expect(tsboxIn(other, ["run", "--rm", "--network", "none", name]).stdout).toBe("made\na note\n");
  });

  it("large blobs go up in chunks (PATCH with Content-Range, then PUT)", () => {
    const name = `${plain.host}/chunked/app:1`;
    expect(tsbox(["tag", "app:1", name]).code).toBe(0);
    // a fresh store that never pushed: no mount source known, so every blob is uploaded
    const fresh = makeRoot();
    try {
      const saved = path.join(work, "app.tar");
      expect(tsbox(["save", "-o", saved, "app:1"]).code).toBe(0);
      expect(tsboxIn(fresh, ["load", "-i", saved]).code).toBe(0);
      expect(tsboxIn(fresh, ["tag", "app:1", name]).code).toBe(0);
      const r = tsboxIn(fresh, ["push", name], { env: { TSBOX_PUSH_CHUNK_SIZE: "400000" } });
      expect(r.code, r.stderr).toBe(0);
      expect(layerLines(r.stdout, "Pushed") + layerLines(r.stdout, "Layer already exists")).toBe(3);
    } finally {
      removeRoot(fresh);
    }
    const pulled = makeRoot();
    try {
      expect(tsboxIn(pulled, ["pull", name]).code).toBe(0);
      expect(tsboxIn(pulled, ["run", "--rm", "--network", "none", name, "wc", "-c", "/big"]).stdout).toBe("3000000 /big\n");
    } finally {
      removeRoot(pulled);
    }
  });

  it("a registry with Basic auth: refused without credentials, pushed with those login stored", () => {
    const name = `${secured.host}/private/app:1`;
    expect(tsbox(["tag", "app:1", name]).code).toBe(0);
    const denied = tsbox(["push", name]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toBe("tsbox: no basic auth credentials\n"); // Docker's words for a Basic challenge without credentials
    expect(tsbox(["login", "-u", "alice", "--password-stdin", secured.host], { input: "s3cret\n" }).code).toBe(0);
    const r = tsbox(["push", name]);
    expect(r.code, r.stderr).toBe(0);
    expect(layerLines(r.stdout, "Pushed")).toBe(3);
    // the credentials are the client's (HOME's Docker config), not a store's: the other store pulls with them
    expect(tsboxIn(other, ["pull", name]).code).toBe(0);
  });

  it("--all-tags pushes every tag of the repository", () => {
    for (const t of ["a", "b"]) expect(tsbox(["tag", "app:1", `${plain.host}/many/app:${t}`]).code).toBe(0);
    const r = tsbox(["push", "--all-tags", `${plain.host}/many/app`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\na: digest: sha256:[0-9a-f]{64} size: \d+\n/);
    expect(r.stdout).toMatch(/\nb: digest: sha256:[0-9a-f]{64} size: \d+\n$/);
  });

  it("pull --all-tags gets every tag the registry lists, with one Status line for the repository", () => {
    const fresh = makeRoot();
    try {
      const repo = `${plain.host}/many/app`;
      const first = tsboxIn(fresh, ["pull", "-a", repo]);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout.match(/^(a|b): Pulling from many\/app$/gm)?.sort()).toEqual(["a: Pulling from many/app", "b: Pulling from many/app"]);
      expect(first.stdout).toMatch(new RegExp(`\nStatus: Downloaded newer image for ${repo}\n${repo}\n$`));
      expect(first.stdout.match(/^Status: /gm)).toHaveLength(1);
      expect(tsboxIn(fresh, ["images", "-q", `${repo}:a`]).stdout).not.toBe("");
      expect(tsboxIn(fresh, ["images", "-q", `${repo}:b`]).stdout).not.toBe("");
      const again = tsboxIn(fresh, ["pull", "--all-tags", repo]);
      expect(again.stdout).toMatch(new RegExp(`\nStatus: Image is up to date for ${repo}\n${repo}\n$`));
      for (const [args, message] of [
        [["pull", "-a", `${repo}:a`], "tsbox: tag can't be used with --all-tags/-a\n"],
        [["pull", "-a", `${plain.host}/nothing/here`], `tsbox: repository ${plain.host}/nothing/here not found: name unknown: repository name not known to registry\n`],
      ] as const) {
        const r = tsboxIn(fresh, [...args]);
        expect(r.code, args.join(" ")).toBe(1);
        expect(r.stderr).toBe(message);
      }
    } finally {
      removeRoot(fresh);
    }
  });

  it("bad input: one line, exit 1", () => {
    for (const [args, message] of [
      [["push", `${plain.host}/nothing/here:1`], `tsbox: An image does not exist locally with the tag: ${plain.host}/nothing/here:1\n`],
      [["push", `${plain.host}/team/app@sha256:${"a".repeat(64)}`], "tsbox: cannot push a digest reference\n"],
      [["push", "--all-tags", `${plain.host}/team/app:1`], "tsbox: tag can't be used with --all-tags/-a\n"],
      [["push", "Bad:Name:x"], "tsbox: invalid reference format: repository name (library/Bad) must be lowercase\n"],
    ] as const) {
      const r = tsbox([...args]);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr).toBe(message);
    }
    // a registry that is not there: one line naming it
    expect(tsbox(["tag", "app:1", "127.0.0.1:1/x:1"]).code).toBe(0);
    const r = tsbox(["push", "127.0.0.1:1/x:1"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/127\.0\.0\.1:1.*connection refused/);
  });

  it("a SIGKILL mid-push leaves the store consistent; the next push completes", async () => {
    const name = `${plain.host}/killed/app:1`;
    const fresh = makeRoot();
    try {
      const saved = path.join(work, "app-killed.tar");
      expect(tsbox(["save", "-o", saved, "app:1"]).code).toBe(0);
      expect(tsboxIn(fresh, ["load", "-i", saved]).code).toBe(0);
      expect(tsboxIn(fresh, ["tag", "app:1", name]).code).toBe(0);
      const p = spawn(process.execPath, [CLI, "--root", fresh, "push", name], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HOME: home, DOCKER_CONFIG: "" } });
      let out = "";
      p.stdout.on("data", (d: Buffer) => { out += d.toString(); });
      await until(() => out.includes("Preparing") || p.exitCode !== null || undefined, "the push to start");
      p.kill("SIGKILL");
      await new Promise((r) => (p.exitCode !== null ? r(undefined) : p.once("exit", r)));
      expect(tsboxIn(fresh, ["image", "prune", "-f"]).code).toBe(0); // a writer: sweeps what the killed one left
      expect(fs.readdirSync(path.join(fresh, "tmp")).filter((n) => n.startsWith("push-"))).toEqual([]);
      const r = tsboxIn(fresh, ["push", name]);
      expect(r.code, r.stderr).toBe(0);
      expect(tsboxIn(fresh, ["run", "--rm", "--network", "none", "app:1"]).stdout).toBe("made\na note\n");
    } finally {
      removeRoot(fresh);
    }
    expect(tsboxIn(other, ["pull", name]).code).toBe(0);
  });
});

const dockerOk = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 20_000 }).status === 0;
if (!dockerOk) console.warn("registry.push's Docker comparison skipped: `docker info` failed; start dockerd to run it");

describe.skipIf(missing.length > 0 || !dockerOk)("with the Docker engine", () => {
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const refs: string[] = [];
  const docker = (args: string[]): string => execFileSync("docker", args, { encoding: "utf8", maxBuffer: 1 << 26, timeout: 300_000, stdio: "pipe" });
  afterAll(() => {
    for (const r of refs) spawnSync("docker", ["rmi", "-f", r], { stdio: "ignore" });
  });

  it("an image built by tsbox and pushed: docker pull and docker run print what tsbox run prints", () => {
    const name = `${plain.host}/to-docker/app:${suffix}`;
    refs.push(name);
    expect(tsbox(["tag", "app:1", name]).code).toBe(0);
    expect(tsbox(["push", name]).code).toBe(0);
    docker(["pull", "-q", name]);
    expect(docker(["run", "--rm", "--network", "none", name])).toBe(tsbox(["run", "--rm", "--network", "none", name]).stdout);
  });

  it("an image built by Docker and pushed by docker push: tsbox pull and tsbox run print what docker run prints", () => {
    const base = `tsbox-push-base:${suffix}`;
    const name = `${plain.host}/from-docker/app:${suffix}`;
    refs.push(base, name);
    docker(["import", busyboxTarball(), base]);
    const ctx = path.join(work, "docker-ctx");
    fs.mkdirSync(ctx, { recursive: true });
    fs.writeFileSync(path.join(ctx, "Dockerfile"), `FROM ${base}\nRUN echo from docker > /d && rm /bin/ls\nENV X=1\nCMD cat /d; echo $X; ls /bin/ls 2>&1; true\n`);
    execFileSync("docker", ["build", "-q", "-t", name, ctx], { env: { ...process.env, DOCKER_BUILDKIT: "0" }, stdio: "pipe" });
    docker(["push", name]);
    const pulled = makeRoot();
    try {
      const p = tsboxIn(pulled, ["pull", name]);
      expect(p.code, p.stderr).toBe(0);
      expect(tsboxIn(pulled, ["run", "--rm", "--network", "none", name]).stdout).toBe(docker(["run", "--rm", "--network", "none", name]));
    } finally {
      removeRoot(pulled);
    }
  });
});
