// `wait`: blocks until the container has exited; its exit code.

import { findContainer } from "../state/container-store.js";
import { waitExited } from "./container-control.js";

export async function waitContainer(root: string, ref: string): Promise<number> {
  const s = findContainer(root, ref);
  const done = await waitExited(root, s.id);
  return done?.exitCode ?? s.exitCode ?? 0;
}
