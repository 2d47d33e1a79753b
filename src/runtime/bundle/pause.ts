// `tsbox-runc pause` and `resume`: the container's cgroup freezer, with runc's refusals.

import { TsboxError } from "../../errors.js";
import { hostCgroups, type CgroupHost } from "../running.js";
import { bundleCgroup, bundleContainer, bundleStatus } from "./status.js";

export async function pauseBundleContainer(root: string, id: string, pause: boolean, cgroups: CgroupHost = hostCgroups): Promise<void> {
  const s = bundleContainer(root, id);
  const cgroup = bundleCgroup(cgroups.hierarchy(), s, cgroups);
  const status = bundleStatus(root, s, () => cgroup);
  if (pause) {
    if (status !== "running" && status !== "created") throw new TsboxError("container not running", 1);
    await cgroup.freeze();
  } else {
    if (status !== "paused") throw new TsboxError("container not paused", 1);
    await cgroup.thaw();
  }
}
