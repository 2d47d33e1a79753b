// `stop`: SIGTERM, then SIGKILL after the timeout; the monitor is asked not to restart.

import { setTimeout as sleep } from "node:timers/promises";
import { findContainer, ownerAlive, readState } from "../state/container-store.js";
import { releaseStopped } from "./network.js";
import { crashPoint } from "../util/crash.js";
import { containerAttributes, recordEvent } from "../state/events.js";
import { isLive, requestStop, signal, thawIfPaused, waitExited } from "./container-control.js";
import { parseSignal, signalNumber } from "./kill.js";

/**
 * The signal asked for (-s), else the container's stop signal (--stop-signal,
 * else the image's STOPSIGNAL, else SIGTERM), then SIGKILL after `timeoutSec` (else its --stop-timeout,
 * else 10 s), as Docker stops a container.
 */
export async function stopContainer(root: string, ref: string, timeoutSec?: number, signalName?: string): Promise<void> {
  // -s: checked before anything happens, as Docker's daemon refuses a bad one.
  const asked = signalName === undefined ? undefined : parseSignal(signalName);
  const s = findContainer(root, ref);
  if (!isLive(s)) return;
  requestStop(root, s.id);
  crashPoint("stop");
  const stopSignal = asked ?? (s.config?.StopSignal !== undefined ? parseSignal(s.config.StopSignal) : "SIGTERM");
  recordEvent(root, "container", "kill", s.id, containerAttributes(s, { signal: String(signalNumber(stopSignal)) }));
  signal(s, stopSignal);
  timeoutSec ??= s.config?.StopTimeout ?? 10;
  await thawIfPaused(s); // as Docker: a paused container gets the signal once it runs again
  if (!(timeoutSec > 0 && (await waitExited(root, s.id, timeoutSec * 1000)))) {
    const now = readState(root, s.id);
    if (now && now.status !== "exited") {
      recordEvent(root, "container", "kill", s.id, containerAttributes(now, { signal: "9" }));
      signal(now, "SIGKILL");
    }
    await waitExited(root, s.id);
  }
  await waitMonitorGone(root, s.id);
  await releaseStopped(root, s.id);
  recordEvent(root, "container", "stop", s.id, containerAttributes(readState(root, s.id) ?? s));
}

/** The monitor writes its last status and exits right after the container: a stopped container's network goes once it has. */
async function waitMonitorGone(root: string, id: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const s = readState(root, id);
    if (!s || !ownerAlive(s.owner)) return;
    await sleep(10);
  }
}
