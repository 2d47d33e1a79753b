// Small filesystem helpers shared across modules.
import * as fs from "node:fs";
import { errnoCode } from "../errors.js";

/** lstat, or undefined when nothing is there (ENOENT, or a path component is not a directory). */
export function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw e;
  }
}
