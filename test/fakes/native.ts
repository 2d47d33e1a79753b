// Recording fakes of what the launching verbs use of the host (src/runtime/host.ts):
// the C shim (NativeLauncher), the monitor program (MonitorLauncher) and a
// cgroup hierarchy kept in memory (CgroupFs). Each records its calls in a
// journal they may share, so that a test can check the order across them
// (e.g. the exec'd process placed in its cgroup between startJoin and start);
// pids, start results, exit codes and failures are scripted.

import { join } from "node:path";
import { LaunchError } from "../../src/errors.js";
import type { CgroupFs, Hierarchy } from "../../src/cgroupfs/index.js";
import type { Plan } from "../../src/native/launch-plan.js";
import type { LogTarget, NativeLauncher, OutputFds, StartResult, StdioPipes } from "../../src/native/launcher.js";
import type { NetworkHost } from "../../src/runtime/network.js";
import type { Host } from "../../src/runtime/host.js";
import type { MonitorLauncher, MonitorRequest, Monitored } from "../../src/runtime/monitor.js";
import { processStartTime } from "../../src/state/container-store.js";

/** Calls in order, as "<who>.<what> <args>" lines, across the fakes that share it. */
export type Journal = string[];

export type NativeCall =
  | { fn: "spawnWithPipes"; plan: Plan; pid: number }
  | { fn: "spawn"; plan: Plan; pid: number }
  | { fn: "startJoin" | "start" | "abort" | "wait" | "ptyMaster"; pid: number }
  | { fn: "copyStdio"; pipes: StdioPipes; idleMs: number; log?: LogTarget }
  | { fn: "openLog"; log: LogTarget }
  | { fn: "appendLog"; handle: number; bytes: number }
  | { fn: "closeLog"; handle: number }
  | { fn: "finishCopy"; handle: number }
  | { fn: "setWinsize"; fd: number; rows: number; cols: number }
  | { fn: "attachDeviceFilter"; cgroupDir: string; program: Buffer };

export interface NativeScript {
  /** pids handed out by spawnWithPipes, in turn (then counting up from the last) */
  pids?: number[];
  /** thrown by spawnWithPipes (a bad plan, a failed clone) */
  spawnError?: Error;
  /** startJoin's answer: the host pid of the process inside the container */
  joinPid?: number;
  /** start's answer; default { ok: true } */
  start?: StartResult;
  /** wait's answer; default 0 */
  exitCode?: number;
  /** attachDeviceFilter throws it (a kernel without the BPF device filter) */
  deviceFilterError?: Error;
}

/** NativeLauncher that clones nothing: records each call and answers from its script. */
export class FakeNative implements NativeLauncher {
  readonly calls: NativeCall[] = [];
  private nextPid: number;
  private readonly pids: number[];

  constructor(readonly script: NativeScript = {}, readonly journal: Journal = []) {
    this.pids = [...(script.pids ?? [4242])];
    this.nextPid = this.pids[0] ?? 4242;
  }

  /** The plans handed to spawnWithPipes or spawn, in order. */
  plans(): Plan[] {
    return this.calls.flatMap((c) => (c.fn === "spawnWithPipes" || c.fn === "spawn" ? [c.plan] : []));
  }

  /** The names of the calls, in order. */
  names(): string[] {
    return this.calls.map((c) => c.fn);
  }

  private note(call: NativeCall, detail: string): void {
    this.calls.push(call);
    this.journal.push(`native.${call.fn}${detail ? ` ${detail}` : ""}`);
  }

  spawnWithPipes(plan: Plan): { pid: number; pipes: StdioPipes } {
    if (this.script.spawnError) {
      this.journal.push("native.spawnWithPipes failed");
      throw this.script.spawnError;
    }
    const pid = this.pids.shift() ?? ++this.nextPid;
    this.nextPid = pid;
    this.note({ fn: "spawnWithPipes", plan, pid }, String(pid));
    // No fds: nothing of the test's own may be closed or copied by the code under test.
    return { pid, pipes: {} };
  }

  spawn(plan: Plan): number {
    if (this.script.spawnError) {
      this.journal.push("native.spawn failed");
      throw this.script.spawnError;
    }
    const pid = this.pids.shift() ?? ++this.nextPid;
    this.nextPid = pid;
    this.note({ fn: "spawn", plan, pid }, String(pid));
    return pid;
  }

  unmount(path: string): void {
    this.journal.push(`native.unmount ${path}`);
  }

  mountShm(path: string, options: string): void {
    this.journal.push(`native.mountShm ${path} ${options}`);
  }

  pinNetns(path: string): void {
    this.journal.push(`native.pinNetns ${path}`);
  }

  bindNetns(from: string, to: string): void {
    this.journal.push(`native.bindNetns ${from} ${to}`);
  }

  mkfifo(path: string, mode: number): void {
    this.journal.push(`native.mkfifo ${path} ${mode.toString(8)}`);
  }

  setSubreaper(on: boolean): void {
    this.journal.push(`native.setSubreaper ${on}`);
  }

  sendFd(path: string, fd: number, name: string): void {
    this.journal.push(`native.sendFd ${path} ${fd} ${name}`);
  }

  startJoin(pid: number): number | undefined {
    this.note({ fn: "startJoin", pid }, String(pid));
    return this.script.joinPid;
  }

  start(pid: number): StartResult {
    this.note({ fn: "start", pid }, String(pid));
    return this.script.start ?? { ok: true };
  }

  abort(pid: number): void {
    this.note({ fn: "abort", pid }, String(pid));
  }

  wait(pid: number): Promise<number> {
    this.note({ fn: "wait", pid }, String(pid));
    return Promise.resolve(this.script.exitCode ?? 0);
  }

  ptyMaster(pid: number): number {
    this.note({ fn: "ptyMaster", pid }, String(pid));
    throw new Error("FakeNative: no pty (tests run without -t)");
  }

  copyStdio(pipes: StdioPipes, idleMs: number, _output?: OutputFds, log?: LogTarget): number {
    this.note({ fn: "copyStdio", pipes, idleMs, ...(log ? { log } : {}) }, "");
    return 7;
  }

  openLog(log: LogTarget): number {
    this.note({ fn: "openLog", log }, log.path);
    return 3;
  }

  appendLog(handle: number, chunk: Buffer): void {
    this.note({ fn: "appendLog", handle, bytes: chunk.length }, String(handle));
  }

  closeLog(handle: number): void {
    this.note({ fn: "closeLog", handle }, String(handle));
  }

  finishCopy(handle: number): Promise<void> {
    this.note({ fn: "finishCopy", handle }, String(handle));
    return Promise.resolve();
  }

  setWinsize(fd: number, rows: number, cols: number): void {
    this.note({ fn: "setWinsize", fd, rows, cols }, `${fd} ${rows}x${cols}`);
  }

  attachDeviceFilter(cgroupDir: string, program: Buffer): void {
    this.note({ fn: "attachDeviceFilter", cgroupDir, program }, cgroupDir === "" ? "(probe)" : cgroupDir);
    if (this.script.deviceFilterError) throw this.script.deviceFilterError;
  }
}

/** MonitorLauncher that starts nothing: records each request and reports a scripted pid or failure. */
export class FakeMonitor implements MonitorLauncher {
  readonly requests: MonitorRequest[] = [];
  /** the plan file's bytes when each monitor was started (the monitor reads it then) */
  readonly plansOnDisk: (string | undefined)[] = [];

  constructor(readonly script: { pid?: number; failure?: { message: string; code: number } } = {},
    readonly journal: Journal = [], private readonly readPlan: (path: string) => string | undefined = () => undefined) {}

  launch(req: MonitorRequest): Promise<Monitored> {
    this.requests.push(req);
    this.plansOnDisk.push(this.readPlan(req.paths.plan));
    this.journal.push(`monitor.launch ${req.paths.dir}`);
    const f = this.script.failure;
    if (f) return Promise.reject(new LaunchError(f.message, f.code));
    // The owner is this process: alive, with a real start time, as a monitor's would be.
    return Promise.resolve({ pid: this.script.pid ?? 5151, owner: { pid: process.pid, startTime: processStartTime(process.pid) ?? "" } });
  }
}

const V2_MOUNT = "/sys/fs/cgroup";

/**
 * A cgroup v2 hierarchy in memory, shaped as the kernel's: a new cgroup has
 * its interface files, a write needs the file's directory, rmdir refuses a
 * cgroup with children. It never refuses for processes (the fake native's
 * processes never ran) so destroy() never signals anything.
 */
export class MemoryCgroupFs implements CgroupFs {
  readonly dirs = new Set<string>([V2_MOUNT]);
  readonly files = new Map<string, string>();

  constructor(readonly journal: Journal = []) {
    this.files.set(join(V2_MOUNT, "cgroup.controllers"), "cpuset cpu io memory pids");
    this.files.set(join(V2_MOUNT, "cgroup.subtree_control"), "cpuset cpu io memory pids");
  }

  readonly hierarchy: Hierarchy = { version: "v2", mounts: new Map([["cgroup2", V2_MOUNT]]), v2root: V2_MOUNT };

  private parentOf(p: string): string {
    return p.slice(0, p.lastIndexOf("/")) || "/";
  }

  readFile(file: string): string {
    const v = this.files.get(file);
    if (v === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: "ENOENT" });
    return v;
  }

  writeFile(file: string, value: string): void {
    if (!this.dirs.has(this.parentOf(file))) throw Object.assign(new Error(`ENOENT: ${file}`), { code: "ENOENT" });
    this.journal.push(`cgroup.write ${file} ${value}`);
    if (file.endsWith("/cgroup.subtree_control")) return; // "+memory": the fake enables everything anyway
    this.files.set(file, file.endsWith("/cgroup.procs") ? `${this.files.get(file) ?? ""}${value}\n` : value);
  }

  exists(file: string): boolean {
    return this.dirs.has(file) || this.files.has(file);
  }

  mkdir(dir: string): void {
    if (this.dirs.has(dir)) throw Object.assign(new Error(`EEXIST: ${dir}`), { code: "EEXIST" });
    if (!this.dirs.has(this.parentOf(dir))) throw Object.assign(new Error(`ENOENT: ${dir}`), { code: "ENOENT" });
    this.journal.push(`cgroup.mkdir ${dir}`);
    this.dirs.add(dir);
    for (const [f, v] of [["cgroup.procs", ""], ["cgroup.controllers", "cpuset cpu io memory pids"],
      ["cgroup.subtree_control", "cpuset cpu io memory pids"], ["memory.events", "oom_kill 0\n"]] as const) {
      this.files.set(join(dir, f), v);
    }
  }

  rmdir(dir: string): void {
    if (!this.dirs.has(dir)) throw Object.assign(new Error(`ENOENT: ${dir}`), { code: "ENOENT" });
    if (this.listDirs(dir).length > 0) throw Object.assign(new Error(`EBUSY: ${dir}`), { code: "EBUSY" });
    this.journal.push(`cgroup.rmdir ${dir}`);
    this.dirs.delete(dir);
    for (const f of [...this.files.keys()]) if (this.parentOf(f) === dir) this.files.delete(f);
  }

  listDirs(dir: string): string[] {
    if (!this.dirs.has(dir)) throw Object.assign(new Error(`ENOENT: ${dir}`), { code: "ENOENT" });
    return [...this.dirs].filter((d) => this.parentOf(d) === dir).map((d) => d.slice(dir.length + 1));
  }
}

/** A Host of fakes sharing one journal. */
export function fakeHost(opts: { native?: NativeScript; monitor?: FakeMonitor["script"]; readPlan?: (path: string) => string | undefined } = {}):
  Host & { native: FakeNative; monitor: FakeMonitor; fs: MemoryCgroupFs; journal: Journal } {
  const journal: Journal = [];
  const fs = new MemoryCgroupFs(journal);
  return {
    native: new FakeNative(opts.native, journal),
    monitor: new FakeMonitor(opts.monitor, journal, opts.readPlan),
    cgroups: { hierarchy: () => fs.hierarchy, fs },
    network: fakeNetwork(journal),
    fs,
    journal,
  };
}

/** netavark's side recorded: attach gives the first address of each network, release forgets it. */
export function fakeNetwork(journal: Journal): NetworkHost {
  return {
    attach: (_native, a) => {
      journal.push(`network.attach ${a.id.slice(0, 12)} ${a.networks.map((n) => n.name).join(",")}`);
      const endpoints = a.networks.map((n) => ({
        network: n.name, networkId: n.id, ip: n.gateway.replace(/\.1$/, ".2"), prefix: Number(n.subnet.split("/")[1]),
        gateway: n.gateway, mac: "02:42:ac:1d:00:02", bridge: n.bridge, aliases: [], dnsServers: [],
      }));
      const ports = a.request.ports.map((p) => ({ hostIp: p.hostIp, hostPort: p.hostPort || 40000, containerPort: p.containerPort, protocol: p.protocol }));
      return {
        v: 1, netns: `${a.dir}/netns`, configDir: "", endpoints, ports, leases: [],
        options: { container_id: a.id, container_name: a.name, networks: {}, network_info: {} },
      };
    },
    release: (_native, _root, id) => { journal.push(`network.release ${id.slice(0, 12)}`); },
  };
}
