#!/usr/bin/env -S node --
// Entry point: the bundled, compiled CLI (no transpiling at start-up), with
// Node's on-disk compile cache so repeated starts skip parsing. Exits as soon
// as the command is done rather than waiting for the event loop to wind down.
//
// The `--` on the first line ends Node's own options: without it Node reads
// every argument starting with `--env-file`, even after the script name
// (nodejs/node#54232), so a user's or an image's argument could make Node load
// NODE_OPTIONS from any file before tsbox runs. Whatever starts tsbox again
// (the monitor's exit command, tests, benchmarks) must put `--` there too.
import module from "node:module";

module.enableCompileCache?.();
const { main } = module.createRequire(import.meta.url)("../dist/tsbox.cjs");
await main(process.argv);
process.exit();
