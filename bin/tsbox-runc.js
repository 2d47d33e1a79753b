#!/usr/bin/env -S node --
// tsbox-runc: the runc-compatible runtime (src/runc/), bundled and compiled
// like bin/tsbox.js. The `--` on the first line ends Node's own options, so
// that no argument an engine passes (an id, a path) reaches Node's parser
// (nodejs/node#54232: `--env-file` is read even after the script name).
import module from "node:module";
import { fileURLToPath } from "node:url";

// Node's compile cache and the code caches beside the code, never in $TMPDIR (see bin/tsbox.js).
module.enableCompileCache?.(fileURLToPath(new URL("../dist/compile-cache", import.meta.url)));
const { commandWord, loadBundle } = module.createRequire(import.meta.url)("./code-cache.cjs");
// runc's global options that take a value (src/runc/index.ts): engines call `--root R --log F --log-format json VERB`.
const word = commandWord(process.argv, ["--root", "--log", "--log-format", "--rootless", "--criu"]);
const { main } = loadBundle(fileURLToPath(new URL("../dist/tsbox-runc.cjs", import.meta.url)), word);
await main(process.argv);
process.exit();
