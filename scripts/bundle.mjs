// Bundles the compiled CLI (dist/) into one file, dist/tsbox.cjs: loading one
// file instead of ~110 modules takes about a quarter off `tsbox run`'s
// start-up (bench/start.ts). CommonJS, because Node's ESM facade for a
// built-in module reads every export (node:fs's lazy streams included), which
// costs ~10 ms; require() does not. ffi-rs (a native addon) and pino (loaded
// only when a log line is written) stay external; import.meta.url becomes the
// bundle's own URL.
import { build } from "esbuild";

// Built-ins that are costly to load and often unused on a command's path:
// commander requires child_process for executable subcommands (tsbox has
// none), crypto is needed only to hash, tty (with net and streams) only for
// -t. They are loaded on first use instead of at start-up (~9 ms of `run`).
const LAZY_BUILTINS = ["child_process", "crypto", "tty"];

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

await build({
  entryPoints: ["dist/cli/index.js"],
  outfile: "dist/tsbox.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node22",
  external: ["ffi-rs", "pino"],
  plugins: [lazyBuiltins],
  sourcemap: true,
  logLevel: "warning",
  define: { "import.meta.url": "__tsboxUrl" },
  banner: { js: "const __tsboxUrl = require('node:url').pathToFileURL(__filename).href;" },
});

// The unpack worker (src/image/ingest-worker.ts): its own file, loaded only
// when load, pull or import start a worker, so no other command pays for it.
// ffi-rs must not be loaded in a worker (the process crashes when the worker
// exits): the shim's few calls the unpacker makes go through shim-relay.js,
// which has the main thread run them.
const shimInWorker = {
  name: "shim-relay",
  setup(b) {
    b.onResolve({ filter: /\/native\/shim\.js$/ }, (args) => ({
      path: new URL("../dist/image/shim-relay.js", import.meta.url).pathname,
    }));
    b.onResolve({ filter: /^ffi-rs$/ }, () => ({ errors: [{ text: "ffi-rs must not be loaded in the unpack worker" }] }));
  },
};

await build({
  entryPoints: ["dist/image/ingest-worker.js"],
  outfile: "dist/unpack-worker.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node22",
  external: ["pino"],
  plugins: [shimInWorker],
  sourcemap: true,
  logLevel: "warning",
  define: { "import.meta.url": "__tsboxUrl" },
  banner: { js: "const __tsboxUrl = require('node:url').pathToFileURL(__filename).href;" },
});
