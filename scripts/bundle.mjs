// Bundles the compiled CLI (dist/) into one file, dist/tsbox.cjs: loading one
// file instead of ~110 modules takes about a quarter off `tsbox run`'s
// start-up (bench/start.ts). CommonJS, because Node's ESM facade for a
// built-in module reads every export (node:fs's lazy streams included), which
// costs ~10 ms; require() does not. ffi-rs (a native addon) and pino (loaded
// only when a log line is written) stay external; import.meta.url becomes the
// bundle's own URL.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { build } from "esbuild";

// The commit built, for `tsbox-runc --version` (runc prints its own): none outside a git checkout.
let commit = "unknown";
try {
  commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim() || commit;
} catch { /* not a checkout */ }

// Built-ins that are costly to load and often unused on a command's path:
// commander requires child_process for executable subcommands (tsbox has
// none), crypto is needed only to hash, tty (with net and streams) only for
// -t, net (with all of node:stream) only for a socket or an IPv6 check, readline only for a
// prompt. They are loaded on first use instead of at start-up (~9 ms of `run`, and ~3 ms more
// for net and readline).
const LAZY_BUILTINS = ["child_process", "crypto", "tty", "net", "readline/promises"];

const lazyBuiltins = {
  name: "lazy-builtins",
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join("|")})$`);
    b.onResolve({ filter }, (args) =>
      args.namespace === "lazy-builtin"
        ? { path: args.path, external: true }
        : { path: args.path.replace(/^node:/, ""), namespace: "lazy-builtin" });
    // esbuild's ESM interop enumerates a module's properties when it is
    // imported: the names are listed from build time so that enumerating does
    // not load the module; each property still loads it on first use.
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, async (args) => {
      const keys = Object.keys(await import(`node:${args.path}`)).filter((k) => k !== "default");
      return {
        loader: "js",
        contents: `let m;
const load = () => (m ??= require("node:${args.path}"));
const keys = ${JSON.stringify(keys)};
module.exports = new Proxy({}, {
  get: (_, k) => load()[k],
  has: (_, k) => keys.includes(k) || k in load(),
  ownKeys: () => keys,
  getOwnPropertyDescriptor: (_, k) => (keys.includes(k) ? { configurable: true, enumerable: true, get: () => load()[k] } : undefined),
});`,
      };
    });
  },
};

// `import * as fs from "node:fs"` of an external module becomes, in a CommonJS
// bundle, a fresh copy of the module's ~100 properties (esbuild's __toESM) in
// every file that says it: ~4 ms of `run`'s start-up for fs, path and os. Given
// as ESM modules with their names listed from build time, they are bound once
// and imported directly. Accessor properties (fs.promises, the lazy streams)
// are left out: using one fails the build, it never costs silently.
const ESM_BUILTINS = ["fs", "path", "os"];

const esmBuiltins = {
  name: "esm-builtins",
  setup(b) {
    const filter = new RegExp(`^(node:)?(${ESM_BUILTINS.join("|")})$`);
    b.onResolve({ filter }, (args) =>
      args.namespace === "esm-builtin"
        ? { path: args.path, external: true }
        : { path: args.path.replace(/^node:/, ""), namespace: "esm-builtin" });
    b.onLoad({ filter: /.*/, namespace: "esm-builtin" }, async (args) => {
      const m = await import(`node:${args.path}`);
      // fs.F_OK and friends are data properties up to Node 22 and deprecation getters from 24 (DEP0176):
      // bound at start-up, a bundle built on 22 would print the warning on every command run on 24.
      const names = Object.getOwnPropertyNames(m.default)
        .filter((k) => k !== "default" && /^[A-Za-z_$][\w$]*$/.test(k) && !/^[FRWX]_OK$/.test(k)
          && "value" in Object.getOwnPropertyDescriptor(m.default, k));
      return {
        loader: "js",
        contents: `const m = require("node:${args.path}");\nexport default m;\nexport const { ${names.join(", ")} } = m;\n`,
      };
    });
  },
};

// tsbox (dist/cli/) and tsbox-runc (dist/runc/), each its own file: neither
// loads the other's commands.
// The health checker (src/cli/health-check.ts) too: one probe, run by a monitor every interval.
for (const [entry, outfile] of [["dist/cli/index.js", "dist/tsbox.cjs"], ["dist/runc/index.js", "dist/tsbox-runc.cjs"],
  ["dist/cli/health-check.js", "dist/health-check.cjs"]]) await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node22",
  external: ["ffi-rs", "pino"],
  plugins: [lazyBuiltins, esmBuiltins],
  // Whitespace and syntax only: 727 → 504 KB, ~4 ms off every command's start
  // (the compile cache's source hash and V8's deserialisation both scale with
  // it; A/B of run, ps and --version, interleaved). Names are kept, so stack
  // traces and class names read as in the source; the source map maps back.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: true,
  logLevel: "warning",
  // import() of a built-in as a require() in a promise: bin/code-cache.cjs compiles the bundle
  // with vm.Script, whose import() needs Node's experimental loader hook (and prints its warning).
  supported: { "dynamic-import": false },
  define: { "import.meta.url": "__tsboxUrl", __TSBOX_COMMIT__: JSON.stringify(commit) },
  banner: { js: "const __tsboxUrl = require('node:url').pathToFileURL(__filename).href;" },
});

for (const out of ["dist/tsbox.cjs", "dist/tsbox-runc.cjs"]) {
  if (/\bimport\(/.test(readFileSync(out, "utf8"))) throw new Error(`${out} holds an import(): bin/code-cache.cjs cannot compile it without an experimental hook`);
}

// The unpack worker (src/image/ingest-worker.ts): its own file, loaded only
// when load, pull or import start a worker, so no other command pays for it.
// ffi-rs must not be loaded in a worker (the process crashes when the worker
// exits): the worker unpacks with the relay of shim-relay.ts as its host
// calls, which has the main thread make them. Nothing is swapped here; the
// build only fails if some import brought native/ or ffi-rs in all the same.
const worker = await build({
  entryPoints: ["dist/image/ingest-worker.js"],
  outfile: "dist/unpack-worker.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node22",
  // ffi-rs external only so that the check below can name the import that brought it in.
  external: ["pino", "ffi-rs"],
  metafile: true,
  sourcemap: true,
  logLevel: "warning",
  define: { "import.meta.url": "__tsboxUrl" },
  banner: { js: "const __tsboxUrl = require('node:url').pathToFileURL(__filename).href;" },
});
const native = Object.keys(worker.metafile.inputs).filter((f) => /(^|\/)(native\/|node_modules\/ffi-rs)/.test(f));
if (native.length > 0) {
  rmSync("dist/unpack-worker.cjs", { force: true });
  throw new Error(`the unpack worker must not load ffi-rs, but its bundle holds ${native.join(", ")}`);
}

// The restart decider (src/cli/restart-decider.ts): run by a monitor at each
// exit of a container with a restart policy. Its own small file, so that the
// question costs a bare Node start; it must not bring in ffi-rs either.
const decider = await build({
  entryPoints: ["dist/cli/restart-decider.js"],
  outfile: "dist/restart-decider.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node22",
  external: ["pino", "ffi-rs"],
  // The event log's debug lines load pino from beside the bundle, as the CLI's do.
  define: { "import.meta.url": "__tsboxUrl" },
  banner: { js: "const __tsboxUrl = require('node:url').pathToFileURL(__filename).href;" },
  metafile: true,
  logLevel: "warning",
});
const heavy = Object.keys(decider.metafile.inputs).filter((f) => /node_modules\//.test(f));
if (heavy.length > 0) {
  rmSync("dist/restart-decider.cjs", { force: true });
  throw new Error(`the restart decider must stay a bare Node start, but its bundle holds ${heavy.join(", ")}`);
}
