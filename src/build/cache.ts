// The build cache: what a step made, keyed the way the classic builder and
// BuildKit key it: the image the step starts from (its ID covers the config,
// so ENV, USER and WORKDIR so far), the instruction as it will be recorded
// (build arguments included), and for COPY/ADD a digest of what is copied.
//
//   <root>/build-cache/<sha256 hex of the key>   the resulting image ID
//
// A hit counts only while the image is still in the store; entries are
// renamed into place, so a build killed mid-step leaves none half-written.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { readImageRecord, storePaths } from "../image/store.js";
import { writeFileAtomic } from "../util/atomic.js";

export function cacheKey(parentId: string, createdBy: string, content = ""): string {
  return createHash("sha256").update(`${parentId}\n${createdBy}\n${content}`).digest("hex");
}

const dir = (root: string): string => path.join(root, "build-cache");

export function cacheLookup(root: string, key: string): string | undefined {
  let id: string;
  try {
    id = fs.readFileSync(path.join(dir(root), key), "utf8").trim();
  } catch {
    return undefined;
  }
  if (!/^sha256:[0-9a-f]{64}$/.test(id)) return undefined;
  return readImageRecord(storePaths(root), id) !== undefined ? id : undefined;
}

export function cacheRecord(root: string, key: string, imageId: string): void {
  fs.mkdirSync(dir(root), { recursive: true, mode: 0o700 });
  fs.mkdirSync(storePaths(root).tmp, { recursive: true, mode: 0o700 });
  writeFileAtomic(storePaths(root).tmp, path.join(dir(root), key), `${imageId}\n`);
}

/** Forgets every entry (`builder prune`); returns how many there were. */
export function cacheClear(root: string): number {
  let names: string[];
  try {
    names = fs.readdirSync(dir(root));
  } catch {
    return 0;
  }
  for (const n of names) fs.rmSync(path.join(dir(root), n), { force: true });
  return names.length;
}
