// `tsbox-runc ps`: the processes in the container's cgroup (host pids), as
// JSON (what containerd's shim reads) or as the host's `ps` prints them,
// filtered to those pids, header and lines untouched (runc's ps).

import { spawnSync } from "node:child_process";
import { TsboxError } from "../../errors.js";
import { hostCgroups, type CgroupHost } from "../running.js";
import { bundleCgroup, bundleContainer } from "./status.js";

export function bundleContainerPids(root: string, id: string, cgroups: CgroupHost = hostCgroups): number[] {
  const s = bundleContainer(root, id);
  return bundleCgroup(cgroups.hierarchy(), s, cgroups).pids();
}

/** The header and the lines of `ps psArgs` (default -ef) whose PID column is one of pids. */
export function filterPs(output: string, pids: readonly number[]): string {
  const lines = output.split("\n");
  const titles = (lines[0] ?? "").trim().split(/\s+/);
  const at = titles.indexOf("PID");
  if (at < 0) throw new TsboxError("couldn't find PID field in ps output", 1);
  const wanted = new Set(pids);
  const keep = lines.slice(1).filter((l) => l.trim() !== "" && wanted.has(Number(l.trim().split(/\s+/)[at])));
  return [lines[0]!, ...keep].join("\n") + "\n";
}

export function bundleContainerPs(root: string, id: string, psArgs: string[], cgroups: CgroupHost = hostCgroups): string {
  const pids = bundleContainerPids(root, id, cgroups);
  const ps = spawnSync("ps", psArgs.length > 0 ? psArgs : ["-ef"], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (ps.error) throw new TsboxError(`ps: ${ps.error.message}`, 1);
  if (ps.status !== 0) throw new TsboxError(`ps: exit status ${ps.status}: ${`${ps.stdout}${ps.stderr}`.trim()}`, 1);
  return filterPs(ps.stdout, pids);
}
