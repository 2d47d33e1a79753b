// The network layer's public API: networks, published ports, a container's
// attachment to them (netavark), the leases they hold on the host, and the
// sweep of what a crash left.

export * from "./networks.js";
export * from "./ports.js";
export * from "./etc-files.js";
export { checkMac } from "./ipv4.js";
export {
  attachNetwork, releaseNetwork, readAttachment, netnsPath, netavarkConfigDir,
  type Attachment, type Endpoint, type NetworkRequest, type NetnsHost,
} from "./attach.js";
export { NetworkError, netavarkBinaries } from "./netavark.js";
export { allLeases, dropLease, type Lease } from "./leases.js";
export { readNetworkConfig, writeNetworkConfig, type ContainerNetworkConfig } from "./container-config.js";
