// The unpack worker (dist/unpack-worker.cjs): layers of a load or pull
// decompress, hash and unpack in worker threads, with the shim's mknod and
// lsetxattr run by the main thread. The same layers give the same tree as
// on the main thread; a failing layer cancels the others, its error reaches
// the user as the same one line, and no staging directory, descriptor or
// thread is left. The in-process tests use the built worker (npm test builds).
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageError } from "../src/errors.js";
import { loadArchive } from "../src/image/archive/load.js";
import {
  REPO, busyboxTarball, dockerSaveMembers, listTree, makeRoot, removeRoot, tarball, tsbox, until, type ImageSpec, type Members,
} from "./helpers.js";

const WORKER = path.join(REPO, "dist", "unpack-worker.cjs");
const roots: string[] = [];
const newRoot = (): string => {
  const r = makeRoot();
  roots.push(r);
  return r;
};
const scratch = fs.mkdtempSync("/var/tmp/tsbox-worker-files-");
afterAll(() => {
  for (const r of roots) removeRoot(r);
  fs.rmSync(scratch, { recursive: true, force: true });
});
let n = 0;
function file(data: Buffer): string {
  const f = path.join(scratch, `a${n++}.tar`);
  fs.writeFileSync(f, data);
  return f;
}

const d = { type: "directory" as const, mode: 0o755 };
const PAD = Buffer.alloc(5 << 20, 1);
let special: Buffer;
let big: Buffer;
beforeAll(async () => {
  // Entries that need the main thread's shim: whiteouts, an opaque directory, a FIFO, xattrs.
  special = await tarball([
    [{ name: "pad", mode: 0o644 }, PAD],
    [{ name: "data/", ...d }],
    [{ name: "data/old/", ...d }],
    [{ name: "data/old/.wh..wh..opq" }],
    [{ name: "data/.wh.gone" }],
    [{ name: "data/fifo", type: "fifo", mode: 0o600 }],
    [{ name: "data/cap", mode: 0o755, pax: { "SCHILY.xattr.user.tsbox": "value" } }, "#!/bin/sh\n"],
  ]);
  // Large enough that it is still unpacking when a small failing layer beside it fails.
  const files: Members = [[{ name: "many/", ...d }]];
  for (let i = 0; i < 3000; i++) files.push([{ name: `many/f${i}`, mode: 0o644 }, `${i}\n`.repeat(400)]);
  files.push([{ name: "blob", mode: 0o644 }, Buffer.alloc(24 << 20, 7)]);
  big = await tarball(files);
});

function threads(): number {
  return fs.readdirSync("/proc/self/task").length;
}
function fds(): number {
  return fs.readdirSync("/proc/self/fd").length;
}
function stagingDirs(root: string): string[] {
  return fs.readdirSync(path.join(root, "tmp")).filter((e) => e.startsWith("layer-") || e.startsWith("load-"));
}

describe("unpack worker", () => {
  it("unpacks the same tree as the main thread, whiteouts, FIFOs and xattrs included", async () => {
    const spec: ImageSpec = { layers: [fs.readFileSync(busyboxTarball()), special], names: ["w:1"] };
    const archive = file(await tarball(dockerSaveMembers([spec])));
    const inWorker = newRoot();
    const onMain = newRoot();
    expect(tsbox(inWorker, ["load", "-q", "-i", archive]).code).toBe(0);
    expect(tsbox(onMain, ["load", "-q", "-i", archive], { env: { ...process.env, TSBOX_UNPACK_WORKER: "0" } }).code).toBe(0);
    expect(listTree(path.join(inWorker, "layers"))).toEqual(listTree(path.join(onMain, "layers")));
    const layers = fs.readdirSync(path.join(inWorker, "layers"));
    const diffs = layers.map((l) => path.join(inWorker, "layers", l, "diff")).filter((p) => fs.existsSync(path.join(p, "data")));
    expect(diffs).toHaveLength(1);
    const top = diffs[0] ?? "";
    expect(fs.lstatSync(path.join(top, "data/gone")).isCharacterDevice()).toBe(true);
    expect(fs.lstatSync(path.join(top, "data/fifo")).isFIFO()).toBe(true);
    const run = tsbox(inWorker, ["run", "--rm", "w:1", "sh", "-c", "ls -A /data; cat /data/cap"]);
    expect(run.stdout).toBe("cap\nfifo\nold\n#!/bin/sh\n");
    // The busybox layer (under 4 MiB) was unpacked on the main thread, the other in a worker.
    // The worker is what ran: a missing worker script fails the load.
    const r = tsbox(newRoot(), ["load", "-q", "-i", archive], { env: { ...process.env, TSBOX_UNPACK_WORKER: "/nonexistent/unpack-worker.cjs" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tsbox: load: unpack worker stopped: .*\n$/);
  });

  it("a corrupt second layer while the first unpacks: one-line error, exit 1 (Docker's daemon errors), store unchanged", async () => {
    const evil = await tarball([[{ name: "pad", mode: 0o644 }, PAD], [{ name: "../../../canary", mode: 0o644 }, "pwned"]]);
    const archive = file(await tarball(dockerSaveMembers([{ layers: [big, evil], names: ["bad:1"] }])));
    const root = newRoot();
    const ok = file(await tarball(dockerSaveMembers([{ layers: [special], names: ["ok:1"] }])));
    expect(tsbox(root, ["load", "-q", "-i", ok]).code).toBe(0);
    const before = listTree(root);
    const r = tsbox(root, ["load", "-i", archive]);
    expect(r.stderr).toBe('tsbox: load: refusing archive entry "../../../canary": path escapes the layer\n');
    expect(r.code).toBe(1);
    expect(listTree(root)).toEqual(before);
  });

  it("the library: the error, and no staging directory, descriptor or worker thread left", async () => {
    const saved = process.env.TSBOX_UNPACK_WORKER;
    process.env.TSBOX_UNPACK_WORKER = WORKER;
    try {
      const evil = await tarball([[{ name: "pad", mode: 0o644 }, PAD], [{ name: "x/../../../canary", mode: 0o644 }, "pwned"]]);
      const archive = await tarball(dockerSaveMembers([{ layers: [big, evil], names: ["bad:2"] }]));
      const root = newRoot();
      // A first load creates the store (and loads what stays loaded: zlib, crypto, the worker's code).
      await loadArchive(root, Readable.from([await tarball(dockerSaveMembers([{ layers: [special], names: ["ok:1"] }]))]));
      const before = listTree(root);
      const [t0, f0] = [threads(), fds()];
      const err = await loadArchive(root, Readable.from([archive])).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ImageError);
      expect((err as ImageError).message).toBe('load: refusing archive entry "x/../../../canary": path escapes the layer');
      expect((err as ImageError).exitCode).toBe(125);
      expect(stagingDirs(root)).toEqual([]);
      expect(listTree(root)).toEqual(before);
      await until(() => (threads() <= t0 ? true : undefined), "the unpack workers to exit");
      await until(() => (fds() <= f0 ? true : undefined), "the descriptors to be closed");
    } finally {
      if (saved === undefined) delete process.env.TSBOX_UNPACK_WORKER;
      else process.env.TSBOX_UNPACK_WORKER = saved;
    }
  });
});
