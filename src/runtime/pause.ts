// `pause` and `unpause`: the cgroup freezer.

import { TsboxError } from "../errors.js";
import { detectHierarchy } from "../cgroupfs/index.js";
import { containerCgroup } from "../state/container-cgroup.js";
import { findContainer } from "../state/container-store.js";
import { isLive } from "./container-control.js";
import { containerAttributes, recordEvent } from "../state/events.js";

/** pause/unpause: the cgroup freezer (Docker's wording for the refusals). */
export async function pauseContainer(root: string, ref: string, pause: boolean): Promise<void> {
  const s = findContainer(root, ref);
  if (!isLive(s)) throw new TsboxError(`Container ${s.id} is not running`);
  const cg = containerCgroup(detectHierarchy(), s);
  if (pause) {
    if (cg.frozen()) throw new TsboxError(`Container ${s.id} is already paused`);
    await cg.freeze();
  } else {
    if (!cg.frozen()) throw new TsboxError(`Container ${s.id} is not paused`);
    await cg.thaw();
  }
  recordEvent(root, "container", pause ? "pause" : "unpause", s.id, containerAttributes(s));
}
