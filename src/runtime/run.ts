// `tsbox run` in the foreground: image + flags → spec → container directory →
// cgroup → cloned child → placed → released → waited → cleaned up. Every step
// that creates something registers its undo first, so a failure at any point
// leaves nothing behind.

import { existsSync, mkdirSync, openSync, statSync, writeFileSync } from "node:fs";
import { cpus, hostname } from "node:os";
import { LaunchError, NotFoundError } from "../errors.js";
import { cgroupSupport, type Cgroup, type Hierarchy } from "../cgroupfs/index.js";
// The image modules `run` needs, not the whole image API (start-up time).
import { resolveImage, type ResolvedImage } from "../image/images.js";
import { pullableReference } from "../image/reference.js";
import { readImageFile } from "../image/files.js";
import { buildPlan, withCgroupJoin } from "../oci/build-plan.js";
import type { NativeLauncher } from "../native/launcher.js";
import type { LogTarget, OutputFds } from "../native/launcher.js";
import { log } from "../log.js";
import { overlayLayers } from "../image/overlay-layers.js";
import {
  containerPaths, createContainerDirs, newContainerId, removeContainerDir, reserveName, selfOwner,
  readState, settleContainer, writeState, type ContainerPaths, type ContainerState, type LogConfig, type RestartPolicy,
} from "../state/container-store.js";
import { crashPoint } from "../util/crash.js";
import { containerAttributes, recordEvent } from "../state/events.js";
import { buildSpec, type RunFlags } from "../oci/specconv.js";
import { currentCapabilities } from "../native/capabilities.js";
import { hostDevices } from "./host-devices.js";
import { containerConfig, runHostConfig } from "../oci/container-config.js";
import type { Spec } from "../oci/spec.js";
import { formatBytes } from "../format.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { Undo } from "../util/undo.js";
import { attachPipes, attachTerminal, closePipes, endOnSignals, forwardSignals, type AttachedPipes } from "./stdio.js";
import { grantableRlimits } from "../oci/rlimits.js";
import { writePlan } from "./monitor.js";
import { startHealthChecks } from "./health.js";
import { containerHealthcheck, type HealthFlags, type Healthcheck } from "../oci/healthcheck.js";
import { cgroupMountInfo, createContainerCgroup, deviceRulesEnforced, launchMonitored } from "./launch.js";
import type { Plan } from "../native/launch-plan.js";
import { realHost, type CgroupHost, type Host } from "./host.js";
import { findInit } from "./init-binary.js";
import { hostMismatchWarning, imagePlatform, platformMismatch, platformServes, wantedPlatform } from "./image-platform.js";
import { formatPlatform } from "../image/registry/platform.js";
import { seccompProgram, type SeccompProgram } from "../native/seccomp-compiler.js";
import type { ContainerNetworkConfig } from "../network/index.js";
import {
  connect, disconnect, networkNamespace, resolveNetworkConfig, writeContainerNetworkFiles, type NetworkFlags,
} from "./network.js";
import { anonymousVolumes, ensureVolumes, removeCreatedVolumes, resolveMounts, type ResolvedMounts } from "./container-mounts.js";
import { removeAnonymousVolumes } from "../state/volume-store.js";
import { mountShm, ownsShm, unmountShm } from "./shm.js";
import { donorNamespaces } from "./namespace-donors.js";
import { recordNetworkEvents } from "./network-events.js";

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
  /** -p, -P, --network-alias, --dns…; absent: only flags.network (default bridge) */
  network?: NetworkFlags;
  /**
   * A foreground container's exit, before it is settled (and removed with
   * --rm): a build commits the container's read-write layer here. An error
   * thrown is the run's, after the container is settled.
   */
  afterExit?: (exitCode: number, id: string) => Promise<void>;
  /** where a foreground container's stdout and stderr go (default: this process's 1 and 2) */
  output?: OutputFds;
  /** --pull: missing (default: pull an image the store lacks), always, never */
  pull?: PullPolicy;
  /** pulls a reference (for a platform, os/arch[/variant]) into the store (the CLI's, with its progress on stderr); absent: no pull */
  pullImage?: (ref: string, platform?: string) => Promise<void>;
  /** -q: the pull says nothing, not even "Unable to find image" (the pullImage given is quiet too) */
  quiet?: boolean;
  /** --cidfile: written with the ID once the container exists */
  cidfile?: string;
  /** --platform OS/ARCH[/VARIANT]: the image's platform asked for (pulled for it when the store's differs) */
  platform?: string;
  /** --health-* and --no-healthcheck; absent: the image's HEALTHCHECK as it is */
  health?: HealthFlags;
  /** -a: the output streams attached (absent: both); the other goes nowhere (still logged). Stdin is -i's, as Docker's client has it. */
  attach?: { stdout: boolean; stderr: boolean };
  /** --sig-proxy=false: signals to the CLI are not forwarded to the container */
  noSigProxy?: boolean;
  /**
   * run -it (not -d): launched under a monitor as -d is, and this terminal
   * attached through its socket; typing these keys detaches and leaves the
   * container running under its monitor (Docker's ctrl-p,ctrl-q).
   */
  detachKeys?: Buffer;
}

export type PullPolicy = "missing" | "always" | "never";

const NO_HEALTH_FLAGS: HealthFlags = { interval: 0, timeout: 0, startPeriod: 0, retries: 0, none: false };

/**
 * The image to run: pulled first with --pull=always; pulled when the store
 * lacks it, as Docker does (`Unable to find image 'x:latest' locally`), unless
 * --pull=never or the name is not a reference a registry could have.
 */
export async function imageToRun(req: RunRequest): Promise<ResolvedImage> {
  const want = req.platform === undefined ? undefined : wantedPlatform(req.platform);
  const platform = want === undefined ? undefined : formatPlatform(want);
  const pull = req.pullImage === undefined ? undefined : (ref: string) => req.pullImage!(ref, platform);
  // With its tag, as Docker's client hands it to the pull (no "Using default tag" line).
  const ref = pullableReference(req.image);
  if (pull !== undefined && req.pull === "always" && ref !== undefined) await pull(ref);
  let image: ResolvedImage;
  try {
    image = resolveImage(req.root, req.image);
  } catch (e) {
    if (!(e instanceof NotFoundError) || pull === undefined || req.pull === "never" || req.pull === "always" || ref === undefined) throw e;
    if (req.quiet !== true) process.stderr.write(`Unable to find image '${ref}' locally\n`);
    await pull(ref);
    image = resolveImage(req.root, req.image);
  }
  const have = imagePlatform(image);
  if (want === undefined) {
    const warning = hostMismatchWarning(have);
    if (warning !== undefined) process.stderr.write(`WARNING: ${warning}\n`);
    return image;
  }
  if (platformServes(have, want)) return image;
  // The store's image is another platform's: the one asked for is pulled, where a pull may be made.
  if (pull === undefined || req.pull === "never" || ref === undefined) throw platformMismatch(req.image, want, have);
  await pull(ref);
  image = resolveImage(req.root, req.image);
  if (!platformServes(imagePlatform(image), want)) throw platformMismatch(req.image, want, imagePlatform(image));
  return image;
}

/** The network flags of a request that gave only --network. */
export function networkFlags(req: Pick<RunRequest, "network" | "flags">): NetworkFlags {
  return req.network ?? {
    network: req.flags.network ?? "bridge", publish: [], publishAll: false, aliases: [],
    dns: [], dnsSearch: [], dnsOptions: [], addHosts: [],
  };
}

/** What `run` and `create` make before any launch: the spec and the container's directory and record. */
export interface PreparedContainer {
  id: string;
  paths: ContainerPaths;
  hierarchy: Hierarchy;
  /** v2: Docker's device list as a BPF program where the kernel takes it */
  enforced: boolean;
  net: ContainerNetworkConfig;
  made: ContainerSpec;
  state: ContainerState;
}

/**
 * The container made from the image and the request, its removal pushed on
 * `undo`. `launching` false (create): a --pid/--ipc donor need not run yet, as
 * Docker checks it at start (namespace-donors.ts).
 */
export function prepareContainer(req: RunRequest, image: ResolvedImage, host: Host, undo: Undo, launching = true): PreparedContainer {
  const hierarchy = host.cgroups.hierarchy();
  const id = newContainerId();
  const paths = containerPaths(req.root, id);
  const enforced = deviceRulesEnforced(hierarchy, host.native);
  const net = resolveNetworkConfig(req.root, networkFlags(req), image.config.config.ExposedPorts);
  const healthcheck = containerHealthcheck(image.config.config.Healthcheck, req.health ?? NO_HEALTH_FLAGS);
  const made = containerSpec(req, image, id, paths, hierarchy, enforced, host.cgroups, net, launching);
  const state = createContainer(req, image, id, paths, made, net, undo, healthcheck);
  return { id, paths, hierarchy, enforced, net, made, state };
}

export async function runContainer(req: RunRequest, host: Host = realHost): Promise<number> {
  const image = await imageToRun(req);
  const undo = new Undo();
  // What follows the launch: waiting on the foreground child, or attaching to the monitored one (-it).
  let next: { fg: Foreground } | { id: string; keys: Buffer };
  try {
    const { id, paths, hierarchy, enforced, net, made, state } = prepareContainer(req, image, host, undo);
    const cgroup = createContainerCgroup(host, hierarchy, id, req.flags.cgroupParent, enforced);
    undo.push(() => cgroup.destroy());
    cgroup.apply(made.spec.linux.resources);
    if (ownsShm(state)) {
      undo.push(() => unmountShm(host.native, paths));
      mountShm(host.native, paths, state);
    }
    // Docker's client attaches before it starts the container (not with -d).
    if (!req.detach) recordEvent(req.root, "container", "attach", id, containerAttributes(state));
    // Before the process: it joins the namespace netavark has set up.
    undo.push(() => disconnect(host.network, host.native, req.root, id));
    await connect(host.network, host.native, req.root, { id, name: state.name, hostname: made.spec.hostname }, paths, net, made.spec);
    const plan = launchPlan(req, image, id, paths, hierarchy, enforced, made);
    // Kept for `tsbox start`, which relaunches the same plan through a monitor;
    // a foreground --rm container is gone at its exit, so it never needs one.
    if (monitored(req) || !req.autoRemove) writePlan(paths, plan);
    writeCidfile(req, id);
    if (req.detach) {
      await launchMonitored(req.root, state, cgroup, host.monitor);
      req.detach(id);
      return 0;
    }
    if (req.detachKeys) {
      // The monitor keeps the terminal's first output for this attach (--attach-first).
      await launchMonitored(req.root, state, cgroup, host.monitor, { attachFirst: true });
      next = { id, keys: req.detachKeys };
    } else {
      next = { fg: startForeground(host.native, req, plan, state, cgroup, made.spec, undo) };
    }
  } catch (e) {
    await undo.run();
    throw e;
  }
  if ("keys" in next) return attachMonitored(req.root, next.id, next.keys, req.autoRemove);
  return waitForeground(host, req, next.fg);
}

/** Whether a monitor keeps the container: -d, and -it (see RunRequest.detachKeys). */
function monitored(req: RunRequest): boolean {
  return req.detach !== undefined || req.detachKeys !== undefined;
}

/**
 * run -it: this terminal on the monitored container until it exits (its exit
 * code) or the detach keys are typed (0, the container runs on, as Docker's).
 */
async function attachMonitored(root: string, id: string, keys: Buffer, autoRemove: boolean): Promise<number> {
  const { attachTerminal } = await import("./attach.js");
  const end = await attachTerminal(root, id, true, keys);
  if (end.detached) return 0;
  const { waitExited } = await import("./container-control.js");
  const code = end.state?.status === "exited" ? end.state.exitCode ?? 0 : (await waitExited(root, id))?.exitCode ?? 0;
  // As Docker's client with --rm: back once the container is removed (by its monitor's exit command), 10 s at most.
  for (let i = 0; autoRemove && i < 200 && readState(root, id) !== undefined; i++) await new Promise((r) => setTimeout(r, 50));
  return code;
}

/**
 * --cidfile: the ID once the container is made, before it starts (a launch
 * that fails leaves the file, as Docker's does), in a file that did not exist
 * (checked by the CLI, taken here exclusively).
 */
export function writeCidfile(req: Pick<RunRequest, "cidfile">, id: string): void {
  if (req.cidfile !== undefined) writeFileSync(req.cidfile, id, { flag: "wx" });
}

/** The spec, its seccomp program and the init binary: everything that can fail on bad input, before anything is created. */
export interface ContainerSpec {
  spec: Spec;
  mounts: ResolvedMounts;
  seccomp?: SeccompProgram;
  seccompMs: number;
  initPath?: string;
}

function containerSpec(req: RunRequest, image: ResolvedImage, id: string, paths: ContainerPaths, hierarchy: Hierarchy,
  enforced: boolean, cgroups: CgroupHost, net: ContainerNetworkConfig, launching: boolean): ContainerSpec {
  // Before anything is created: a missing tini is a one-line error.
  const initPath = req.flags.init ? findInit(process.env) : undefined;
  const warnings: string[] = [];
  const netns = networkNamespace(req.root, net, paths);
  const flags = { ...req.flags, network: netns === undefined ? "host" : net.mode };
  const mounts = resolveMounts(req.root, image.config.config, image.layers,
    { volumes: req.flags.volumes, mounts: req.flags.mounts ?? [], volumesFrom: req.flags.volumesFrom ?? [] }, req.flags.tmpfs);
  const spec = buildSpec(image.config.config, flags, {
    id,
    ...(netns !== undefined && netns !== "new" ? { networkPath: netns } : {}),
    etcFiles: etcFiles(paths),
    passwd: readImageFile(image, "/etc/passwd")?.toString("utf8"),
    group: readImageFile(image, "/etc/group")?.toString("utf8"),
    hostEnv: process.env,
    hostHostname: hostname(),
    thermalThrottle: thermalThrottleDirs(),
    devicesEnforced: enforced,
    cgroupSupport: cgroupSupport(hierarchy, cgroups.fs ? { fs: cgroups.fs } : undefined),
    warnings,
    availableCaps: currentCapabilities(),
    ...(req.flags.privileged ? { hostDevices: hostDevices() } : {}),
    mountPoints: mounts.points,
    ...donorNamespaces(req.root, req.flags.namespaceModes ?? { pid: "", ipc: "" }, paths, launching),
  });
  // Compiled (or read from the cache) before anything is created: a bad profile leaves nothing.
  const t0 = process.hrtime.bigint();
  const seccomp: SeccompProgram | undefined = spec.linux.seccomp ? seccompProgram(req.root, spec.linux.seccomp) : undefined;
  const seccompMs = Number(process.hrtime.bigint() - t0) / 1e6;
  // Docker's client prints the daemon's warnings this way, before the container starts.
  for (const w of warnings) process.stderr.write(`WARNING: ${w}\n`);
  spec.process.rlimits = grantableRlimits(spec.process.rlimits);
  if (spec.process.terminal && process.stdout.isTTY) {
    spec.process.consoleSize = { height: process.stdout.rows, width: process.stdout.columns };
  }
  // As Docker's -v: a missing host path is created, as a directory (--mount refused it already).
  for (const m of mounts.points) {
    if (m.type === "bind" && !existsSync(m.source)) mkdirSync(m.source, { recursive: true });
  }
  return { spec, mounts, seccompMs, ...(seccomp ? { seccomp } : {}), ...(initPath !== undefined ? { initPath } : {}) };
}

/** The files tsbox writes for the container's /etc and bind-mounts in. */
function etcFiles(paths: ContainerPaths): { hostname: string; hosts: string; resolvConf: string } {
  return { hostname: paths.hostname, hosts: paths.hosts, resolvConf: paths.resolvConf };
}

/** Reserves the name and writes the container's directory, /etc files, config.json and state.json (status created). */
function createContainer(req: RunRequest, image: ResolvedImage, id: string, paths: ContainerPaths, made: ContainerSpec,
  net: ContainerNetworkConfig, undo: Undo, healthcheck: Healthcheck | undefined): ContainerState {
  const spec = made.spec;
  const name = reserveName(req.root, id, req.name);
  undo.push(() => removeContainerDir(req.root, { id, name }));
  createContainerDirs(paths);
  // --ipc shareable: its /dev/shm's mount point (a bind source of its plan), mounted at each launch.
  if (req.flags.namespaceModes?.ipc === "shareable") mkdirSync(paths.shm, { mode: 0o700 });
  writeFileSync(paths.hostname, `${spec.hostname}\n`);
  writeContainerNetworkFiles(req.root, net, paths);
  writeJsonAtomic(paths.config, spec, false);
  const parent = req.flags.cgroupParent;
  const state: ContainerState = {
    id, name, image: req.image, imageId: image.id, created: new Date().toISOString(),
    status: "created", owner: selfOwner(), autoRemove: req.autoRemove, tty: req.flags.tty,
    ...(monitored(req) ? { detached: true, restartPolicy: req.restartPolicy ?? { name: "no", maximumRetryCount: 0 } } : {}),
    ...(req.logConfig ? { logConfig: req.logConfig } : {}),
    ...(parent !== undefined ? { cgroupParent: parent } : {}),
    ...(req.flags.capAdd?.length ? { capAdd: req.flags.capAdd } : {}),
    ...(req.flags.capDrop?.length ? { capDrop: req.flags.capDrop } : {}),
    ...(req.flags.privileged ? { privileged: true } : {}),
    ...(req.flags.securityOpt?.length ? { securityOpt: req.flags.securityOpt } : {}),
    config: containerConfig(image.config.config, req.flags, process.env),
    ...(made.mounts.points.length ? { mounts: made.mounts.points } : {}),
    ...(healthcheck ? { healthcheck } : {}),
    hostConfig: runHostConfig(req.flags),
  };
  writeState(req.root, state);
  recordEvent(req.root, "container", "create", id, containerAttributes(state));
  // A run that fails from here on takes the container away again, as an `rm` would.
  undo.push(() => recordEvent(req.root, "container", "destroy", id, containerAttributes(state)));
  crashPoint("create");
  // Once the record names them: from here on, the volumes count as this container's.
  const created = ensureVolumes(req.root, made.mounts, image.layers, paths.upper);
  // Only what this run made: a named volume that was there before stays.
  if (created.length) undo.push(() => removeCreatedVolumes(req.root, created));
  return state;
}

export function launchPlan(req: RunRequest, image: ResolvedImage, id: string, paths: ContainerPaths, hierarchy: Hierarchy,
  enforced: boolean, made: ContainerSpec): Plan {
  const plan = buildPlan(made.spec, {
    rootfs: paths.rootfs,
    overlay: { ...overlayLayers(req.root, image), upper: paths.upper, work: paths.work },
    cgroup: cgroupMountInfo(hierarchy),
    stdin: req.flags.interactive && !req.flags.tty ? "inherit" : "null",
    id,
    ...(made.initPath !== undefined ? { init: made.initPath } : {}),
    bindIsDir: (p) => statSync(p).isDirectory(),
    // --privileged allows every device anyway: no nodev fallback.
    rootNodev: !enforced && !req.flags.privileged,
    ...(made.seccomp ? { seccomp: made.seccomp } : {}),
  });
  log().debug({ id, ops: plan.ops.length, seccompMs: made.seccompMs }, "launching");
  return plan;
}

/** A foreground container released from the shim, with its stdio being copied. */
interface Foreground {
  /** the container's process: the shim's child, or the process that child forked into a joined PID namespace */
  pid: number;
  /** the shim's child (its pty master is asked for by it) */
  launched: number;
  state: ContainerState;
  cgroup: Cgroup;
  spec: Spec;
  /** absent with -t: the pty is attached once started */
  copy?: AttachedPipes;
  stopForwarding: () => void;
}

/** Clones the child, places it in its cgroup, releases it and records it running. */
function startForeground(native: NativeLauncher, req: RunRequest, plan: Plan, created: ContainerState, cgroup: Cgroup, spec: Spec,
  undo: Undo): Foreground {
  // Pipes (or the pty) that tsbox copies, never its own stdio (see stdio.ts).
  // Launched now, not saved: the child joins its cgroup itself where it can.
  const { plan: launching, joined } = withCgroupJoin(plan, cgroup.selfJoinFiles(), cgroup.cloneIntoDir());
  // --pid container:NAME: the child forks into that PID namespace and exits;
  // the process it forked is the container's, this process's child only as a subreaper.
  const forks = launching.ops.some((o) => o.op === "PIDNS");
  if (forks) native.setSubreaper(true);
  const a = req.attach;
  const launched = native.spawnWithPipes(launching, a && (!a.stdout || !a.stderr) ? { splitOutput: true } : {});
  undo.push(() => closePipes(launched.pipes));
  undo.push(() => native.abort(launched.pid));
  let pid = launched.pid;
  if (forks) {
    const inner = native.startJoin(launched.pid);
    if (inner === undefined) {
      const failed = native.start(launched.pid);
      throw new LaunchError(failed.ok ? "the container's process did not start" : failed.message, failed.ok ? 125 : failed.code);
    }
    pid = inner;
  }
  // Forward from now on: the child keeps signals blocked until it execs, so
  // one that arrives during setup reaches the command instead of killing tsbox.
  const stopForwarding = req.noSigProxy ? endOnSignals(pid) : forwardSignals(pid);
  undo.push(stopForwarding);
  if (!joined) cgroup.addProcess(pid);

  const started = native.start(launched.pid);
  if (!started.ok) throw new LaunchError(started.message, started.code);
  const state: ContainerState = { ...created, status: "running", pid, startedAt: new Date().toISOString() };
  writeState(req.root, state);
  recordNetworkEvents(req.root, state.id, "connect");
  recordEvent(req.root, "container", "start", state.id, containerAttributes(state));
  // Last: once copying, the fds are the copier's (undo must not close them).
  const copy = req.flags.tty ? undefined : attachPipes(native, launched.pipes, attachedOutput(req), logTarget(req, state.id));
  return { pid, launched: launched.pid, state, cgroup, spec, stopForwarding, ...(copy ? { copy } : {}) };
}

/** Waits for the exit, reports an OOM kill, removes the cgroup and settles the state (or removes the container with --rm). */
async function waitForeground(host: Host, req: RunRequest, fg: Foreground): Promise<number> {
  const native = host.native;
  const terminal = fg.copy ?? attachTerminal(native, native.ptyMaster(fg.launched), req.flags.interactive, logTarget(req, fg.state.id));
  // No monitor keeps a foreground container: the CLI starts its probes.
  const stopHealth = startHealthChecks(req.root, fg.state);
  const exitCode = await native.wait(fg.pid);
  await stopHealth();
  fg.stopForwarding();
  await terminal.close();

  // Read before teardown: the counter goes with the cgroup.
  const oomKilled = fg.cgroup.oomKills() > 0;
  if (oomKilled) {
    const limit = fg.spec.linux.resources.memory?.limit;
    process.stderr.write(`tsbox: container ${fg.state.name} was OOMKilled${limit ? ` (memory limit ${formatBytes(limit)})` : ""}\n`);
  }
  await fg.cgroup.destroy();
  if (ownsShm(fg.state)) unmountShm(native, containerPaths(req.root, fg.state.id));
  // As Docker: a stopped container holds no address or port; start attaches it again.
  await disconnect(host.network, native, req.root, fg.state.id);
  try {
    await req.afterExit?.(exitCode, fg.state.id);
  } finally {
    const removed = settleContainer(req.root, fg.state, { exitCode, oomKilled }, req.autoRemove,
      () => recordNetworkEvents(req.root, fg.state.id, "disconnect"));
    // As Docker's --rm: the container's anonymous volumes go with it.
    if (removed) removeAnonymousVolumes(req.root, anonymousVolumes(removed.mounts));
  }
  return exitCode;
}

/** Where the copier writes the container's stdout and stderr: the CLI's (or req.output), /dev/null for a stream -a left out. */
function attachedOutput(req: RunRequest): OutputFds | undefined {
  const a = req.attach;
  if (!a || (a.stdout && a.stderr)) return req.output;
  const out = req.output ?? { stdout: 1, stderr: 2 };
  // Opened once for the CLI's life (a foreground run is its one container).
  const none = (devNull ??= openSync("/dev/null", "w"));
  return { stdout: a.stdout ? out.stdout : none, stderr: a.stderr ? out.stderr : none };
}
let devNull: number | undefined;

/**
 * Where a foreground container's output is logged as it is copied: the same
 * json-file log (and rotation) a monitor keeps for a detached one, so `logs`
 * and a later `start` see one history; none with --log-driver none.
 */
function logTarget(req: Pick<RunRequest, "root" | "logConfig">, id: string): LogTarget | undefined {
  const c = req.logConfig;
  if (c?.driver === "none") return undefined;
  return { path: containerPaths(req.root, id).log, ...(c?.maxSize ? { maxSize: c.maxSize } : {}), ...(c?.maxFile ? { maxFile: c.maxFile } : {}) };
}

function thermalThrottleDirs(): string[] {
  return cpus().map((_, i) => `/sys/devices/system/cpu/cpu${i}/thermal_throttle`).filter((p) => existsSync(p));
}
