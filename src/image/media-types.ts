// Media types tsbox recognises, OCI and Docker (containerd's core/images list).
// A layer's media type says whether it is a layer; whether it is compressed is
// decided by its magic bytes (compression.ts), since producers get that wrong.

export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar";

const LAYER_MEDIA_TYPES = new Set([
  OCI_LAYER, `${OCI_LAYER}+gzip`, `${OCI_LAYER}+zstd`,
  // Deprecated, but still found in registries: pulled like any other layer.
  "application/vnd.oci.image.layer.nondistributable.v1.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  DOCKER_LAYER, `${DOCKER_LAYER}.gzip`, `${DOCKER_LAYER}.zstd`,
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
]);

export function isLayerMediaType(mediaType: string): boolean {
  return LAYER_MEDIA_TYPES.has(mediaType);
}

export function isManifestMediaType(mediaType: string): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST;
}

export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}

export function isConfigMediaType(mediaType: string): boolean {
  return mediaType === OCI_CONFIG || mediaType === DOCKER_CONFIG;
}
