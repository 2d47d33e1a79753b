#!/usr/bin/env node
// Entry point: the bundled, compiled CLI (no transpiling at start-up), with
// Node's on-disk compile cache so repeated starts skip parsing. Exits as soon
// as the command is done rather than waiting for the event loop to wind down.
import module from "node:module";

module.enableCompileCache?.();
const { main } = module.createRequire(import.meta.url)("../dist/tsbox.cjs");
await main(process.argv);
process.exit();
