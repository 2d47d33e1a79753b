#!/usr/bin/env -S node --
// tsbox-runc: the runc-compatible runtime (src/runc/), bundled and compiled
// like bin/tsbox.js. The `--` on the first line ends Node's own options, so
// that no argument an engine passes (an id, a path) reaches Node's parser
// (nodejs/node#54232: `--env-file` is read even after the script name).
import module from "node:module";
import { fileURLToPath } from "node:url";

// Node's compile cache beside the code, never in $TMPDIR (see bin/tsbox.js).
module.enableCompileCache?.(fileURLToPath(new URL("../dist/compile-cache", import.meta.url)));
const { main } = module.createRequire(import.meta.url)("../dist/tsbox-runc.cjs");
await main(process.argv);
process.exit();
