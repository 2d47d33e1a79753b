// `restart`: stop, then start.

import { startContainer } from "./start.js";
import { stopContainer } from "./stop.js";
import { containerAttributes, recordEvent } from "../state/events.js";

export async function restartContainer(root: string, ref: string, timeoutSec?: number, signalName?: string): Promise<void> {
  await stopContainer(root, ref, timeoutSec, signalName);
  const s = await startContainer(root, ref);
  recordEvent(root, "container", "restart", s.id, containerAttributes(s));
}
