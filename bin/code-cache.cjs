"use strict";
// Loads a bundled command line (dist/*.cjs) with a V8 code cache taken after a
// command of the same kind has run, so that the functions that command runs
// start compiled. Node's own compile cache (module.enableCompileCache) keeps
// only what V8 compiles when the file is loaded: the top level. Every function
// a command calls is then compiled on first call, in every process: about a
// quarter of the CPU time of `tsbox run --rm` (bench/start.ts). A cache made
// with vm.Script#createCachedData() once the command is done holds those too.
//
// One cache per command word (run, ps, build, …): a cache holds the functions
// its command ran, and the word is known before anything is loaded. The first
// successful run of a word (exit 0) writes its cache; later ones only read.
//
// The caches live beside the code, dist/code-cache/BUNDLE/KEY/WORD.bin, KEY
// naming Node's version and the bundle's size, ctime and inode: V8 checks a cache against the
// source's length only, so a rebuilt bundle must never meet the cache of the
// one before. As with the compile cache, never in a directory another user can
// write: V8 runs the bytecode it finds (whoever can write dist/ can change
// tsbox anyway). A cache V8 rejects, or that cannot be read or written, costs
// the speed-up only: the code is compiled as usual.

const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const Module = require("node:module");

/**
 * The command word of argv (node, script, ...): the first argument that is not
 * an option or the value of one of `valued` (global options taking a value).
 * Only the cache's name hangs on it: a word guessed wrong shares a cache.
 */
function commandWord(argv, valued) {
  for (let i = 2; i < argv.length; i++) {
    if (valued.includes(argv[i])) i++;
    else if (!argv[i].startsWith("-")) return argv[i];
  }
  return undefined;
}

/** The cache's name for a command word: words are lower-case letters and dashes; anything else shares "other". */
function cacheName(word) {
  return typeof word === "string" && /^[a-z][a-z0-9-]{0,31}$/.test(word) ? word : "other";
}

/** What the last loadBundle did with its cache (for tests and debugging): none there, used, or rejected by V8. */
const lastLoad = { cache: "none" };

/**
 * Requires `file` (a CommonJS bundle) as Node would, compiled with the code
 * cache of `word` if there is one, and writes that cache at a successful exit
 * if there was none. Returns the bundle's exports.
 */
function loadBundle(file, word) {
  const source = fs.readFileSync(file, "utf8");
  lastLoad.cache = "none";
  let cacheFile;
  let cached;
  try {
    const st = fs.statSync(file, { bigint: true });
    const dir = path.join(path.dirname(file), "code-cache", path.basename(file, ".cjs"),
      `${process.version}-${process.arch}-${st.size.toString(36)}-${st.ctimeNs.toString(36)}-${st.ino.toString(36)}`);
    cacheFile = path.join(dir, `${cacheName(word)}.bin`);
    cached = fs.readFileSync(cacheFile);
  } catch {
    // no cache yet (or no stat): compiled as usual
  }
  // Module.wrap: the CommonJS function wrapper, on the bundle's first line (a
  // source map's columns on that line are off by its length; no other line moves).
  // (The bundles hold no import(): scripts/bundle.mjs makes them require()s, since import() in a
  // vm.Script needs an experimental hook that prints a warning.)
  const script = new vm.Script(Module.wrap(source), { filename: file, ...(cached ? { cachedData: cached } : {}) });
  lastLoad.cache = cached === undefined ? "none" : script.cachedDataRejected ? "rejected" : "used";
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  mod.loaded = true;
  if (cacheFile !== undefined && cached === undefined) {
    process.once("exit", (code) => {
      if (code !== 0) return; // a failed command ran too little of its code to be worth keeping
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        const data = script.createCachedData();
        fs.mkdirSync(path.dirname(cacheFile), { recursive: true, mode: 0o755 });
        fs.writeFileSync(tmp, data, { mode: 0o644, flag: "wx" });
        fs.renameSync(tmp, cacheFile);
        pruneStale(path.dirname(cacheFile));
      } catch {
        // a read-only install, another user, a full disk: next time, compiled as usual again
        try { fs.rmSync(tmp, { force: true }); } catch { /* nothing written */ }
      }
    });
  }
  return mod.exports;
}

/** Removes the caches of this bundle's earlier builds and Node versions (siblings of `dir`): they can never be used again. */
function pruneStale(dir) {
  const parent = path.dirname(dir);
  for (const d of fs.readdirSync(parent)) {
    if (path.join(parent, d) !== dir) fs.rmSync(path.join(parent, d), { recursive: true, force: true });
  }
}

module.exports = { loadBundle, cacheName, commandWord, lastLoad };
