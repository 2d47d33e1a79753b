// `docker image inspect`: the image as Docker 20.10 describes it, so scripts
// written against `docker image inspect` read tsbox's output unchanged.
// Docker-only fields tsbox has no notion of (Container, DockerVersion, Parent)
// are present and empty, as Docker shows them for imported images.
import type { ImageConfigBody } from "./config.js";
import { chainIDs } from "./digest.js";
import { layerRef, layerSize } from "./layers.js";
import { lookupImage, parseKey, referencesByImage } from "./images.js";
import { familiarName, familiarString } from "./reference.js";
import { readRepositories, storePaths } from "./store.js";

/** Docker's container.Config, the shape `Config` and `ContainerConfig` have in `inspect`. */
export interface DockerContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, object>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[] | null;
  Cmd: string[] | null;
  Healthcheck?: NonNullable<ImageConfigBody["Healthcheck"]>;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string> | null;
  StopSignal?: string;
  Shell?: string[];
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container: string;
  ContainerConfig: DockerContainerConfig;
  DockerVersion: string;
  Author: string;
  Config: DockerContainerConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  VirtualSize: number;
  GraphDriver: { Data: Record<string, string>; Name: "overlay2" };
  RootFS: { Type: "layers"; Layers: string[] };
  Metadata: { LastTagTime: string };
}

function dockerConfig(c: ImageConfigBody | undefined): DockerContainerConfig {
  const out: DockerContainerConfig = {
    Hostname: "", Domainname: "", User: c?.User ?? "",
    AttachStdin: false, AttachStdout: false, AttachStderr: false,
    Tty: false, OpenStdin: false, StdinOnce: false,
    Env: c?.Env ?? null, Cmd: c?.Cmd ?? null,
    ...(c?.Healthcheck !== undefined ? { Healthcheck: c.Healthcheck } : {}),
    Image: "",
    Volumes: c?.Volumes ?? null, WorkingDir: c?.WorkingDir ?? "",
    Entrypoint: c?.Entrypoint ?? null, OnBuild: c?.OnBuild ?? null, Labels: c?.Labels ?? null,
  };
  if (c?.ExposedPorts !== undefined) out.ExposedPorts = c.ExposedPorts;
  if (c?.StopSignal !== undefined) out.StopSignal = c.StopSignal;
  if (c?.Shell !== undefined) out.Shell = c.Shell;
  return out;
}

/** One image, by name, ID or ID prefix (NotFoundError as `docker image inspect` words it). */
export function inspectImage(root: string, refOrId: string): ImageInspect {
  const p = storePaths(root);
  const { image } = lookupImage(p, refOrId);
  const keys = (referencesByImage(p, readRepositories(p)).get(image.id) ?? []).sort().map(parseKey);
  const diffIDs = image.config.rootfs.diff_ids;
  const layers = chainIDs(diffIDs).map((c, i) => ({ ref: layerRef(p, c, diffIDs[i] ?? ""), size: layerSize(p, c) }));
  const size = layers.reduce((n, l) => n + l.size, 0);
  const dirs = layers.map((l) => l.ref.dir).reverse();
  const data: Record<string, string> = {};
  // As overlay2 shows an image: its top layer as the upper, the rest as lowers (top first).
  if (dirs[0] !== undefined) data.UpperDir = dirs[0];
  if (dirs.length > 1) data.LowerDir = dirs.slice(1).join(":");
  const cfg = image.config as typeof image.config & {
    author?: string; comment?: string; variant?: string; container_config?: ImageConfigBody;
  };
  const out: ImageInspect = {
    Id: image.id,
    RepoTags: keys.filter((r) => r.tag !== undefined && r.digest === undefined).map(familiarString),
    RepoDigests: keys.filter((r) => r.digest !== undefined).map((r) => `${familiarName(r)}@${r.digest}`),
    Parent: "",
    // Docker's Comment is the config's own; tsbox's import keeps its message in the history.
    Comment: typeof cfg.comment === "string" ? cfg.comment : (image.config.history?.[image.config.history.length - 1]?.comment ?? ""),
    Created: image.config.created ?? "",
    Container: "",
    ContainerConfig: dockerConfig(cfg.container_config),
    DockerVersion: "",
    Author: typeof cfg.author === "string" ? cfg.author : "",
    Config: dockerConfig(image.config.config),
    Architecture: image.config.architecture,
    // As Docker: only when the config has one.
    ...(image.config.variant ? { Variant: image.config.variant } : {}),
    Os: image.config.os,
    Size: size,
    VirtualSize: size,
    GraphDriver: { Data: data, Name: "overlay2" },
    RootFS: { Type: "layers", Layers: [...diffIDs] },
    Metadata: { LastTagTime: "0001-01-01T00:00:00Z" },
  };
  if (typeof cfg.variant === "string") out.Variant = cfg.variant;
  return out;
}
