// Public API of the cgroup module: detect the host's cgroup layout, place a
// container in its own cgroup (v1: one dir per hierarchy; v2: one dir),
// apply limits from OCI linux.resources, tear it down.
//
// Layout: hierarchy.ts (mountinfo), cgroup.ts (placement), fs.ts (file ops),
// v1/<controller>.ts and v2/<controller>.ts (one module per controller, each
// with apply(resources, dir, fs)), convert.ts / devices.ts (pure helpers).

export type {
  CgroupVersion, Hierarchy, LinuxResources, LinuxDeviceCgroup, LinuxBlockIO, LinuxWeightDevice, LinuxThrottleDevice,
  CgroupStats, MemoryStats, CpuStats, PidsStats, IoStats, IoDeviceStats,
} from "./types.js";
export { detectHierarchy, hierarchyDirs, parseHierarchy, parseCgroupMounts, type CgroupMount } from "./hierarchy.js";
export {
  createCgroup,
  removeEmptyParents,
  openCgroup,
  listCgroups,
  devicesEnforced,
  DEFAULT_PARENT,
  type Cgroup,
  type CgroupOptions,
} from "./cgroup.js";
export { DOCKER_DEFAULT_DEVICES, deviceRuleWrites } from "./devices.js";
export {
  cpusToNanoCpus, nanoCpusToQuota, memorySwapViolation, checkSwapLimit, pidsMaxValue, DEFAULT_CFS_PERIOD_US,
} from "./convert.js";
export { sharesToWeight, cpuMaxValue } from "./v2/cpu.js";
export { swapToV2, reclaim as reclaimV2, setHigh as setHighV2 } from "./v2/memory.js";
export { memoryWrites as v1MemoryWrites, setLimit as setLimitV1 } from "./v1/memory.js";
export { nodeCgroupFs, type CgroupFs } from "./fs.js";
export { workingSet } from "./v1/memory.js";
export { blkioWrites } from "./v1/blkio.js";
export { blkioWeightToIoWeight, ioWrites } from "./v2/io.js";
export { cgroupSupport, type CgroupSupport } from "./sysinfo.js";
export {
  deviceFilterInstructions, deviceFilterProgram, emulateDeviceRules, encodeInstructions,
  type BpfInsn, type DeviceFilterLoader, type DeviceRuleSet,
} from "./v2/devices-bpf.js";
