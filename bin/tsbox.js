#!/usr/bin/env node
// Entry point: compiled code only (no transpiling at start-up), with Node's
// on-disk compile cache so repeated starts skip parsing.
import module from "node:module";

module.enableCompileCache?.();
const { main } = await import("../dist/cli.js");
await main(process.argv);
