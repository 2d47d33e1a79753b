// `restart`: stop, then start.

import { startContainer } from "./start.js";
import { stopContainer } from "./stop.js";

export async function restartContainer(root: string, ref: string, timeoutSec?: number): Promise<void> {
  await stopContainer(root, ref, timeoutSec);
  await startContainer(root, ref);
}
