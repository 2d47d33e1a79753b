#!/usr/bin/env -S node --
// Entry point: the bundled, compiled CLI (no transpiling at start-up), with
// on-disk code caches so repeated starts skip parsing and compiling. Exits as soon
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
//
// The bundle itself is loaded with the code cache of its command word
// (bin/code-cache.cjs): the functions `run` calls start compiled. Node's
// compile cache serves what the bundle requires besides (ffi-rs's loader, pino).
import module from "node:module";
import { fileURLToPath } from "node:url";

module.enableCompileCache?.(fileURLToPath(new URL("../dist/compile-cache", import.meta.url)));
const { commandWord, loadBundle } = module.createRequire(import.meta.url)("./code-cache.cjs");
// The global options that take a value (src/cli/index.ts VALUED_GLOBALS): the word is the next free one.
const word = commandWord(process.argv, ["--root", "--log-level", "--log-format"]);
const { main } = loadBundle(fileURLToPath(new URL("../dist/tsbox.cjs", import.meta.url)), word);
await main(process.argv);
process.exit();
