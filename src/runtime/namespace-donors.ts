// `--pid container:NAME`, `--ipc container:NAME` and `--network container:NAME`:
// the running container's namespaces by path (the executor joins them; a PID namespace by a fork into
// it), and /dev/shm's host directory (runtime/shm.ts: --ipc shareable's own
// tmpfs, the donor's for a joiner of its IPC namespace), with Docker's
// refusals in its words. Resolved at each launch, as Docker resolves them at
// each start: a `start` after the donor was restarted joins its namespaces of
// now, the paths in config.json and the launch plan swapped for the new ones.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { TsboxError, UsageError } from "../errors.js";
import { readNetworkConfig } from "../network/container-config.js";
import { attachmentPath, netnsPath } from "../network/container-files.js";
import { containerOf } from "../oci/namespace-modes.js";
import type { SpecContext } from "../oci/specconv.js";
import {
  containerPaths, findContainer, ownerAlive, readSpec, type ContainerPaths, type ContainerState,
} from "../state/container-store.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { sharedShmSource } from "./shm.js";

export type DonorPaths = Pick<SpecContext, "pidPath" | "ipcPath" | "shmSource">;

/**
 * The path a created container's spec names for a donor that does not run
 * yet (`create`, as Docker's, checks only that it exists): `start` replaces
 * it. There is no process 0 in /proc: a launch that used it would fail.
 */
const notYet = (type: "pid" | "ipc"): string => `/proc/0/ns/${type}`;

/**
 * What --pid and --ipc (as given, or as recorded: "private" is the default)
 * take from their donors. `launching` false (create): an unknown donor is
 * still refused, one that does not run (or is not shareable) only at start.
 */
export function donorNamespaces(root: string, modes: { pid: string; ipc: string }, paths: ContainerPaths,
  launching = true): DonorPaths {
  const running = (other: ContainerState, prefix: string): number | undefined => {
    // container-control's isLive, without its imports (the restart decider's bundle stays small).
    const live = (other.status === "running" || other.status === "restarting") && ownerAlive(other.owner);
    if (live && other.pid !== undefined) return other.pid;
    if (launching) throw new UsageError(`${prefix}container ${other.id} is not running`);
    return undefined;
  };
  const pidOf = containerOf(modes.pid);
  const ipcOf = containerOf(modes.ipc);
  const out: DonorPaths = {};
  if (ipcOf !== undefined) {
    const other = findContainer(root, ipcOf);
    const prefix = `can't join IPC of container ${other.id}: `;
    const pid = running(other, prefix);
    const shareable = other.hostConfig?.IpcMode === "shareable" || other.hostConfig?.IpcMode === "host";
    if (launching && !shareable) {
      throw new UsageError(`${prefix}non-shareable IPC (hint: use IpcMode:shareable for the donor container)`);
    }
    out.ipcPath = pid === undefined ? notYet("ipc") : `/proc/${pid}/ns/ipc`;
    // (A created joiner of a private donor keeps a tmpfs of its own: its start is refused anyway.)
    if (shareable) out.shmSource = sharedShmSource(other, containerPaths(root, other.id));
  }
  // After the IPC donor's checks, as Docker's start (setupIpcDirs) makes them first.
  if (pidOf !== undefined) {
    const pid = running(findContainer(root, pidOf), "");
    out.pidPath = pid === undefined ? notYet("pid") : `/proc/${pid}/ns/pid`;
  }
  if (modes.ipc === "shareable") out.shmSource = paths.shm;
  return out;
}

/**
 * Before a container joining another's namespaces is launched again: its
 * donors looked up anew (Docker's errors when one no longer runs), and the
 * paths its spec and plan name replaced where they changed.
 */
export function refreshDonorNamespaces(root: string, state: ContainerState, paths: ContainerPaths,
  /** the container's network config, when the caller has read it already */
  net = readNetworkConfig(paths.dir)): void {
  const modes = { pid: state.hostConfig?.PidMode ?? "", ipc: state.hostConfig?.IpcMode ?? "" };
  const netDonor = net?.kind === "container" ? net.container : undefined;
  if (containerOf(modes.pid) === undefined && containerOf(modes.ipc) === undefined && netDonor === undefined) return;
  const now: DonorPaths & { netPath?: string } = donorNamespaces(root, modes, paths);
  if (netDonor !== undefined) now.netPath = donorNetns(root, netDonor);
  const spec = readSpec(root, state.id);
  if (!spec) return;
  const swaps = new Map<string, string>();
  for (const ns of spec.linux.namespaces) {
    const path = ns.type === "pid" ? now.pidPath : ns.type === "ipc" ? now.ipcPath : ns.type === "network" ? now.netPath : undefined;
    if (path !== undefined && ns.path !== undefined && ns.path !== path) {
      swaps.set(ns.path, path);
      ns.path = path;
    }
  }
  const shm = spec.mounts.find((m) => m.destination === "/dev/shm" && m.type === "bind");
  if (shm?.source !== undefined && now.shmSource !== undefined && shm.source !== now.shmSource) {
    swaps.set(shm.source, now.shmSource);
    shm.source = now.shmSource;
  }
  if (swaps.size === 0) return;
  writeJsonAtomic(paths.config, spec, false);
  // The plan's strings (NUL-separated): the namespace and bind-source paths are whole ones.
  const plan = readFileSync(paths.plan, "utf8").split("\0").map((s) => swaps.get(s) ?? s).join("\0");
  writeFileSync(paths.plan, plan, { mode: 0o600 });
}

/**
 * The network namespace of --network container:DONOR now, as run's
 * networkNamespace names it: the donor's pinned one while it is attached
 * (it outlives the donor's restarts), else its process's, which a restart
 * replaces (a donor on --network none, or itself joined to another's).
 * Docker's refusal when the donor does not run. A donor on the host's
 * network has none to swap: the joiner's spec names none either.
 */
function donorNetns(root: string, ref: string): string | undefined {
  const other = findContainer(root, ref);
  const live = (other.status === "running" || other.status === "restarting") && ownerAlive(other.owner);
  if (!live || other.pid === undefined) throw new TsboxError(`cannot join network of a non running container: ${other.id}`);
  const dir = containerPaths(root, other.id).dir;
  if (existsSync(attachmentPath(dir))) return netnsPath(dir);
  if (readNetworkConfig(dir)?.kind === "host") return undefined;
  return `/proc/${other.pid}/ns/net`;
}
