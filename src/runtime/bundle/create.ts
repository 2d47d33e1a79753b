// `tsbox-runc create`: an OCI bundle → a container whose process is set up and
// waits, before exec, on the exec fifo in its state directory (runc's
// pattern), with the same executor `tsbox run` uses: the bundle's spec becomes
// a launch plan (oci/build-plan.ts) that the shim's cloned child follows. The
// process gets this process's own fds 0-2 (the engine's), and once it reports
// that it waits, it no longer depends on this process, which then exits: the
// engine is its subreaper. Every step that creates something registers its
// undo first, so a failure leaves no directory, cgroup, mount or process.

import { closeSync, existsSync, mkdirSync, statfsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { DEFAULT_PARENT, hierarchyDirs, removeEmptyParents, type Cgroup, type Hierarchy } from "../../cgroupfs/index.js";
import { LaunchError, UsageError, errnoCode } from "../../errors.js";
import { log } from "../../log.js";
import { buildPlan, withCgroupJoin } from "../../oci/build-plan.js";
import type { Spec } from "../../oci/spec.js";
import { checkContainerId, readBundle, rootPropagationFlags } from "../../oci/bundle.js";
import { seccompProgram } from "../../native/seccomp-compiler.js";
import { processStartTime } from "../../state/container-store.js";
import {
  bundleCacheDir, bundleContainerPaths, removeBundleContainerDir, writeBundleSpec, writeBundleState,
  type BundleContainerState,
} from "../../state/bundle-containers.js";
import { Undo } from "../../util/undo.js";
import { realHost, type Host } from "../host.js";
import { cgroupMountInfo, createContainerCgroup, deviceRulesEnforced } from "../launch.js";
import { bundleCgroupPath } from "./cgroup-path.js";
import { runHooks } from "./hooks.js";
import { writePidFile } from "./pid-file.js";
import { ociState } from "./status.js";
import { rootMountSetup, unmountBelow } from "./root-mount.js";
import { seccompAgent } from "./seccomp-agent.js";

/** statfs(2) f_type of a procfs. */
const PROC_SUPER_MAGIC = 0x9fa0;

export interface BundleCreateRequest {
  /** the runtime's state root (`--root`) */
  root: string;
  id: string;
  /** the bundle directory (default: the current one) */
  bundle: string;
  /** written with the container's pid once it is created (relative to the current directory) */
  pidFile?: string;
  consoleSocket?: string;
  /** accepted as runc does; tsbox always pivots */
  noPivot?: boolean;
  /** no session keyring of the container's own */
  noNewKeyring?: boolean;
  /** fds 3..3+N-1 passed on to the container */
  preserveFds?: number;
  /** cgroupsPath is systemd's "slice:prefix:name" (laid out through cgroupfs) */
  systemdCgroup?: boolean;
  /** process.terminal without a console socket: the pty master comes back to the caller (a foreground run) */
  keepPty?: boolean;
}

export interface CreatedBundleContainer {
  state: BundleContainerState;
  cgroup: Cgroup;
  /** keepPty: the master of the container's terminal, this process's to close */
  ptyMaster?: number;
}

/**
 * The state a createContainer / startContainer hook reads (runc's: status
 * creating, then created), in two halves around the pid the process inserts.
 */
function containerHookState(spec: Spec, id: string, bundle: string, status: "creating" | "created"): { prefix: string; suffix: string } {
  const head = JSON.stringify({ ociVersion: spec.ociVersion, id, status });
  const tail = JSON.stringify({ bundle, ...(spec.annotations ? { annotations: spec.annotations } : {}) });
  return { prefix: `${head.slice(0, -1)},"pid":`, suffix: `,${tail.slice(1)}` };
}

/** Where the host's hierarchies are (see CgroupMountInfo.host): bound from there in a user namespace. */
function hierarchyHost(h: Hierarchy): string | undefined {
  if (h.version === "v2") return h.mounts.get("cgroup2");
  const first = h.mounts.values().next();
  return first.done ? undefined : dirname(first.value);
}

export async function createBundleContainer(req: BundleCreateRequest, host: Host = realHost): Promise<CreatedBundleContainer> {
  const id = checkContainerId(req.id);
  const paths = bundleContainerPaths(req.root, id);
  if (existsSync(paths.dir)) throw new UsageError(`container with id exists: ${id}`, 1);
  // Everything that can fail on bad input, before anything is created.
  const bundle = readBundle(req.bundle);
  const { spec } = bundle;
  if (spec.process.terminal && req.consoleSocket === undefined && !req.keepPty) {
    throw new UsageError("cannot allocate tty if runc will detach without setting console socket", 1);
  }
  if (!spec.process.terminal && req.consoleSocket !== undefined) {
    throw new UsageError("cannot use console socket if runc will not detach or allocate tty", 1);
  }
  const seccomp = spec.linux.seccomp ? seccompProgram(req.root, spec.linux.seccomp, join(bundleCacheDir(req.root), "seccomp")) : undefined;
  const rootMounts = rootMountSetup(bundle.rootfs, rootPropagationFlags(spec));
  const agent = seccompAgent(spec, id, bundle.dir, "creating");
  const where = bundleCgroupPath(spec.linux.cgroupsPath, id, req.systemdCgroup === true);
  const hierarchy = host.cgroups.hierarchy();
  const enforced = deviceRulesEnforced(hierarchy, host.native);

  const hasRuntimeHooks = (spec.hooks?.prestart?.length ?? 0) + (spec.hooks?.createRuntime?.length ?? 0) > 0;
  const undo = new Undo();
  try {
    mkdirSync(req.root, { recursive: true, mode: 0o711 });
    try {
      mkdirSync(paths.dir, { mode: 0o711 });
    } catch (e) {
      if (errnoCode(e) === "EEXIST") throw new UsageError(`container with id exists: ${id}`, 1);
      throw e;
    }
    undo.push(() => removeBundleContainerDir(req.root, id));
    writeBundleSpec(req.root, id, spec);
    // Writable by the container's root only as the host's root: runc's mode.
    host.native.mkfifo(paths.fifo, 0o622);

    const cgroup = createContainerCgroup(host, hierarchy, where.name, where.parent, enforced);
    // tsbox's own root (shared with `tsbox run`) stays, as `tsbox run` leaves it.
    const ownRoots = new Set(hierarchyDirs(hierarchy).map((m) => join(m, DEFAULT_PARENT)));
    const createdParents = cgroup.createdParents.filter((d) => !ownRoots.has(d));
    undo.push(() => removeEmptyParents(createdParents, host.cgroups.fs));
    undo.push(() => cgroup.destroy());
    cgroup.apply(spec.linux.resources);

    const { plan, joined } = withCgroupJoin(buildPlan(spec, {
      id,
      ...(req.preserveFds ? { preserveFds: req.preserveFds } : {}),
      rootfs: bundle.rootfs,
      ...rootMounts,
      newKeyring: req.noNewKeyring !== true,
      execFifo: paths.fifo,
      pauseForHooks: hasRuntimeHooks,
      deviceOwners: true,
      cgroup: { ...cgroupMountInfo(hierarchy), path: cgroup.path, host: hierarchyHost(hierarchy) },
      // The engine's stdio, untouched (the shim hands over fds 0-2 as they are).
      stdin: "inherit",
      bindIsProcfs: (p) => {
        try { return statfsSync(p).type === PROC_SUPER_MAGIC; } catch { return false; }
      },
      bindIsDir: (p) => {
        try { return statSync(p).isDirectory(); } catch { return true; /* the child reports the missing source */ }
      },
      ...(seccomp ? { seccomp } : {}),
      ...(agent ? { seccompAgent: agent } : {}),
      hookStates: {
        createContainer: containerHookState(spec, id, bundle.dir, "creating"),
        startContainer: containerHookState(spec, id, bundle.dir, "created"),
      },
    }), cgroup.selfJoinFiles(), cgroup.cloneIntoDir());
    log().debug({ id, ops: plan.ops.length }, "creating");

    // Without a mount namespace of its own the child mounts in the host's, below the root.
    if (!spec.linux.namespaces.some((n) => n.type === "mount")) {
      undo.push(() => unmountBelow(bundle.rootfs, (p) => host.native.unmount(p)));
    }
    const child = host.native.spawn(plan);
    undo.push(() => host.native.abort(child));
    // A PID namespace by path: the shim's child forks into it, and that process is the container's.
    const forks = plan.ops.some((o) => o.op === "PIDNS");
    let pid = child;
    if (forks) {
      const inside = host.native.startJoin(child);
      if (inside === undefined) {
        const failed = host.native.start(child);
        throw new LaunchError(failed.ok ? "create: the container's process did not start" : failed.message, failed.ok ? 125 : failed.code);
      }
      // The shim's child exited once it had forked this process, and startJoin reaped it.
      pid = inside;
    }
    const base: BundleContainerState = {
      ociVersion: spec.ociVersion, id, pid, pidStartTime: processStartTime(pid) ?? "", bundle: bundle.dir,
      rootfs: bundle.rootfs, ...(spec.annotations ? { annotations: spec.annotations } : {}),
      created: new Date().toISOString(), phase: "creating",
      cgroup: { ...where, ...(createdParents.length > 0 ? { createdParents } : {}) },
    };
    writeBundleState(req.root, base);
    if (!joined) cgroup.addProcess(pid);
    let started = host.native.start(child);
    if (started.ok && hasRuntimeHooks) {
      // Stopped before PIVOT with its namespaces made: the runtime's hooks (libnetwork's setkey) run now.
      runHooks(spec.hooks, ["prestart", "createRuntime"], ociState(base, "creating"));
      started = host.native.start(child);
    }
    if (!started.ok) throw new LaunchError(started.message, started.code);
    // The pty's master, from the child (PTY op): to the engine's console socket, or kept (foreground run).
    let ptyMaster: number | undefined;
    if (spec.process.terminal) {
      const master = host.native.ptyMaster(child);
      if (req.consoleSocket === undefined) {
        ptyMaster = master;
      } else {
        try {
          host.native.sendFd(req.consoleSocket, master, "/dev/ptmx");
        } finally {
          closeSync(master);
        }
      }
    }
    // From here on the process waits on the fifo, whoever else goes away.
    const state: BundleContainerState = { ...base, phase: "created" };
    writeBundleState(req.root, state);
    if (req.pidFile !== undefined) writePidFile(req.pidFile, pid);
    return { state, cgroup, ...(ptyMaster !== undefined ? { ptyMaster } : {}) };
  } catch (e) {
    await undo.run();
    throw e;
  }
}
