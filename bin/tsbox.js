#!/usr/bin/env -S node --
// Entry point: the bundled, compiled CLI (no transpiling at start-up), with
// Node's on-disk compile cache so repeated starts skip parsing. Exits as soon
// as the command is done rather than waiting for the event loop to wind down.
//
// The compile cache lives beside the code it caches (dist/compile-cache), not
// in Node's default $TMPDIR/node-compile-cache: V8 runs the bytecode it finds
// there, so a cache directory another user can create or write is root code
// execution. Whoever can write dist/ can change tsbox anyway.
//
// The `--` on the first line ends Node's own options: without it Node reads
// every argument starting with `--env-file`, even after the script name
// (nodejs/node#54232), so a user's or an image's argument could make Node load
// NODE_OPTIONS from any file before tsbox runs. Whatever starts tsbox again
// (the monitor's exit command, tests, benchmarks) must put `--` there too.
import module from "node:module";
import { fileURLToPath } from "node:url";

module.enableCompileCache?.(fileURLToPath(new URL("../dist/compile-cache", import.meta.url)));
const { main } = module.createRequire(import.meta.url)("../dist/tsbox.cjs");
await main(process.argv);
process.exit();
