// Bundles the compiled CLI (dist/) into one file, dist/tsbox.cjs: loading one
// file instead of ~110 modules takes about a quarter off `tsbox run`'s
// start-up (bench/start.ts). CommonJS, because Node's ESM facade for a
// built-in module reads every export (node:fs's lazy streams included), which
// costs ~10 ms; require() does not. ffi-rs (a native addon) and pino (loaded
// only when a log line is written) stay external; import.meta.url becomes the
// bundle's own URL.
import { rmSync } from "node:fs";
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

// tsbox (dist/cli/) and tsbox-runc (dist/runc/), each its own file: neither
// loads the other's commands.
for (const [entry, outfile] of [["dist/cli/index.js", "dist/tsbox.cjs"], ["dist/runc/index.js", "dist/tsbox-runc.cjs"]]) await build({
  entryPoints: [entry],
  outfile,
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
