// `tsbox-runc kill [--all] ID [SIGNAL]`: a signal to the container's init
// (after checking that its pid is still the container's), or with --all to
// every process in its cgroup. A frozen container is thawed for SIGKILL, as
// runc does (v1 frozen tasks do not die until thawed).

import { TsboxError } from "../../errors.js";
import { parseSignal } from "../kill.js";
import { hostCgroups, type CgroupHost } from "../running.js";
import { bundleCgroup, bundleContainer, bundleStatus } from "./status.js";

/**
 * runc's parseSignal: a number, or a name with or without SIG. 0 is a signal
 * to runc too (`kill -a ID 0` asks whether anything is left, as kill(2) does).
 */
export function parseBundleSignal(sig: string): NodeJS.Signals | number {
  if (sig === "0") return 0;
  try {
    return parseSignal(sig);
  } catch {
    throw new TsboxError(`unknown signal ${JSON.stringify(sig)}`, 1);
  }
}

export async function killBundleContainer(root: string, id: string, sig: string, all: boolean,
  cgroups: CgroupHost = hostCgroups): Promise<void> {
  const signal = parseBundleSignal(sig);
  const s = bundleContainer(root, id);
  const cgroup = bundleCgroup(cgroups.hierarchy(), s, cgroups);
  const status = bundleStatus(root, s, () => cgroup);
  if (all) {
    // As runc: a stopped container whose cgroup is gone has nothing left to signal.
    if (status === "stopped" && cgroup.pids().length === 0) return;
    cgroup.kill(signal);
    return;
  }
  if (status === "stopped") throw new TsboxError("container not running", 1);
  try {
    process.kill(s.pid, signal);
  } catch (e) {
    throw new TsboxError(`unable to signal init: ${(e as Error).message}`, 1);
  }
  if (status === "paused" && (signal === "SIGKILL" || signal === 9)) {
    try { await cgroup.thaw(); } catch { /* gone meanwhile */ }
  }
}
