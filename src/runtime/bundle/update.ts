// `tsbox-runc update`: new limits for a container's cgroup (`--resources`
// JSON, or runc's flags, which win) over the recorded ones, all written to the
// cgroup and recorded in the container's spec. The device rules are kept as created, as runc keeps them.

import type { LinuxResources } from "../../cgroupfs/index.js";
import { CorruptContainerError, TsboxError } from "../../errors.js";
import { bundleContainerPaths, readBundleSpec, writeBundleSpec } from "../../state/bundle-containers.js";
import { hostCgroups, type CgroupHost } from "../running.js";
import { bundleCgroup, bundleContainer, bundleStatus } from "./status.js";

/** `b` over `a`, one level deep per controller (what b leaves out keeps a's value). */
export function mergeResources(a: LinuxResources, b: LinuxResources): LinuxResources {
  const out: LinuxResources = { ...a };
  if (b.memory) out.memory = { ...a.memory, ...b.memory };
  if (b.cpu) out.cpu = { ...a.cpu, ...b.cpu };
  if (b.pids) out.pids = { ...a.pids, ...b.pids };
  if (b.blockIO) out.blockIO = { ...a.blockIO, ...b.blockIO };
  return out;
}

export function updateBundleContainer(root: string, id: string, change: LinuxResources, cgroups: CgroupHost = hostCgroups): void {
  const s = bundleContainer(root, id);
  const cgroup = bundleCgroup(cgroups.hierarchy(), s, cgroups);
  if (bundleStatus(root, s, () => cgroup) === "stopped") throw new TsboxError("container not running", 1);
  const spec = readBundleSpec(root, id);
  if (!spec) throw new CorruptContainerError(id, bundleContainerPaths(root, id).config, "missing");
  const { devices: _kept, ...limits } = change;
  const merged = mergeResources(spec.linux.resources, limits);
  // All of them, as runc sets its whole recorded config: a limit given alone
  // is read with the others (a v1 swap limit is relative to the memory limit).
  const { devices: _created, ...all } = merged;
  cgroup.apply(all);
  writeBundleSpec(root, id, { ...spec, linux: { ...spec.linux, resources: merged } });
}
