// `tsbox run`: flags as Docker spells them, parsed into RunFlags.

import type { Command } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { FlagError, TsboxError, UsageError } from "../errors.js";
import {
  parseDeviceFlag, parseThrottleBps, parseThrottleIops, parseUint16, parseWeightDevice, statBlockDevice, devicesFromPath, throttleFlags,
} from "../oci/device-flags.js";
import { ulimitList } from "../oci/ulimits.js";
import { parseSysctls } from "../oci/sysctls.js";
import { checkIpcMode, checkPidMode, checkUtsMode } from "../oci/namespace-modes.js";
import { parseSignal } from "../runtime/kill.js";
import { cgroupParentSegments, parseEnvFile, type RunFlags } from "../oci/specconv.js";
import { checkMac, checkWeight, parsePortSpec, parseRate } from "../network/index.js";
import type { NetworkFlags } from "../runtime/network.js";
import type { LogConfig, RestartPolicy } from "../state/container-store.js";
import type { RunRequest } from "../runtime/run.js";
import { checkCpuset, parseBytes, parseCpus, parseIntFlag, parseMemory } from "../oci/units.js";
import { collect, hostList, prepare, readText } from "./common.js";
import { inlineSecurityOpts } from "../oci/seccomp/security-opt.js";
import { parseHealthDuration, type HealthFlags } from "../oci/healthcheck.js";
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from "../runtime/detach-keys.js";

export function registerRun(program: Command): void {
  const run = program.command("run")
    .description("Create and run a new container from an image")
    .argument("<image>", "image name or ID")
    .argument("[command...]", "command and arguments")
    .passThroughOptions()
    .option("-d, --detach", "Run container in background and print container ID", false)
    .option("--sig-proxy", "Proxy received signals to the process (non-TTY mode only)", true)
    .option("--no-sig-proxy", "Do not proxy received signals to the process")
    .option("--detach-keys <keys>", "Override the key sequence for detaching a container (default \"ctrl-p,ctrl-q\")");
  runOptions(run)
    .action(async (image: string, command: string[], o: Record<string, unknown>, cmd: Command) => {
      const g = await prepare(cmd);
      const parsed = parseRunOptions(command, o);
      const { flags, attach } = parsed;
      if (flags.tty && !process.stdin.isTTY && flags.interactive && !o.detach) { // -d: the monitor holds the terminal
        throw new UsageError("the input device is not a TTY");
      }
      // Docker's client: exit 1, its own check before the daemon's.
      if (attach && o.detach) throw new TsboxError("conflicting options: cannot specify both --attach and --detach", 1);
      // -it in the foreground: under a monitor and attached, so that the detach keys can leave it running.
      const detachKeys = flags.tty && flags.interactive && !o.detach
        ? parseDetachKeys(o.detachKeys === undefined ? DEFAULT_DETACH_KEYS : String(o.detachKeys)) : undefined;
      const { runContainer } = await import("../runtime/run.js");
      process.exitCode = await runContainer({
        root: g.root, image, ...parsed, pullImage: pullToStderr(g.root, parsed.quiet),
        ...(detachKeys ? { detachKeys } : {}),
        ...(o.sigProxy === false ? { noSigProxy: true } : {}),
        ...(o.detach ? { detach: (id: string) => { process.stdout.write(`${id}\n`); } } : {}),
      });
    });
}

/**
 * The options `run` and `create` share (Docker's create takes every run flag
 * but -d), registered in one list; parseRunOptions reads them.
 */
export function runOptions(c: Command): Command {
  return c
    .option("--rm", "Automatically remove the container when it exits", false)
    .option("-a, --attach <stream>", "Attach to STDIN, STDOUT or STDERR", collect, [])
    .option("--restart <policy>", "Restart policy to apply when a container exits", "no")
    .option("--log-driver <driver>", "Logging driver for the container (json-file, none)", "json-file")
    .option("--health-cmd <cmd>", "Command to run to check health")
    .option("--health-interval <duration>", "Time between running the check (ms|s|m|h) (default 0s)")
    .option("--health-timeout <duration>", "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
    .option("--health-retries <n>", "Consecutive failures needed to report unhealthy")
    .option("--health-start-period <duration>", "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
    .option("--no-healthcheck", "Disable any container-specified HEALTHCHECK")
    .option("--log-opt <opt>", "Log driver options (max-size, max-file)", collect, [])
    .option("--name <name>", "Assign a name to the container")
    .option("-e, --env <KEY=VALUE>", "Set environment variables", collect, [])
    .option("--env-file <file>", "Read in a file of environment variables", collect, [])
    .option("-w, --workdir <dir>", "Working directory inside the container")
    .option("-u, --user <user[:group]>", "Username or UID (format: <name|uid>[:<group|gid>])")
    .option("-h, --hostname <name>", "Container host name")
    .option("--network <network>", "Connect a container to a network: bridge, a network's name, none, host, container:NAME|ID", "bridge")
    .option("--net <network>", "Connect a container to a network (alias of --network)")
    .option("-p, --publish <[ip:][hostPort:]containerPort[/proto]>", "Publish a container's port(s) to the host", collect, [])
    .option("-P, --publish-all", "Publish all exposed ports to random ports", false)
    .option("--expose <port[/proto]>", "Expose a port or a range of ports", collect, [])
    .option("--network-alias <alias>", "Add network-scoped alias for the container", collect, [])
    .option("--ip <address>", "IPv4 address (e.g., 172.30.100.104)")
    .option("--ip6 <address>", "IPv6 address (e.g., 2001:db8::33)")
    .option("--mac-address <mac>", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
    .option("--dns <ip>", "Set custom DNS servers", collect, [])
    .option("--dns-search <domain>", "Set custom DNS search domains", collect, [])
    .option("--dns-option <opt>", "Set DNS options", collect, [])
    .option("--add-host <host:ip>", "Add a custom host-to-IP mapping (host:ip)", collect, [])
    .option("--network-weight <n>", "Share of a shaped network link, relative to the other containers on it (1-1000, default 1)")
    .option("--network-rate <rate>", "Cap the container's egress (e.g. 10mbit)")
    .option("--entrypoint <cmd>", "Overwrite the default ENTRYPOINT of the image")
    .option("--pull <policy>", 'Pull image before running ("always"|"missing"|"never")', "missing")
    .option("-i, --interactive", "Keep STDIN open", false)
    .option("-t, --tty", "Allocate a pseudo-TTY", false)
    .option("--init", "Run an init inside the container that forwards signals and reaps processes", false)
    .option("--read-only", "Mount the container's root filesystem as read only", false)
    .option("-v, --volume <[src:]ctr[:mode]>", "Bind mount a volume (a host path or a volume's name, or none: an anonymous volume)", collect, [])
    .option("--mount <mount>", "Attach a filesystem mount to the container (type=bind|volume|tmpfs,source=…,target=…,readonly,…)", collect, [])
    .option("--volumes-from <container[:ro|rw]>", "Mount volumes from the specified container(s)", collect, [])
    .option("--tmpfs <path[:opts]>", "Mount a tmpfs directory", collect, [])
    .option("-m, --memory <bytes>", "Memory limit")
    .option("--cpus <n>", "Number of CPUs")
    .option("--memory-swap <bytes>", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option("--memory-reservation <bytes>", "Memory soft limit")
    .option("--cpu-shares <n>", "CPU shares (relative weight)")
    .option("--cpu-period <us>", "Limit CPU CFS (Completely Fair Scheduler) period")
    .option("--cpu-quota <us>", "Limit CPU CFS (Completely Fair Scheduler) quota")
    .option("--cpuset-cpus <list>", "CPUs in which to allow execution (0-3, 0,1)")
    .option("--cpuset-mems <list>", "MEMs in which to allow execution (0-3, 0,1)")
    .option("--pids-limit <n>", "Tune container pids limit (set -1 for unlimited)")
    .option("--memory-merge", "Let KSM merge the container's identical anonymous pages (prctl PR_SET_MEMORY_MERGE)", false)
    .option("--memory-swappiness <n>", "Tune container memory swappiness (0 to 100) (default -1)")
    .option("--oom-kill-disable", "Disable OOM Killer", false)
    .option("--blkio-weight <n>", "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
    .option("--blkio-weight-device <dev:weight>", "Block IO weight (relative device weight)", collect, [])
    .option("--device-read-bps <dev:rate>", "Limit read rate (bytes per second) from a device", collect, [])
    .option("--device-write-bps <dev:rate>", "Limit write rate (bytes per second) to a device", collect, [])
    .option("--device-read-iops <dev:rate>", "Limit read rate (IO per second) from a device", collect, [])
    .option("--device-write-iops <dev:rate>", "Limit write rate (IO per second) to a device", collect, [])
    .option("--cgroup-parent <path>", "Optional parent cgroup for the container (default \"tsbox\")")
    .option("--cap-add <cap>", "Add Linux capabilities", collect, [])
    .option("--cap-drop <cap>", "Drop Linux capabilities", collect, [])
    .option("--privileged", "Give extended privileges to this container", false)
    .option("--security-opt <opt>", "Security Options (seccomp=PROFILE.json|unconfined, no-new-privileges[=true|false])", collect, [])
    .option("--device <host[:ctr][:rwm]>", "Add a host device to the container", collect, [])
    .option("--ulimit <name=soft[:hard]>", "Ulimit options", collect, [])
    .option("--shm-size <bytes>", "Size of /dev/shm (default 64m)")
    .option("--sysctl <key=value>", "Sysctl options", collect, [])
    .option("--group-add <group>", "Add additional groups to join", collect, [])
    .option("-l, --label <key=value>", "Set meta data on a container", collect, [])
    .option("--label-file <file>", "Read in a line delimited file of labels", collect, [])
    .option("--stop-signal <signal>", "Signal to stop the container")
    .option("--stop-timeout <seconds>", "Timeout (in seconds) to stop a container")
    .option("--cidfile <file>", "Write the container ID to the file")
    .option("--pid <mode>", "PID namespace to use (host, container:NAME)")
    .option("--ipc <mode>", "IPC mode to use (private, shareable, host, none, container:NAME)")
    .option("--uts <mode>", "UTS namespace to use (host)")
    .option("--platform <platform>", "Set platform if server is multi-platform capable")
    .option("--domainname <name>", "Container NIS domain name")
    .option("--oom-score-adj <n>", "Tune host's OOM preferences (-1000 to 1000)")
    .option("-q, --quiet", "Suppress the pull output", false);
}

/** What `run` and `create` make of the shared options: the request but its image, root and launch mode. */
export type ParsedRunOptions = Pick<RunRequest,
  "flags" | "network" | "autoRemove" | "restartPolicy" | "pull" | "logConfig" | "name" | "cidfile" | "platform" | "health" | "attach" | "quiet">;

/** The shared options → RunFlags and the rest of the request, with Docker's checks and wording. */
export function parseRunOptions(command: string[], o: Record<string, unknown>): ParsedRunOptions {
  const env = [
    ...(o.envFile as string[]).flatMap((f) => parseEnvFile(readText(f), f)),
    ...(o.env as string[]),
  ];
  const flags: RunFlags = {
    cmd: command,
    entrypoint: o.entrypoint as string | undefined,
    env,
    workdir: o.workdir as string | undefined,
    user: o.user as string | undefined,
    hostname: o.hostname as string | undefined,
    network: String(o.net ?? o.network),
    interactive: Boolean(o.interactive),
    tty: Boolean(o.tty),
    init: Boolean(o.init),
    readOnly: Boolean(o.readOnly),
    volumes: o.volume as string[],
    mounts: o.mount as string[],
    volumesFrom: o.volumesFrom as string[],
    tmpfs: o.tmpfs as string[],
    memory: o.memory === undefined ? undefined : parseMemory(String(o.memory)),
    cpus: o.cpus === undefined ? undefined : parseCpus(String(o.cpus), cpus().length),
    memorySwap: o.memorySwap === undefined ? undefined
      : String(o.memorySwap) === "-1" ? -1 : parseBytes(String(o.memorySwap), "--memory-swap"),
    memoryReservation: o.memoryReservation === undefined ? undefined : parseBytes(String(o.memoryReservation), "--memory-reservation"),
    cpuShares: o.cpuShares === undefined ? undefined : parseIntFlag(String(o.cpuShares), "-c, --cpu-shares"),
    cpuPeriod: o.cpuPeriod === undefined ? undefined : parseIntFlag(String(o.cpuPeriod), "--cpu-period"),
    cpuQuota: o.cpuQuota === undefined ? undefined : parseIntFlag(String(o.cpuQuota), "--cpu-quota"),
    cpusetCpus: o.cpusetCpus === undefined ? undefined
      : checkCpuset(String(o.cpusetCpus), "--cpuset-cpus", hostList("/sys/devices/system/cpu/online"), "CPUs"),
    cpusetMems: o.cpusetMems === undefined ? undefined
      : checkCpuset(String(o.cpusetMems), "--cpuset-mems", hostList("/sys/devices/system/node/online"), "memory nodes"),
    pidsLimit: o.pidsLimit === undefined ? undefined : parseIntFlag(String(o.pidsLimit), "--pids-limit"),
    memoryMerge: Boolean(o.memoryMerge),
    memorySwappiness: o.memorySwappiness === undefined ? undefined : parseIntFlag(String(o.memorySwappiness), "--memory-swappiness"),
    oomKillDisable: Boolean(o.oomKillDisable),
    blkioWeight: o.blkioWeight === undefined ? undefined : parseUint16(String(o.blkioWeight), "--blkio-weight"),
    blkioWeightDevice: (o.blkioWeightDevice as string[]).map((v) => {
      const { path, weight } = parseWeightDevice(v);
      return { ...statBlockDevice(path), weight };
    }),
    deviceReadBps: throttleFlags(o.deviceReadBps as string[], "--device-read-bps", parseThrottleBps),
    deviceWriteBps: throttleFlags(o.deviceWriteBps as string[], "--device-write-bps", parseThrottleBps),
    deviceReadIops: throttleFlags(o.deviceReadIops as string[], "--device-read-iops", parseThrottleIops),
    deviceWriteIops: throttleFlags(o.deviceWriteIops as string[], "--device-write-iops", parseThrottleIops),
    ...(o.cgroupParent !== undefined ? { cgroupParent: cgroupParentSegments(String(o.cgroupParent)).join("/") } : {}),
    capAdd: o.capAdd as string[],
    capDrop: o.capDrop as string[],
    privileged: Boolean(o.privileged),
    ...((o.securityOpt as string[]).length ? { securityOpt: inlineSecurityOpts(o.securityOpt as string[], (f) => readFileSync(f, "utf8")) } : {}),
    ...hostFlags(o),
  };
  const restartPolicy = parseRestart(String(o.restart));
  // The client refuses it: 125 for create too.
  if (restartPolicy.name !== "no" && o.rm) throw new FlagError("Conflicting options: --restart and --rm");
  const logConfig = parseLogConfig(String(o.logDriver), o.logOpt as string[]);
  const network = networkFlags(o, flags.network ?? "bridge");
  const pull = String(o.pull);
  if (pull !== "missing" && pull !== "always" && pull !== "never") {
    throw new UsageError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  }
  if (o.cidfile !== undefined && existsSync(String(o.cidfile))) {
    throw new FlagError(`container ID file found, make sure the other container isn't running or delete ${String(o.cidfile)}`);
  }
  const health = healthFlags(o);
  const attach = attachStreams(o.attach as string[]);
  return {
    flags, network, autoRemove: Boolean(o.rm), restartPolicy, pull, health, quiet: o.quiet === true,
    ...(attach ? { attach } : {}),
    ...(o.cidfile !== undefined ? { cidfile: String(o.cidfile) } : {}),
    ...(o.platform !== undefined ? { platform: String(o.platform) } : {}),
    ...(logConfig.driver || logConfig.maxSize || logConfig.maxFile ? { logConfig } : {}),
    ...(o.name !== undefined ? { name: String(o.name) } : {}),
  };
}

/**
 * --device, --ulimit, --shm-size, --sysctl, --group-add, --label(-file),
 * --stop-signal, --stop-timeout, --pid, --ipc, --uts: Docker's client checks
 * and wording (125), the device nodes stat'ed.
 */
function hostFlags(o: Record<string, unknown>): Partial<RunFlags> {
  const labels = parseLabels([...(o.labelFile as string[]).flatMap((f) => labelFileLines(readText(f))), ...(o.label as string[])]);
  const stopTimeout = o.stopTimeout === undefined ? undefined : String(o.stopTimeout);
  if (stopTimeout !== undefined && !/^[+-]?[0-9]+$/.test(stopTimeout)) {
    throw new FlagError(`invalid argument "${stopTimeout}" for "--stop-timeout" flag: strconv.ParseInt: parsing "${stopTimeout}": invalid syntax`);
  }
  if (o.stopSignal !== undefined) parseSignal(String(o.stopSignal));
  let shmSize: number | undefined;
  if (o.shmSize !== undefined) {
    try {
      shmSize = parseBytes(String(o.shmSize), "--shm-size");
    } catch (e) {
      throw new FlagError((e as Error).message);
    }
  }
  return {
    devices: (o.device as string[]).flatMap((d) => devicesFromPath(parseDeviceFlag(d))),
    ulimits: ulimitList(o.ulimit as string[]),
    ...(shmSize !== undefined ? { shmSize } : {}),
    sysctls: parseSysctls(o.sysctl as string[]),
    groupAdd: o.groupAdd as string[],
    labels,
    ...(o.stopSignal !== undefined ? { stopSignal: String(o.stopSignal) } : {}),
    ...(stopTimeout !== undefined ? { stopTimeout: Number(stopTimeout) } : {}),
    ...(o.domainname !== undefined ? { domainname: String(o.domainname) } : {}),
    ...(o.oomScoreAdj !== undefined ? { oomScoreAdj: oomScoreAdj(String(o.oomScoreAdj)) } : {}),
    namespaceModes: {
      pid: checkPidMode(String(o.pid ?? "")),
      ipc: checkIpcMode(String(o.ipc ?? "")),
      uts: checkUtsMode(String(o.uts ?? "")),
    },
  };
}

/** --oom-score-adj: an integer (the client's check, 125) in the kernel's range (the daemon's, 125 for run too). */
function oomScoreAdj(v: string): number {
  if (!/^[+-]?[0-9]+$/.test(v)) throw new FlagError(`invalid argument "${v}" for "--oom-score-adj" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
  const n = Number(v);
  if (n < -1000 || n > 1000) throw new UsageError(`Invalid value ${n}, range for oom score adj is [-1000, 1000]`);
  return n;
}

/** `--label K=V` (a bare K: an empty value) over --label-file's, as docker/cli's ValidateLabel takes them. */
function parseLabels(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    const key = eq < 0 ? v : v.slice(0, eq);
    if (key.trim() === "") throw new FlagError(`invalid argument "${v}" for "-l, --label" flag: invalid label '${v}': empty name`);
    out[key] = eq < 0 ? "" : v.slice(eq + 1);
  }
  return out;
}

/** A label file: one label a line, blank lines and `#` comments skipped. */
function labelFileLines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.replace(/^\s+/, "")).filter((l) => l !== "" && !l.startsWith("#"));
}

/** A pull for `run` and `create`: Docker's progress lines on stderr (stdout is the container's). Loaded only when needed. */
export function pullToStderr(root: string, quiet = false): (ref: string, platform?: string) => Promise<void> {
  return async (ref, platform) => {
    const image = await import("../image/index.js");
    const [{ pullImage }, { createProgress, quietProgress }, { insecureRegistriesFrom, retryPolicyFrom }] =
      await Promise.all([image.pullApi(), image.pullProgressApi(), image.registryClientApi()]);
    const err = process.stderr;
    const pulled = await pullImage(root, ref, {
      progress: quiet ? quietProgress() : createProgress(err, { tty: err.isTTY === true, columns: err.columns ?? 80 }),
      insecureRegistries: insecureRegistriesFrom([]), retry: retryPolicyFrom(),
      ...(platform !== undefined ? { platform } : {}),
    });
    (await import("./image-events.js")).referenceEvent(image, root, "pull", pulled.reference);
  };
}

/** -p, -P, --expose, --network-alias, --ip, --mac-address, --dns*, --add-host as given (checked for form here, against the networks at run). */
export function networkFlags(o: Record<string, unknown>, network: string): NetworkFlags {
  const expose = (o.expose as string[]).flatMap((e) => parsePortSpec(e).map((p) => ({ ...p, hostPort: 0 })));
  return {
    network,
    publish: (o.publish as string[]).flatMap(parsePortSpec),
    // --expose only adds to what -P publishes.
    publishAll: Boolean(o.publishAll),
    ...(expose.length ? { expose } : {}),
    aliases: o.networkAlias as string[],
    ...(o.ip !== undefined ? { ip: String(o.ip) } : {}),
    ...(o.ip6 !== undefined ? { ip6: String(o.ip6) } : {}),
    ...(o.macAddress !== undefined ? { mac: checkMac(String(o.macAddress)) } : {}),
    dns: o.dns as string[],
    dnsSearch: o.dnsSearch as string[],
    dnsOptions: o.dnsOption as string[],
    addHosts: o.addHost as string[],
    ...(o.networkWeight !== undefined ? { weight: checkWeight(String(o.networkWeight)) } : {}),
    ...(o.networkRate !== undefined ? { rate: parseRate(String(o.networkRate), "--network-rate") } : {}),
  };
}

/** -a STDIN|STDOUT|STDERR (any case, repeatable): the streams attached; undefined without -a (all). */
export function attachStreams(values: string[]): { stdin: boolean; stdout: boolean; stderr: boolean } | undefined {
  if (values.length === 0) return undefined;
  const a = { stdin: false, stdout: false, stderr: false };
  for (const v of values) {
    const k = v.toLowerCase();
    if (k !== "stdin" && k !== "stdout" && k !== "stderr") {
      throw new UsageError(`invalid argument "${v}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
    }
    a[k] = true;
  }
  return a;
}

/** --health-cmd, --health-interval, …, --no-healthcheck as given (checked for form; merged with the image's at run). */
export function healthFlags(o: Record<string, unknown>): HealthFlags {
  const dur = (v: unknown, flag: string): number => (v === undefined ? 0 : parseHealthDuration(String(v), flag));
  let retries = 0;
  if (o.healthRetries !== undefined) {
    const v = String(o.healthRetries);
    if (!/^-?[0-9]+$/.test(v)) throw new UsageError(`invalid argument "${v}" for "--health-retries" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
    retries = Number(v);
    if (retries < 0) throw new UsageError("--health-retries cannot be negative");
  }
  return {
    ...(o.healthCmd !== undefined ? { cmd: String(o.healthCmd) } : {}),
    interval: dur(o.healthInterval, "--health-interval"),
    timeout: dur(o.healthTimeout, "--health-timeout"),
    startPeriod: dur(o.healthStartPeriod, "--health-start-period"),
    retries,
    // commander's --no-X sets X to false (default true)
    none: o.healthcheck === false,
  };
}

/** Docker's --restart: no | always | unless-stopped | on-failure[:max-retries]. */
export function parseRestart(v: string): RestartPolicy {
  const [name, count, extra] = v.split(":");
  if (extra !== undefined) throw new UsageError(`invalid restart policy format: maximum retry count must be an integer`);
  if (name === "no" || name === "always" || name === "unless-stopped") {
    if (count !== undefined) throw new UsageError(`invalid restart policy format: maximum retry count can only be used with 'on-failure'`);
    return { name, maximumRetryCount: 0 };
  }
  if (name === "on-failure") {
    const n = count === undefined ? 0 : Number(count);
    if (!Number.isInteger(n)) throw new UsageError(`invalid restart policy format: maximum retry count must be an integer`);
    if (n < 0) throw new UsageError(`invalid restart policy: maximum retry count cannot be negative`);
    return { name, maximumRetryCount: n };
  }
  throw new UsageError(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
}

/** Docker's logging drivers that tsbox does not have (a log tsbox cannot write), told apart from a name no one knows. */
const OTHER_DRIVERS = new Set(["local", "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "etwlogs", "gcplogs", "logentries"]);

/** --log-driver json-file (the default, recorded as absent) or none, with its --log-opt. */
export function parseLogConfig(driver: string, opts: string[]): LogConfig {
  if (driver === "json-file") return parseLogOpts(opts);
  if (driver === "none") {
    if (opts.length) throw new UsageError("invalid logging opts for driver none");
    return { driver: "none" };
  }
  if (OTHER_DRIVERS.has(driver)) throw new UsageError(`logging driver "${driver}" is not supported by tsbox: use json-file or none`);
  throw new UsageError(`error looking up logging plugin ${driver}: plugin "${driver}" not found`);
}

/** json-file's --log-opt max-size=10m, max-file=3. */
export function parseLogOpts(opts: string[]): LogConfig {
  const c: LogConfig = {};
  for (const o of opts) {
    const eq = o.indexOf("=");
    const key = o.slice(0, eq);
    const value = o.slice(eq + 1);
    if (eq < 0) throw new UsageError(`invalid key value pair format in log options: ${o}`);
    if (key === "max-size") c.maxSize = parseBytes(value, "--log-opt max-size");
    else if (key === "max-file") {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`max-file cannot be less than 1`);
      c.maxFile = n;
    } else throw new UsageError(`unknown log opt '${key}' for json-file log driver`);
  }
  if (c.maxFile && c.maxFile > 1 && !c.maxSize) throw new UsageError("max-file can only be used with max-size");
  return c;
}
