// Where a bundle's container gets its cgroup: the spec's linux.cgroupsPath,
// taken below tsbox's own cgroup root in every hierarchy (tsbox never writes
// to a cgroup it did not create): "/docker/<id>" becomes tsbox/docker/<id>.
// With --systemd-cgroup the path is systemd's "slice:prefix:name", laid out
// as systemd would (slices nested by their dashes, the container a scope),
// still through cgroupfs. Without a path: tsbox/runc/<id>.

import { posix } from "node:path";
import { DEFAULT_PARENT } from "../../cgroupfs/index.js";
import { UsageError } from "../../errors.js";

export interface BundleCgroupPath {
  /** the parent below each hierarchy's mount, "/"-separated, starting with tsbox's root */
  parent: string;
  /** the container's own directory in it (the only one removed at delete) */
  name: string;
}

export function bundleCgroupPath(cgroupsPath: string, id: string, systemd: boolean): BundleCgroupPath {
  let segments: string[];
  if (systemd && cgroupsPath !== "") {
    const parts = cgroupsPath.split(":");
    if (parts.length !== 3) {
      throw new UsageError(`expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got ${JSON.stringify(cgroupsPath)} instead`, 1);
    }
    const [slice, prefix, name] = parts as [string, string, string];
    segments = [...expandSlice(slice === "" ? "system.slice" : slice), prefix === "" ? name : `${prefix}-${name}.scope`];
  } else if (cgroupsPath !== "") {
    // As runc's CleanPath: ".." cannot climb above the root.
    segments = posix.normalize(`/${cgroupsPath}`).split("/").filter((s) => s !== "");
  } else {
    segments = systemd ? ["system.slice", `runc-${id}.scope`] : ["runc", id];
  }
  if (segments.length === 0) throw new UsageError(`cgroupsPath ${JSON.stringify(cgroupsPath)} names no cgroup`, 1);
  const name = segments.pop()!;
  return { parent: [DEFAULT_PARENT, ...segments].join("/"), name };
}

/** systemd's nesting of a slice: "a-b-c.slice" is a.slice/a-b.slice/a-b-c.slice. */
function expandSlice(slice: string): string[] {
  if (!slice.endsWith(".slice") || slice.includes("/")) throw new UsageError(`invalid slice name ${JSON.stringify(slice)}`, 1);
  if (slice === "-.slice") return [];
  const stem = slice.slice(0, -".slice".length);
  if (stem === "" || stem.startsWith("-") || stem.endsWith("-") || stem.includes("--")) {
    throw new UsageError(`invalid slice name ${JSON.stringify(slice)}`, 1);
  }
  const words = stem.split("-");
  return words.map((_, i) => `${words.slice(0, i + 1).join("-")}.slice`);
}
