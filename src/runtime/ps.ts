// `tsbox ps`: Docker's table (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS,
// PORTS, NAMES), its filters and its JSON lines. A container whose state.json
// cannot be read is listed as Docker lists an unusable container, "Dead" (with
// -a or a filter), and named on stderr with what is wrong: `rm -f` removes it.

import { CorruptContainerError, UsageError } from "../errors.js";
import { detectHierarchy } from "../cgroupfs/index.js";
import { containerCgroup } from "../state/container-cgroup.js";
import { relativeTime, table } from "../format.js";
import {
  containerPaths, namesOf, ownerAlive, readAllStates, readSpec, type ContainerState, type HealthStatus,
} from "../state/container-store.js";
import { containerHealth } from "./health.js";
import { formatPorts, readAttachment, readNetworkConfig } from "../network/index.js";

export interface PsOptions {
  all: boolean; quiet: boolean; noTrunc: boolean; filters: string[]; format?: string;
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
function shortCommand(cmd: string, noTrunc: boolean): string {
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
}

function rowOf(root: string, s: ContainerState): Row {
  const health = containerHealth(root, s)?.Status;
  return { id: s.id, name: s.name, image: s.image, created: s.created, state: stateWord(s), status: statusText(s, Date.now(), health) };
}

function deadRow(root: string, e: CorruptContainerError): Row {
  return { id: e.id, name: namesOf(root, e.id)[0] ?? "", image: "", created: "", state: "dead", status: "Dead" };
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

export function listContainers(root: string, o: PsOptions): string {
  const dead: Row[] = [];
  const states = readAllStates(root, (e) => {
    o.warn?.(e.message);
    dead.push(deadRow(root, e));
  });
  // Newest first; the dead, whose creation time is lost with their state, last.
  const rows = [...states.map((s) => rowOf(root, s)), ...dead]
    .filter((s) => o.filters.length > 0 || o.all || ["running", "restarting", "paused"].includes(s.state))
    .filter((s) => matches(s, o.filters))
    .sort((a, b) => b.created.localeCompare(a.created));
  const id = (s: Row): string => (o.noTrunc ? s.id : s.id.slice(0, 12));
  const since = (s: Row): string => (s.created ? relativeTime(s.created) : "");
  if (o.quiet) return rows.map((s) => `${id(s)}\n`).join("");
  if (o.format === "json" || o.format === "{{json .}}") {
    return rows.map((s) => `${JSON.stringify({
      Command: shortCommand(commandOf(root, s.id), o.noTrunc), CreatedAt: s.created, ID: id(s), Image: s.image,
      Labels: "", LocalVolumes: "0", Mounts: "", Names: s.name, Networks: networksOf(root, s.id), Ports: portsOf(root, s.id),
      RunningFor: since(s), Size: "0B", State: s.state, Status: s.status,
    })}\n`).join("");
  }
  if (o.format !== undefined && o.format !== "table") throw new UsageError(`unsupported format: ${o.format} (use table or json)`);
  return table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows.map((s) => [
    id(s), s.image, shortCommand(commandOf(root, s.id), o.noTrunc), since(s), s.status, portsOf(root, s.id), s.name,
  ]));
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
