// Image manifests: the blob a tag points at. tsbox writes OCI manifests and
// reads Docker schema 2 ones too (same shape), as pulled from registries.
import { ImageError } from "../errors.js";
import { isDigest } from "./digest.js";

export const OCI_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";
export const DOCKER_MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export function buildManifest(config: Descriptor, layers: Descriptor[]): ImageManifest {
  return { schemaVersion: 2, mediaType: OCI_MANIFEST_MEDIA_TYPE, config, layers };
}

function isDescriptor(d: unknown): d is Descriptor {
  if (typeof d !== "object" || d === null) return false;
  const x = d as Partial<Descriptor>;
  return typeof x.mediaType === "string" && typeof x.digest === "string" && isDigest(x.digest) &&
    typeof x.size === "number" && Number.isSafeInteger(x.size) && x.size >= 0;
}

export function parseManifest(data: Buffer, digest: string): ImageManifest {
  let v: unknown;
  try {
    v = JSON.parse(data.toString("utf8"));
  } catch {
    throw new ImageError(`image manifest ${digest} is not valid JSON`);
  }
  const m = v as Partial<ImageManifest> | null;
  if (typeof m !== "object" || m === null || m.schemaVersion !== 2 || !isDescriptor(m.config) ||
    !Array.isArray(m.layers) || !m.layers.every(isDescriptor)) {
    throw new ImageError(`image manifest ${digest} is not a valid image manifest`);
  }
  const mediaType = typeof m.mediaType === "string" ? m.mediaType : OCI_MANIFEST_MEDIA_TYPE;
  return { ...m, schemaVersion: 2, mediaType, config: m.config, layers: m.layers } as ImageManifest;
}
