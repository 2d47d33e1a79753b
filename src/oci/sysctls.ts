// `--sysctl KEY=VALUE`: the namespaced sysctls Docker's client lets through
// (docker/cli opts.ValidateSysctl), and the runtime's refusal of a net.* one
// where the container shares the host's network namespace (or of an IPC one
// in the host's IPC namespace), as runc refuses them.

import { FlagError, UsageError } from "../errors.js";

const IPC_SYSCTLS = new Set([
  "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);
const isNet = (k: string): boolean => k.startsWith("net.");
const isIpc = (k: string): boolean => IPC_SYSCTLS.has(k) || k.startsWith("fs.mqueue.");

/** The flags as a map (the last of a key wins), each checked against Docker's list. */
export function parseSysctls(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    const key = eq < 0 ? v : v.slice(0, eq);
    if (eq < 0 || !(isNet(key) || isIpc(key))) throw new FlagError(`invalid argument "${v}" for "--sysctl" flag: sysctl '${v}' is not allowed`);
    out[key] = v.slice(eq + 1);
  }
  return out;
}

/** runc's check of the spec: a sysctl only in a namespace the container has of its own. */
export function checkSysctlNamespaces(sysctls: Record<string, string>, own: { network: boolean; ipc: boolean }): void {
  for (const key of Object.keys(sysctls)) {
    if (isNet(key) && !own.network) throw new UsageError(`sysctl "${key}" not allowed in host network namespace`);
    if (isIpc(key) && !own.ipc) throw new UsageError(`sysctl "${key}" not allowed in host ipc namespace`);
  }
}
