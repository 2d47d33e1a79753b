// The file operations the cgroup code performs, behind a tiny interface so the
// fixture tests can emulate the kernel's side effects (files appearing on
// mkdir, subtree_control semantics) on a plain temp dir. The default
// implementation is synchronous node:fs: these are tiny writes on the
// container start path.
//
// Implementations throw Node-style errors carrying `code` ("EINVAL", ...);
// the helpers below turn them into one-line TsboxErrors.

import * as nodeFs from "node:fs";
import * as path from "node:path";
import { TsboxError, errnoCode } from "../errors.js";

export interface CgroupFs {
  readFile(file: string): string;
  /** Write without O_CREAT: a cgroup file that does not exist is an error (ENOENT). */
  writeFile(file: string, value: string): void;
  exists(file: string): boolean;
  /** Non-recursive; EEXIST when present. */
  mkdir(dir: string): void;
  rmdir(dir: string): void;
  /** Names of the sub-directories of dir. */
  listDirs(dir: string): string[];
}

export const nodeCgroupFs: CgroupFs = {
  readFile: (file) => nodeFs.readFileSync(file, "utf8"),
  writeFile: (file, value) => {
    // O_WRONLY|O_TRUNC like `echo >`; no O_CREAT (cgroupfs files are never
    // created by writing) and no O_RDWR (kernfs refuses read access to
    // write-only files such as cgroup.kill).
    const fd = nodeFs.openSync(file, nodeFs.constants.O_WRONLY | nodeFs.constants.O_TRUNC);
    try {
      // One write(2): the kernel parses each write as a whole value.
      nodeFs.writeSync(fd, value);
    } finally {
      nodeFs.closeSync(fd);
    }
  },
  exists: (file) => nodeFs.existsSync(file),
  mkdir: (dir) => nodeFs.mkdirSync(dir),
  rmdir: (dir) => nodeFs.rmdirSync(dir),
  listDirs: (dir) =>
    nodeFs
      .readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name),
};

const STRERROR: Record<string, string> = {
  EINVAL: "Invalid argument",
  EBUSY: "Device or resource busy",
  ENOENT: "No such file or directory",
  ENOSPC: "No space left on device",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  EEXIST: "File exists",
  ENOTEMPTY: "Directory not empty",
  ERANGE: "Numerical result out of range",
  EROFS: "Read-only file system",
  ENODEV: "No such device",
  EOPNOTSUPP: "Operation not supported",
  ENOTSUP: "Operation not supported",
  ESRCH: "No such process",
  EAGAIN: "Resource temporarily unavailable",
};

/** "Invalid argument" for an errno error; the message otherwise. */
export function describeError(e: unknown): string {
  const code = errnoCode(e);
  if (code && STRERROR[code]) return STRERROR[code];
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Write one value; failure → `cgroup: writing "1x" to memory.limit_in_bytes: Invalid argument`. */
export function writeValue(fs: CgroupFs, dir: string, file: string, value: string | number): void {
  const v = String(value);
  try {
    fs.writeFile(path.join(dir, file), v);
  } catch (e) {
    const hint = errnoCode(e) === "ENOENT" ? " (controller not available?)" : "";
    throw new TsboxError(`cgroup: writing ${JSON.stringify(v)} to ${file}: ${describeError(e)}${hint}`, 125, { cause: e });
  }
}

export function readValue(fs: CgroupFs, dir: string, file: string): string {
  try {
    return fs.readFile(path.join(dir, file)).trim();
  } catch (e) {
    throw new TsboxError(`cgroup: reading ${path.join(dir, file)}: ${describeError(e)}`, 125, { cause: e });
  }
}

export function fileExists(fs: CgroupFs, dir: string, file: string): boolean {
  return fs.exists(path.join(dir, file));
}
