// `tsbox ps`: Docker's table (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS,
// PORTS, NAMES), its filters and its JSON lines.

import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import { detectHierarchy } from "../cgroupfs/index.js";
import { containerCgroup } from "./container-cgroup.js";
import { relativeTime, table } from "../format.js";
import { containerPaths, listContainerIds, ownerAlive, readState, type ContainerState } from "./container-store.js";
import type { Spec } from "./spec.js";

export interface PsOptions { all: boolean; quiet: boolean; noTrunc: boolean; filters: string[]; format?: string }

/** Docker's State word: created, running, restarting, exited (paused when frozen). */
export function stateWord(s: ContainerState): string {
  if (s.status === "running" && !ownerAlive(s.owner)) return "exited";
  if (s.status === "running" && frozen(s)) return "paused";
  return s.status;
}

function frozen(s: ContainerState): boolean {
  try { return containerCgroup(detectHierarchy(), s).frozen(); } catch { return false; }
}

export function statusText(s: ContainerState, now = Date.now()): string {
  const since = (iso: string | undefined): string => relativeTime(iso ?? s.created, now);
  switch (stateWord(s)) {
    case "running": return `Up ${since(s.startedAt).replace(/ ago$/, "")}`;
    case "paused": return `Up ${since(s.startedAt).replace(/ ago$/, "")} (Paused)`;
    case "restarting": return `Restarting (${s.exitCode ?? 0}) ${since(s.finishedAt)}`;
    case "exited": return `Exited (${s.exitCode ?? 137}) ${since(s.finishedAt)}`;
    default: return "Created";
  }
}

export function commandOf(root: string, id: string): string {
  try {
    const spec = JSON.parse(readFileSync(containerPaths(root, id).config, "utf8")) as Spec;
    return spec.process.args.join(" ");
  } catch {
    return "";
  }
}

/** Docker's formatter.Ellipsis, then quoted. */
function shortCommand(cmd: string, noTrunc: boolean): string {
  const chars = [...cmd];
  const cut = noTrunc || chars.length <= 20 ? cmd : `${chars.slice(0, 19).join("")}…`;
  return JSON.stringify(cut);
}

function matches(s: ContainerState, filters: string[]): boolean {
  for (const f of filters) {
    const eq = f.indexOf("=");
    const key = eq < 0 ? f : f.slice(0, eq);
    const value = eq < 0 ? "" : f.slice(eq + 1);
    if (key === "status") {
      if (!["created", "restarting", "running", "removing", "paused", "exited", "dead"].includes(value)) {
        throw new UsageError(`invalid filter 'status=${value}'`);
      }
      if (stateWord(s) !== value) return false;
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
  const states = listContainerIds(root).map((id) => readState(root, id)).filter((s): s is ContainerState => s !== undefined)
    .filter((s) => o.filters.length > 0 || o.all || ["running", "restarting", "paused"].includes(stateWord(s)))
    .filter((s) => matches(s, o.filters))
    .sort((a, b) => b.created.localeCompare(a.created));
  const id = (s: ContainerState): string => (o.noTrunc ? s.id : s.id.slice(0, 12));
  if (o.quiet) return states.map((s) => `${id(s)}\n`).join("");
  if (o.format === "json" || o.format === "{{json .}}") {
    return states.map((s) => `${JSON.stringify({
      Command: shortCommand(commandOf(root, s.id), o.noTrunc), CreatedAt: s.created, ID: id(s), Image: s.image,
      Labels: "", LocalVolumes: "0", Mounts: "", Names: s.name, Networks: "", Ports: "",
      RunningFor: relativeTime(s.created), Size: "0B", State: stateWord(s), Status: statusText(s),
    })}\n`).join("");
  }
  if (o.format !== undefined && o.format !== "table") throw new UsageError(`unsupported format: ${o.format} (use table or json)`);
  return table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], states.map((s) => [
    id(s), s.image, shortCommand(commandOf(root, s.id), o.noTrunc), relativeTime(s.created), statusText(s), "", s.name,
  ]));
}
