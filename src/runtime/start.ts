// `start`: launches a created or exited container again, through a monitor.

import { rmSync } from "node:fs";
import { TsboxError } from "../errors.js";
import { withLock } from "../util/lock.js";
import {
  containerLockFile, containerPaths, findContainer, ownerAlive, readSpec, readState, selfOwner, writeState,
  type ContainerState,
} from "../state/container-store.js";
import { crashPoint } from "../util/crash.js";
import { createContainerCgroup, deviceRulesEnforced, launchMonitored } from "./launch.js";
import { realHost, type Host } from "./host.js";
import { readNetworkConfig } from "../network/index.js";
import { connect, disconnect } from "./network.js";
import { mountShm, ownsShm, unmountShm } from "./shm.js";
import { refreshDonorNamespaces } from "./namespace-donors.js";

/** Launches an exited (or never started) container again, through a monitor. */
/**
 * `attach`: the CLI attaches right after (`start -a`): a terminal's output
 * until then is kept for it, as for `run -it`, so a command that prints and
 * exits at once is still seen.
 */
export async function startContainer(root: string, ref: string, host: Host = realHost,
  opts: { attach?: boolean } = {}): Promise<ContainerState> {
  const found = findContainer(root, ref);
  const paths = containerPaths(root, found.id);
  // Claim the container: only one `start` relaunches it.
  const claimed = withLock(containerLockFile(root, found.id), () => {
    const s = readState(root, found.id);
    if (!s) throw new TsboxError(`No such container: ${ref}`);
    if (s.status !== "exited" && (ownerAlive(s.owner) || s.status !== "created")) return undefined;
    const next: ContainerState = {
      ...s, status: "created", owner: selfOwner(), detached: true, pid: undefined,
      restartPolicy: s.restartPolicy ?? { name: "no", maximumRetryCount: 0 }, restartCount: 0,
    };
    writeState(root, next);
    return next;
  });
  if (!claimed) return found; // running already, or being started by another tsbox
  rmSync(paths.stop, { force: true });
  rmSync(paths.monitor, { force: true });
  const spec = readSpec(root, found.id);
  if (!spec) throw new TsboxError(`container ${found.id}: no config.json`);
  // As run creates it: under its --cgroup-parent, with the device filter where v2 needs one.
  const h = host.cgroups.hierarchy();
  const cgroup = createContainerCgroup(host, h, found.id, claimed.cgroupParent, deviceRulesEnforced(h, host.native));
  try {
    cgroup.apply(spec.linux.resources);
    // Its network again (released when it stopped), at the namespace its plan joins.
    const net = readNetworkConfig(paths.dir);
    await disconnect(host.network, host.native, root, found.id);
    if (net) await connect(host.network, host.native, root, { id: found.id, name: claimed.name, hostname: spec.hostname ?? "" }, paths, net, spec);
    crashPoint("start");
    refreshDonorNamespaces(root, claimed, paths, net);
    if (ownsShm(claimed)) mountShm(host.native, paths, claimed);
    return await launchMonitored(root, claimed, cgroup, host.monitor, { attachFirst: opts.attach === true && spec.process.terminal });
  } catch (e) {
    await cgroup.destroy();
    unmountShm(host.native, paths);
    await disconnect(host.network, host.native, root, found.id);
    withLock(containerLockFile(root, found.id), () => {
      const s = readState(root, found.id);
      if (s) writeState(root, { ...s, status: "exited", owner: undefined, exitCode: (e as TsboxError).exitCode ?? 125 });
    });
    throw e;
  }
}

