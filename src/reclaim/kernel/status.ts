// What `mem ksm status` reports: the global counters plus, for every running
// container, the KSM figures of its processes.

import { NotFoundError, TsboxError } from "../../errors.js";
import { findContainer, readAllStates, type ContainerState } from "../../state/container-store.js";
import { PAGE_SIZE } from "../profile.js";
import { memoryCgroupOf } from "./cgroup-memory.js";
import { containerKsm, ksmSaved, readKsm, type ContainerKsm, type KsmCounters } from "./ksm.js";

export interface KsmStatus {
  global: KsmCounters;
  /** (pages_sharing + ksm_zero_pages) × page size */
  savedBytes: number;
  containers: ContainerKsm[];
}

export function runningContainer(root: string, ref: string): ContainerState {
  const c = findContainer(root, ref);
  if (c.status !== "running") throw new TsboxError(`Container ${c.id} is not running`);
  return c;
}

export function ksmStatus(root: string): KsmStatus {
  const global = readKsm();
  const containers: ContainerKsm[] = [];
  for (const s of readAllStates(root)) {
    if (s.status !== "running") continue;
    let pids: number[];
    try {
      pids = memoryCgroupOf(s).pids();
    } catch (e) {
      if (e instanceof NotFoundError) continue;
      throw e;
    }
    containers.push(containerKsm(s, pids));
  }
  return { global, savedBytes: ksmSaved(global) * PAGE_SIZE, containers };
}
