// Placement of one container: its directory in each hierarchy (v1) or in the
// single unified hierarchy (v2), limits, processes, teardown.

import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { TsboxError, errnoCode } from "../errors.js";
import { describeError, nodeCgroupFs, type CgroupFs } from "./fs.js";
import { hierarchyDirs } from "./hierarchy.js";
import { DOCKER_DEFAULT_DEVICES } from "./devices.js";
import { V2_KEY, type CgroupStats, type Hierarchy, type LinuxResources } from "./types.js";
import * as v1blkio from "./v1/blkio.js";
import * as v1cpu from "./v1/cpu.js";
import * as v1cpuacct from "./v1/cpuacct.js";
import * as v1freezer from "./v1/freezer.js";
import * as v1cpuset from "./v1/cpuset.js";
import * as v1devices from "./v1/devices.js";
import * as v1memory from "./v1/memory.js";
import * as v1pids from "./v1/pids.js";
import { enableChain } from "./v2/controllers.js";
import * as v2cpu from "./v2/cpu.js";
import * as v2cpuset from "./v2/cpuset.js";
import { deviceFilterProgram, type DeviceFilterLoader } from "./v2/devices-bpf.js";
import * as v2freezer from "./v2/freezer.js";
import * as v2io from "./v2/io.js";
import * as v2memory from "./v2/memory.js";
import * as v2pids from "./v2/pids.js";

export interface Cgroup {
  readonly id: string;
  /** every directory created for this container (v1: one per hierarchy; v2: one) */
  readonly dirs: string[];
  /**
   * the parent levels createCgroup had to make (they did not exist), in the
   * order it made them; [] for openCgroup. Whoever records the cgroup records
   * these, so that only they (and never a pre-existing parent) are removed later.
   */
  readonly createdParents: string[];
  /** the path as the container sees it / as /proc/PID/cgroup shows it, e.g. "/tsbox/<id>" */
  readonly path: string;
  apply(resources: LinuxResources): void;
  /**
   * The container's dir in the hierarchy that has `controller` (v1), or its
   * one dir (v2); undefined when that v1 controller is not mounted.
   */
  controllerDir(controller: string): string | undefined;
  /** writes cgroup.procs in every dir */
  addProcess(pid: number): void;
  /**
   * v1: the `tasks` file of every dir, where a single-threaded process joins
   * by writing "0" without the kernel's thread-group lock; v2: none (a thread
   * cannot move alone between domain cgroups): addProcess it is.
   */
  selfJoinFiles(): string[];
  /** v2: the directory a process can be cloned into (clone3 CLONE_INTO_CGROUP); v1: none */
  cloneIntoDir(): string | undefined;
  /** processes still in it (including any sub-cgroups the container made) */
  pids(): number[];
  /** how many processes the kernel's OOM killer killed in it; 0 without a memory controller */
  oomKills(): number;
  /** one reading of the accounting files (see CgroupStats); fields the host lacks are absent */
  stats(): CgroupStats;
  /** freeze every process (v1 freezer.state FROZEN / v2 cgroup.freeze 1) and wait until frozen */
  freeze(): Promise<void>;
  /** undo freeze() */
  thaw(): Promise<void>;
  /** is it frozen (or freezing)? false without a freezer */
  frozen(): boolean;
  /**
   * send a signal to every process in it; SIGKILL: v2 cgroup.kill where the
   * kernel has it, and a v1-frozen cgroup is thawed so that its processes die.
   * The one kill of a container's processes: destroy() uses it.
   */
  kill(signal: NodeJS.Signals | number): void;
  /** kill() what remains with SIGKILL, wait until empty and rmdir every dir; a paused container too; tolerant of already-removed dirs */
  destroy(opts?: { timeoutMs?: number }): Promise<void>;
}

export interface CgroupOptions {
  /** parent cgroup under each hierarchy's mount, default "tsbox"; may be nested ("a/b"); "/" is the mount's root itself */
  parent?: string;
  /** re-base every mount dir onto this directory (tests: a fixture shaped like cgroupfs) */
  root?: string;
  /** file operations (tests: a fixture that emulates the kernel); default node:fs */
  fs?: CgroupFs;
  /**
   * v2: loads and attaches the device filter (src/native/shim.ts attachDeviceFilter).
   * Without it, device rules are not enforced on v2 (see devicesEnforced);
   * kept out of this module so that reading cgroups does not load the native addon.
   */
  deviceFilter?: DeviceFilterLoader;
}

interface ControllerModule {
  controller: string;
  requested(r: LinuxResources): boolean;
  apply(r: LinuxResources, dir: string, fs: CgroupFs): void;
}

// Order matters a little: cpuset before anything that could move memory.
const V1_MODULES: ControllerModule[] = [v1cpuset, v1memory, v1cpu, v1pids, v1blkio, v1devices];
// No devices module: v2 device rules are a BPF program (v2/devices-bpf.ts), attached in apply().
const V2_MODULES: ControllerModule[] = [v2cpuset, v2memory, v2cpu, v2pids, v2io];

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const DEFAULT_PARENT = "tsbox";
const DEFAULT_DESTROY_TIMEOUT_MS = 10_000;

function checkName(s: string, what: string): string {
  if (!NAME_RE.test(s) || s.length > 255) throw new TsboxError(`cgroup: invalid ${what} ${JSON.stringify(s)}`);
  return s;
}

function parentSegments(parent: string | undefined): string[] {
  const p = parent ?? DEFAULT_PARENT;
  // A container directly below the hierarchy's root (an OCI cgroupsPath "/x").
  if (p === "/") return [];
  const segs = p.split("/").filter(Boolean);
  if (segs.length === 0) throw new TsboxError(`cgroup: invalid parent ${JSON.stringify(p)}`);
  return segs.map((s) => checkName(s, "parent"));
}

function rebase(root: string | undefined, dir: string): string {
  return root ? path.join(root, dir) : dir;
}

let probed: boolean | undefined;

/**
 * Does tsbox enforce device rules on this host? v1: with the devices
 * controller. v2: when `loader` is given and the kernel accepts the device
 * filter program (probed once per process by loading Docker's; the attach
 * itself happens in apply(), before the container's process exists).
 */
export function devicesEnforced(h: Hierarchy, loader?: DeviceFilterLoader): boolean {
  if (h.version === "v1") return h.mounts.has("devices");
  if (!loader) return false;
  if (probed === undefined) {
    try {
      loader("", deviceFilterProgram(DOCKER_DEFAULT_DEVICES));
      probed = true;
    } catch {
      probed = false;
    }
  }
  return probed;
}

function v2Mount(h: Hierarchy): string {
  const m = h.mounts.get(V2_KEY) ?? h.v2root ?? [...h.mounts.values()][0];
  if (!m) throw new TsboxError("cgroup: no cgroup2 mount in the hierarchy");
  return m;
}

/** The mount dirs (re-based) tsbox places containers in. */
function mountDirs(h: Hierarchy, root: string | undefined): string[] {
  return (h.version === "v2" ? [v2Mount(h)] : hierarchyDirs(h)).map((d) => rebase(root, d));
}

class CgroupImpl implements Cgroup {
  readonly dirs: string[];
  readonly path: string;
  readonly createdParents: string[] = [];

  constructor(
    private readonly h: Hierarchy,
    readonly id: string,
    private readonly segs: string[],
    private readonly root: string | undefined,
    private readonly fs: CgroupFs,
    private readonly deviceFilter?: DeviceFilterLoader,
  ) {
    this.dirs = mountDirs(h, root).map((m) => path.join(m, ...segs, id));
    this.path = "/" + [...segs, id].join("/");
  }

  controllerDir(controller: string): string | undefined {
    const mount = this.h.version === "v2" ? v2Mount(this.h) : this.h.mounts.get(controller);
    return mount === undefined ? undefined : path.join(rebase(this.root, mount), ...this.segs, this.id);
  }

  apply(resources: LinuxResources): void {
    const modules = this.h.version === "v1" ? V1_MODULES : V2_MODULES;
    for (const m of modules) {
      if (!m.requested(resources)) continue;
      const dir = this.controllerDir(m.controller);
      if (dir === undefined) throw new TsboxError(`cgroup: the ${m.controller} controller is not mounted`);
      m.apply(resources, dir, this.fs);
    }
    // v2 device rules: one BPF program per apply() (ALLOW_MULTI: programs
    // stack, so a later apply can only narrow access). Attached before the
    // container's process is placed: run applies before addProcess.
    if (this.h.version === "v2" && this.deviceFilter && (resources.devices?.length ?? 0) > 0) {
      const program = deviceFilterProgram(resources.devices!);
      try {
        this.deviceFilter(this.dirs[0]!, program);
      } catch (e) {
        throw new TsboxError(`cgroup: ${describeError(e)}`, 125, { cause: e });
      }
    }
  }

  stats(): CgroupStats {
    if (!this.dirs.some((d) => this.fs.exists(d))) throw new TsboxError(`cgroup: ${this.path} does not exist`);
    const out: CgroupStats = { readAt: Date.now() };
    const at = <T>(controller: string, read: (dir: string, fs: CgroupFs) => T | undefined): T | undefined => {
      const dir = this.controllerDir(controller);
      return dir === undefined ? undefined : read(dir, this.fs);
    };
    let memory, cpu, pids, io;
    if (this.h.version === "v2") {
      memory = at("memory", v2memory.stats);
      cpu = at("cpu", v2cpu.stats);
      pids = at("pids", v2pids.stats);
      io = at("io", v2io.stats);
    } else {
      memory = at("memory", v1memory.stats);
      const acct = at("cpuacct", v1cpuacct.stats);
      cpu = acct && { ...acct, ...at("cpu", v1cpu.stats) };
      pids = at("pids", v1pids.stats);
      io = at("blkio", v1blkio.stats);
    }
    if (memory) out.memory = memory;
    if (cpu) out.cpu = cpu;
    if (pids) out.pids = pids;
    if (io) out.io = io;
    return out;
  }

  /** The freezer dir: v1 the freezer hierarchy's (undefined when not mounted), v2 the cgroup. */
  private freezerDir(): string | undefined {
    return this.controllerDir(this.h.version === "v2" ? V2_KEY : "freezer");
  }

  async freeze(): Promise<void> {
    const dir = this.freezerDir();
    if (dir === undefined) throw new TsboxError("cgroup: the freezer controller is not mounted");
    await (this.h.version === "v2" ? v2freezer.freeze(dir, this.fs) : v1freezer.freeze(dir, this.fs));
  }

  async thaw(): Promise<void> {
    const dir = this.freezerDir();
    if (dir === undefined) throw new TsboxError("cgroup: the freezer controller is not mounted");
    await (this.h.version === "v2" ? v2freezer.thaw(dir, this.fs) : v1freezer.thaw(dir, this.fs));
  }

  frozen(): boolean {
    const dir = this.freezerDir();
    if (dir === undefined) return false;
    return this.h.version === "v2" ? v2freezer.frozen(dir, this.fs) : v1freezer.frozen(dir, this.fs);
  }

  kill(signal: NodeJS.Signals | number): void {
    const sigkill = signal === "SIGKILL" || signal === 9;
    if (sigkill && this.h.version === "v2" && this.killV2()) return;
    this.signalEach(this.pids(), signal);
    // v1 frozen tasks do not die until thawed (v2 lets fatal signals through).
    if (sigkill) this.thawV1ForKill();
  }

  private signalEach(pids: number[], signal: NodeJS.Signals | number): void {
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch (e) {
        if (errnoCode(e) !== "ESRCH") {
          const what = signal === "SIGKILL" || signal === 9 ? "killing" : "signalling";
          throw new TsboxError(`cgroup: ${what} ${pid} in ${this.path}: ${describeError(e)}`, 125, { cause: e });
        }
      }
    }
  }

  /** cgroup.kill (Linux 5.14+): the whole subtree, forks included. False when absent. */
  private killV2(): boolean {
    try {
      this.fs.writeFile(path.join(this.dirs[0]!, "cgroup.kill"), "1");
      return true;
    } catch (e) {
      const code = errnoCode(e);
      if (code === "ENOENT" && !this.fs.exists(this.dirs[0]!)) return true; // the cgroup is gone: nothing to kill
      if (code === "ENOENT") return false;
      throw new TsboxError(`cgroup: writing cgroup.kill of ${this.path}: ${describeError(e)}`, 125, { cause: e });
    }
  }

  private thawV1ForKill(): void {
    if (this.h.version !== "v1") return;
    const dir = this.freezerDir();
    if (dir === undefined || !v1freezer.frozen(dir, this.fs)) return;
    try {
      this.fs.writeFile(path.join(dir, "freezer.state"), "THAWED");
    } catch {
      // gone meanwhile
    }
  }

  oomKills(): number {
    const dir = this.controllerDir("memory");
    if (dir === undefined) return 0;
    try {
      return this.h.version === "v1" ? v1memory.oomKills(dir, this.fs) : v2memory.oomKills(dir, this.fs);
    } catch {
      return 0; // an older kernel without the counter, or the cgroup is gone
    }
  }

  selfJoinFiles(): string[] {
    return this.h.version === "v1" ? this.dirs.map((d) => path.join(d, "tasks")) : [];
  }

  cloneIntoDir(): string | undefined {
    return this.h.version === "v2" ? this.dirs[0] : undefined;
  }

  addProcess(pid: number): void {
    if (!Number.isSafeInteger(pid) || pid <= 0) throw new TsboxError(`cgroup: invalid pid ${pid}`);
    for (const dir of this.dirs) {
      try {
        this.fs.writeFile(path.join(dir, "cgroup.procs"), String(pid));
      } catch (e) {
        throw new TsboxError(`cgroup: adding process ${pid} to ${dir}: ${describeError(e)}`, 125, { cause: e });
      }
    }
  }

  /** dir and every sub-cgroup below it, deepest first; [] when dir is gone. */
  private tree(dir: string): string[] {
    let subs: string[];
    try {
      subs = this.fs.listDirs(dir);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return [];
      throw new TsboxError(`cgroup: listing ${dir}: ${describeError(e)}`, 125, { cause: e });
    }
    return [...subs.flatMap((s) => this.tree(path.join(dir, s))), dir];
  }

  /** rmdir every dir; false as soon as one is busy (processes or sub-cgroups left). */
  private tryRemoveAll(): boolean {
    for (const dir of this.dirs) {
      try {
        this.fs.rmdir(dir);
      } catch (e) {
        const code = errnoCode(e);
        if (code === "ENOENT") continue;
        if (code === "EBUSY" || code === "ENOTEMPTY") return false;
        throw new TsboxError(`cgroup: removing ${dir}: ${describeError(e)}`, 125, { cause: e });
      }
    }
    return true;
  }

  pids(): number[] {
    const all = new Set<number>();
    for (const dir of this.dirs.flatMap((d) => this.tree(d))) {
      let text: string;
      try {
        text = this.fs.readFile(path.join(dir, "cgroup.procs"));
      } catch (e) {
        if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENODEV") continue; // removed meanwhile
        throw new TsboxError(`cgroup: reading ${path.join(dir, "cgroup.procs")}: ${describeError(e)}`, 125, { cause: e });
      }
      for (const w of text.split("\n")) if (w.trim()) all.add(Number(w));
    }
    return [...all].sort((a, b) => a - b);
  }

  async destroy(opts?: { timeoutMs?: number }): Promise<void> {
    // Common case: the container is gone and made no sub-cgroups, so a plain
    // rmdir succeeds and listing nine cgroupfs directories (milliseconds on the
    // start-to-exit path of every run) is not needed.
    if (this.tryRemoveAll()) return;
    const timeoutMs = opts?.timeoutMs ?? DEFAULT_DESTROY_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    // The one kill (cgroup.kill on v2, else SIGKILL to each process and a
    // thaw of a v1-frozen cgroup), then wait for them to leave: after the
    // container's PID 1 is reaped the kernel kills the rest of its pid
    // namespace, but the dying processes stay listed for a moment. What
    // kill() cannot do here (no cgroup.kill, a process that cannot be
    // signalled) the loop retries process by process.
    try {
      this.kill("SIGKILL");
    } catch {
      // the loop below reports what is left
    }
    let delay = 2;
    for (;;) {
      const pids = this.pids();
      if (pids.length === 0) break;
      this.signalEach(pids, "SIGKILL");
      if (Date.now() >= deadline) {
        throw new TsboxError(`cgroup: ${this.path}: processes ${pids.join(", ")} still present after ${timeoutMs} ms`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 50);
    }
    // Remove sub-cgroups the container may have made, then the dirs themselves.
    for (const dir of this.dirs.flatMap((d) => this.tree(d))) {
      delay = 2;
      for (;;) {
        try {
          this.fs.rmdir(dir);
          break;
        } catch (e) {
          const code = errnoCode(e);
          if (code === "ENOENT") break;
          if (code !== "EBUSY" || Date.now() >= deadline) {
            throw new TsboxError(`cgroup: removing ${dir}: ${describeError(e)}`, 125, { cause: e });
          }
          await sleep(delay);
          delay = Math.min(delay * 2, 50);
        }
      }
    }
  }
}

/** mkdir, EEXIST fine; true when this call made it. */
function mkdirExisting(fs: CgroupFs, dir: string): boolean {
  try {
    fs.mkdir(dir);
    return true;
  } catch (e) {
    if (errnoCode(e) !== "EEXIST") throw new TsboxError(`cgroup: creating ${dir}: ${describeError(e)}`, 125, { cause: e });
    return false;
  }
}

/**
 * Create the parent level(s) as needed, then the container's dir in every
 * hierarchy. The container's dir must not exist: a cgroup someone else made
 * is never joined (tsbox writes limits only into cgroups it created).
 * A failure removes what this call made, parents included.
 */
export function createCgroup(h: Hierarchy, id: string, opts?: CgroupOptions): Cgroup {
  checkName(id, "container id");
  const segs = parentSegments(opts?.parent);
  const fs = opts?.fs ?? nodeCgroupFs;
  const cg = new CgroupImpl(h, id, segs, opts?.root, fs, opts?.deviceFilter);
  const mounts = mountDirs(h, opts?.root);
  const cpusetMount = h.version === "v1" && h.mounts.has("cpuset") ? rebase(opts?.root, h.mounts.get("cpuset")!) : undefined;
  const created: string[] = [];
  try {
    for (const mount of mounts) {
      const dir = path.join(mount, ...segs, id);
      // A parent made here can be removed by a concurrent delete (it removes
      // the empty parents it made) between our mkdir of it and of the
      // container's dir: make the chain again then.
      let made: string[] = [];
      for (let attempt = 0; ; attempt++) {
        made = [];
        let d = mount;
        for (const s of segs) {
          d = path.join(d, s);
          if (mkdirExisting(fs, d)) {
            made.push(d);
            if (!cg.createdParents.includes(d)) cg.createdParents.push(d);
          }
        }
        if (h.version === "v2") enableChain(mount, segs, fs);
        try {
          fs.mkdir(dir);
          break;
        } catch (e) {
          const code = errnoCode(e);
          if (code === "ENOENT" && attempt < 3) continue;
          if (code === "EEXIST") {
            throw new TsboxError(`cgroup: ${dir} already exists (tsbox does not join a cgroup it did not create)`, 125, { cause: e });
          }
          throw new TsboxError(`cgroup: creating ${dir}: ${describeError(e)}`, 125, { cause: e });
        }
      }
      created.push(dir);
      // cpuset files are filled in only where tsbox made the directory: a
      // pre-existing parent is someone else's and keeps its values.
      if (mount === cpusetMount) v1cpuset.init([...made, dir], fs);
    }
  } catch (e) {
    for (const dir of created.reverse()) {
      try {
        fs.rmdir(dir);
      } catch {
        // best effort
      }
    }
    removeEmptyParents(cg.createdParents, fs);
    throw e;
  }
  return cg;
}

/**
 * rmdir each of `dirs` (parents createCgroup made, as it recorded them),
 * deepest first, when empty: one still holding another cgroup stays, as does
 * one already gone.
 */
export function removeEmptyParents(dirs: string[], fs: CgroupFs = nodeCgroupFs): void {
  const deepestFirst = [...new Set(dirs)].sort((a, b) => b.split("/").length - a.split("/").length);
  for (const dir of deepestFirst) {
    try {
      fs.rmdir(dir);
    } catch (e) {
      const code = errnoCode(e);
      if (code === "ENOENT" || code === "EBUSY" || code === "ENOTEMPTY") continue;
      throw new TsboxError(`cgroup: removing ${dir}: ${describeError(e)}`, 125, { cause: e });
    }
  }
}

/** A handle on an existing container cgroup (e.g. for cleanup); creates nothing. */
export function openCgroup(h: Hierarchy, id: string, opts?: CgroupOptions): Cgroup {
  checkName(id, "container id");
  return new CgroupImpl(h, id, parentSegments(opts?.parent), opts?.root, opts?.fs ?? nodeCgroupFs, opts?.deviceFilter);
}

/** Container ids under the parent, in any hierarchy (so half-removed ones show up too). */
export function listCgroups(h: Hierarchy, opts?: CgroupOptions): string[] {
  const segs = parentSegments(opts?.parent);
  const fs = opts?.fs ?? nodeCgroupFs;
  const ids = new Set<string>();
  for (const mount of mountDirs(h, opts?.root)) {
    const dir = path.join(mount, ...segs);
    try {
      for (const name of fs.listDirs(dir)) ids.add(name);
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw new TsboxError(`cgroup: listing ${dir}: ${describeError(e)}`, 125, { cause: e });
    }
  }
  return [...ids].sort();
}

