// What `mem ksm status` reports: the global counters plus, for every running
// container, the KSM figures of its processes: its merged pages, and its
// share of the saving (ksm-share.ts), which over all processes adds up to the
// kernel's general_profit.

import { NotFoundError, TsboxError } from "../../errors.js";
import { findContainer, readAllStates, type ContainerState } from "../../state/container-store.js";
import { PAGE_SIZE } from "../profile.js";
import { memoryCgroupOf } from "./cgroup-memory.js";
import { containerKsm, ksmSaved, readKsm, type ContainerKsm, type KsmCounters } from "./ksm.js";
import { ksmCensus, ksmShare, type KsmCensus } from "./ksm-share.js";

/**
 * A container's KSM figures. ksmProcessProfit is the kernel's sum of its
 * processes' ksm_process_profit, which counts the copy KSM keeps in every
 * process that maps it; savedPages and profit are the container's share of
 * the saving, a KSM page mapped m times counting (m − 1)/m for each mapping.
 */
export interface ContainerKsmStatus extends ContainerKsm {
  /** pages saved, apportioned over each KSM page's mappings (two decimals) */
  savedPages: number;
  /** savedPages and KSM zero pages, less the rmap items' cost, bytes */
  profit: number;
}

export interface KsmStatus {
  global: KsmCounters;
  /** (pages_sharing + ksm_zero_pages) × page size */
  savedBytes: number;
  containers: ContainerKsmStatus[];
}

export function runningContainer(root: string, ref: string): ContainerState {
  const c = findContainer(root, ref);
  if (c.status !== "running") throw new TsboxError(`Container ${c.id} is not running`);
  return c;
}

export function ksmStatus(root: string): KsmStatus {
  const global = readKsm();
  const containers: ContainerKsmStatus[] = [];
  let census: KsmCensus | undefined; // one walk of every KSM user's pages, for all containers
  for (const s of readAllStates(root)) {
    if (s.status !== "running") continue;
    let pids: number[];
    try {
      pids = memoryCgroupOf(s).pids();
    } catch (e) {
      if (e instanceof NotFoundError) continue;
      throw e;
    }
    census ??= ksmCensus();
    const share = ksmShare(pids, census);
    containers.push({ ...containerKsm(s, pids), savedPages: Math.round(share.savedPages * 100) / 100, profit: share.profit });
  }
  return { global, savedBytes: ksmSaved(global) * PAGE_SIZE, containers };
}
