// `stop`: SIGTERM, then SIGKILL after the timeout; the monitor is asked not to restart.

import { findContainer, readState } from "../state/container-store.js";
import { crashPoint } from "../state/crash.js";
import { isLive, requestStop, signal, thawIfPaused, waitExited } from "./container-control.js";

export async function stopContainer(root: string, ref: string, timeoutSec = 10): Promise<void> {
  const s = findContainer(root, ref);
  if (!isLive(s)) return;
  requestStop(root, s.id);
  crashPoint("stop");
  signal(s, "SIGTERM");
  await thawIfPaused(s); // as Docker: a paused container gets the signal once it runs again
  if (timeoutSec > 0 && (await waitExited(root, s.id, timeoutSec * 1000))) return;
  const now = readState(root, s.id);
  if (now && now.status !== "exited") signal(now, "SIGKILL");
  await waitExited(root, s.id);
}
