// `tsbox mem stat`: one reading of each container's memory accounting
// (Cgroup.stats(), the same shape on cgroup v1 and v2).

import type { MemoryStats } from "../../cgroupfs/index.js";
import { humanSize, table } from "../../format.js";
import type { RunningContainer } from "./targets.js";

export interface MemStat { id: string; name: string; memory?: MemoryStats }

export function memStats(containers: readonly RunningContainer[]): MemStat[] {
  return containers.map(({ state, cgroup }) => {
    const { memory } = cgroup.stats();
    return memory === undefined ? { id: state.id, name: state.name } : { id: state.id, name: state.name, memory };
  });
}

const size = (b: number | undefined): string => (b === undefined ? "--" : humanSize(b));

export function statTable(stats: readonly MemStat[]): string {
  const rows = stats.map(({ id, name, memory: m }) => [
    id.slice(0, 12), name,
    m ? `${size(m.usage)} / ${m.limit === undefined ? "unlimited" : size(m.limit)}` : "--",
    size(m?.workingSet), size(m?.anon), size(m?.file), size(m?.activeFile), size(m?.inactiveFile),
    size(m?.shmem), size(m?.slab), size(m?.swap), m?.refaults === undefined ? "--" : String(m.refaults),
    m?.pressure ? `${m.pressure.someAvg10.toFixed(2)} / ${m.pressure.fullAvg10.toFixed(2)}` : "--",
  ]);
  return table(["CONTAINER ID", "NAME", "USAGE / LIMIT", "WORKING SET", "ANON", "FILE", "ACTIVE FILE", "INACTIVE FILE",
    "SHMEM", "SLAB", "SWAP", "REFAULTS", "PSI SOME / FULL"], rows);
}
