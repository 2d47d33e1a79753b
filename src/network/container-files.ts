// Where a container's network lives in its directory: names only, so that the
// restart decider can find a donor's namespace without the rest of networking.

import { join } from "node:path";

/** A container's own network namespace, pinned by a bind mount while it is attached (it outlives restarts). */
export function netnsPath(dir: string): string {
  return join(dir, "netns");
}

/** The record of a container's attachment (attach.ts): present while it is on a network. */
export function attachmentPath(dir: string): string {
  return join(dir, "network.json");
}
