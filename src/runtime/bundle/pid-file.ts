// The --pid-file of create, run and exec, as runc writes it: the pid (no
// newline), written next to the file and renamed into place, so a reader
// never sees it half-written.

import { renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UsageError } from "../../errors.js";

export function writePidFile(file: string, pid: number): void {
  const target = resolve(file);
  const tmp = join(dirname(target), `.${basename(target)}`);
  try {
    writeFileSync(tmp, String(pid), { mode: 0o644 });
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UsageError(`writing the pid file ${file}: ${(e as Error).message}`, 1);
  }
}
