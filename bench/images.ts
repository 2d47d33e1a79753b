// Image transfer benchmark: `tsbox load` vs `docker load` of the same
// `docker save` archive, and `tsbox pull` vs `docker pull` of the same gzip
// image from one local registry (Debian's docker-registry on 127.0.0.1),
// `tsbox push` vs `docker push` of it to another (emptied before each push;
// tsbox's first push of a store, which compresses, and a later one, which
// finds its layers compressed), plus tsbox's unpack throughput (MB/s and
// files/s of uncompressed layer content).
//
//   npx tsx bench/images.ts [--iterations N] [--warmup N] [--scale X]   (or BENCH_ITERATIONS=N)
//
// Needs root and a built tsbox (`npm run bench:images` builds first). Writes a
// Markdown table to stdout and bench/results/images.json. Docker, the registry
// and skopeo are optional: a missing one is skipped with a line saying why.

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream as createReadStreamOf, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { cpus, loadavg, release } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import * as tar from "tar-stream";
import { prng } from "../src/util/prng.js";
import { REPO, TSBOX_ARGV, runBenchmark, describeExit, installSignalHandlers, mustSh, onCleanup, quantile, round1, runTimed, sh } from "./lib.js";

const RESULTS = join(REPO, "bench", "results", "images.json");
const GOAL_RATIO = 0.5; // tsbox must take at most half of Docker's time, for load and for pull
const REGISTRY_BIN = "/usr/bin/docker-registry";

// ---------------------------------------------------------------- options

interface Options { iterations: number; warmup: number; scale: number }

function parseOptions(): Options {
  const args = process.argv.slice(2);
  const value = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const number = (s: string | undefined, what: string, dflt: number, min: number, integer: boolean): number => {
    if (s === undefined) return dflt;
    const n = Number(s);
    if (!(integer ? Number.isInteger(n) : Number.isFinite(n)) || n < min) {
      throw new Error(`${what} must be ${integer ? "an integer" : "a number"} >= ${min}, got ${JSON.stringify(s)}`);
    }
    return n;
  };
  return {
    iterations: number(value("--iterations") ?? process.env.BENCH_ITERATIONS, "--iterations", 5, 1, true),
    warmup: number(value("--warmup"), "--warmup", 1, 0, true),
    // Multiplies file counts and sizes of the generated image (1 = ~200 MB uncompressed).
    scale: number(value("--scale"), "--scale", 1, 0.01, false),
  };
}

function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

// ---------------------------------------------------------------- the image


const WORDS = ("the of and to in is for on that with as by this be are from at or it an was which not have can if " +
  "config value error return function struct static const int void char include define import export class public " +
  "private string number boolean package module version license copyright file path data buffer stream system")
  .split(" ");

/** ~1 MiB of text-like bytes (gzip gets ~3:1 on it, like source, docs and locale files). */
function textPool(rand: () => number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < 1 << 20) {
    const line = Array.from({ length: 4 + Math.floor(rand() * 10) }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(" ");
    parts.push(line);
    n += line.length + 1;
  }
  return Buffer.from(parts.join("\n"));
}

interface LayerFile { name: string; path: string; bytes: number; entries: number; regular: number; diffID: string; size: number }

/** Writes one layer tar to `path` from a generator of entries; returns its diff ID and counts. */
async function writeLayer(path: string, name: string, gen: (add: (h: H, body?: Buffer) => Promise<void>) => Promise<void>): Promise<LayerFile> {
  const pack = tar.pack();
  const hash = createHash("sha256");
  let size = 0;
  pack.on("data", (c: unknown) => { if (!Buffer.isBuffer(c)) return; hash.update(c); size += c.length; });
  const out = createWriteStream(path);
  const done = pipeline(pack, out);
  let bytes = 0;
  let entries = 0;
  let regular = 0;
  const mtime = new Date("2024-01-02T03:04:05Z");
  const add = (h: H, body?: Buffer): Promise<void> => new Promise((resolve, reject) => {
    entries++;
    if ((h.type ?? "file") === "file") { regular++; bytes += body?.length ?? 0; }
    const e = pack.entry({ mtime, uid: 0, gid: 0, mode: h.type === "directory" ? 0o755 : 0o644, ...h }, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    void e;
  });
  await gen(add);
  pack.finalize();
  await done;
  return { name, path, bytes, entries, regular, diffID: `sha256:${hash.digest("hex")}`, size };
}

/**
 * A realistic mix, ~200 MB uncompressed at scale 1: a busybox base, a layer of
 * many small text files in a deep tree (symlinks too), a layer of large files
 * (random and text, hard links), a layer of medium "libraries", and a layer that changes
 * files of the lower ones (overwrites, whiteouts).
 */
async function generateLayers(dir: string, scale: number): Promise<LayerFile[]> {
  const rand = prng(42);
  const pool = textPool(rand);
  const text = (n: number): Buffer => {
    const out = Buffer.allocUnsafe(n);
    for (let off = 0; off < n;) {
      const start = Math.floor(rand() * (pool.length - 4096));
      const len = Math.min(n - off, 512 + Math.floor(rand() * 3584));
      pool.copy(out, off, start, start + len);
      off += len;
    }
    return out;
  };
  const logUniform = (lo: number, hi: number): number => Math.round(Math.exp(Math.log(lo) + rand() * (Math.log(hi) - Math.log(lo))));
  const layers: LayerFile[] = [];

  const busybox = join(dir, "busybox.tar");
  mustSh(["bash", join(REPO, "scripts", "make-busybox-rootfs.sh"), busybox]);
  {
    // Re-read the busybox tar for its counts and diff ID.
    const extract = tar.extract();
    const hash = createHash("sha256");
    const data = readFileSync(busybox);
    hash.update(data);
    let bytes = 0, entries = 0, regular = 0;
    extract.on("entry", (h, s, next) => { entries++; if (h.type === "file") { regular++; bytes += h.size ?? 0; } s.on("end", next); s.resume(); });
    await new Promise<void>((resolve, reject) => { extract.on("finish", resolve); extract.on("error", reject); extract.end(data); });
    layers.push({ name: "busybox base", path: busybox, bytes, entries, regular, diffID: `sha256:${hash.digest("hex")}`, size: data.length });
  }

  const smallCount = Math.round(14_000 * scale);
  const smallNames: string[] = [];
  layers.push(await writeLayer(join(dir, "small.tar"), "small files", async (add) => {
    for (let a = 0; a < 20; a++) {
      await add({ name: `usr/share/bench/d${a}/`, type: "directory" });
      for (let b = 0; b < 20; b++) await add({ name: `usr/share/bench/d${a}/s${b}/`, type: "directory" });
    }
    for (let i = 0; i < smallCount; i++) {
      const name = `usr/share/bench/d${i % 20}/s${Math.floor(i / 20) % 20}/f${i}.txt`;
      smallNames.push(name);
      await add({ name }, text(logUniform(200, 20_000)));
      if (i % 25 === 0) await add({ name: `${name}.lnk`, type: "symlink", linkname: `f${i}.txt` });
    }
  }));

  const mb = (n: number): number => Math.max(1, Math.round(n * scale * (1 << 20)));
  layers.push(await writeLayer(join(dir, "large.tar"), "large files", async (add) => {
    await add({ name: "opt/", type: "directory" });
    await add({ name: "opt/bench/", type: "directory" });
    await add({ name: "opt/bench/blob0.bin", mode: 0o755 }, randomBytes(mb(32)));
    await add({ name: "opt/bench/blob1.bin" }, randomBytes(mb(16)));
    await add({ name: "opt/bench/corpus.txt" }, text(mb(24)));
    // Hard links (within the layer, as tar requires).
    for (let i = 0; i < 50; i++) await add({ name: `opt/bench/hl${i}`, type: "link", linkname: "opt/bench/corpus.txt" });
  }));

  const libCount = Math.max(1, Math.round(250 * scale));
  layers.push(await writeLayer(join(dir, "medium.tar"), "medium files", async (add) => {
    await add({ name: "usr/lib/bench/", type: "directory" });
    for (let i = 0; i < libCount; i++) {
      const n = logUniform(32 << 10, 1 << 20);
      // Like shared objects: part code-ish (random), part tables and strings (text).
      const body = Buffer.concat([randomBytes(n >> 1), text(n - (n >> 1))]);
      await add({ name: `usr/lib/bench/lib${i}.so.1`, mode: 0o755 }, body);
      await add({ name: `usr/lib/bench/lib${i}.so`, type: "symlink", linkname: `lib${i}.so.1` });
    }
  }));

  layers.push(await writeLayer(join(dir, "changes.tar"), "changes", async (add) => {
    const dirs = new Set<string>();
    for (let i = 0; i < smallNames.length; i += 7) {
      const name = smallNames[i] ?? "";
      const d = name.slice(0, name.lastIndexOf("/") + 1);
      if (!dirs.has(d)) { dirs.add(d); await add({ name: d, type: "directory" }); }
      if (i % 3 === 0) await add({ name: `${d}.wh.${name.slice(d.length)}` });
      else await add({ name }, text(logUniform(200, 8000)));
    }
  }));
  return layers;
}

/** A legacy `docker save` archive of the layers (what `docker load` reads; docker re-saves it for the benchmark). */
async function writeDockerArchive(path: string, layers: LayerFile[], config: Buffer, tag: string): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, createWriteStream(path));
  const entry = (h: H, body?: Buffer): Promise<void> =>
    new Promise((resolve, reject) => { pack.entry(h, body ?? Buffer.alloc(0), (e) => (e ? reject(e) : resolve())); });
  const configHex = createHash("sha256").update(config).digest("hex");
  const ids: string[] = [];
  for (const [i, l] of layers.entries()) {
    const id = createHash("sha256").update(`${i} ${l.diffID}`).digest("hex");
    ids.push(id);
    await entry({ name: `${id}/`, type: "directory" });
    await entry({ name: `${id}/VERSION` }, Buffer.from("1.0"));
    await entry({ name: `${id}/json` }, Buffer.from(JSON.stringify({ id })));
    // Streamed, not read whole: the layers are tens of MB.
    await new Promise<void>((resolve, reject) => {
      const sink = pack.entry({ name: `${id}/layer.tar`, size: l.size }, (e) => (e ? reject(e) : resolve()));
      pipeline(createReadStreamOf(l.path), sink).catch(reject);
    });
  }
  await entry({ name: `${configHex}.json` }, config);
  await entry({ name: "manifest.json" }, Buffer.from(JSON.stringify([{ Config: `${configHex}.json`, RepoTags: [tag], Layers: ids.map((id) => `${id}/layer.tar`) }])));
  pack.finalize();
  await done;
}

function imageConfig(layers: LayerFile[]): Buffer {
  return Buffer.from(JSON.stringify({
    created: "2024-01-02T03:04:05Z", architecture: "amd64", os: "linux",
    config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"] },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffID) },
    history: layers.map((l) => ({ created: "2024-01-02T03:04:05Z", created_by: `bench: ${l.name}` })),
  }));
}

type H = Partial<tar.Header> & { name: string };

const sha = (b: Buffer): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** An OCI layout with gzip layers (what skopeo pushes to the registry), tag `v1`. */
async function writeOciLayout(dir: string, layers: LayerFile[], config: Buffer): Promise<{ compressed: number }> {
  const blobs = join(dir, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const descs: { mediaType: string; digest: string; size: number }[] = [];
  for (const l of layers) {
    const tmp = join(dir, "layer.tmp");
    const hash = createHash("sha256");
    let size = 0;
    const gz = createGzip();
    gz.on("data", (c: Buffer) => { hash.update(c); size += c.length; });
    await pipeline(createReadStreamOf(l.path), gz, createWriteStream(tmp));
    const digest = `sha256:${hash.digest("hex")}`;
    mustSh(["mv", tmp, join(blobs, digest.slice(7))]);
    descs.push({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size });
  }
  writeFileSync(join(blobs, sha(config).slice(7)), config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha(config), size: config.length },
    layers: descs,
  }));
  writeFileSync(join(blobs, sha(manifest).slice(7)), manifest);
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{
    mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha(manifest), size: manifest.length,
    annotations: { "org.opencontainers.image.ref.name": "v1" } }] }));
  return { compressed: descs.reduce((s, d) => s + d.size, 0) };
}

// ---------------------------------------------------------------- registry

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0));
    });
  });
}

async function startRegistry(dir: string): Promise<string> {
  const port = await freePort();
  mkdirSync(join(dir, "data"), { recursive: true });
  const config = join(dir, "config.yml");
  writeFileSync(config, [
    "version: 0.1",
    "log:\n  level: error\n  accesslog:\n    disabled: true",
    `storage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}`,
    `http:\n  addr: 127.0.0.1:${port}\n  secret: tsbox-bench`,
  ].join("\n"));
  const child = spawn(REGISTRY_BIN, ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => { stderr += c.toString(); });
  onCleanup("registry", () => { if (child.exitCode === null) child.kill("SIGTERM"); });
  const end = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => { c.destroy(); resolve(true); });
      c.on("error", () => resolve(false));
    });
    if (ok) return `127.0.0.1:${port}`;
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr.trim()}`);
    if (Date.now() > end) throw new Error("docker-registry did not start listening within 15 s");
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------- runners

type Key = "tsboxLoad" | "dockerLoad" | "tsboxPull" | "dockerPull" | "tsboxPushCold" | "tsboxPush" | "dockerPush";

interface Runner {
  key: Key;
  label: string;
  argv: () => string[];
  /** outside the clock, before each run: empty the caches */
  before: () => void;
  /** outside the clock, after each run */
  after: () => void;
  skip?: string;
  samples: number[];
}

// ---------------------------------------------------------------- stats

const round2 = (x: number): number => Math.round(x * 100) / 100;

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const opts = parseOptions();
  if (process.getuid?.() !== 0) throw new Error("run as root: tsbox and docker need it");
  if (!existsSync(join(REPO, "dist", "tsbox.cjs"))) throw new Error("dist/ is missing: run `npm run build` (or `npm run bench:images`)");
  installSignalHandlers(10_000);
  const tStart = Date.now();

  // Same filesystem as a default tsbox root and /var/lib/docker, not a tmpfs /tmp.
  const work = mkdtempSync("/var/tmp/tsbox-bench-images-");
  onCleanup("temp dir", () => rmSync(work, { recursive: true, force: true }));
  const tag = `tsbox-bench-images:${process.pid}-${Date.now().toString(36)}`;

  note(`generating the image (scale ${opts.scale})...`);
  const layers = await generateLayers(work, opts.scale);
  const config = imageConfig(layers);
  const generated = join(work, "generated.tar");
  await writeDockerArchive(generated, layers, config, tag);
  const uncompressed = layers.reduce((s, l) => s + l.size, 0);
  const content = layers.reduce((s, l) => s + l.bytes, 0);
  const entries = layers.reduce((s, l) => s + l.entries, 0);

  const tsbox = (root: string, ...args: string[]): string[] => [...TSBOX_ARGV, "--root", root, ...args];
  const freshRoots: string[] = [];
  const freshRoot = (): string => {
    const r = mkdtempSync(join(work, "root-"));
    freshRoots.push(r);
    return r;
  };
  const dropRoots = (): void => {
    for (let r = freshRoots.pop(); r; r = freshRoots.pop()) {
      if (existsSync(r)) sh(tsbox(r, "images", "-q"));
      rmSync(r, { recursive: true, force: true });
    }
  };
  onCleanup("tsbox roots", dropRoots);

  // ---- docker: load the generated archive once to get Docker's own `docker save` of it
  const info = sh(["docker", "info", "--format", "{{.ServerVersion}}"]);
  let dockerSkip = info.ok ? undefined : `docker not available (\`docker info\` failed: ${info.err.split("\n")[0] || "no daemon"})`;
  let archive = generated;
  let archiveSource = "generated (legacy docker save format, written by the benchmark)";
  const dockerRefs: string[] = [];
  const dockerRmi = (): void => {
    // rmi of our tags removes the image and its layers; prune clears dangling leftovers.
    for (const ref of dockerRefs) sh(["docker", "rmi", "-f", ref]);
    sh(["docker", "image", "prune", "-f"]);
  };
  if (!dockerSkip) {
    dockerRefs.push(tag);
    onCleanup("docker images", dockerRmi);
    note("docker load of the generated archive, then docker save...");
    const loaded = sh(["docker", "load", "-i", generated]);
    if (!loaded.ok) dockerSkip = `docker load of the generated archive failed: ${loaded.err}`;
    else {
      const saved = join(work, "docker-save.tar");
      const r = sh(["docker", "save", "-o", saved, tag]);
      if (!r.ok) dockerSkip = `docker save failed: ${r.err}`;
      else {
        archive = saved;
        archiveSource = `docker save (${sh(["docker", "version", "--format", "{{.Server.Version}}"]).out})`;
        rmSync(generated);
      }
      dockerRmi();
    }
  }
  const archiveBytes = statSync(archive).size;

  // ---- registry for the pulls
  let pullSkip: string | undefined;
  let pullRef = "";
  let compressed = 0;
  if (!existsSync(REGISTRY_BIN)) pullSkip = `pull skipped: ${REGISTRY_BIN} not found (apt-get install docker-registry)`;
  else if (!sh(["skopeo", "--version"]).ok) pullSkip = "pull skipped: skopeo not found (apt-get install skopeo)";
  else {
    note("gzip layers, start docker-registry, push with skopeo...");
    const layout = join(work, "oci");
    ({ compressed } = await writeOciLayout(layout, layers, config));
    const host = await startRegistry(join(work, "registry"));
    pullRef = `${host}/bench/images:v1`;
    const pushed = sh(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--preserve-digests", `oci:${layout}:v1`, `docker://${pullRef}`]);
    if (!pushed.ok) pullSkip = `pull skipped: skopeo copy to the registry failed: ${pushed.err}`;
    rmSync(layout, { recursive: true, force: true });
    if (!dockerSkip) dockerRefs.push(pullRef);
  }
  // The layers' own tars are not needed any more (the archive and the registry hold them).
  for (const l of layers) rmSync(l.path, { force: true });

  // ---- a second registry for the pushes, emptied before each push (outside the clock)
  let pushSkip: string | undefined;
  let pushRef = "";
  let pushData = "";
  const pushRoot = mkdtempSync(join(work, "push-root-"));
  onCleanup("push root", () => rmSync(pushRoot, { recursive: true, force: true }));
  if (!existsSync(REGISTRY_BIN)) pushSkip = `push skipped: ${REGISTRY_BIN} not found (apt-get install docker-registry)`;
  else {
    const dir = join(work, "push-registry");
    const host = await startRegistry(dir);
    pushData = join(dir, "data");
    pushRef = `${host}/bench/push:v1`;
    // The warm tsbox store: loaded and pushed once, so its layers are compressed already.
    const setup = [tsbox(pushRoot, "load", "-q", "-i", archive), tsbox(pushRoot, "tag", tag, pushRef), tsbox(pushRoot, "push", "-q", pushRef)];
    for (const argv of setup) {
      const r = sh(argv, 600_000);
      if (!r.ok) pushSkip = `push skipped: ${argv.slice(-3).join(" ")} failed: ${r.err}`;
    }
  }
  const emptyPushRegistry = (): void => {
    rmSync(join(pushData, "docker"), { recursive: true, force: true });
  };
  let coldRoot = "";

  const nothing = (): void => {};
  const runners: Runner[] = [
    { key: "tsboxLoad", label: "tsbox load", argv: () => tsbox(freshRoot(), "load", "-q", "-i", archive), before: nothing, after: dropRoots, samples: [] },
    { key: "dockerLoad", label: "docker load", argv: () => ["docker", "load", "-q", "-i", archive], before: dockerRmi, after: dockerRmi, samples: [],
      ...(dockerSkip ? { skip: dockerSkip } : {}) },
    { key: "tsboxPull", label: "tsbox pull", argv: () => tsbox(freshRoot(), "pull", pullRef), before: nothing, after: dropRoots, samples: [],
      ...(pullSkip ? { skip: pullSkip } : {}) },
    { key: "dockerPull", label: "docker pull", argv: () => ["docker", "pull", "-q", pullRef], before: dockerRmi, after: dockerRmi, samples: [],
      ...(pullSkip ?? dockerSkip ? { skip: pullSkip ?? dockerSkip } : {}) },
    // Push: the registry emptied before each; tsbox from a store that loaded the image just now
    // (cold: it compresses every layer) and from one that pushed it before (warm: compressed once, kept).
    { key: "tsboxPushCold", label: "tsbox push (first)", argv: () => tsbox(coldRoot, "push", "-q", pushRef),
      before: () => {
        emptyPushRegistry();
        coldRoot = freshRoot();
        mustSh(tsbox(coldRoot, "load", "-q", "-i", archive), 600_000);
        mustSh(tsbox(coldRoot, "tag", tag, pushRef));
      },
      after: dropRoots, samples: [], ...(pushSkip ? { skip: pushSkip } : {}) },
    { key: "tsboxPush", label: "tsbox push (again)", argv: () => tsbox(pushRoot, "push", "-q", pushRef), before: emptyPushRegistry, after: nothing, samples: [],
      ...(pushSkip ? { skip: pushSkip } : {}) },
    { key: "dockerPush", label: "docker push", argv: () => ["docker", "push", "-q", pushRef],
      before: () => {
        emptyPushRegistry();
        dockerRmi();
        mustSh(["docker", "load", "-q", "-i", archive], 600_000);
        mustSh(["docker", "tag", tag, pushRef]);
        if (!dockerRefs.includes(pushRef)) dockerRefs.push(pushRef);
      },
      after: dockerRmi, samples: [], ...(pushSkip ?? dockerSkip ? { skip: pushSkip ?? dockerSkip } : {}) },
  ];
  for (const reason of new Set(runners.map((r) => r.skip).filter(Boolean))) process.stdout.write(`skip: ${reason}\n`);

  const load = [loadavg()[0] ?? 0];
  const rounds = opts.warmup + opts.iterations;
  for (let round = 0; round < rounds; round++) {
    const record = round >= opts.warmup;
    note(`${record ? "round" : "warm-up"} ${record ? round - opts.warmup + 1 : round + 1}/${record ? opts.iterations : opts.warmup}`);
    for (const r of runners) {
      if (r.skip) continue;
      r.before();
      // Written-back dirty pages of the previous run must not land in this one's clock.
      sh(["sync"]);
      const e = await runTimed(r.argv());
      r.after();
      if (e.code !== 0) {
        const msg = `${r.label} failed (${describeExit(e)})`;
        if (r.key === "tsboxLoad") throw new Error(msg);
        r.skip = msg;
        process.stderr.write(`skip: ${msg}\n`);
        continue;
      }
      if (record) r.samples.push(e.ms);
      note(`  ${r.label}: ${(e.ms / 1000).toFixed(2)} s`);
    }
  }
  load.push(loadavg()[0] ?? 0);

  // ------------------------------------------------------------ report
  const s = (xs: number[], q: number): number | null => (xs.length ? round1(quantile(xs, q)) : null);
  const stats = Object.fromEntries(runners.map((r) => [r.key, {
    label: r.label,
    command: r.argv().join(" ").replaceAll(`${REPO}/`, "").replaceAll(work, "$TMP"),
    skipped: r.skip ?? null,
    runs: r.samples.length,
    medianMs: s(r.samples, 0.5),
    p10Ms: s(r.samples, 0.1),
    p90Ms: s(r.samples, 0.9),
    minMs: s(r.samples, 0),
    maxMs: s(r.samples, 1),
    samplesMs: r.samples.map(round1),
  }]));
  dropRoots(); // argv() above made two more roots
  const median = (key: Key): number | undefined => {
    const r = runners.find((x) => x.key === key);
    return r && !r.skip && r.samples.length ? quantile(r.samples, 0.5) : undefined;
  };
  const ratio = (a: Key, b: Key): number | null => {
    const x = median(a);
    const y = median(b);
    return x === undefined || y === undefined ? null : round2(x / y);
  };
  const ratios = {
    tsboxLoadOverDockerLoad: ratio("tsboxLoad", "dockerLoad"), tsboxPullOverDockerPull: ratio("tsboxPull", "dockerPull"),
    tsboxPushFirstOverDockerPush: ratio("tsboxPushCold", "dockerPush"), tsboxPushAgainOverDockerPush: ratio("tsboxPush", "dockerPush"),
  };
  const goal = {
    tsboxOverDockerAtMost: GOAL_RATIO,
    loadMet: ratios.tsboxLoadOverDockerLoad === null ? null : ratios.tsboxLoadOverDockerLoad <= GOAL_RATIO,
    pullMet: ratios.tsboxPullOverDockerPull === null ? null : ratios.tsboxPullOverDockerPull <= GOAL_RATIO,
    pushFirstMet: ratios.tsboxPushFirstOverDockerPush === null ? null : ratios.tsboxPushFirstOverDockerPush <= GOAL_RATIO,
    pushAgainMet: ratios.tsboxPushAgainOverDockerPush === null ? null : ratios.tsboxPushAgainOverDockerPush <= GOAL_RATIO,
  };
  const MB = 1e6;
  const throughput = (key: Key) => {
    const m = median(key);
    return m === undefined ? null : {
      uncompressedMBps: round1(uncompressed / MB / (m / 1000)),
      contentMBps: round1(content / MB / (m / 1000)),
      entriesPerSec: Math.round(entries / (m / 1000)),
    };
  };
  const unpack = { tsboxLoad: throughput("tsboxLoad"), tsboxPull: throughput("tsboxPull"), dockerLoad: throughput("dockerLoad"), dockerPull: throughput("dockerPull") };

  const fmt = (x: number | null): string => (x === null ? "–" : (x / 1000).toFixed(2));
  const met = (m: boolean | null, what: string): string => (m === null ? `not checked (${what} skipped)` : m ? "MET" : "NOT MET");
  const tp = (k: Key): string => {
    const t = unpack[k as keyof typeof unpack];
    return t ? `${t.uncompressedMBps} | ${t.entriesPerSec}` : "– | –";
  };
  const lines = [
    `## Images: load and pull (${opts.iterations} interleaved runs after ${opts.warmup} warm-up round(s))`,
    "",
    `Image: ${layers.length} layers, ${(uncompressed / MB).toFixed(1)} MB of layer tars (${(content / MB).toFixed(1)} MB file content), ` +
      `${entries} entries (${layers.reduce((a, l) => a + l.regular, 0)} regular files); archive ${(archiveBytes / MB).toFixed(1)} MB from ${archiveSource}; ` +
      `registry blobs ${compressed ? `${(compressed / MB).toFixed(1)} MB gzip` : "n/a"}.`,
    "",
    "| runner | median s | p10 s | p90 s | MB/s (layer tars) | entries/s |",
    "|---|---:|---:|---:|---:|---:|",
    ...runners.map((r) => {
      const st = stats[r.key]!;
      return st.skipped ? `| ${r.label} | skipped | | | | |`
        : `| ${r.label} | ${fmt(st.medianMs)} | ${fmt(st.p10Ms)} | ${fmt(st.p90Ms)} | ${tp(r.key)} |`;
    }),
    "",
    `- tsbox load / docker load: ${ratios.tsboxLoadOverDockerLoad ?? "n/a (docker skipped)"}`,
    `- tsbox pull / docker pull: ${ratios.tsboxPullOverDockerPull ?? "n/a (skipped)"}`,
    `- tsbox push / docker push: ${ratios.tsboxPushFirstOverDockerPush ?? "n/a"} (first push of a store, compressing), ${ratios.tsboxPushAgainOverDockerPush ?? "n/a"} (again: layers compressed before)`,
    `- goal: tsbox ≤ ${GOAL_RATIO} × docker: load ${met(goal.loadMet, "docker load")}, pull ${met(goal.pullMet, "docker pull")}, ` +
      `push ${met(goal.pushFirstMet, "docker push")} (first) / ${met(goal.pushAgainMet, "docker push")} (again)`,
    ...[...new Set(runners.map((r) => r.skip).filter(Boolean))].map((why) => `- skipped: ${why}`),
    `- MB/s and entries/s: uncompressed layer bytes and tar entries over the median wall time of the whole command`,
    `- load average (1 min) before/after: ${load.map((l) => l.toFixed(2)).join(" / ")} on ${cpus().length} CPUs; total ${((Date.now() - tStart) / 1000).toFixed(0)} s`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);

  const docker = sh(["docker", "version", "--format", "{{.Client.Version}} / {{.Server.Version}}"]);
  const git = sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]);
  const dirty = sh(["git", "-C", REPO, "status", "--porcelain", "--", "src"]).out !== "";
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify({
    benchmark: "images",
    date: new Date().toISOString(),
    iterations: opts.iterations,
    warmup: opts.warmup,
    scale: opts.scale,
    goal,
    ratios,
    image: {
      layers: layers.map((l) => ({ name: l.name, tarBytes: l.size, contentBytes: l.bytes, entries: l.entries, regularFiles: l.regular, diffID: l.diffID })),
      uncompressedBytes: uncompressed, contentBytes: content, entries, archiveBytes, archiveSource, registryGzipBytes: compressed || null,
    },
    throughput: unpack,
    runners: stats,
    host: {
      kernel: release(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "",
      loadavg1mBeforeAfter: load.map(round2),
      node: process.version,
      tsboxCommit: git.ok ? `${git.out}${dirty ? "-dirty" : ""}` : null,
      docker: docker.ok ? docker.out : null,
      totalSeconds: Math.round((Date.now() - tStart) / 1000),
    },
  }, null, 2) + "\n");
  process.stdout.write(`\nwrote ${RESULTS.replace(REPO + "/", "")}\n`);
}

await runBenchmark(main);
