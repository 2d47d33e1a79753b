// Where blobs are known to be in registries ("domain/repository" per blob),
// as Docker's distribution metadata keeps it: a push asks a registry to mount
// a blob from another of its repositories instead of uploading it again.
// Written by pull and push; a stale entry only costs a refused mount.
//
//   <root>/distribution/<blob hex>   one "domain/repository" a line
import * as fs from "node:fs";
import * as path from "node:path";
import { digestHex } from "../digest.js";
import type { StorePaths } from "../store.js";

const MAX_SOURCES = 16;

const file = (p: StorePaths, digest: string): string => path.join(p.root, "distribution", digestHex(digest));

export function knownSources(p: StorePaths, digest: string): string[] {
  try {
    return fs.readFileSync(file(p, digest), "utf8").split("\n").filter((l) => /^[^\s/]+\/\S+$/.test(l));
  } catch {
    return [];
  }
}

export function recordSource(p: StorePaths, digest: string, repository: string): void {
  const known = knownSources(p, digest).filter((s) => s !== repository);
  const f = file(p, digest);
  fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o700 });
  const tmp = `${f}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${[repository, ...known].slice(0, MAX_SOURCES).join("\n")}\n`);
  fs.renameSync(tmp, f);
}
