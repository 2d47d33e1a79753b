// The OCI image configuration (application/vnd.oci.image.config.v1+json), the
// blob whose digest is the image ID.
import { ImageError } from "../errors.js";
import { isDigest } from "./digest.js";

export interface ImageConfigBody {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  /** SHELL: the shell form's command (default ["/bin/sh", "-c"]) */
  Shell?: string[];
  OnBuild?: string[] | null;
  Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  architecture: string;
  variant?: string;
  os: string;
  config: ImageConfigBody;
  rootfs: { type: "layers"; diff_ids: string[] };
  history?: HistoryEntry[];
}

export const CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json";

const GOARCH: Partial<Record<NodeJS.Architecture, string>> = {
  x64: "amd64",
  ia32: "386",
  arm64: "arm64",
  arm: "arm",
  ppc64: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loong64",
  mips: "mips",
  mipsel: "mipsle",
};

/** The OCI (Go) architecture name for a Node architecture. */
export function ociArchitecture(arch: NodeJS.Architecture = process.arch): string {
  return GOARCH[arch] ?? arch;
}

/** Parses a config blob, checking the fields the store relies on. */
export function parseImageConfig(data: Buffer, digest: string): ImageConfig {
  let v: unknown;
  try {
    v = JSON.parse(data.toString("utf8"));
  } catch {
    throw new ImageError(`image config ${digest} is not valid JSON`);
  }
  const c = v as Partial<ImageConfig> | null;
  const diffIDs = c?.rootfs?.diff_ids;
  if (typeof c !== "object" || c === null || !Array.isArray(diffIDs) || !diffIDs.every((d) => typeof d === "string" && isDigest(d))) {
    throw new ImageError(`image config ${digest} has no valid rootfs.diff_ids`);
  }
  return {
    ...c,
    architecture: typeof c.architecture === "string" ? c.architecture : "",
    os: typeof c.os === "string" ? c.os : "",
    config: typeof c.config === "object" && c.config !== null ? c.config : {},
    rootfs: { type: "layers", diff_ids: diffIDs },
  };
}
