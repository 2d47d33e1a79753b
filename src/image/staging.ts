// Staging directories under <root>/tmp carry their creator's pid
// (`<kind>-<pid>-<random>`), so that what a killed process left behind can be
// told apart from a live process's work and swept by the next writer.
import * as fs from "node:fs";
import * as path from "node:path";
import { errnoCode } from "../errors.js";
import { log } from "../log.js";
import { processAlive } from "../util/lock.js";
import type { StorePaths } from "./store.js";

export function makeStagingDir(p: StorePaths, kind: string): string {
  return fs.mkdtempSync(path.join(p.tmp, `${kind}-${process.pid}-`));
}

/** Removes staging directories whose creator is gone. */
export function sweepStaging(p: StorePaths): void {
  let names: string[];
  try {
    names = fs.readdirSync(p.tmp);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw e;
  }
  for (const name of names) {
    const m = /^(?:layer|load|save)-([0-9]+)-[A-Za-z0-9]{6}$/.exec(name);
    if (m?.[1] === undefined || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    log().info({ dir: name }, "removing staging left by a dead tsbox process");
    fs.rmSync(path.join(p.tmp, name), { recursive: true, force: true });
  }
}
