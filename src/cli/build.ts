// `tsbox build`: the command line of a Dockerfile build (src/build/). Progress
// and the RUN steps' output go to stderr, as BuildKit prints them; with -q
// only the image ID is printed, on stdout.
import * as fs from "node:fs";
import * as path from "node:path";
import { Option, type Command } from "commander";
import { FlagError, TsboxError } from "../errors.js";
import { humanSize } from "../format.js";
import { collect, imageApi, prepare } from "./common.js";
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
    .action(async (ctx: string, o: BuildFlags, cmd: Command) => {
      const g = await prepare(cmd);
      // The flags first, as Docker's client checks them before it looks at the context.
      const args = buildArgs(o.buildArg);
      const imageLabels = labels(o.label);
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
    .option("-f, --force", "Do not prompt for confirmation", false)
    .action(async (o: { force: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      if (!o.force && !(await confirm("WARNING! This will remove all dangling build cache.\nAre you sure you want to continue? [y/N] "))) return;
      const { pruneImages } = await imageApi();
      const inUse = imagesInUse(g.root);
      const { lines, reclaimed } = await pruneImages(g.root, { cacheOnly: true, inUse: (id) => inUse.has(id) });
      const { cacheClear } = await import("../build/cache.js");
      cacheClear(g.root);
      const deleted = lines.filter((l) => l.startsWith("deleted: ")).map((l) => l.slice("deleted: ".length));
      let out = deleted.length > 0 ? `Deleted build cache objects:\n${deleted.map((d) => `${d}\n`).join("")}\n` : "";
      out += `Total reclaimed space: ${humanSize(reclaimed)}\n`;
      process.stdout.write(out);
    });
}
