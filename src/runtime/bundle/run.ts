// `tsbox-runc run`: create and start in one go. Detached, this process exits
// once the container runs (the engine reaps it); in the foreground it is the
// container's parent: it forwards signals, waits for the exit, deletes the
// container and exits with its code (128+N for signal N), as runc run does.

import { realHost, type Host } from "../host.js";
import { attachTerminal, forwardSignals } from "../stdio.js";
import { createBundleContainer, type BundleCreateRequest } from "./create.js";
import { deleteBundleContainer } from "./delete.js";
import { startBundleContainer } from "./start.js";

export interface BundleRunRequest extends BundleCreateRequest {
  detach: boolean;
  /** foreground: keep the stopped container (its state and cgroup) instead of deleting it */
  keep?: boolean;
}

export async function runBundleContainer(req: BundleRunRequest, host: Host = realHost): Promise<number> {
  // As runc run: a subreaper, so that a container process that is not this
  // process's child (forked into a PID namespace given by path) is still waited for.
  if (!req.detach) host.native.setSubreaper(true);
  // In the foreground without a console socket, the container's terminal is this process's (runc's run).
  const { state, ptyMaster } = await createBundleContainer({ ...req, keepPty: !req.detach && req.consoleSocket === undefined }, host);
  // From now on a signal to this process is meant for the container.
  const stopForwarding = req.detach ? () => {} : forwardSignals(state.pid);
  try {
    await startBundleContainer(req.root, req.id, host.cgroups);
  } catch (e) {
    stopForwarding();
    await deleteBundleContainer(req.root, req.id, true, host).catch(() => {});
    throw e;
  }
  if (req.detach) return 0;
  const terminal = ptyMaster === undefined ? undefined : attachTerminal(host.native, ptyMaster, true);
  const code = await host.native.wait(state.pid);
  stopForwarding();
  await terminal?.close();
  if (!req.keep) await deleteBundleContainer(req.root, req.id, true, host);
  return code;
}
