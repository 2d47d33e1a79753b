// Bundles the compiled CLI (dist/) into one file, dist/tsbox.cjs: loading one
// file instead of ~110 modules takes about a quarter off `tsbox run`'s
// start-up (bench/start.ts). CommonJS, because Node's ESM facade for a
// built-in module reads every export (node:fs's lazy streams included), which
// costs ~10 ms; require() does not. ffi-rs (a native addon) and pino (loaded
// only when a log line is written) stay external; import.meta.url becomes the
// bundle's own URL.
import { build } from "esbuild";

await build({
  entryPoints: ["dist/cli/index.js"],
  outfile: "dist/tsbox.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node22",
  external: ["ffi-rs", "pino"],
  sourcemap: true,
  logLevel: "warning",
  define: { "import.meta.url": "__tsboxUrl" },
  banner: { js: "const __tsboxUrl = require('node:url').pathToFileURL(__filename).href;" },
});
