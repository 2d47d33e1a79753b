// `tsbox ps`: Docker's table (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS,
// PORTS, NAMES), its filters and its JSON lines. A container whose state.json
// cannot be read is listed as Docker lists an unusable container, "Dead" (with
// -a or a filter), and named on stderr with what is wrong: `rm -f` removes it.

import { CorruptContainerError, UsageError } from "../errors.js";
import { detectHierarchy } from "../cgroupfs/index.js";
import { containerCgroup } from "../state/container-cgroup.js";
import { goTime, humanSize, relativeTime } from "../format.js";
import { contextOf, formatRows, parseDockerTemplate, templateFailure, type RowsFormat } from "../util/docker-format.js";
import { containerSize, imageSizes } from "./container-size.js";
import {
  containerPaths, namesOf, ownerAlive, readAllStates, readSpec, type ContainerState, type HealthStatus,
} from "../state/container-store.js";
import { containerHealth } from "./health.js";
import { formatPorts, readAttachment, readNetworkConfig } from "../network/index.js";

export interface PsOptions {
  all: boolean; quiet: boolean; noTrunc: boolean; filters: string[]; format?: string;
  /** -n N (-l: 1): the N last created, in any state; absent or negative: no limit */
  last?: number;
  /** -s: the SIZE column (read-write layer, and virtual with the image) */
  size?: boolean;
  /** one line per container that cannot be read */
  warn?: (line: string) => void;
}

/** Docker's State word: created, running, restarting, exited (paused when frozen). */
export function stateWord(s: ContainerState): string {
  if (s.status === "running" && !ownerAlive(s.owner)) return "exited";
  if (s.status === "running" && frozen(s)) return "paused";
  return s.status;
}

function frozen(s: ContainerState): boolean {
  try { return containerCgroup(detectHierarchy(), s).frozen(); } catch { return false; }
}

/** Docker's STATUS column; a running container with a health check shows it: `Up 3 seconds (healthy)`. */
export function statusText(s: ContainerState, now = Date.now(), health?: HealthStatus): string {
  const since = (iso: string | undefined): string => relativeTime(iso ?? s.created, now);
  switch (stateWord(s)) {
    case "running": {
      const up = `Up ${since(s.startedAt).replace(/ ago$/, "")}`;
      return health === undefined ? up : `${up} (${health === "starting" ? "health: starting" : health})`;
    }
    case "paused": return `Up ${since(s.startedAt).replace(/ ago$/, "")} (Paused)`;
    case "restarting": return `Restarting (${s.exitCode ?? 0}) ${since(s.finishedAt)}`;
    case "exited": return `Exited (${s.exitCode ?? 137}) ${since(s.finishedAt)}`;
    default: return "Created";
  }
}

/** As moby lists a container's command: the path, then each argument, in single quotes if it has a space. */
export function dockerCommand(args: readonly string[]): string {
  const [path, ...rest] = args;
  if (path === undefined) return "";
  return [path, ...rest.map((a) => (a.includes(" ") ? `'${a}'` : a))].join(" ");
}

export function commandOf(root: string, id: string): string {
  try {
    return dockerCommand(readSpec(root, id)?.process.args ?? []);
  } catch (e) {
    if (e instanceof CorruptContainerError) return "";
    throw e;
  }
}

/** Docker's formatter.Ellipsis, then quoted. */
export function shortCommand(cmd: string, noTrunc: boolean): string {
  const chars = [...cmd];
  const cut = noTrunc || chars.length <= 20 ? cmd : `${chars.slice(0, 19).join("")}…`;
  return JSON.stringify(cut);
}

/** A line of the listing: a container, or one whose state is lost ("dead"). */
interface Row {
  id: string;
  name: string;
  image: string;
  /** ISO time; "" when unknown */
  created: string;
  state: string;
  status: string;
  /** "" when unknown */
  imageId: string;
  labels: Readonly<Record<string, string>>;
  /** the container's mounts as inspect shows them: a volume's name, else the host path (tmpfs: none) */
  mounts: { name: string; volume: boolean }[];
}

function rowOf(root: string, s: ContainerState): Row {
  const health = containerHealth(root, s)?.Status;
  return {
    id: s.id, name: s.name, image: s.image, created: s.created, state: stateWord(s), status: statusText(s, Date.now(), health), imageId: s.imageId,
    labels: s.config?.Labels ?? {},
    mounts: (s.mounts ?? []).filter((m) => m.type !== "tmpfs").map((m) => ({ name: m.name ?? m.source, volume: m.type === "volume" })),
  };
}

function deadRow(root: string, e: CorruptContainerError): Row {
  return { id: e.id, name: namesOf(root, e.id)[0] ?? "", image: "", created: "", state: "dead", status: "Dead", imageId: "", labels: {}, mounts: [] };
}

function matches(s: Row, filters: string[]): boolean {
  for (const f of filters) {
    const eq = f.indexOf("=");
    const key = eq < 0 ? f : f.slice(0, eq);
    const value = eq < 0 ? "" : f.slice(eq + 1);
    if (key === "status") {
      if (!["created", "restarting", "running", "removing", "paused", "exited", "dead"].includes(value)) {
        throw new UsageError(`invalid filter 'status=${value}'`);
      }
      if (s.state !== value) return false;
    } else if (key === "name") {
      if (!new RegExp(value).test(s.name)) return false;
    } else if (key === "id") {
      if (!s.id.startsWith(value)) return false;
    } else {
      throw new UsageError(`invalid filter '${key}'`);
    }
  }
  return true;
}

/** Docker's ContainerContext headers and default table (docker/cli formatter/container.go). */
const PS_FORMAT: RowsFormat = {
  typeName: "*formatter.ContainerContext",
  defaultTable: "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}",
  headers: {
    ID: "CONTAINER ID", Names: "NAMES", Image: "IMAGE", Command: "COMMAND", CreatedAt: "CREATED AT", RunningFor: "CREATED",
    Ports: "PORTS", State: "STATE", Status: "STATUS", Size: "SIZE", Labels: "LABELS", Mounts: "MOUNTS",
    LocalVolumes: "LOCAL VOLUMES", Networks: "NETWORKS", Platform: "PLATFORM",
  },
};

/** A container as Docker's ContainerContext shows it to a template: its methods, by name. */
function psRow(root: string, s: Row | undefined, noTrunc: boolean, sizeOf: (s: Row) => string = () => "0B"): Record<string, unknown> {
  const labels = s?.labels ?? {};
  // docker/cli's Ellipsis(name, 15): a longer name keeps 14 characters and "…".
  const trunc = (n: string): string => (noTrunc || [...n].length <= 15 ? n : `${[...n].slice(0, 14).join("")}…`);
  return {
    Command: s ? shortCommand(commandOf(root, s.id), noTrunc) : '""',
    CreatedAt: s?.created ? goTime(s.created) : "",
    ID: s ? (noTrunc ? s.id : s.id.slice(0, 12)) : "",
    Image: s?.image ?? "",
    Labels: Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(","),
    Label: (name: unknown) => labels[String(name)] ?? "",
    LocalVolumes: String(s?.mounts.filter((m) => m.volume).length ?? 0),
    Mounts: (s?.mounts ?? []).map((m) => trunc(m.name)).join(","),
    Names: s?.name ?? "",
    Networks: s ? networksOf(root, s.id) : "",
    Platform: null,
    Ports: s ? portsOf(root, s.id) : "",
    RunningFor: s?.created ? relativeTime(s.created) : "",
    Size: s ? sizeOf(s) : "0B",
    State: s?.state ?? "",
    Status: s?.status ?? "",
  };
}

/**
 * Docker checks a --format before listing: it must parse ("failed to parse
 * template") and run on an empty container ("failed to execute template"),
 * both on the format as given, "table" and all.
 */
function checkFormat(root: string, format: string): void {
  let t: ReturnType<typeof parseDockerTemplate>;
  try {
    t = parseDockerTemplate(format);
  } catch (e) {
    return templateFailure(e, "failed to parse template");
  }
  try {
    t.execute(contextOf(psRow(root, undefined, false), PS_FORMAT.typeName));
  } catch (e) {
    templateFailure(e, "failed to execute template");
  }
}

export function listContainers(root: string, o: PsOptions): string {
  if (o.format && o.quiet) o.warn?.("Ignoring custom format, because both --format and --quiet are set.");
  if (o.format) checkFormat(root, o.format);
  const dead: Row[] = [];
  const states = readAllStates(root, (e) => {
    o.warn?.(e.message);
    dead.push(deadRow(root, e));
  });
  // Newest first; the dead, whose creation time is lost with their state, last.
  const rows = [...states.map((s) => rowOf(root, s)), ...dead]
    // As Docker's daemon: a limit lists the last created whatever their state.
    .filter((s) => o.filters.length > 0 || o.all || (o.last ?? 0) > 0 || ["running", "restarting", "paused"].includes(s.state))
    .filter((s) => matches(s, o.filters))
    .sort((a, b) => b.created.localeCompare(a.created))
    .slice(0, (o.last ?? 0) > 0 ? o.last : undefined);
  if (o.quiet) return rows.map((s) => `${o.noTrunc ? s.id : s.id.slice(0, 12)}\n`).join("");
  // As Docker's client: -s, or a template that uses .Size, asks for the sizes.
  const withSize = o.size === true || (o.format !== undefined && /\.Size\b/.test(o.format));
  const sizes = withSize ? imageSizes(root) : undefined;
  const sizeOf = (s: Row): string => {
    if (!sizes || !s.imageId) return "0B";
    const z = containerSize(root, { id: s.id, imageId: s.imageId }, sizes);
    return `${humanSize(z.rw)} (virtual ${humanSize(z.rootFs)})`;
  };
  const spec = o.size ? { ...PS_FORMAT, defaultTable: `${PS_FORMAT.defaultTable}\\t{{.Size}}` } : PS_FORMAT;
  return formatRows(o.format, rows.map((s) => psRow(root, s, o.noTrunc, sizeOf)), spec);
}

/** PORTS: what the container publishes while it is on its network (Docker's format). */
function portsOf(root: string, id: string): string {
  return formatPorts(readAttachment(containerPaths(root, id).dir)?.ports ?? []);
}

function networksOf(root: string, id: string): string {
  const dir = containerPaths(root, id).dir;
  const a = readAttachment(dir);
  if (a) return a.endpoints.map((e) => e.network).join(",");
  try {
    return readNetworkConfig(dir)?.mode ?? "none";
  } catch {
    return "";
  }
}
