// Crash-safe file replacement: write a temp file on the same filesystem, fsync
// it, rename it over the target, fsync the directory. Readers see the old or
// the new content, never a torn one.
import * as fs from "node:fs";
import * as path from "node:path";
import { randomBytesHex } from "./random.js";

/** JSON state files: temp file beside the target, then rename. */
export function writeJsonAtomic(target: string, value: unknown, durable = true): void {
  writeFileAtomic(path.dirname(target), target, `${JSON.stringify(value, null, 2)}\n`, 0o644, durable);
}

export function randomSuffix(): string {
  return randomBytesHex(8);
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
}

/**
 * Writes `data` to `target` atomically; the temp file lives in `tmpDir` (same
 * filesystem). `durable: false` skips the fsyncs: still atomic against a crash
 * of the process, not against power loss (for short-lived container state).
 */
export function writeFileAtomic(tmpDir: string, target: string, data: Buffer | string, mode = 0o644, durable = true): void {
  const tmp = path.join(tmpDir, `${path.basename(target)}.${randomSuffix()}`);
  try {
    const fd = fs.openSync(tmp, "wx", mode);
    try {
      writeAll(fd, typeof data === "string" ? Buffer.from(data) : data);
      fs.fchmodSync(fd, mode);
      if (durable) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  if (durable) fsyncDir(path.dirname(target));
}
