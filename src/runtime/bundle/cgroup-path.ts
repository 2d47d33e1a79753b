// Where a bundle's container gets its cgroup, from the spec's linux.cgroupsPath
// as engines mean it (a kubelet's pod cgroups must contain their containers):
// - absolute ("/kubepods/pod1/c1"): taken literally below each hierarchy's
//   root (every v1 hierarchy, or the v2 one), as runc does;
// - relative ("docker/c1"): below tsbox's own root, tsbox/docker/c1;
// - none: tsbox/runc/<id>;
// - --systemd-cgroup "slice:prefix:name": literally <slice path>/<prefix>-<name>.scope,
//   the slice nested by its dashes as systemd does (a-b.slice is
//   a.slice/a-b.slice), laid out through cgroupfs.
// The parents that are missing are created (and recorded, so that delete
// removes exactly those); the container's own directory must not exist yet:
// tsbox never joins or writes to a cgroup it did not create (cgroupfs createCgroup).

import { posix } from "node:path";
import { DEFAULT_PARENT } from "../../cgroupfs/index.js";
import { UsageError } from "../../errors.js";

export interface BundleCgroupPath {
  /**
   * the parent below each hierarchy's mount, "/"-separated: a literal one
   * starts with "/" ("/" itself: the hierarchy's root), else it starts with
   * tsbox's root
   */
  parent: string;
  /** the container's own directory in it */
  name: string;
}

export function bundleCgroupPath(cgroupsPath: string, id: string, systemd: boolean): BundleCgroupPath {
  let segments: string[];
  let literal: boolean;
  if (systemd && cgroupsPath !== "") {
    const parts = cgroupsPath.split(":");
    if (parts.length !== 3) {
      throw new UsageError(`expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got ${JSON.stringify(cgroupsPath)} instead`, 1);
    }
    const [slice, prefix, name] = parts as [string, string, string];
    // runc's getUnitName: a name that is a slice is the unit itself, anything else a scope.
    const unit = name.endsWith(".slice") || prefix === "" ? name : `${prefix}-${name}.scope`;
    segments = [...expandSlice(slice === "" ? "system.slice" : slice), unit];
    literal = true;
  } else if (cgroupsPath !== "") {
    // As runc's CleanPath: ".." cannot climb above the root.
    segments = posix.normalize(`/${cgroupsPath}`).split("/").filter((s) => s !== "");
    literal = cgroupsPath.startsWith("/");
  } else {
    segments = systemd ? ["system.slice", `runc-${id}.scope`] : ["runc", id];
    literal = false;
  }
  if (segments.length === 0) throw new UsageError(`cgroupsPath ${JSON.stringify(cgroupsPath)} names no cgroup`, 1);
  const name = segments.pop()!;
  return { parent: literal ? `/${segments.join("/")}` : [DEFAULT_PARENT, ...segments].join("/"), name };
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
