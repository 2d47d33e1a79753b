// Fetching manifests: what we accept (containerd's Accept list), how big they
// may be, and what they are. The digest is computed over the bytes exactly as
// received — re-serialised JSON would hash differently — and checked when the
// user named a digest or the registry vouched for one.
import { ImageError, UsageError } from "../../errors.js";
import { isDigest, sha256 } from "../digest.js";
import { DOCKER_MANIFEST_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, parseManifest, type Descriptor, type ImageManifest } from "../manifest.js";
import type { RegistryClient } from "./client.js";
import type { PlatformEntry } from "./platform.js";

export const OCI_INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json";
export const DOCKER_MANIFEST_LIST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_SCHEMA1_MEDIA_TYPES = new Set([
  "application/vnd.docker.distribution.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v1+prettyjws",
]);

/** containerd's list; `*\/*` last so an old registry still answers with something we can name in an error. */
export const MANIFEST_ACCEPT = [
  DOCKER_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_LIST_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, OCI_INDEX_MEDIA_TYPE, "*/*",
].join(", ");

/** containerd's MaxManifestSize (4 × 1048 × 1048 bytes). */
export const MAX_MANIFEST_SIZE = 4 * 1048 * 1048;

export interface IndexEntry extends Descriptor {
  platform?: PlatformEntry["platform"];
}

export type FetchedManifest =
  | { kind: "index"; digest: string; mediaType: string; bytes: Buffer; manifests: IndexEntry[] }
  | { kind: "image"; digest: string; mediaType: string; bytes: Buffer; manifest: ImageManifest };

function isIndexType(t: string): boolean {
  return t === OCI_INDEX_MEDIA_TYPE || t === DOCKER_MANIFEST_LIST_MEDIA_TYPE;
}

function isImageType(t: string): boolean {
  return t === OCI_MANIFEST_MEDIA_TYPE || t === DOCKER_MANIFEST_MEDIA_TYPE;
}

/** The media type without parameters (`; charset=utf-8`). */
function bareType(header: string | undefined): string {
  return (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

// Content types that say nothing about which manifest this is.
const GENERIC_TYPES = new Set(["", "application/json", "application/octet-stream", "text/plain"]);

function schema1Error(name: string): ImageError {
  return new ImageError(
    `${name}: Docker Image manifest version 2, schema 1 is not supported (the image was pushed in a format ` +
    "deprecated since 2017); ask its author to push it again as an OCI or Docker schema 2 image");
}

function parseIndex(bytes: Buffer, digest: string): IndexEntry[] {
  const v = JSON.parse(bytes.toString("utf8")) as { manifests?: unknown };
  if (!Array.isArray(v.manifests)) throw new ImageError(`image index ${digest} has no manifests list`);
  return v.manifests.filter((m): m is IndexEntry => {
    const d = m as Partial<IndexEntry> | null;
    return typeof d === "object" && d !== null && typeof d.digest === "string" && typeof d.mediaType === "string" &&
      typeof d.size === "number";
  });
}

/**
 * GETs `/v2/<repository>/manifests/<reference>` and classifies it. `expectDigest`
 * (when the user pulled by digest, or an index named it) must match the bytes.
 * `name` is the familiar reference, for messages.
 */
export async function fetchManifest(
  client: RegistryClient, repository: string, reference: string, name: string, expect?: { digest?: string; size?: number },
  signal?: AbortSignal,
): Promise<FetchedManifest> {
  if (expect?.digest !== undefined && !isDigest(expect.digest)) {
    throw new UsageError(`${name}: unsupported digest ${expect.digest} (only sha256 is supported)`);
  }
  const { bytes, headers } = await client.getBytes(`${repository}/manifests/${reference}`, {
    scope: `repository:${repository}:pull`, accept: MANIFEST_ACCEPT, maxBytes: MAX_MANIFEST_SIZE,
    what: `manifest for ${name}`, ...(signal ? { signal } : {}),
  });
  const digest = sha256(bytes);
  if (expect?.digest !== undefined && digest !== expect.digest) {
    throw new ImageError(`manifest for ${name}: digest mismatch: the registry sent ${digest}, expected ${expect.digest}`);
  }
  if (expect?.size !== undefined && bytes.length !== expect.size) {
    throw new ImageError(`manifest for ${name}: size mismatch: the registry sent ${bytes.length} bytes, expected ${expect.size}`);
  }
  // Registries MAY send it; if they do, it must be right (distribution spec).
  const vouched = headers["docker-content-digest"];
  if (typeof vouched === "string" && vouched.startsWith("sha256:") && vouched !== digest) {
    throw new ImageError(`manifest for ${name}: digest mismatch: the registry sent ${digest} but its Docker-Content-Digest says ${vouched}`);
  }

  const contentType = bareType(headers["content-type"]);
  let body: { mediaType?: unknown; schemaVersion?: unknown; manifests?: unknown; config?: unknown; layers?: unknown };
  try {
    body = JSON.parse(bytes.toString("utf8")) as typeof body;
    if (typeof body !== "object" || body === null) throw new Error("not an object");
  } catch {
    if (DOCKER_SCHEMA1_MEDIA_TYPES.has(contentType)) throw schema1Error(name);
    throw new ImageError(`manifest for ${name} is not valid JSON (Content-Type ${contentType || "none"})`);
  }
  if (body.schemaVersion === 1 || DOCKER_SCHEMA1_MEDIA_TYPES.has(contentType)) throw schema1Error(name);

  const declared = typeof body.mediaType === "string" ? body.mediaType : undefined;
  if (declared !== undefined && !GENERIC_TYPES.has(contentType) && declared !== contentType) {
    throw new ImageError(`manifest for ${name}: the registry's Content-Type ${contentType} contradicts the manifest's mediaType ${declared}`);
  }
  // Old OCI manifests may omit mediaType; the shape tells then.
  const mediaType = declared ?? (!GENERIC_TYPES.has(contentType) ? contentType
    : Array.isArray(body.manifests) ? OCI_INDEX_MEDIA_TYPE
    : body.config !== undefined && Array.isArray(body.layers) ? OCI_MANIFEST_MEDIA_TYPE : "");
  if (DOCKER_SCHEMA1_MEDIA_TYPES.has(mediaType)) throw schema1Error(name);

  if (isIndexType(mediaType)) {
    return { kind: "index", digest, mediaType, bytes, manifests: parseIndex(bytes, digest) };
  }
  if (isImageType(mediaType)) {
    return { kind: "image", digest, mediaType, bytes, manifest: parseManifest(bytes, digest) };
  }
  // Docker's text (distribution's manifest registry).
  throw new ImageError(`unsupported manifest media type and no default available: ${mediaType || contentType || "none"}`);
}
