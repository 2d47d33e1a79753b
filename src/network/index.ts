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
import { sweepOrphanLeases } from "./leases.js";
import { ANCHOR_DIR } from "./anchor.js";
import { WARM_DIR, warmHolderExists } from "./warm.js";
import { drainWarmNamespaces, type NetnsHost } from "./attach.js";

/** What a crash or a hand-removed root left on the host's network, and the warm namespaces: freed by `system prune`. */
export function sweepNetworkLeftovers(host: NetnsHost): number {
  const drained = drainWarmNamespaces(host);
  return drained + sweepOrphanLeases(ANCHOR_DIR, { dir: WARM_DIR, exists: warmHolderExists }).length;
}
export { readNetworkConfig, writeNetworkConfig, type ContainerNetworkConfig } from "./container-config.js";
export { netnsPath } from "./container-files.js";
