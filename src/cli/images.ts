// Image commands: import, images, rmi, tag, image inspect, image prune (load and save: archive.ts).

import type { Command } from "commander";
import { TsboxError } from "../errors.js";
import type { ImageSummary } from "../image/index.js";
import { readAllStates } from "../state/container-store.js";
import { goTime, humanSize, relativeTime } from "../format.js";
import { formatRows, type RowsFormat } from "../util/docker-format.js";
import { collect, eachArg, imageApi, inspectEach, openInput, prepare } from "./common.js";
import { confirm } from "./confirm.js";

export function registerImageCommands(program: Command): void {
  program.command("import")
    .description("Import the contents from a tarball to create a filesystem image")
    .argument("<file>", "a tar archive (plain or gzip), or - for standard input")
    .argument("[reference]", "REPOSITORY[:TAG]")
    .option("-c, --change <instruction>", "Apply Dockerfile instruction to the created image", collect, [])
    .option("-m, --message <message>", "Set commit message for imported image")
    .option("--platform <platform>", "Set platform if server is multi-platform capable (os/arch[/variant], in the image's config)")
    .action(async (file: string, ref: string | undefined, o: { change: string[]; message?: string; platform?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const input = file === "-" ? process.stdin : openInput(file);
      const { importImage } = await imageApi();
      const image = await importImage(g.root, input, ref, {
        changes: o.change, ...(o.message ? { message: o.message } : {}), ...(o.platform !== undefined ? { platform: o.platform } : {}),
      });
      const { familiarTagged, imageEvent } = await import("./image-events.js");
      const api = await imageApi();
      if (ref !== undefined) imageEvent(api, g.root, "tag", image.id, familiarTagged(api, ref));
      imageEvent(api, g.root, "import", image.id, image.id);
      process.stdout.write(`${image.id}\n`);
    });

  program.command("images")
    .description("List images")
    .argument("[repository]", "REPOSITORY[:TAG]: only that repository (and tag)")
    .option("-a, --all", "Show all images (default hides intermediate images)", false)
    .option("-f, --filter <filter>", "Filter output based on conditions provided (dangling=true|false, reference=PATTERN)", collect, [])
    .option("-q, --quiet", "Only show image IDs", false)
    .option("--digests", "Show digests", false)
    .option("--format <format>", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .option("--no-trunc", "Don't truncate output")
    .action(async (repository: string | undefined, o: { all: boolean; filter: string[]; quiet: boolean; digests: boolean; format?: string; trunc: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const keep = imageFilter(repository, o.filter);
      const { listImages, shortId } = await imageApi();
      const images = listImages(g.root, { all: o.all }).filter(keep);
      if (o.quiet) {
        process.stdout.write([...new Set(images.map((i) => (o.trunc ? shortId(i.id) : i.id)))].map((l) => `${l}\n`).join(""));
      } else {
        process.stdout.write(formatRows(o.format, images.map((i) => imageRow(i, o.trunc ? shortId(i.id) : i.id)), {
          ...IMAGES_FORMAT,
          ...(o.digests ? { defaultTable: "table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}" } : {}),
        }));
      }
    });

  program.command("rmi")
    .description("Remove one or more images")
    .argument("<image...>")
    .option("-f, --force", "Force removal of the image", false)
    // tsbox never removes an image's untagged parents (a build's steps stay build cache, for `builder prune`).
    .option("--no-prune", "Do not delete untagged parents (tsbox never does)")
    .action(async (refs: string[], o: { force: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const api = await imageApi();
      const { imageIdOf, removalEvents } = await import("./image-events.js");
      const inUse = imagesInUse(g.root);
      await eachArg(refs, (ref) => {
        const id = imageIdOf(api, g.root, ref);
        const lines = api.removeImage(g.root, ref, { force: o.force, inUse: (i) => inUse.has(i) });
        removalEvents(api, g.root, id, lines);
        for (const line of lines) process.stdout.write(`${line}\n`);
      });
    });
}

/** Docker's imageContext headers and default table (docker/cli formatter/image.go). */
const IMAGES_FORMAT: RowsFormat = {
  typeName: "*formatter.imageContext",
  defaultTable: "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}",
  headers: {
    ID: "IMAGE ID", Repository: "REPOSITORY", Tag: "TAG", Digest: "DIGEST", CreatedSince: "CREATED", CreatedAt: "CREATED AT",
    Size: "SIZE", Containers: "CONTAINERS", VirtualSize: "SIZE", SharedSize: "SHARED SIZE", UniqueSize: "UNIQUE SIZE",
  },
};

/** An image as Docker's imageContext shows it to a template (its keys are those of `images --format json`). */
function imageRow(i: ImageSummary, id: string): Record<string, unknown> {
  return {
    Containers: "N/A", CreatedAt: i.created ? goTime(i.created) : "", CreatedSince: i.created ? relativeTime(i.created) : "N/A",
    Digest: i.digest ?? "<none>", ID: id, Repository: i.repository, SharedSize: "N/A", Size: humanSize(i.size), Tag: i.tag,
    UniqueSize: "N/A", VirtualSize: humanSize(i.size, 4),
  };
}

/** Registered after load and save, where `tsbox --help` has always listed them. */
/** Docker's stringutils.Ellipsis: at most `max` characters, the last one "…" when cut. */
function ellipsis(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join("")}…`;
}

function registerHistory(program: Command): void {
  program.command("history")
    .description("Show the history of an image")
    .argument("<image>")
    .option("-H, --human [bool]", "Print sizes and dates in human readable format", (v: string) => !/^(0|f|false)$/i.test(v), true)
    .option("--no-trunc", "Don't truncate output")
    .option("-q, --quiet", "Only show image IDs", false)
    .option("--format <template>", "Pretty-print images using a Go template ({{.ID}}, {{.CreatedBy}}, ...)")
    .action(async (ref: string, o: { human: boolean; trunc: boolean; quiet: boolean; format?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const { imageHistory } = await (await imageApi()).historyApi();
      const rows = imageHistory(g.root, ref);
      const id = (i: string): string => (i === "<missing>" || !o.trunc ? i : i.replace(/^sha256:/, "").slice(0, 12));
      if (o.quiet) {
        process.stdout.write(rows.map((r) => `${id(r.id)}\n`).join(""));
        return;
      }
      /** RFC 3339 in seconds, as Go's time.RFC3339 of a Unix time. */
      const at = (iso: string): string => (iso ? new Date(iso).toISOString().replace(/\.\d+Z$/, "Z") : "");
      process.stdout.write(formatRows(o.format, rows.map((r) => {
        const by = r.createdBy.replace(/\t/g, " ");
        return {
          Comment: r.comment, CreatedAt: at(r.created), CreatedBy: o.trunc ? ellipsis(by, 45) : by,
          CreatedSince: !o.human ? at(r.created) : r.created ? relativeTime(r.created) : "N/A",
          ID: id(r.id), Size: o.human ? humanSize(r.size) : String(r.size),
        };
      }), HISTORY_FORMAT));
    });
}

/** Docker's historyContext headers and default table (docker/cli image/formatter_history.go). */
const HISTORY_FORMAT: RowsFormat = {
  typeName: "*image.historyContext",
  defaultTable: "table {{.ID}}\\t{{.CreatedSince}}\\t{{.CreatedBy}}\\t{{.Size}}\\t{{.Comment}}",
  headers: { ID: "IMAGE", CreatedSince: "CREATED", CreatedAt: "CREATED AT", CreatedBy: "CREATED BY", Size: "SIZE", Comment: "COMMENT" },
};

export function registerTagAndImageCommands(program: Command): void {
  registerHistory(program);
  program.command("tag")
    .description("Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    .argument("<source>", "SOURCE_IMAGE[:TAG]")
    .argument("<target>", "TARGET_IMAGE[:TAG]")
    .action(async (source: string, target: string, _o: unknown, cmd: Command) => {
      const g = await prepare(cmd);
      const api = await imageApi();
      api.tagImage(g.root, source, target);
      const { familiarTagged, imageEvent, imageIdOf } = await import("./image-events.js");
      const id = imageIdOf(api, g.root, target);
      if (id !== undefined) imageEvent(api, g.root, "tag", id, familiarTagged(api, target));
    });

  const image = program.command("image").description("Manage images");

  image.command("inspect")
    .description("Display detailed information on one or more images")
    .argument("<image...>")
    .option("-f, --format <template>", "Format output using a custom template: 'json', or a Go template ({{.Id}})")
    .action(async (refs: string[], o: { format?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const { inspectImage } = await imageApi();
      await inspectEach(refs, (ref) => inspectImage(g.root, ref), o.format);
    });

  image.command("prune")
    .description("Remove unused images")
    .option("-a, --all", "Remove all unused images, not just dangling ones", false)
    .option("--filter <filter>", "Provide filter values (e.g. \"until=<timestamp>\")", collect, [])
    .option("-f, --force", "Do not prompt for confirmation", false)
    .action(async (o: { all: boolean; filter: string[]; force: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const { parsePruneFilters, pruneFilterMatches } = await import("./prune-filter.js");
      const filter = parsePruneFilters(o.filter);
      const warning = o.all
        ? "WARNING! This will remove all images without at least one container associated to them."
        : "WARNING! This will remove all dangling images.";
      if (!o.force && !(await confirm(`${warning}\nAre you sure you want to continue? [y/N] `))) return;
      const { pruneImages } = await imageApi();
      const inUse = imagesInUse(g.root);
      const { lines, reclaimed } = await pruneImages(g.root, { all: o.all, inUse: (id) => inUse.has(id), filter: (i) => pruneFilterMatches(filter, i) });
      let out = "";
      if (lines.length > 0) out += `Deleted Images:\n${lines.map((l) => `${l}\n`).join("")}\n`;
      out += `Total reclaimed space: ${humanSize(reclaimed)}\n`;
      process.stdout.write(out);
    });
}

/** Go's path.Match of `pattern` against `s` ("*" and "?" never cross "/"). */
function globMatch(pattern: string, s: string): boolean {
  const re = pattern.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
  return new RegExp(`^${re}$`).test(s);
}

/**
 * `images [REPOSITORY[:TAG]]` and its `--filter`s, as a predicate over the
 * rows: dangling=true|false (untagged or not), reference=PATTERN (the familiar
 * name, or name:tag, matched as Go's path.Match). Docker's words for a bad one.
 */
export function imageFilter(repository: string | undefined, filters: readonly string[]): (i: ImageSummary) => boolean {
  const tests: ((i: ImageSummary) => boolean)[] = [];
  if (repository !== undefined) {
    const colon = repository.lastIndexOf(":");
    const [name, tag] = colon > repository.lastIndexOf("/") ? [repository.slice(0, colon), repository.slice(colon + 1)] : [repository, undefined];
    const familiar = name.replace(/^docker\.io\/(library\/)?/, "");
    tests.push((i) => i.repository === familiar && (tag === undefined || i.tag === tag));
  }
  for (const f of filters) {
    const eq = f.indexOf("=");
    const key = eq === -1 ? f : f.slice(0, eq);
    const value = eq === -1 ? "" : f.slice(eq + 1);
    if (key === "dangling") {
      if (value !== "true" && value !== "false" && value !== "1" && value !== "0") {
        throw new TsboxError(`Invalid filter 'dangling=[${value}]'`, 1);
      }
      const want = value === "true" || value === "1";
      tests.push((i) => (i.repository === "<none>" && i.tag === "<none>") === want);
    } else if (key === "reference") {
      tests.push((i) => globMatch(value, i.repository) || globMatch(value, `${i.repository}:${i.tag}`));
    } else {
      throw new TsboxError(`Invalid filter '${key}'`, 1);
    }
  }
  return (i) => tests.every((t) => t(i));
}

/** IDs of the images some container (running or stopped) was created from. */
export function imagesInUse(root: string): Set<string> {
  const ids = new Set<string>();
  for (const s of readAllStates(root)) ids.add(s.imageId);
  return ids;
}
