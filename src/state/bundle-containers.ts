// Containers of `tsbox-runc` on disk, as runc keeps them: one directory per
// container under the runtime root (`--root`, default /run/tsbox-runc), named
// by its id, holding state.json (written atomically, checked when read back),
// the spec it was created from (config.json) and, between create and start,
// the exec fifo its process waits on. Names starting with "." are tsbox-runc's
// own (the seccomp cache), never containers.

import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CorruptContainerError, errnoCode } from "../errors.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { arrayOf, integer, object, oneOf, optional, recordOf, string, type Check } from "../util/shape.js";
import { checkSpec, readRecord } from "./container-records.js";

/** An id an engine names may be a file in the root, not a container's directory: no such container either. */
const ABSENT = ["ENOENT", "ENOTDIR"] as const;
import type { Spec } from "../oci/spec.js";

/**
 * What tsbox-runc records of a container. The OCI state (`state` verb) is
 * derived from it: the status from the process (pid + start time) and the
 * exec fifo, never stored.
 */
export interface BundleContainerState {
  ociVersion: string;
  id: string;
  /** the container's init as the host sees it; 0 until cloned */
  pid: number;
  /** /proc/PID/stat start time of that process: a reused pid is not the container */
  pidStartTime: string;
  bundle: string;
  rootfs: string;
  annotations?: Record<string, string>;
  /** ISO time */
  created: string;
  /** "creating" until the process waits on the exec fifo */
  phase: "creating" | "created";
  /**
   * the cgroup tsbox made for it: `<parent>/<name>` below each hierarchy's
   * mount; createdParents are the parent directories create made (absolute,
   * in the order made), the only ones delete removes
   */
  cgroup: { parent: string; name: string; createdParents?: string[] };
}

export interface BundleContainerPaths {
  dir: string;
  state: string;
  config: string;
  fifo: string;
}

export const checkBundleContainerState: Check<BundleContainerState> = object({
  ociVersion: string,
  id: string,
  pid: integer,
  pidStartTime: string,
  bundle: string,
  rootfs: string,
  annotations: optional(recordOf(string)),
  created: string,
  phase: oneOf("creating", "created"),
  cgroup: object({ parent: string, name: string, createdParents: optional(arrayOf(string)) }),
});

export function bundleContainerPaths(root: string, id: string): BundleContainerPaths {
  const dir = join(root, id);
  return { dir, state: join(dir, "state.json"), config: join(dir, "config.json"), fifo: join(dir, "exec.fifo") };
}

/** Where tsbox-runc caches compiled seccomp programs: hidden, so never taken for a container. */
export function bundleCacheDir(root: string): string {
  return join(root, ".cache");
}

export function writeBundleState(root: string, state: BundleContainerState): void {
  // Matters while this boot lasts (the root is on tmpfs by default): atomic, no fsync.
  writeJsonAtomic(bundleContainerPaths(root, state.id).state, state, false);
}

/** The recorded state; undefined when there is no such container; CorruptContainerError when it cannot be read back. */
export function readBundleState(root: string, id: string): BundleContainerState | undefined {
  const file = bundleContainerPaths(root, id).state;
  const s = readRecord(id, file, checkBundleContainerState, ABSENT);
  if (s && s.id !== id) throw new CorruptContainerError(id, file, `$.id: ${s.id} is another container's id`);
  return s;
}

/** The spec the container was created from. */
export function readBundleSpec(root: string, id: string): Spec | undefined {
  return readRecord(id, bundleContainerPaths(root, id).config, checkSpec, ABSENT);
}

export function writeBundleSpec(root: string, id: string, spec: Spec): void {
  writeJsonAtomic(bundleContainerPaths(root, id).config, spec, false);
}

/** The ids with a directory under the root (whether or not their state can be read). */
export function listBundleContainerIds(root: string): string[] {
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith("."))
      .map((e) => e.name)
      .sort();
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
}

export function removeBundleContainerDir(root: string, id: string): void {
  rmSync(bundleContainerPaths(root, id).dir, { recursive: true, force: true });
}
