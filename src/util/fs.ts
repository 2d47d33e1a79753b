// Small filesystem helpers shared across modules.
import * as fs from "node:fs";
import { errnoCode } from "../errors.js";

/**
 * lstat, or undefined when nothing is there (ENOENT, or a path component is
 * not a directory). throwIfNoEntry: unpacking asks this for nearly every new
 * entry, and building a JS error per miss cost ~7% of a load.
 */
export function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p, { throwIfNoEntry: false });
  } catch (e) {
    if (errnoCode(e) === "ENOTDIR") return undefined;
    throw e;
  }
}

/** glibc's major() and minor() of a 64-bit dev_t (st_rdev), without 32-bit shifts of a Number. */
export function deviceNumbers(rdev: number | bigint): { major: number; minor: number } {
  const d = BigInt(rdev);
  return { major: Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)), minor: Number((d & 0xffn) | ((d >> 12n) & ~0xffn)) };
}
