// `tsbox-runc delete [--force] ID`: a stopped container's cgroup and state
// directory removed; a created one killed first (it never ran, as runc does);
// a running or paused one only with --force. Nothing is left: the cgroup's
// processes are killed and waited for before its directories go, and the
// container's mounts lived only in its own mount namespace, gone with its
// last process (without one of its own, they are unmounted from the host's).

import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_PARENT, hierarchyDirs, removeEmptyParents, type Hierarchy } from "../../cgroupfs/index.js";
import { TsboxError } from "../../errors.js";
import { processStartTime } from "../../state/container-store.js";
import type { SpecHooks } from "../../oci/spec.js";
import {
  bundleContainerPaths, readBundleSpec, readBundleState, removeBundleContainerDir, type BundleContainerState,
} from "../../state/bundle-containers.js";
import { runHooksWarning } from "./hooks.js";
import { realHost, type Host } from "../host.js";
import { unmountBelow } from "./root-mount.js";
import { NoSuchContainerError, bundleCgroup, bundleStatus, ociState } from "./status.js";

export async function deleteBundleContainer(root: string, id: string, force: boolean,
  host: Pick<Host, "cgroups" | "native"> = realHost): Promise<void> {
  const { cgroups } = host;
  const s = readBundleState(root, id);
  if (!s) {
    // A create that died before writing its state leaves a directory runc removes too.
    const dir = bundleContainerPaths(root, id).dir;
    if (existsSync(dir)) removeBundleContainerDir(root, id);
    if (force) return;
    throw new NoSuchContainerError(id);
  }
  const cgroup = bundleCgroup(cgroups.hierarchy(), s, cgroups);
  const status = bundleStatus(root, s, () => cgroup);
  if ((status === "running" || status === "paused") && !force) {
    throw new TsboxError(`cannot delete container ${id} that is not stopped: ${status}`, 1);
  }
  if (status !== "stopped") {
    try { process.kill(s.pid, "SIGKILL"); } catch { /* exited meanwhile */ }
  }
  // Read before the directory goes: poststop runs once everything else is gone.
  let hooks: SpecHooks | undefined;
  let hostMounts = false;
  try {
    const spec = readBundleSpec(root, id);
    hooks = spec?.hooks;
    hostMounts = spec !== undefined && !spec.linux.namespaces.some((n) => n.type === "mount");
  } catch { /* a broken spec does not stop the delete */ }
  // Kills whatever is left in the cgroup (a paused one thawed), waits until it is empty, removes it.
  await cgroup.destroy();
  // Then the parents create made, deepest first, when empty (another
  // container may still be in one); never a parent that was there before.
  removeEmptyParents(ownParents(cgroups.hierarchy(), s), cgroups.fs);
  await untilGone(s.pid, s.pidStartTime);
  if (hostMounts) unmountBelow(s.rootfs, (p) => host.native.unmount(p));
  removeBundleContainerDir(root, id);
  if (hooks?.poststop?.length) runHooksWarning(hooks, "poststop", ociState(s, "stopped"));
}

/**
 * The recorded parents that are what create made: ancestors of the
 * container's directory in a hierarchy (a state file is never a way to
 * remove some other directory).
 */
function ownParents(h: Hierarchy, s: BundleContainerState): string[] {
  const segs = s.cgroup.parent.split("/").filter((x) => x !== "");
  const ancestors = (from: number): string[] =>
    hierarchyDirs(h).flatMap((m) => segs.slice(from).map((_, i) => join(m, ...segs.slice(0, from + i + 1))));
  const all = new Set(ancestors(0));
  const recorded = (s.cgroup.createdParents ?? []).filter((d) => all.has(d));
  // The levels below tsbox's own root (tsbox/runc of the default place, a
  // relative cgroupsPath's) are tsbox-runc's whoever made them: the container
  // that made tsbox/runc may be deleted while another still uses it, and the
  // last one out removes it. tsbox's root itself stays, as `tsbox run` leaves it.
  const belowOwnRoot = segs[0] === DEFAULT_PARENT ? ancestors(1) : [];
  return [...recorded, ...belowOwnRoot];
}

/** The init is out of the cgroup once it exits, but may not be reaped yet: wait for that (10 s, as runc). */
async function untilGone(pid: number, startTime: string): Promise<void> {
  for (let waited = 0; pid > 0 && processStartTime(pid) === startTime; waited += 10) {
    if (waited > 10_000) throw new TsboxError(`container init ${pid} still running`, 1);
    await sleep(10);
  }
}
