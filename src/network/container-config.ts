// What a container asked of the network at `run` (network-config.json in its
// directory), read again at every start: its mode, networks, ports, aliases
// and DNS flags. inspect's HostConfig and NetworkSettings come from it and
// from the attachment.

import { join } from "node:path";
import { writeJsonAtomic } from "../util/atomic.js";
import { arrayOf, boolean, integer, object, oneOf, optional, readChecked, string, type Check } from "../util/shape.js";
import type { NetworkRequest } from "./attach.js";
import type { ResolvOptions } from "./etc-files.js";

export interface ContainerNetworkConfig {
  /** --network as Docker records it: "bridge", "none", "host", "container:<id>", or a network's name */
  mode: string;
  kind: "bridge" | "none" | "host" | "container";
  /** bridge and user-defined networks */
  request?: NetworkRequest;
  /** container:… — the other container's id */
  container?: string;
  addHosts: { name: string; ip: string }[];
  dns: ResolvOptions;
  /** -P */
  publishAll: boolean;
}

const portRequest = object({
  hostIp: string, hostPort: integer, containerPort: integer, protocol: oneOf("tcp", "udp", "sctp"),
  hostRange: optional(object({ start: integer, end: integer })),
});

const checkConfig: Check<ContainerNetworkConfig> = object({
  mode: string,
  kind: oneOf("bridge", "none", "host", "container"),
  request: optional(object({
    networks: arrayOf(string), aliases: arrayOf(string), ports: arrayOf(portRequest), ip: optional(string), ip6: optional(string), mac: optional(string),
    weight: optional(integer), rate: optional(integer),
  })),
  container: optional(string),
  addHosts: arrayOf(object({ name: string, ip: string })),
  dns: object({ dns: arrayOf(string), dnsSearch: arrayOf(string), dnsOptions: arrayOf(string) }),
  publishAll: boolean,
});

function file(dir: string): string {
  return join(dir, "network-config.json");
}

export function writeNetworkConfig(dir: string, c: ContainerNetworkConfig): void {
  writeJsonAtomic(file(dir), c, false);
}

/** undefined for a container made before tsbox had networks (it had none: --network none). */
export function readNetworkConfig(dir: string): ContainerNetworkConfig | undefined {
  return readChecked(file(dir), checkConfig);
}
