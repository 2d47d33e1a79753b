// Shared by the commands: global options, the preamble every state-touching
// command runs (logging, root check, crash recovery), flag collectors, inputs.

import type { Command } from "commander";
import { accessSync, constants, createReadStream, readFileSync, statSync } from "node:fs";
import { TsboxError, UsageError, errnoCode } from "../errors.js";
import { configureLog } from "../log.js";
import { recoverStale } from "../runtime/recover.js";

export interface GlobalOpts { root: string; logLevel?: string; logFormat: "text" | "json" }

export const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** The image store's API, loaded by the command that needs it: `run` should not pay for import and unpack. */
export const imageApi = () => import("../image/index.js");

/** Logging, the root check and crash recovery, before any command that touches state. */
export async function prepare(cmd: Command): Promise<GlobalOpts> {
  const g = cmd.optsWithGlobals<GlobalOpts>();
  configureLog(g.logLevel, g.logFormat);
  if (process.getuid?.() !== 0) throw new TsboxError("tsbox needs root: run it as root (for example with sudo)");
  checkRoot(g.root);
  await recoverStale(g.root);
  return g;
}

/** The state directory may be missing (it is created on first use), but nothing else than a directory. */
function checkRoot(root: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(root).isDirectory();
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw new UsageError(`--root ${root}: ${(e as Error).message}`);
  }
  if (!isDir) throw new UsageError(`--root ${root}: not a directory`);
}

/** Runs `fn` for each argument; a TsboxError is reported and the command exits 1, as Docker's multi-arg commands do. */
export async function eachArg(args: string[], fn: (arg: string) => Promise<void> | void): Promise<void> {
  let failed = false;
  for (const a of args) {
    try {
      await fn(a);
    } catch (e) {
      if (!(e instanceof TsboxError)) throw e;
      process.stderr.write(`tsbox: ${e.message}\n`);
      failed = true;
    }
  }
  if (failed) process.exitCode = 1;
}

/** A host list file such as /sys/devices/system/cpu/online ("0-1"); "0" where absent (no NUMA). */
export function hostList(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "0";
  }
}

export function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`open ${file}: ${errnoCode(e) === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
}

export function openInput(file: string): NodeJS.ReadableStream {
  try {
    accessSync(file, constants.R_OK);
  } catch (e) {
    throw new UsageError(`open ${file}: ${errnoCode(e) === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
  // 1 MiB reads: image archives are hundreds of MB, and each chunk costs a trip through the tar reader.
  return createReadStream(file, { highWaterMark: 1 << 20 });
}

/**
 * `inspect`'s shape, as Docker's: the objects found as one JSON array
 * (possibly `[]`), then one error line per reference not found, exit 1.
 * With `-f TEMPLATE`, one line per object (an empty line if none): the
 * template runs on the object's JSON, a missing key an error, as Docker's
 * client falls back to; a template that does not parse exits 64 before any
 * lookup; `-f json` prints the array on one line.
 */
export async function inspectEach(refs: string[], find: (ref: string) => Promise<unknown> | unknown, format?: string): Promise<void> {
  const { parseDockerTemplate, templateFailure, withTypedNils } = await import("../util/docker-format.js");
  const { TemplateError } = await import("../util/go-template.js");
  let template: ReturnType<typeof parseDockerTemplate> | undefined;
  if (format !== undefined && format !== "" && format !== "json") {
    try {
      template = parseDockerTemplate(format);
    } catch (e) {
      templateFailure(e, "template parsing error", 64);
    }
  }
  const found: unknown[] = [];
  const errors: string[] = [];
  let lines = "";
  for (const ref of refs) {
    try {
      const raw: unknown = JSON.parse(JSON.stringify(await find(ref)));
      found.push(raw);
      if (template) lines += `${template.execute(withTypedNils(raw), { missingKey: "error" })}\n`;
    } catch (e) {
      if (e instanceof TemplateError) errors.push(`template parsing error: ${e.message}`);
      else if (e instanceof TsboxError) errors.push(e.message);
      else throw e;
    }
  }
  if (template) process.stdout.write(lines || "\n");
  else if (format === "json") process.stdout.write(`${JSON.stringify(found)}\n`);
  else process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
  for (const m of errors) process.stderr.write(`tsbox: ${m}\n`);
  if (errors.length > 0) process.exitCode = 1;
}
