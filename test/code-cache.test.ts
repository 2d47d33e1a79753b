// bin/code-cache.cjs: the bundle loaded with the V8 code cache of its command
// word, written at the first successful exit beside the code, and never used
// for another build of the bundle.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const BIN = join(import.meta.dirname, "..", "bin", "code-cache.cjs");
const { cacheName, commandWord } = require(BIN) as {
  cacheName(word: string | undefined): string;
  commandWord(argv: string[], valued: string[]): string | undefined;
};

describe("the cache's name", () => {
  it("is the command word after the global options, or \"other\"", () => {
    const valued = ["--root", "--log-level"];
    expect(commandWord(["node", "tsbox", "--root", "/r", "run", "--rm", "x"], valued)).toBe("run");
    expect(commandWord(["node", "tsbox", "--debug", "ps"], valued)).toBe("ps");
    expect(commandWord(["node", "tsbox", "--version"], valued)).toBeUndefined();
    expect(cacheName("run")).toBe("run");
    expect(cacheName(undefined)).toBe("other");
    // a word that is not a plain command never names a file
    for (const w of ["../x", "Run", "a/b", "", "x".repeat(40), ".hidden"]) expect(cacheName(w)).toBe("other");
  });
});

describe("loading a bundle", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbox-code-cache-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bundle = join(dir, "dist", "app.cjs");
  const runner = join(dir, "bin", "runner.cjs");
  mkdirSync(join(dir, "dist"));
  mkdirSync(join(dir, "bin"));
  // The runner loads the bundle as bin/tsbox.js does; prints what the bundle says and what became of the cache.
  writeFileSync(runner, `const cc = require(${JSON.stringify(BIN)});
const m = cc.loadBundle(${JSON.stringify(bundle)}, process.argv[2]);
console.log(m.say(), cc.lastLoad.cache);
process.exit(Number(process.argv[3] ?? 0));
`);
  const write = (word: string): void => {
    // Functions of the same length in every version: V8 checks a cache against the source's length only.
    writeFileSync(bundle, `"use strict";\nfunction inner() { return "${word}"; }\nexports.say = () => inner();\n`);
  };
  const run = (word: string, code = 0): string => {
    const r = spawnSync(process.execPath, [runner, word, String(code)], { encoding: "utf8", env: { ...process.env, TMPDIR: join(dir, "tmp") } });
    expect(r.status, r.stderr).toBe(code);
    return r.stdout.trim();
  };
  const caches = (): string[] => (existsSync(join(dir, "dist", "code-cache"))
    ? readdirSync(join(dir, "dist", "code-cache", "app")).flatMap((k) => readdirSync(join(dir, "dist", "code-cache", "app", k)).map((f) => `${k}/${f}`))
    : []);

  it("writes a word's cache beside the bundle at its first exit 0 only, then uses it", () => {
    mkdirSync(join(dir, "tmp"));
    write("AAAA");
    expect(run("fail", 3)).toBe("AAAA none");
    expect(caches()).toEqual([]);
    expect(run("run")).toBe("AAAA none");
    expect(caches().map((c) => c.split("/")[1])).toEqual(["run.bin"]);
    const made = statSync(join(dir, "dist", "code-cache", "app", caches()[0]!));
    expect(made.mode & 0o022).toBe(0);
    expect(run("run")).toBe("AAAA used");
    expect(statSync(join(dir, "dist", "code-cache", "app", caches()[0]!)).mtimeMs).toBe(made.mtimeMs);
    expect(readdirSync(join(dir, "tmp"))).toEqual([]);
  });

  it("never gives a rebuilt bundle of the same length the cache of the one before, and drops that cache", () => {
    const before = caches();
    write("BBBB");
    expect(run("run")).toBe("BBBB none");
    const after = caches();
    expect(after).toHaveLength(1);
    expect(after[0]!.split("/")[0]).not.toBe(before[0]!.split("/")[0]);
    expect(run("run")).toBe("BBBB used");
  });

  it("runs as usual from a cache V8 rejects", () => {
    const [only] = caches();
    writeFileSync(join(dir, "dist", "code-cache", "app", only!), "not a code cache");
    expect(run("run")).toBe("BBBB rejected");
  });
});
