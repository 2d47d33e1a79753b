// v1 devices controller: each OCI rule, in order, to devices.allow or
// devices.deny (a leading deny-all is written as "a" to devices.deny, which
// the kernel only accepts while the cgroup has no children — ours never do).

import { deviceRuleWrites } from "../devices.js";
import { writeValue, type CgroupFs } from "../fs.js";
import type { LinuxResources } from "../types.js";

export const controller = "devices";

export function requested(r: LinuxResources): boolean {
  return (r.devices?.length ?? 0) > 0;
}

export function apply(r: LinuxResources, dir: string, fs: CgroupFs): void {
  // Validate every rule before writing any.
  const writes = (r.devices ?? []).flatMap(deviceRuleWrites);
  for (const w of writes) writeValue(fs, dir, w.file, w.value);
}
