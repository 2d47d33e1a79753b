// Docker's `network connect` and `network disconnect` events at each start and
// end of a container, as its daemon records them when it joins the container
// to its networks and releases them: one per network, the network as the
// actor, before `start` and after `die`. --network none and host are networks
// in Docker ("none" of type "null", "host"); a container joined to another's
// stack (container:) has none of its own and gets no event.

import { readNetworkConfig } from "../network/container-config.js";
import { DEFAULT_NETWORK_ID, DEFAULT_NETWORK_NAME, listNetworks } from "../network/networks.js";
import { containerPaths } from "../state/container-store.js";
import { recordEvent } from "../state/events.js";
import { log } from "../log.js";

/**
 * Ids for Docker's predefined none and host networks, which tsbox has as modes
 * only: sha256 of "tsbox none network" and "tsbox host network", written out
 * (hashing would load node:crypto on every run); a unit test re-hashes them.
 */
export const NONE_NETWORK_ID = "7899671c40f9fda7823a83dd435615bc666167383216664d883049a47c92c3a7";
export const HOST_NETWORK_ID = "458f3aabe9b1986035adde9b5e4b93e37ea517ec34f7b3d6aa877637d7b6f661";

/** The networks a container is on, as the events name them: actor id, name, type. */
export function containerNetworks(root: string, id: string): { id: string; name: string; type: string }[] {
  const c = readNetworkConfig(containerPaths(root, id).dir);
  if (c === undefined || c.kind === "none") return [{ id: NONE_NETWORK_ID, name: "none", type: "null" }];
  if (c.kind === "host") return [{ id: HOST_NETWORK_ID, name: "host", type: "host" }];
  if (c.kind !== "bridge" || !c.request) return [];
  const ids = c.request.networks;
  // The default network alone needs no listing of the user-defined ones (every `run` comes here).
  const known = ids.every((n) => n === DEFAULT_NETWORK_ID) ? [] : listNetworks(root);
  return ids.map((n) => ({
    id: n, type: "bridge", name: n === DEFAULT_NETWORK_ID ? DEFAULT_NETWORK_NAME : known.find((k) => k.id === n)?.name ?? n,
  }));
}

/**
 * Records `connect` (before the container's start) or `disconnect` (after its
 * die) for each of its networks. Like recordEvent, never fails the verb: a
 * network config that cannot be read costs the events, not the start or stop.
 */
export function recordNetworkEvents(root: string, id: string, action: "connect" | "disconnect"): void {
  let nets: ReturnType<typeof containerNetworks>;
  try {
    nets = containerNetworks(root, id);
  } catch (e) {
    log().debug({ err: e, action, id }, "network events not recorded");
    return;
  }
  for (const n of nets) recordEvent(root, "network", action, n.id, { container: id, name: n.name, type: n.type });
}
