// v2 freezer (Linux ≥ 5.2): cgroup.freeze "1"/"0" asks; cgroup.events
// "frozen 1" says the whole subtree has stopped. As runc does, write and then
// wait for cgroup.events to agree (polling with backoff; the kernel also
// notifies via poll on cgroup.events, which Node's fs cannot wait on).

import { setTimeout as sleep } from "node:timers/promises";
import { TsboxError } from "../../errors.js";
import { writeValue, type CgroupFs } from "../fs.js";
import { parseFlatKeyed, readOptional } from "../parse.js";

export const controller = "freezer";

const DEFAULT_TIMEOUT_MS = 10_000;

function eventsFrozen(dir: string, fs: CgroupFs): boolean | undefined {
  const text = readOptional(fs, dir, "cgroup.events");
  if (text === undefined) return undefined;
  return parseFlatKeyed(text).get("frozen") === 1;
}

async function setFrozen(dir: string, fs: CgroupFs, want: boolean, timeoutMs: number): Promise<void> {
  if (readOptional(fs, dir, "cgroup.freeze") === undefined) {
    throw new TsboxError("cgroup: freezing needs cgroup.freeze (Linux 5.2 or later)");
  }
  writeValue(fs, dir, "cgroup.freeze", want ? "1" : "0");
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    const f = eventsFrozen(dir, fs);
    if (f === undefined || f === want) return;
    if (Date.now() >= deadline) {
      if (want) writeValue(fs, dir, "cgroup.freeze", "0");
      throw new TsboxError(`cgroup: unable to ${want ? "freeze" : "thaw"} within ${timeoutMs} ms${want ? "; thawed again" : ""}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 20);
  }
}

export function freeze(dir: string, fs: CgroupFs, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  return setFrozen(dir, fs, true, timeoutMs);
}

export function thaw(dir: string, fs: CgroupFs, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  return setFrozen(dir, fs, false, timeoutMs);
}

/** cgroup.freeze is 1 (frozen, or freezing until cgroup.events agrees). */
export function frozen(dir: string, fs: CgroupFs): boolean {
  return readOptional(fs, dir, "cgroup.freeze")?.trim() === "1";
}
