// `tsbox build`: the command line of a Dockerfile build (src/build/). Progress
// and the RUN steps' output go to stderr, as BuildKit prints them; with -q
// only the image ID is printed, on stdout.
import * as fs from "node:fs";
import * as path from "node:path";
import { Option, type Command } from "commander";
import { FlagError, TsboxError, UsageError } from "../errors.js";
import { humanSize } from "../format.js";
import { inlineSecurityOpts } from "../oci/seccomp/security-opt.js";
import { cgroupParentSegments, type RunFlags } from "../oci/specconv.js";
import { ulimitList } from "../oci/ulimits.js";
import { checkCpuset, parseBytes, parseIntFlag, parseMemory } from "../oci/units.js";
import { collect, hostList, imageApi, prepare } from "./common.js";
import { confirm } from "./confirm.js";
import { imagesInUse } from "./images.js";

interface BuildFlags {
  tag: string[];
  file?: string;
  buildArg: string[];
  target?: string;
  cache: boolean;
  pull: boolean;
  platform?: string;
  label: string[];
  quiet: boolean;
  progress: string;
  network?: string;
  addHost: string[];
  cgroupParent?: string;
  memory?: string;
  memorySwap?: string;
  cpuShares?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  securityOpt: string[];
  shmSize?: string;
  ulimit: string[];
  iidfile?: string;
}

/**
 * What the RUN containers take of `run`'s flags: limits, cgroup parent and
 * security options, parsed as run parses them.
 */
function runLimits(o: BuildFlags): Partial<RunFlags> {
  try {
    return parseLimits(o);
  } catch (e) {
    // The client refuses these before it sends anything: 125 as any flag's error.
    if (e instanceof UsageError && !(e instanceof FlagError)) throw new FlagError(e.message, 125, { cause: e });
    throw e;
  }
}

function parseLimits(o: BuildFlags): Partial<RunFlags> {
  return {
    ...(o.memory !== undefined ? { memory: parseMemory(o.memory) } : {}),
    ...(o.memorySwap !== undefined ? { memorySwap: o.memorySwap === "-1" ? -1 : parseBytes(o.memorySwap, "--memory-swap") } : {}),
    ...(o.cpuShares !== undefined ? { cpuShares: parseIntFlag(o.cpuShares, "-c, --cpu-shares") } : {}),
    ...(o.cpuPeriod !== undefined ? { cpuPeriod: parseIntFlag(o.cpuPeriod, "--cpu-period") } : {}),
    ...(o.cpuQuota !== undefined ? { cpuQuota: parseIntFlag(o.cpuQuota, "--cpu-quota") } : {}),
    ...(o.cpusetCpus !== undefined
      ? { cpusetCpus: checkCpuset(o.cpusetCpus, "--cpuset-cpus", hostList("/sys/devices/system/cpu/online"), "CPUs") } : {}),
    ...(o.cpusetMems !== undefined
      ? { cpusetMems: checkCpuset(o.cpusetMems, "--cpuset-mems", hostList("/sys/devices/system/node/online"), "memory nodes") } : {}),
    ...(o.cgroupParent !== undefined ? { cgroupParent: cgroupParentSegments(o.cgroupParent).join("/") } : {}),
    ...(o.securityOpt.length > 0 ? { securityOpt: inlineSecurityOpts(o.securityOpt, (f) => fs.readFileSync(f, "utf8")) } : {}),
    ...(o.shmSize !== undefined ? { shmSize: parseBytes(o.shmSize, "--shm-size") } : {}),
    ...(o.ulimit.length > 0 ? { ulimits: ulimitList(o.ulimit) } : {}),
  };
}

/** `--build-arg K=V` (or a bare K: the variable from tsbox's environment, as Docker's client does). */
function buildArgs(list: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of list) {
    const i = a.indexOf("=");
    if (i === 0) throw new FlagError(`invalid argument "${a}" for "--build-arg" flag: invalid key`);
    if (i === -1) {
      const v = process.env[a];
      if (v !== undefined) out.set(a, v);
    } else {
      out.set(a.slice(0, i), a.slice(i + 1));
    }
  }
  return out;
}

function labels(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf("=");
    if (i === 0) throw new FlagError(`invalid argument "${l}" for "--label" flag: invalid label format`);
    if (i === -1) out[l] = "";
    else out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

/** The Dockerfile's text: -f relative to the current directory (or - for stdin), else <context>/Dockerfile. */
function readDockerfile(context: string, file: string | undefined): string {
  if (file === "-") return fs.readFileSync(0, "utf8");
  const p = file === undefined ? path.join(context, "Dockerfile") : path.resolve(file);
  try {
    return fs.readFileSync(p, "utf8");
  } catch {
    throw new TsboxError(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${p}: no such file or directory`, 1);
  }
}

export function registerBuildCommand(program: Command): void {
  program.command("build")
    .description("Build an image from a Dockerfile")
    .argument("<path>", "the build context (a directory)")
    .option("-t, --tag <name>", "Name and optionally a tag in the 'name:tag' format", collect, [])
    .option("-f, --file <file>", "Name of the Dockerfile (Default is 'PATH/Dockerfile')")
    .option("--build-arg <arg>", "Set build-time variables", collect, [])
    .option("--target <stage>", "Set the target build stage to build.")
    .option("--no-cache", "Do not use cache when building the image")
    .option("--pull", "Always attempt to pull a newer version of the image", false)
    .option("--platform <platform>", "Set platform if server is multi-platform capable")
    .option("--label <label>", "Set metadata for an image", collect, [])
    .option("-q, --quiet", "Suppress the build output and print image ID on success", false)
    .addOption(new Option("--progress <type>", "Set type of progress output").choices(["auto", "plain", "tty"]).default("auto"))
    .option("--network <mode>", "Set the networking mode for the RUN instructions during build", "bridge")
    .option("--add-host <host:ip>", "Add a custom host-to-IP mapping (\"host:ip\")", collect, [])
    .option("--cgroup-parent <path>", "Set the parent cgroup for the \"RUN\" instructions during build")
    .option("-m, --memory <bytes>", "Memory limit")
    .option("--memory-swap <bytes>", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
    .option("-c, --cpu-shares <n>", "CPU shares (relative weight)")
    .option("--cpu-period <us>", "Limit the CPU CFS (Completely Fair Scheduler) period")
    .option("--cpu-quota <us>", "Limit the CPU CFS (Completely Fair Scheduler) quota")
    .option("--cpuset-cpus <list>", "CPUs in which to allow execution (0-3, 0,1)")
    .option("--cpuset-mems <list>", "MEMs in which to allow execution (0-3, 0,1)")
    .option("--security-opt <opt>", "Security options", collect, [])
    .option("--shm-size <bytes>", "Size of /dev/shm (default 64m)")
    .option("--ulimit <name=soft[:hard]>", "Ulimit options", collect, [])
    .option("--iidfile <file>", "Write the image ID to the file")
    // BuildKit's: a RUN step's container is always removed; the classic builder's flags are accepted.
    .option("--rm", "Remove intermediate containers after a successful build (always, as BuildKit)", true)
    .option("--force-rm", "Always remove intermediate containers (always, as BuildKit)", false)
    .action(async (ctx: string, o: BuildFlags, cmd: Command) => {
      const g = await prepare(cmd);
      // The flags first, as Docker's client checks them before it looks at the context.
      const args = buildArgs(o.buildArg);
      const imageLabels = labels(o.label);
      const limits = runLimits(o);
      const context = path.resolve(ctx);
      if (/^[a-z]+:\/\//i.test(ctx) || ctx === "-") throw new TsboxError(`unable to prepare context: ${ctx}: only a local directory can be a build context`, 1);
      if (!fs.statSync(context, { throwIfNoEntry: false })?.isDirectory()) throw new TsboxError(`unable to prepare context: path "${ctx}" not found`, 1);
      if (o.platform !== undefined && !/^linux(\/(amd64|x86_64))?$/.test(o.platform) && o.platform !== `linux/${process.arch === "x64" ? "amd64" : process.arch}`) {
        throw new TsboxError(`--platform ${o.platform}: only this host's platform can be built`, 1);
      }
      const dockerfile = readDockerfile(context, o.file);
      const quiet = o.quiet;
      const progress = (line: string): void => { if (!quiet) fs.writeSync(2, `${line}\n`); };
      const devNull = quiet ? fs.openSync("/dev/null", "w") : undefined;
      const [{ Builder }, image] = await Promise.all([import("../build/builder.js"), import("../image/index.js")]);
      try {
        const builder = new Builder({
          root: g.root, context, dockerfile, tags: o.tag, buildArgs: args,
          ...(o.target !== undefined ? { target: o.target } : {}),
          noCache: !o.cache, pull: o.pull, labels: imageLabels, ...(o.network !== undefined ? { network: o.network } : {}),
          addHosts: o.addHost, limits,
          progress, output: devNull !== undefined ? { stdout: devNull, stderr: devNull } : { stdout: 2, stderr: 2 },
          pullImage: async (ref) => {
            const [{ pullImage }, { createProgress, quietProgress }, { insecureRegistriesFrom, retryPolicyFrom }] =
              await Promise.all([image.pullApi(), image.pullProgressApi(), image.registryClientApi()]);
            await pullImage(g.root, ref, {
              progress: quiet ? quietProgress() : createProgress(process.stderr, { tty: false, columns: 80 }),
              insecureRegistries: insecureRegistriesFrom([]), retry: retryPolicyFrom(),
            });
          },
        });
        const built = await builder.build();
        // Docker's client writes the file before it prints the ID; an old one is replaced.
        if (o.iidfile !== undefined) fs.writeFileSync(o.iidfile, built.id);
        if (quiet) process.stdout.write(`${built.id}\n`);
      } catch (e) {
        // Docker's client prints a failed build as ERROR and exits 1.
        if (e instanceof TsboxError && !(e instanceof FlagError)) throw new TsboxError(e.message, 1, { cause: e });
        throw e;
      } finally {
        if (devNull !== undefined) fs.closeSync(devNull);
      }
    });
}

export function registerBuilderCommand(program: Command): void {
  const builder = program.command("builder").description("Manage builds");
  builder.command("prune")
    .description("Remove build cache")
    // tsbox's build cache is the step images, none of them referenced by a final image's name: all are "dangling".
    .option("-a, --all", "Remove all unused build cache, not just dangling ones (the same: every step image is dangling)", false)
    .option("--filter <filter>", "Provide filter values (e.g. \"until=24h\")", collect, [])
    .option("-f, --force", "Do not prompt for confirmation", false)
    .action(async (o: { all: boolean; filter: string[]; force: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const { parsePruneFilters, pruneFilterMatches } = await import("./prune-filter.js");
      const filter = parsePruneFilters(o.filter);
      const warning = o.all ? "WARNING! This will remove all build cache." : "WARNING! This will remove all dangling build cache.";
      if (!o.force && !(await confirm(`${warning}\nAre you sure you want to continue? [y/N] `))) return;
      const { pruneImages } = await imageApi();
      const inUse = imagesInUse(g.root);
      const { lines, reclaimed } = await pruneImages(g.root, {
        cacheOnly: true, inUse: (id) => inUse.has(id), filter: (i) => pruneFilterMatches(filter, i),
      });
      const { cacheClear } = await import("../build/cache.js");
      // The cache's keys point at step images: with a filter some stay, and their keys with them.
      if (o.filter.length === 0) cacheClear(g.root);
      const deleted = lines.filter((l) => l.startsWith("deleted: ")).map((l) => l.slice("deleted: ".length));
      let out = deleted.length > 0 ? `Deleted build cache objects:\n${deleted.map((d) => `${d}\n`).join("")}\n` : "";
      out += `Total reclaimed space: ${humanSize(reclaimed)}\n`;
      process.stdout.write(out);
    });
}
