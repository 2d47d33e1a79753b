// `tsbox build`: a Dockerfile's stages run step by step, each step making an
// image in the store, as Docker's classic builder does (and BuildKit's
// exporter in the end): RUN in a tsbox container on the image so far, whose
// read-write layer becomes the step's layer; COPY and ADD laid out in a
// fresh directory that becomes the layer; WORKDIR a layer holding the
// directory; the other instructions a new config over the same layers. Every
// step is looked up in the build cache first (cache.ts).
//
// What a build leaves when it fails or is killed: its RUN containers are
// --rm ones (removed when they exit, or by the next command's recovery after
// a SIGKILL), its COPY directories are staging directories of the store
// (swept by the next writer), and images only ever enter the store whole.
import * as fs from "node:fs";
import { rm } from "node:fs/promises";
import * as path from "node:path";
import { TsboxError, UsageError } from "../errors.js";
import { commitConfigImage, commitLayerImage } from "../image/commit-layer.js";
import { ensureDirs, resolveDestination } from "../image/container-fs.js";
import { ociArchitecture, type ImageConfigBody } from "../image/config.js";
import { MergedView, readImageFile } from "../image/files.js";
import { expandWord, jsonForm, parseWords } from "../image/import-changes.js";
import { resolveImage, type ResolvedImage } from "../image/images.js";
import { markFinal } from "../image/store-commit.js";
import { makeStagingDir, sweepStaging } from "../image/staging.js";
import { ensureStore } from "../image/store.js";
import { tagImage } from "../image/tag.js";
import type { RunFlags } from "../oci/specconv.js";
import { resolveUser } from "../oci/user.js";
import { runContainer } from "../runtime/run.js";
import { containerPaths } from "../state/container-store.js";
import { cacheKey, cacheLookup, cacheRecord } from "./cache.js";
import { FileDigests } from "./file-digests.js";
import {
  archiveKind, contextTree, copyEntry, expandSource, extractArchive, followTopLink, hashSources, imageTree, type CopyOptions, type SourceTree,
} from "./copy.js";
import { parseDockerfile, type Instruction } from "./dockerfile.js";
import { parseIgnore } from "./ignore.js";
import { DEFAULT_PATH, DEFAULT_SHELL, applyConfigInstruction, expansionEnv, nop } from "./instructions.js";

export interface BuildRequest {
  root: string;
  /** the context directory */
  context: string;
  /** the Dockerfile's text */
  dockerfile: string;
  tags: string[];
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  noCache: boolean;
  /** pull FROM images even when the store has them */
  pull: boolean;
  labels: Readonly<Record<string, string>>;
  /** RUN's network (default: the default bridge) */
  network?: string;
  /** --add-host for the RUN containers' /etc/hosts */
  addHosts?: string[];
  /** --memory, --cpu-*, --cgroup-parent, --security-opt for the RUN containers */
  limits?: Partial<RunFlags>;
  /** progress lines (stderr unless quiet) */
  progress: (line: string) => void;
  /** where RUN's output goes */
  output: { stdout: number; stderr: number };
  /** an image the store lacks (FROM, COPY --from): pulled; the builder does not know registries */
  pullImage: (ref: string) => Promise<void>;
}

/** BuildKit's automatic platform ARGs, filled in when a Dockerfile declares them. */
function platformArgs(): Map<string, string> {
  const arch = ociArchitecture();
  const platform = `linux/${arch}`;
  return new Map([
    ["TARGETPLATFORM", platform], ["TARGETOS", "linux"], ["TARGETARCH", arch], ["TARGETVARIANT", ""],
    ["BUILDPLATFORM", platform], ["BUILDOS", "linux"], ["BUILDARCH", arch], ["BUILDVARIANT", ""],
  ]);
}

/** Proxy arguments every RUN may see without an ARG, and which history never records. */
const PROXY_ARGS = new Set(["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"]);

interface Stage {
  name?: string;
  from: Instruction;
  instructions: Instruction[];
}

interface StageState {
  image: ResolvedImage;
  config: ImageConfigBody;
  args: Map<string, string | undefined>;
  cmdSet: boolean;
  author?: string;
}

/** The empty image FROM scratch starts with (never stored itself). */
function scratch(): ResolvedImage {
  return {
    id: "scratch", manifestDigest: "", layers: [],
    config: { architecture: ociArchitecture(), os: "linux", config: {}, rootfs: { type: "layers", diff_ids: [] }, history: [] },
  };
}

function splitStages(instructions: Instruction[]): { globalArgs: Instruction[]; stages: Stage[] } {
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const words = parseWords(ins.args);
      let name: string | undefined;
      if (words.length === 3 && words[1]?.toUpperCase() === "AS") name = words[2]?.toLowerCase();
      else if (words.length !== 1) throw new UsageError(`FROM requires either one or three arguments (line ${ins.line})`);
      if (name !== undefined && !/^[a-z][a-z0-9-_.]*$/.test(name)) throw new UsageError(`invalid name for build stage: "${name}", name can't start with a number or contain symbols`);
      stages.push({ ...(name !== undefined ? { name } : {}), from: ins, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== "ARG") throw new UsageError("no build stage in current context");
      globalArgs.push(ins);
    } else {
      stages[stages.length - 1]?.instructions.push(ins);
    }
  }
  if (stages.length === 0) throw new UsageError("the Dockerfile (Dockerfile) cannot be empty");
  return { globalArgs, stages };
}

/** `ARG a b=c`: each name with its default, if any. */
function argDecls(ins: Instruction): [string, string | undefined][] {
  return parseWords(ins.args).map((w) => {
    const i = w.indexOf("=");
    return i === -1 ? [w, undefined] : [w.slice(0, i), w.slice(i + 1)];
  });
}

const DOCKERIGNORE = ".dockerignore";

export class Builder {
  private step = 0;
  private readonly total: number;
  private readonly stages: Stage[];
  private readonly globalArgs = new Map<string, string | undefined>();
  private readonly results: ResolvedImage[] = [];
  private readonly context: SourceTree;
  private readonly auto = platformArgs();
  /** the context's file digests, kept from the last build (a rebuild reads metadata, not contents) */
  private readonly digests: FileDigests;

  constructor(private readonly req: BuildRequest) {
    const df = parseDockerfile(req.dockerfile);
    const { globalArgs, stages } = splitStages(df.instructions);
    const last = req.target === undefined ? stages.length - 1 : stages.findIndex((s) => s.name === req.target?.toLowerCase());
    if (last === -1) throw new UsageError(`failed to reach build target ${req.target ?? ""} in Dockerfile`);
    this.stages = stages.slice(0, last + 1);
    this.total = this.stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
    for (const ins of globalArgs) {
      for (const [name, def] of argDecls(ins)) {
        const value = req.buildArgs.get(name) ?? (def !== undefined ? expandWord(def, this.definedGlobals()) : this.auto.get(name));
        this.globalArgs.set(name, value);
      }
    }
    let ignore = "";
    try {
      ignore = fs.readFileSync(path.join(req.context, DOCKERIGNORE), "utf8");
    } catch {
      // none
    }
    this.context = contextTree(req.context, parseIgnore(ignore));
    this.digests = new FileDigests(req.root);
  }

  private definedGlobals(): Map<string, string> {
    const m = new Map<string, string>();
    for (const [k, v] of this.globalArgs) if (v !== undefined) m.set(k, v);
    return m;
  }

  async build(): Promise<ResolvedImage> {
    try {
      return await this.buildStages();
    } finally {
      this.digests.save();
      await this.settle();
    }
  }

  private async buildStages(): Promise<ResolvedImage> {
    ensureStore(this.req.root);
    sweepStaging(ensureStore(this.req.root));
    let state: StageState | undefined;
    for (const stage of this.stages) {
      state = await this.runStage(stage);
      this.results.push(state.image);
    }
    if (state === undefined) throw new UsageError("no build stage in current context");
    const labels = Object.entries(this.req.labels);
    if (labels.length > 0) {
      const ins: Instruction = {
        keyword: "LABEL", args: labels.map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`).join(" "),
        flags: {}, heredocs: [], line: 0, original: "LABEL",
      };
      state = await this.configStep(state, ins, false);
    }
    const image = state.image;
    if (image.id === "scratch") throw new UsageError("the build produced no image (FROM scratch with nothing added)");
    const start = Date.now();
    const n = ++this.step;
    this.req.progress(`#${n} exporting to image`);
    markFinal(this.req.root, image.id);
    this.req.progress(`#${n} writing image ${image.id}`);
    for (const t of this.req.tags) {
      const key = tagImage(this.req.root, image.id, t);
      this.req.progress(`#${n} naming to ${key}`);
    }
    this.req.progress(`#${n} DONE ${seconds(start)}`);
    return image;
  }

  private async runStage(stage: Stage): Promise<StageState> {
    const n = ++this.step;
    const start = Date.now();
    const ref = expandWord(parseWords(stage.from.args)[0] ?? "", this.definedGlobals());
    this.req.progress(`#${n} [${this.position(stage)}] FROM ${ref}${stage.name !== undefined ? ` AS ${stage.name}` : ""}`);
    const platform = stage.from.flags.platform?.[0];
    if (platform !== undefined && !["linux", `linux/${ociArchitecture()}`].includes(expandWord(platform, this.definedGlobals()))) {
      throw new UsageError(`FROM --platform=${platform}: only this host's platform (linux/${ociArchitecture()}) can be built`);
    }
    const image = await this.baseImage(ref, true);
    this.req.progress(`#${n} DONE ${seconds(start)}`);
    const config = { ...image.config.config };
    if (!(config.Env ?? []).some((e) => e.startsWith("PATH="))) config.Env = [DEFAULT_PATH, ...(config.Env ?? [])];
    let state: StageState = { image, config, args: new Map(), cmdSet: false };
    // The base's ONBUILD triggers run first, and are not passed on.
    const triggers = state.config.OnBuild ?? [];
    if (triggers.length > 0) {
      delete state.config.OnBuild;
      for (const t of triggers) {
        for (const ins of parseDockerfile(t).instructions) state = await this.instruction(state, ins, stage);
      }
    }
    for (const ins of stage.instructions) state = await this.instruction(state, ins, stage);
    return state;
  }

  private position(stage: Stage): string {
    const idx = this.stages.indexOf(stage);
    const label = stage.name ?? `stage-${idx}`;
    return `${label} ${this.step}/${this.total}`;
  }

  /** A stage's result (by name or index), scratch, or an image of the store (pulled when missing or with --pull). */
  private async baseImage(ref: string, fromLine: boolean): Promise<ResolvedImage> {
    const byName = this.stages.findIndex((s) => s.name === ref.toLowerCase());
    if (byName !== -1) {
      const r = this.results[byName];
      if (r === undefined) throw new UsageError(`stage ${ref} is not built before it is used`);
      return r;
    }
    if (!fromLine && /^[0-9]+$/.test(ref)) {
      const r = this.results[Number(ref)];
      if (r === undefined) throw new UsageError(`invalid from flag value ${ref}: stage ${ref} is not built before it is used`);
      return r;
    }
    if (ref.toLowerCase() === "scratch") return scratch();
    if (ref === "") throw new UsageError("FROM requires either one or three arguments");
    if (this.req.pull) await this.req.pullImage(ref);
    try {
      return resolveImage(this.req.root, ref);
    } catch (e) {
      if (this.req.pull) throw e;
    }
    await this.req.pullImage(ref);
    return resolveImage(this.req.root, ref);
  }

  private async instruction(state: StageState, ins: Instruction, stage: Stage): Promise<StageState> {
    switch (ins.keyword) {
      case "ARG":
        return this.arg(state, ins, stage);
      case "RUN":
        return this.run(state, ins, stage);
      case "COPY":
      case "ADD":
        return this.copy(state, ins, stage);
      case "WORKDIR":
        return this.workdir(state, ins, stage);
      default:
        return this.configStep(state, ins, true, stage);
    }
  }

  private announce(ins: Instruction, stage: Stage | undefined): { n: number; start: number } {
    const n = ++this.step;
    this.req.progress(`#${n} [${stage ? this.position(stage) : "label"}] ${ins.original}`);
    return { n, start: Date.now() };
  }

  /** Looks a step up in the cache, or makes it and records it. */
  private async cached(n: number, start: number, key: string, make: () => Promise<ResolvedImage>): Promise<ResolvedImage> {
    if (!this.req.noCache) {
      const hit = cacheLookup(this.req.root, key);
      if (hit !== undefined) {
        this.req.progress(`#${n} CACHED`);
        return resolveImage(this.req.root, hit);
      }
    }
    const image = await make();
    cacheRecord(this.req.root, key, image.id);
    this.req.progress(`#${n} DONE ${seconds(start)}`);
    return image;
  }

  private env(state: StageState): Map<string, string> {
    return expansionEnv(state.config, state.args);
  }

  private shell(state: StageState): string[] {
    return state.config.Shell ?? DEFAULT_SHELL;
  }

  private async arg(state: StageState, ins: Instruction, stage: Stage): Promise<StageState> {
    const args = new Map(state.args);
    for (const [name, def] of argDecls(ins)) {
      if (name === "") throw new UsageError("ARG names can not be blank");
      const value = this.req.buildArgs.get(name)
        ?? (def !== undefined ? expandWord(def, this.env(state)) : this.globalArgs.get(name) ?? this.auto.get(name));
      args.set(name, value);
    }
    const next = { ...state, args };
    return this.configOnly(next, ins, stage, `ARG ${ins.args.trim()}`, state.config);
  }

  private async configStep(state: StageState, ins: Instruction, announce: boolean, stage?: Stage): Promise<StageState> {
    const step = applyConfigInstruction(state.config, ins, this.env(state), this.shell(state));
    let config = step.config;
    let cmdSet = state.cmdSet || step.cmdSet === true;
    // As Docker: ENTRYPOINT drops a CMD the stage did not set itself.
    if (ins.keyword === "ENTRYPOINT" && !state.cmdSet) config = { ...config, Cmd: null };
    if (ins.keyword === "CMD") cmdSet = true;
    const next: StageState = { ...state, config, cmdSet, ...(ins.keyword === "MAINTAINER" ? { author: ins.args.trim() } : {}) };
    if (!announce) {
      this.step++;
      this.req.progress(`#${this.step} [label] ${step.comment}`);
    }
    return this.configOnly(next, ins, announce ? stage : undefined, step.comment, config, announce);
  }

  /** A step that changes only the config: a new image over the same layers. */
  private async configOnly(state: StageState, ins: Instruction, stage: Stage | undefined, comment: string,
    config: ImageConfigBody, announce = true): Promise<StageState> {
    const { n, start } = announce ? this.announce(ins, stage) : { n: this.step, start: Date.now() };
    const createdBy = nop(this.shell(state), comment);
    const key = cacheKey(state.image.id, createdBy, JSON.stringify(config));
    const image = await this.cached(n, start, key, async () =>
      commitConfigImage(this.req.root, state.image, config, { created_by: createdBy }, [], state.author, true));
    return { ...state, image, config: { ...image.config.config } };
  }

  /** The stage's ARGs that RUN sees, as NAME=value, minus those its ENV sets; with the proxy arguments given. */
  private runArgs(state: StageState): string[] {
    const envNames = new Set((state.config.Env ?? []).map((e) => e.split("=", 1)[0]));
    const out: string[] = [];
    for (const [k, v] of [...state.args].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (v !== undefined && !envNames.has(k)) out.push(`${k}=${v}`);
    }
    return out;
  }

  private async run(state: StageState, ins: Instruction, stage: Stage): Promise<StageState> {
    const { n, start } = this.announce(ins, stage);
    const shell = this.shell(state);
    let cmd: string[];
    if (ins.heredocs.length > 0) {
      const rest = ins.args.replace(/<<-?\s*(["']?)[A-Za-z_][A-Za-z0-9_]*\1/g, "").trim();
      if (ins.heredocs.length !== 1 || rest !== "") {
        throw new UsageError(`line ${ins.line}: RUN with a heredoc as a command's input is not supported; write RUN <<EOF with the script in it`);
      }
      cmd = [...shell, ins.heredocs[0]?.content ?? ""];
    } else {
      cmd = jsonForm(ins.args) ?? [...shell, ins.args];
    }
    const args = this.runArgs(state);
    const createdBy = `${args.length > 0 ? `|${args.length} ${args.join(" ")} ` : ""}${cmd.join(" ")}`;
    const proxies = [...this.req.buildArgs].filter(([k]) => PROXY_ARGS.has(k) && !state.args.has(k)).map(([k, v]) => `${k}=${v}`);
    const key = cacheKey(state.image.id, createdBy);
    const image = await this.cached(n, start, key, async () => {
      if (state.image.id === "scratch") throw new UsageError(`RUN on scratch: the image has no ${shell[0] ?? "shell"}`);
      let made: ResolvedImage | undefined;
      const code = await runContainer({
        // A build step's output is the build's, not a container log anyone reads.
        root: this.req.root, image: state.image.id, autoRemove: true, output: this.req.output, logConfig: { driver: "none" },
        // Docker runs no HEALTHCHECK in a build step.
        health: { interval: 0, timeout: 0, startPeriod: 0, retries: 0, none: true },
        ...(this.req.addHosts !== undefined && this.req.addHosts.length > 0 ? {
          network: {
            network: this.req.network ?? "bridge", publish: [], publishAll: false, aliases: [],
            dns: [], dnsSearch: [], dnsOptions: [], addHosts: this.req.addHosts,
          },
        } : {}),
        flags: {
          ...this.req.limits,
          cmd, entrypoint: "", env: [...args, ...proxies], ...(state.config.WorkingDir ? { workdir: state.config.WorkingDir } : {}),
          ...(state.config.User ? { user: state.config.User } : {}), network: this.req.network ?? "bridge",
          interactive: false, tty: false, init: false, readOnly: false, volumes: [], tmpfs: [], privileged: false,
        },
        afterExit: async (exitCode, id) => {
          const upper = containerPaths(this.req.root, id).upper;
          if (exitCode === 0) {
            made = await commitLayerImage(this.req.root, {
              base: state.image, lower: new MergedView(state.image.layers), upper,
              config: state.config, history: { created_by: createdBy }, refs: [], intermediate: true,
              ...(state.author !== undefined ? { author: state.author } : {}),
            });
          }
          this.discardLater(upper);
        },
      });
      if (code !== 0 || made === undefined) {
        throw new TsboxError(`process "${cmd.join(" ")}" did not complete successfully: exit code: ${code}`, 1);
      }
      return made;
    });
    return { ...state, image, config: { ...image.config.config } };
  }

  private readonly discarding: Promise<void>[] = [];

  /**
   * A RUN container's read-write layer, done with: moved to a staging
   * directory of the store (swept after a crash) and removed in the thread
   * pool while the build goes on, instead of by the container's removal.
   */
  private discardLater(upper: string): void {
    let trash: string | undefined;
    try {
      trash = makeStagingDir(ensureStore(this.req.root), "build");
      fs.renameSync(upper, path.join(trash, "upper"));
      fs.mkdirSync(upper);
      this.discarding.push(rm(trash, { recursive: true, force: true }).catch(() => undefined));
    } catch {
      // the container's removal takes the upper then; what was moved goes here
      if (trash !== undefined) fs.rmSync(trash, { recursive: true, force: true });
    }
  }

  /** Waits for the background removals (before the build returns or fails). */
  async settle(): Promise<void> {
    await Promise.all(this.discarding.splice(0));
  }

  private owner(state: StageState, ins: Instruction): CopyOptions["owner"] {
    const chown = ins.flags.chown?.[ins.flags.chown.length - 1];
    if (chown === undefined) return undefined;
    const spec = expandWord(chown, this.env(state));
    const u = resolveUser(spec, readImageFile(state.image, "/etc/passwd")?.toString("utf8"), readImageFile(state.image, "/etc/group")?.toString("utf8"));
    // --chown=user alone: the user's primary group, as Docker
    return { uid: u.uid, gid: u.gid };
  }

  private async copy(state: StageState, ins: Instruction, stage: Stage): Promise<StageState> {
    const { n, start } = this.announce(ins, stage);
    const env = this.env(state);
    const words = (jsonForm(ins.args) ?? parseWords(ins.args)).map((w) => expandWord(w, env));
    if (words.length < 2 && ins.heredocs.length === 0) throw new UsageError(`${ins.keyword} requires at least two arguments, but only one was provided. Destination could not be determined.`);
    const dest = words[words.length - 1] ?? "";
    const heredocNames = new Set(ins.heredocs.map((h) => h.name));
    const sources = words.slice(0, -1).filter((w) => !/^<<-?/.test(w) || !heredocNames.has(w.replace(/^<<-?["']?|["']$/g, "")));
    for (const s of sources) {
      if (/^[a-z]+:\/\//i.test(s)) {
        throw new UsageError(`${ins.keyword} ${s}: remote sources are not supported (tsbox builds offline); download it into the context and COPY it`);
      }
    }
    const from = ins.flags.from?.[ins.flags.from.length - 1];
    const fromImage = from === undefined ? undefined : await this.baseImage(expandWord(from, env), false);
    const tree = fromImage === undefined ? this.context
      : imageTree(new MergedView(fromImage.layers), fromImage.layers[fromImage.layers.length - 1]?.dir ?? this.req.context);
    // Each source with the name it is copied under: a symlink named on the line is followed, its own name kept.
    const matched = sources.flatMap((s) => expandSource(tree, s).map((parts) => ({ parts: followTopLink(tree, parts, s), name: parts[parts.length - 1] ?? "" })));
    const chmod = ins.flags.chmod?.[ins.flags.chmod.length - 1];
    if (chmod !== undefined && !/^[0-7]{3,4}$/.test(chmod)) throw new UsageError(`invalid chmod parameter: ${chmod}`);
    const opts: CopyOptions = {
      ...(chmod !== undefined ? { mode: parseInt(chmod, 8) } : {}),
    };
    const owner = this.owner(state, ins);
    if (owner !== undefined) opts.owner = owner;

    const destAbs = dest.startsWith("/") ? dest : path.posix.join("/", state.config.WorkingDir ?? "/", dest);
    const lower = new MergedView(state.image.layers);
    const target = resolveDestination(lower, destAbs);
    const many = matched.length + ins.heredocs.length > 1;
    const intoDir = dest.endsWith("/") || target.isDir || many;
    if (many && !dest.endsWith("/") && !target.isDir) {
      throw new UsageError(`When using ${ins.keyword} with more than one source file, the destination must be a directory and end with a /`);
    }
    const content = hashSources(tree, matched.map((m) => m.parts), this.digests) + ins.heredocs.map((h) => `\0${h.name}\0${h.content}`).join("");
    const kind = matched.length + ins.heredocs.length > 1 ? "multi" : matched.length === 1 && tree.lstat(matched[0]?.parts ?? [])?.isDirectory() ? "dir" : "file";
    // The classic builder's line: one space after #(nop) here, a trailing one after the destination.
    // (--chown is glued to the hash there, as Docker 20.10 writes it.)
    const chownFlag = ins.flags.chown !== undefined ? `--chown=${ins.flags.chown[ins.flags.chown.length - 1] ?? ""}` : "";
    const createdBy = [...this.shell(state), `#(nop) ${ins.keyword} ${chownFlag}${kind}:${content.replace(/^sha256:/, "").slice(0, 64)} in ${dest} `].join(" ");
    const extra = `${fromImage?.id ?? "context"}\0${JSON.stringify(opts)}\0${content}`;
    const key = cacheKey(state.image.id, createdBy, extra);
    const image = await this.cached(n, start, key, async () => {
      const p = ensureStore(this.req.root);
      const upper = makeStagingDir(p, "build");
      try {
        if (intoDir) ensureDirs(upper, lower, target.parts, opts);
        else ensureDirs(upper, lower, target.parts.slice(0, -1), opts);
        const links = new Map<string, string>();
        for (const { parts: src, name } of matched) {
          const st = tree.lstat(src);
          // ADD unpacks a local tar archive (plain, gzip, zstd, bzip2, xz) into the destination directory.
          const archive = ins.keyword === "ADD" && fromImage === undefined && st?.isFile() === true ? archiveKind(tree.hostPath(src)) : undefined;
          if (archive !== undefined) {
            ensureDirs(upper, lower, target.parts, opts);
            await extractArchive(tree.hostPath(src), archive, path.join(upper, ...target.parts), `ADD ${name}`);
            continue;
          }
          if (st?.isDirectory() === true) {
            // A directory's contents go into the destination, which is a directory then.
            ensureDirs(upper, lower, target.parts, opts);
            for (const n of tree.names(src)) copyEntry(tree, [...src, n], upper, [...target.parts, n], opts, links);
          } else {
            copyEntry(tree, src, upper, intoDir ? [...target.parts, name] : target.parts, opts, links);
          }
        }
        for (const h of ins.heredocs) {
          const file = path.join(upper, ...(intoDir ? [...target.parts, h.name] : target.parts));
          fs.writeFileSync(file, h.expand ? expandHeredoc(h.content, env) : h.content, { mode: opts.mode ?? 0o644 });
          fs.chmodSync(file, opts.mode ?? 0o644);
          fs.chownSync(file, opts.owner?.uid ?? 0, opts.owner?.gid ?? 0);
        }
        return await commitLayerImage(this.req.root, {
          base: state.image, lower, upper, config: state.config, history: { created_by: createdBy }, refs: [], launched: false, intermediate: true,
        });
      } finally {
        fs.rmSync(upper, { recursive: true, force: true });
      }
    });
    return { ...state, image, config: { ...image.config.config } };
  }

  private async workdir(state: StageState, ins: Instruction, stage: Stage): Promise<StageState> {
    const { n, start } = this.announce(ins, stage);
    const dir = expandWord(ins.args.trim(), this.env(state));
    if (dir === "") throw new UsageError("WORKDIR requires exactly one argument");
    const abs = path.posix.isAbsolute(dir) ? path.posix.normalize(dir) : path.posix.join("/", state.config.WorkingDir ?? "/", dir);
    const config = { ...state.config, WorkingDir: abs };
    const createdBy = [...this.shell(state), `#(nop) WORKDIR ${abs}`].join(" ");
    const key = cacheKey(state.image.id, createdBy);
    const image = await this.cached(n, start, key, async () => {
      const p = ensureStore(this.req.root);
      const upper = makeStagingDir(p, "build");
      try {
        const lower = new MergedView(state.image.layers);
        ensureDirs(upper, lower, resolveDestination(lower, abs).parts, {});
        return await commitLayerImage(this.req.root, {
          base: state.image, lower, upper, config, history: { created_by: createdBy }, refs: [], launched: false, intermediate: true,
        });
      } finally {
        fs.rmSync(upper, { recursive: true, force: true });
      }
    });
    return { ...state, image, config: { ...image.config.config } };
  }
}

/**
 * A heredoc with an unquoted delimiter: $VAR, ${VAR} and ${VAR:-word} /
 * ${VAR:+word} (and their forms without ":") expanded; quotes and
 * backslashes kept, since the content is a file, not words.
 */
export function expandHeredoc(content: string, env: ReadonlyMap<string, string>): string {
  return content.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_m, braced: string | undefined, colon: string | undefined, op: string | undefined, word: string | undefined, bare: string | undefined) => {
      const v = env.get(braced ?? bare ?? "");
      if (op === undefined) return v ?? "";
      const unset = v === undefined || (colon === ":" && v === "");
      return op === "-" ? (unset ? word ?? "" : v ?? "") : (unset ? "" : word ?? "");
    });
}

function seconds(start: number): string {
  return `${((Date.now() - start) / 1000).toFixed(1)}s`;
}
