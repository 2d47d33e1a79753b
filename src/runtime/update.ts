// `tsbox update`: live changes of a container's limits. The change is merged
// into the resources recorded in its config.json with Docker's rules (moby
// container/container_unix.go UpdateContainer, then the same checks as at
// create: daemon verifyPlatformContainerResources), written to its cgroup when
// it runs, and recorded so that inspect and later updates see it.

import { cpusToNanoCpus, detectHierarchy, nanoCpusToQuota, type LinuxResources } from "../cgroupfs/index.js";
import { TsboxError, UsageError } from "../errors.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { withLock } from "../util/lock.js";
import { containerCgroup } from "../state/container-cgroup.js";
import {
  containerLockFile, containerPaths, findContainer, ownerAlive, readSpec, readState, writeState, type ContainerState, type RestartPolicy,
} from "../state/container-store.js";
import { NANO_CPUS_ANNOTATION, type RunFlags } from "../oci/specconv.js";
import type { Spec } from "../oci/spec.js";
import { MIN_MEMORY, checkMemorySwap } from "../oci/units.js";

/** The flags of `docker update` that tsbox knows, as `run` takes them; absent = unchanged (0 and "" too, as in Docker). */
export type ResourceUpdate = Pick<RunFlags, "memory" | "memorySwap" | "memoryReservation" | "cpus" | "cpuShares"
  | "cpuPeriod" | "cpuQuota" | "cpusetCpus" | "cpusetMems" | "pidsLimit" | "blkioWeight">;

/** Docker's HostConfig resource fields, the level at which its update rules are written. */
interface DockerResources {
  memory: number;
  memorySwap: number;
  memoryReservation: number;
  nanoCpus: number;
  cpuShares: number;
  cpuPeriod: number;
  cpuQuota: number;
  cpusetCpus: string;
  cpusetMems: string;
  /** undefined: not set */
  pidsLimit?: number;
  blkioWeight: number;
}

function fromSpec(r: LinuxResources, nanoCpus: number): DockerResources {
  return {
    memory: r.memory?.limit ?? 0,
    memorySwap: r.memory?.swap ?? 0,
    memoryReservation: r.memory?.reservation ?? 0,
    nanoCpus,
    cpuShares: r.cpu?.shares ?? 0,
    // quota/period made from --cpus are NanoCPUs, not CPUQuota/CPUPeriod
    cpuPeriod: nanoCpus > 0 ? 0 : r.cpu?.period ?? 0,
    cpuQuota: nanoCpus > 0 ? 0 : r.cpu?.quota ?? 0,
    cpusetCpus: r.cpu?.cpus ?? "",
    cpusetMems: r.cpu?.mems ?? "",
    ...(r.pids?.limit !== undefined ? { pidsLimit: r.pids.limit } : {}),
    blkioWeight: r.blockIO?.weight ?? 0,
  };
}

/** The Docker-level fields back into linux.resources; everything else (devices, swappiness, throttles...) as it was. */
function toSpec(d: DockerResources, base: LinuxResources): LinuxResources {
  const out: LinuxResources = { ...base };
  const { limit: _l, swap: _s, reservation: _r, ...memRest } = base.memory ?? {};
  const memory = {
    ...memRest,
    ...(d.memory ? { limit: d.memory } : {}),
    ...(d.memorySwap ? { swap: d.memorySwap } : {}),
    ...(d.memoryReservation ? { reservation: d.memoryReservation } : {}),
  };
  if (Object.keys(memory).length > 0) out.memory = memory;
  else delete out.memory;
  const cpu: NonNullable<LinuxResources["cpu"]> = {};
  if (d.nanoCpus > 0) Object.assign(cpu, nanoCpusToQuota(d.nanoCpus));
  else {
    if (d.cpuQuota) cpu.quota = d.cpuQuota;
    if (d.cpuPeriod) cpu.period = d.cpuPeriod;
  }
  if (d.cpuShares) cpu.shares = d.cpuShares;
  if (d.cpusetCpus) cpu.cpus = d.cpusetCpus;
  if (d.cpusetMems) cpu.mems = d.cpusetMems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  else delete out.cpu;
  if (d.pidsLimit !== undefined) out.pids = { limit: d.pidsLimit <= 0 ? -1 : d.pidsLimit };
  if (d.blkioWeight) out.blockIO = { ...base.blockIO, weight: d.blkioWeight };
  return out;
}

/**
 * The container's resources after the update, or Docker's error. Pure:
 * `current` is the spec's linux.resources, `nanoCpus` its recorded --cpus.
 */
export function mergeResources(
  current: LinuxResources, nanoCpus: number, u: ResourceUpdate,
): { resources: LinuxResources; nanoCpus: number } {
  const c = fromSpec(current, nanoCpus);
  const req = {
    nanoCpus: u.cpus !== undefined ? cpusToNanoCpus(u.cpus) : 0,
    cpuPeriod: u.cpuPeriod ?? 0,
    cpuQuota: u.cpuQuota ?? 0,
  };
  if (req.nanoCpus > 0 && c.cpuPeriod > 0) throw new UsageError("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set");
  if (req.nanoCpus > 0 && c.cpuQuota > 0) throw new UsageError("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set");
  if (req.cpuPeriod > 0 && c.nanoCpus > 0) throw new UsageError("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set");
  if (req.cpuQuota > 0 && c.nanoCpus > 0) throw new UsageError("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
  if (req.nanoCpus > 0 && (req.cpuPeriod !== 0 || req.cpuQuota !== 0)) {
    throw new UsageError(`Conflicting options: Nano CPUs and CPU ${req.cpuPeriod !== 0 ? "Period" : "Quota"} cannot both be set`);
  }
  if (req.nanoCpus) c.nanoCpus = req.nanoCpus;
  if (req.cpuPeriod) c.cpuPeriod = req.cpuPeriod;
  if (req.cpuQuota) c.cpuQuota = req.cpuQuota;
  if (u.cpuShares) c.cpuShares = u.cpuShares;
  if (u.cpusetCpus) c.cpusetCpus = u.cpusetCpus;
  if (u.cpusetMems) c.cpusetMems = u.cpusetMems;
  if (u.memory) {
    // Docker's rule, literally: a new memory limit above the recorded
    // memory+swap limit (0 when none was set) needs --memory-swap with it.
    if (u.memory > c.memorySwap && !u.memorySwap) {
      throw new UsageError("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
    }
    c.memory = u.memory;
  }
  if (u.memorySwap) c.memorySwap = u.memorySwap;
  if (u.memoryReservation) c.memoryReservation = u.memoryReservation;
  if (u.pidsLimit !== undefined) c.pidsLimit = u.pidsLimit;
  if (u.blkioWeight) c.blkioWeight = u.blkioWeight;

  // The checks `run` makes, on the merged result (verifyPlatformContainerResources with update=true).
  if (c.memory > 0 && c.memory < MIN_MEMORY) throw new UsageError("Minimum memory limit allowed is 6MB");
  checkMemorySwap(c.memory || undefined, c.memorySwap || undefined); // 0: not set
  if (c.memory > 0 && c.memoryReservation > 0 && c.memory < c.memoryReservation) {
    throw new UsageError("Minimum memory limit can not be less than memory reservation limit, see usage");
  }
  if (c.blkioWeight > 0 && (c.blkioWeight < 10 || c.blkioWeight > 1000)) throw new UsageError("Range of blkio weight is from 10 to 1000");
  if (c.cpuQuota > 0 && c.cpuQuota < 1000) throw new UsageError("CPU cfs quota can not be less than 1ms (i.e. 1000)");
  if (c.cpuPeriod !== 0 && (c.cpuPeriod < 1000 || c.cpuPeriod > 1_000_000)) {
    throw new UsageError("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  }
  return { resources: toSpec(c, current), nanoCpus: c.nanoCpus };
}

export function hasChanges(u: ResourceUpdate): boolean {
  return Object.values(u).some((v) => v !== undefined);
}

/**
 * Updates one container (by name, id or id prefix): its limits (running: its
 * cgroup too) and its restart policy (recorded in state.json, where the
 * monitor's decider reads it at the next exit).
 */
export function updateContainer(root: string, ref: string, u: ResourceUpdate, restart?: RestartPolicy): void {
  const found = findContainer(root, ref);
  withLock(containerLockFile(root, found.id), () => {
    const state = readState(root, found.id);
    if (!state) throw new TsboxError(`No such container: ${ref}`);
    // Checked first: a refused update changes nothing.
    if (restart && restart.name !== "no" && state.autoRemove) {
      throw new TsboxError(`Cannot update container ${state.id}: Restart policy cannot be updated because AutoRemove is enabled for the container`);
    }
    if (hasChanges(u)) updateResources(root, state, u);
    if (restart) writeState(root, { ...state, restartPolicy: restart });
  });
}

function updateResources(root: string, state: ContainerState, u: ResourceUpdate): void {
  const paths = containerPaths(root, state.id);
  const spec = readSpec(root, state.id);
  if (!spec) throw new TsboxError(`Cannot update container ${state.id}: no config.json`);
  const nano = Number(spec.annotations?.[NANO_CPUS_ANNOTATION] ?? 0);
  let merged: ReturnType<typeof mergeResources>;
  try {
    merged = mergeResources(spec.linux.resources, nano, u);
  } catch (e) {
    if (e instanceof TsboxError) throw new UsageError(`Cannot update container ${state.id}: ${e.message}`);
    throw e;
  }
  if (state.status === "running" && ownerAlive(state.owner)) {
    // Devices stay as they are: re-applying v1 rules starts with "deny all",
    // a window in which the running container would lose /dev/null.
    const { devices: _unchanged, ...live } = merged.resources;
    try {
      containerCgroup(detectHierarchy(), state).apply(live);
    } catch (e) {
      throw new TsboxError(`Cannot update container ${state.id}: ${(e as Error).message}`, 125, { cause: e });
    }
  }
  const annotations = { ...spec.annotations };
  if (merged.nanoCpus > 0) annotations[NANO_CPUS_ANNOTATION] = String(merged.nanoCpus);
  else delete annotations[NANO_CPUS_ANNOTATION];
  const next: Spec = { ...spec, linux: { ...spec.linux, resources: merged.resources } };
  if (Object.keys(annotations).length > 0) next.annotations = annotations;
  else delete next.annotations;
  writeJsonAtomic(paths.config, next, false);
}
