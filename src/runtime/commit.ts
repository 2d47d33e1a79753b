// `tsbox commit`: a new image from a container's changes. The container is
// paused (the cgroup freezer) while its read-write layer is read, unless
// --pause=false, as Docker does, so that the layer is one moment's state.
import { TsboxError } from "../errors.js";
import { detectHierarchy } from "../cgroupfs/index.js";
import { commitLayerImage } from "../image/commit-layer.js";
import type { ImageConfigBody } from "../image/config.js";
import { MergedView } from "../image/files.js";
import { applyChanges } from "../image/import-changes.js";
import { resolveImage, type ResolvedImage } from "../image/images.js";
import { referenceString } from "../image/reference.js";
import { parseTargetReference } from "../image/tag.js";
import type { ContainerConfig } from "../oci/container-config.js";
import { containerCgroup } from "../state/container-cgroup.js";
import { containerPaths, findContainer, readSpec, type ContainerState } from "../state/container-store.js";
import { isLive } from "./container-control.js";

export interface CommitOptions {
  /** Dockerfile instructions applied to the config (-c) */
  changes: string[];
  message?: string;
  author?: string;
  pause: boolean;
}

/** The container's Config; for one made before tsbox recorded it, what its spec says. */
function configOf(root: string, s: ContainerState, image: ResolvedImage): ContainerConfig {
  if (s.config !== undefined) return s.config;
  const spec = readSpec(root, s.id);
  return {
    Entrypoint: null,
    Cmd: spec?.process.args ?? image.config.config.Cmd ?? null,
    Env: (spec?.process.env ?? image.config.config.Env ?? []).filter((e) => !e.startsWith("HOSTNAME=")),
    WorkingDir: spec?.process.cwd ?? image.config.config.WorkingDir ?? "",
    User: image.config.config.User ?? "",
  };
}

export async function commitContainer(root: string, ref: string, target: string | undefined, opts: CommitOptions): Promise<ResolvedImage> {
  // Bad arguments fail before anything is touched.
  const key = target === undefined ? undefined : referenceString(parseTargetReference(target, "invalid reference format"));
  const s = findContainer(root, ref);
  const image = resolveImage(root, s.imageId);
  const own = configOf(root, s, image);
  const base: ImageConfigBody = { ...image.config.config, ...own };
  if (base.Entrypoint === null) delete base.Entrypoint;
  if (base.WorkingDir === "") delete base.WorkingDir;
  if (base.User === "") delete base.User;
  const config = applyChanges(base, opts.changes);
  const args = [...(own.Entrypoint ?? []), ...(own.Cmd ?? [])];

  const cgroup = opts.pause && isLive(s) ? containerCgroup(detectHierarchy(), s) : undefined;
  const freeze = cgroup !== undefined && !cgroup.frozen();
  if (freeze) await cgroup.freeze();
  try {
    return await commitLayerImage(root, {
      base: image, lower: new MergedView(image.layers), upper: containerPaths(root, s.id).upper, config,
      history: { created_by: args.join(" "), ...(opts.message ? { comment: opts.message } : {}) },
      ...(opts.author ? { author: opts.author } : {}),
      refs: key === undefined ? [] : [key],
    });
  } catch (e) {
    if (e instanceof TsboxError) throw e;
    throw new TsboxError(`commit ${s.name}: ${e instanceof Error ? e.message : String(e)}`, 125, { cause: e });
  } finally {
    if (freeze) await cgroup.thaw();
  }
}
