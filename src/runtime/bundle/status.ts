// The status of a bundle's container, derived as runc derives it, never
// stored: stopped once its process is gone (or its pid was reused: the start
// time differs), created while the exec fifo is there, paused while its
// cgroup is frozen, running otherwise. And the OCI state the `state` verb prints.

import { existsSync } from "node:fs";
import { openCgroup, type Cgroup, type Hierarchy } from "../../cgroupfs/index.js";
import { NotFoundError } from "../../errors.js";
import { processStartTime } from "../../state/container-store.js";
import {
  bundleContainerPaths, readBundleState, type BundleContainerState,
} from "../../state/bundle-containers.js";
import type { CgroupHost } from "../host.js";

export type BundleStatus = "creating" | "created" | "running" | "paused" | "stopped";

/** The OCI runtime spec's state (runtime.md "State"). */
export interface OciState {
  ociVersion: string;
  id: string;
  pid: number;
  status: BundleStatus;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
  /** runc's field: the owner of the state directory, "" in `state` */
  owner: string;
}

/** Engines match "does not exist" in this message (containerd's shim, Podman). */
export class NoSuchContainerError extends NotFoundError {
  constructor(id: string) { super(`container with id ${id} does not exist`, 1); }
}

/** The recorded state of a container that must exist. */
export function bundleContainer(root: string, id: string): BundleContainerState {
  const s = readBundleState(root, id);
  if (!s) throw new NoSuchContainerError(id);
  return s;
}

export function bundleCgroup(h: Hierarchy, s: BundleContainerState, cgroups: CgroupHost): Cgroup {
  return openCgroup(h, s.cgroup.name, { parent: s.cgroup.parent, ...(cgroups.fs ? { fs: cgroups.fs } : {}) });
}

/** Is the recorded process still the container's (alive, not a zombie, same start time)? */
export function initAlive(s: BundleContainerState): boolean {
  return s.pid > 0 && processStartTime(s.pid) === s.pidStartTime;
}

export function bundleStatus(root: string, s: BundleContainerState, cgroup: () => Cgroup): BundleStatus {
  if (!initAlive(s)) return "stopped";
  if (s.phase === "creating") return "creating";
  if (existsSync(bundleContainerPaths(root, s.id).fifo)) return "created";
  try {
    if (cgroup().frozen()) return "paused";
  } catch { /* no freezer, or the cgroup is gone: not paused */ }
  return "running";
}

export function ociState(s: BundleContainerState, status: BundleStatus): OciState {
  // runc's key order; the pid of a stopped container is 0.
  return {
    ociVersion: s.ociVersion, id: s.id, pid: status === "stopped" ? 0 : s.pid, status, bundle: s.bundle,
    rootfs: s.rootfs, created: s.created, ...(s.annotations ? { annotations: s.annotations } : {}), owner: "",
  };
}
