// What the launching verbs (run, start, exec) use of the host beyond files:
// the C shim, the monitor program and the cgroup hierarchy. The real ones by
// default; the unit tests pass recording fakes (test/fakes/) and a cgroup
// hierarchy in memory, and need neither root nor a kernel.

import type { NativeLauncher } from "../native/launcher.js";
import { shimLauncher } from "../native/launcher.js";
import { monitorProgram, type MonitorLauncher } from "./monitor.js";
import { hostCgroups, type CgroupHost } from "./running.js";
import { realNetwork, type NetworkHost } from "./network.js";

export type { CgroupHost } from "./running.js";

export interface Host {
  native: NativeLauncher;
  monitor: MonitorLauncher;
  cgroups: CgroupHost;
  /** netavark (attach, release) */
  network: NetworkHost;
}

export const realHost: Host = { native: shimLauncher, monitor: monitorProgram, cgroups: hostCgroups, network: realNetwork };
