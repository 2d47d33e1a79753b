// v1 freezer controller: freezer.state THAWED / FREEZING / FROZEN.
// Writing FROZEN starts freezing; the state reads FREEZING until every task
// has stopped, and can stay there when tasks keep forking or sit in an
// uninterruptible sleep. As runc does (libcontainer/cgroups/fs/freezer.go):
// rewrite FROZEN and re-read, thaw briefly every 50 attempts so a stuck
// freeze can restart, and give up (thawed again) after 1000 attempts.

import { setTimeout as sleep } from "node:timers/promises";
import { TsboxError } from "../../errors.js";
import { readValue, writeValue, type CgroupFs } from "../fs.js";
import { readOptional } from "../parse.js";

export const controller = "freezer";

const STATE = "freezer.state";
const ATTEMPTS = 1000;

export async function freeze(dir: string, fs: CgroupFs): Promise<void> {
  for (let i = 0; i < ATTEMPTS; i++) {
    if (i % 50 === 49) {
      writeValue(fs, dir, STATE, "THAWED");
      await sleep(10);
    }
    writeValue(fs, dir, STATE, "FROZEN");
    if (i % 25 === 24) await sleep(1);
    const state = readValue(fs, dir, STATE);
    if (state === "FROZEN") return;
    if (state !== "FREEZING") throw new TsboxError(`cgroup: unexpected freezer state ${JSON.stringify(state)} after writing FROZEN`);
    await Promise.resolve(); // let the event loop breathe between attempts
  }
  writeValue(fs, dir, STATE, "THAWED");
  throw new TsboxError("cgroup: unable to freeze (processes stayed in FREEZING); thawed again");
}

export async function thaw(dir: string, fs: CgroupFs): Promise<void> {
  writeValue(fs, dir, STATE, "THAWED");
  for (let i = 0; i < ATTEMPTS; i++) {
    const state = readValue(fs, dir, STATE);
    if (state === "THAWED") return;
    await sleep(1);
  }
  throw new TsboxError("cgroup: unable to thaw");
}

/** FROZEN or FREEZING; false when there is no freezer.state. */
export function frozen(dir: string, fs: CgroupFs): boolean {
  const s = readOptional(fs, dir, STATE)?.trim();
  return s === "FROZEN" || s === "FREEZING";
}
