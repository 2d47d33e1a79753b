// `tsbox run` in the foreground: image + flags → spec → container directory →
// cgroup → cloned child → placed → released → waited → cleaned up. Every step
// that creates something registers its undo first, so a failure at any point
// leaves nothing behind.

import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { LaunchError } from "../errors.js";
import { cgroupSupport, createCgroup, detectHierarchy, devicesEnforced, type Cgroup, type Hierarchy } from "../cgroupfs/index.js";
// The image modules `run` needs, not the whole image API (start-up time).
import { resolveImage } from "../image/images.js";
import { readImageFile } from "../image/files.js";
import { buildPlan, type CgroupMountInfo } from "../oci/build-plan.js";
import * as shim from "../native/shim.js";
import { log } from "../log.js";
import { overlayLayers } from "../image/overlay-layers.js";
import {
  containerPaths, createContainerDirs, newContainerId, removeContainerDir, reserveName, selfOwner,
  settleContainer, writeState, type ContainerState, type LogConfig, type RestartPolicy,
} from "../state/container-store.js";
import { crashPoint } from "../state/crash.js";
import { buildSpec, type RunFlags } from "../oci/specconv.js";
import { currentCapabilities } from "../native/capabilities.js";
import { hostDevices } from "./host-devices.js";
import type { Spec } from "../oci/spec.js";
import { formatBytes } from "../format.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { Undo } from "../util/undo.js";
import { attachPipes, attachTerminal, closePipes, forwardSignals, type AttachedPipes } from "./stdio.js";
import { grantableRlimits } from "../oci/rlimits.js";
import { launchMonitor, writePlan } from "./monitor.js";
import { findInit } from "./init-binary.js";
import { seccompProgram, type SeccompProgram } from "../native/seccomp-compiler.js";

export interface RunRequest {
  root: string;
  image: string;
  flags: RunFlags;
  name?: string;
  autoRemove: boolean;
  /** run -d: a tsbox-monitor owns the container; called with the id once it runs */
  detach?: (id: string) => void;
  restartPolicy?: RestartPolicy;
  logConfig?: LogConfig;
}

const HOSTS = [
  "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet",
  "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes", "ff02::2\tip6-allrouters", "",
].join("\n");

export async function runContainer(req: RunRequest): Promise<number> {
  const image = resolveImage(req.root, req.image);
  const hierarchy = detectHierarchy();
  const id = newContainerId();
  const paths = containerPaths(req.root, id);
  const undo = new Undo();
  let state: ContainerState | undefined;
  let cgroup: Cgroup | undefined;
  let pid = 0;
  let copy: AttachedPipes | undefined;
  let stopForwarding = (): void => {};
  let spec: Spec;
  let seccompMs = 0;
  const etcFiles = { hostname: paths.hostname, hosts: paths.hosts, resolvConf: paths.resolvConf };
  const warnings: string[] = [];
  // v2: Docker's device list as a BPF program where the kernel takes it.
  const enforced = devicesEnforced(hierarchy, shim.attachDeviceFilter);
  const parent = req.flags.cgroupParent;
  try {
    // Before anything is created: a missing tini is a one-line error.
    const initPath = req.flags.init ? findInit(process.env) : undefined;
    spec = buildSpec(image.config.config, req.flags, {
      id,
      etcFiles,
      passwd: readImageFile(image, "/etc/passwd")?.toString("utf8"),
      group: readImageFile(image, "/etc/group")?.toString("utf8"),
      hostEnv: process.env,
      thermalThrottle: thermalThrottleDirs(),
      devicesEnforced: enforced,
      cgroupSupport: cgroupSupport(hierarchy),
      warnings,
      availableCaps: currentCapabilities(),
      ...(req.flags.privileged ? { hostDevices: hostDevices() } : {}),
    });
    // Compiled (or read from the cache) before anything is created: a bad profile leaves nothing.
    const t0 = process.hrtime.bigint();
    const seccomp: SeccompProgram | undefined = spec.linux.seccomp ? seccompProgram(req.root, spec.linux.seccomp) : undefined;
    seccompMs = Number(process.hrtime.bigint() - t0) / 1e6;
    // Docker's client prints the daemon's warnings this way, before the container starts.
    for (const w of warnings) process.stderr.write(`WARNING: ${w}\n`);
    spec.process.rlimits = grantableRlimits(spec.process.rlimits);
    if (spec.process.terminal && process.stdout.isTTY) {
      spec.process.consoleSize = { height: process.stdout.rows, width: process.stdout.columns };
    }
    // As Docker's -v: a missing host path is created, as a directory.
    const ours = new Set(Object.values(etcFiles));
    for (const m of spec.mounts) {
      if (m.type === "bind" && m.source && !ours.has(m.source) && !existsSync(m.source)) mkdirSync(m.source, { recursive: true });
    }

    const name = reserveName(req.root, id, req.name);
    undo.push(() => removeContainerDir(req.root, { id, name }));
    createContainerDirs(paths);
    writeFileSync(paths.hostname, `${spec.hostname}\n`);
    writeFileSync(paths.hosts, HOSTS);
    writeFileSync(paths.resolvConf, resolvConf());
    writeJsonAtomic(paths.config, spec, false);
    state = {
      id, name, image: req.image, imageId: image.id, created: new Date().toISOString(),
      status: "created", owner: selfOwner(), autoRemove: req.autoRemove, tty: req.flags.tty,
      ...(req.detach ? { detached: true, restartPolicy: req.restartPolicy ?? { name: "no", maximumRetryCount: 0 } } : {}),
      ...(req.logConfig ? { logConfig: req.logConfig } : {}),
      ...(parent !== undefined ? { cgroupParent: parent } : {}),
      ...(req.flags.capAdd?.length ? { capAdd: req.flags.capAdd } : {}),
      ...(req.flags.capDrop?.length ? { capDrop: req.flags.capDrop } : {}),
      ...(req.flags.privileged ? { privileged: true } : {}),
      ...(req.flags.securityOpt?.length ? { securityOpt: req.flags.securityOpt } : {}),
    };
    writeState(req.root, state);
    crashPoint("create");

    cgroup = createCgroup(hierarchy, id, {
      ...(parent !== undefined ? { parent } : {}),
      ...(enforced ? { deviceFilter: shim.attachDeviceFilter } : {}),
    });
    const cg = cgroup;
    undo.push(() => cg.destroy());
    cgroup.apply(spec.linux.resources);

    const plan = buildPlan(spec, {
      rootfs: paths.rootfs,
      overlay: { ...overlayLayers(req.root, image), upper: paths.upper, work: paths.work },
      cgroup: cgroupMountInfo(hierarchy),
      stdin: req.flags.interactive && !req.flags.tty ? "inherit" : "null",
      id,
      ...(initPath !== undefined ? { init: initPath } : {}),
      bindIsDir: (p) => statSync(p).isDirectory(),
      // --privileged allows every device anyway: no nodev fallback.
      rootNodev: !enforced && !req.flags.privileged,
      ...(seccomp ? { seccomp } : {}),
    });
    log().debug({ id, ops: plan.ops.length, seccompMs }, "launching");
    // Kept for `tsbox start`, which relaunches the same plan through a monitor;
    // a foreground --rm container is gone at its exit, so it never needs one.
    if (req.detach || !req.autoRemove) writePlan(paths, plan);
    if (req.detach) {
      crashPoint("monitor");
      const m = await launchMonitor({
        paths, cgroupDirs: cgroup.dirs, tty: req.flags.tty,
        ...(state.restartPolicy ? { restartPolicy: state.restartPolicy } : {}),
        ...(req.logConfig ? { logConfig: req.logConfig } : {}),
        ...(req.autoRemove ? { exitCommand: selfCommand(req.root, ["rm", "-f", id]) } : {}),
      });
      crashPoint("started");
      writeState(req.root, { ...state, status: "running", pid: m.pid, owner: m.owner, startedAt: new Date().toISOString() });
      req.detach(id);
      return 0;
    }
    // Pipes (or the pty) that tsbox copies, never its own stdio (see stdio.ts).
    const launched = shim.spawnWithPipes(plan);
    pid = launched.pid;
    const child = pid;
    undo.push(() => closePipes(launched.pipes));
    undo.push(() => shim.abort(child));
    // Forward from now on: the child keeps signals blocked until it execs, so
    // one that arrives during setup reaches the command instead of killing tsbox.
    stopForwarding = forwardSignals(pid);
    undo.push(stopForwarding);
    cgroup.addProcess(pid);

    const started = shim.start(pid);
    if (!started.ok) throw new LaunchError(started.message, started.code);
    state = { ...state, status: "running", pid, startedAt: new Date().toISOString() };
    writeState(req.root, state);
    // Last: once copying, the fds are the copier's (undo must not close them).
    if (!req.flags.tty) copy = attachPipes(launched.pipes);
  } catch (e) {
    await undo.run();
    throw e;
  }

  const terminal = copy ?? attachTerminal(shim.ptyMaster(pid), req.flags.interactive);
  const exitCode = await shim.wait(pid);
  stopForwarding();
  await terminal.close();

  // Read before teardown: the counter goes with the cgroup.
  const oomKilled = cgroup.oomKills() > 0;
  if (oomKilled) {
    const limit = spec.linux.resources.memory?.limit;
    process.stderr.write(`tsbox: container ${state.name} was OOMKilled${limit ? ` (memory limit ${formatBytes(limit)})` : ""}\n`);
  }
  await cgroup.destroy();
  settleContainer(req.root, state, { exitCode, oomKilled }, req.autoRemove);
  return exitCode;
}

/**
 * argv that runs this tsbox again (for the monitor's exit command). `--` ends
 * Node's options, so no argument after it reaches Node's parser (see bin/tsbox.js).
 */
export function selfCommand(root: string, args: string[]): string[] {
  return [process.execPath, "--", process.argv[1] ?? "tsbox", "--root", root, ...args];
}

/** How the container's /sys/fs/cgroup mirrors the host's hierarchies. */
export function cgroupMountInfo(h: Hierarchy): CgroupMountInfo {
  if (h.version === "v2") return { version: "v2" };
  const byDir = new Map<string, string[]>();
  for (const [controller, dir] of h.mounts) byDir.set(dir, [...(byDir.get(dir) ?? []), controller]);
  const v1: { dir: string; data: string }[] = [];
  const v1Links: { name: string; target: string }[] = [];
  for (const [dir, controllers] of byDir) {
    const base = dir.slice(dir.lastIndexOf("/") + 1);
    v1.push({ dir: base, data: controllers.join(",") });
    for (const c of controllers) {
      if (c !== base && !c.startsWith("name=")) v1Links.push({ name: c, target: base });
    }
  }
  return { version: "v1", v1, v1Links };
}

function thermalThrottleDirs(): string[] {
  return cpus().map((_, i) => `/sys/devices/system/cpu/cpu${i}/thermal_throttle`).filter((p) => existsSync(p));
}

/** The host's resolv.conf without loopback nameservers, which mean nothing in the container's netns. */
function resolvConf(): string {
  let text = "";
  try { text = readFileSync("/etc/resolv.conf", "utf8"); } catch { /* no resolv.conf on the host */ }
  return text.split("\n").filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l)).join("\n");
}
