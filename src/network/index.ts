// The network layer's public API: networks, published ports, a container's
// attachment to them (netavark), the leases they hold on the host, and the
// sweep of what a crash left.

export * from "./networks.js";
export * from "./ports.js";
export * from "./etc-files.js";
export { checkMac } from "./ipv4.js";
export { checkWeight, parseRate, type Link } from "./shaping.js";
export {
  attachNetwork, releaseNetwork, drainWarmNamespaces, forgoWarm, releaseNetworkBridge, connectNetwork, disconnectNetwork, readAttachment, netavarkConfigDir,
  type Attachment, type Endpoint, type NetworkRequest, type NetnsHost,
} from "./attach.js";
export { NetworkError, netavarkBinaries } from "./netavark.js";
export { allLeases, dropLease, type Lease } from "./leases.js";
export { ANCHOR_DIR } from "./anchor.js";
import { allLeases, sweepOrphanLeases } from "./leases.js";
import { ANCHOR_DIR } from "./anchor.js";
import { WARM_DIR, warmHolderExists } from "./warm.js";
import { drainWarmNamespaces, sweepLeaseScopes, type NetnsHost } from "./attach.js";
import { definedNetworkIds } from "./networks.js";

/**
 * What a crash or a hand-removed root left on the host's network, and the
 * warm namespaces: freed by `system prune` of `root`.
 *
 * /run/tsbox/net is shared by every --root on the host, and no list of the
 * roots is kept. A network's address directory is removed only when it is
 * empty, under the network lock, and when no definition known here names it:
 * this root's, and every other root's user-defined networks, each of which
 * holds its subnet's lease naming it (the orphans among those, whose
 * definition is gone, were dropped just before), and the default network,
 * whose id is the same in every root.
 */
export function sweepNetworkLeftovers(host: NetnsHost, root: string): number {
  const drained = drainWarmNamespaces(host);
  const orphans = sweepOrphanLeases(ANCHOR_DIR, { dir: WARM_DIR, exists: warmHolderExists }).length;
  const defined = new Set([
    ...definedNetworkIds(root),
    ...allLeases().filter((l) => l.kind === "subnet").map((l) => l.holder.id),
  ]);
  return drained + orphans + sweepLeaseScopes(defined);
}
export { readNetworkConfig, writeNetworkConfig, type ContainerNetworkConfig } from "./container-config.js";
export { netnsPath } from "./container-files.js";
