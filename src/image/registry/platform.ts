// Choosing one image from a multi-platform index the way containerd does
// (platforms/database.go, compare.go): names are normalised (x86_64 → amd64,
// aarch64 → arm64), a platform accepts a few older ones as fallbacks in order
// of preference, and BuildKit's attestation entries are never images.
import { UsageError } from "../../errors.js";
import { ociArchitecture } from "../config.js";

export interface Platform {
  os: string;
  architecture: string;
  /** "" when the architecture has no variant (or its default one). */
  variant: string;
}

/** An index entry as far as choosing needs it. */
export interface PlatformEntry {
  mediaType?: string;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

function normalizeOS(os: string): string {
  const o = os.toLowerCase();
  return o === "macos" ? "darwin" : o;
}

/** containerd's normalizeArch: the architecture's canonical name and variant. */
function normalizeArch(arch: string, variant: string): { architecture: string; variant: string } {
  const a = arch.toLowerCase();
  const v = variant.toLowerCase();
  switch (a) {
    case "i386": return { architecture: "386", variant: "" };
    case "x86_64": case "x86-64": case "amd64":
      // v1 is the baseline every amd64 CPU has, the same as no variant.
      return { architecture: "amd64", variant: v === "v1" ? "" : v };
    case "aarch64": case "arm64":
      // v8 is arm64's baseline.
      return { architecture: "arm64", variant: v === "8" || v === "v8" ? "" : v };
    case "armhf": return { architecture: "arm", variant: "v7" };
    case "armel": return { architecture: "arm", variant: "v6" };
    case "arm": {
      if (v === "" || v === "7") return { architecture: "arm", variant: "v7" };
      if (v === "5" || v === "6" || v === "8") return { architecture: "arm", variant: `v${v}` };
      return { architecture: "arm", variant: v };
    }
    default: return { architecture: a, variant: v };
  }
}

export function normalizePlatform(p: { os?: string; architecture?: string; variant?: string }): Platform {
  return { os: normalizeOS(p.os ?? ""), ...normalizeArch(p.architecture ?? "", p.variant ?? "") };
}

/** The machine tsbox runs on (always linux). */
export function hostPlatform(): Platform {
  let variant = "";
  // Node does not report the ARM version; 32-bit Node builds need ARMv7.
  if (process.arch === "arm") variant = "v7";
  return normalizePlatform({ os: "linux", architecture: ociArchitecture(), variant });
}

/** `--platform os/arch[/variant]` (the os may be omitted: `arm64` means linux/arm64). */
export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  const bad = (): UsageError =>
    new UsageError(`"${s}": unknown operating system or architecture: invalid argument`);
  if (parts.some((x) => x === "" || !/^[A-Za-z0-9_.-]+$/.test(x)) || parts.length > 3) throw bad();
  if (parts.length === 1) {
    const only = parts[0] ?? "";
    // A lone known OS is that OS on this machine's architecture (containerd's Parse).
    if (only.toLowerCase() === "linux") return { ...hostPlatform(), os: "linux" };
    return normalizePlatform({ os: "linux", architecture: only });
  }
  const [os, architecture, variant] = parts;
  const p = normalizePlatform({ os, architecture, variant: variant ?? "" });
  if (p.os !== "linux") throw new UsageError(`"${s}": operating system ${p.os} is not supported (tsbox runs Linux images)`);
  return p;
}

export function formatPlatform(p: Platform): string {
  return p.variant === "" ? `${p.os}/${p.architecture}` : `${p.os}/${p.architecture}/${p.variant}`;
}

/**
 * What `want` accepts, best first (containerd's platformVector): amd64/vN
 * down to v1, then 386; arm/vN down to v5; arm64 also runs arm/v8.
 */
export function acceptedPlatforms(want: Platform): Platform[] {
  const out: Platform[] = [want];
  const version = Number.parseInt(want.variant.replace(/^v/, ""), 10);
  switch (want.architecture) {
    case "amd64":
      if (version > 1) {
        for (let v = version - 1; v >= 2; v--) out.push({ ...want, variant: `v${v}` });
        out.push({ ...want, variant: "" });
      }
      out.push({ os: want.os, architecture: "386", variant: "" });
      break;
    case "arm":
      if (version > 5) for (let v = version - 1; v >= 5; v--) out.push({ ...want, variant: `v${v}` });
      break;
    case "arm64":
      out.push({ os: want.os, architecture: "arm", variant: "v8" }, { os: want.os, architecture: "arm", variant: "v7" },
        { os: want.os, architecture: "arm", variant: "v6" }, { os: want.os, architecture: "arm", variant: "v5" });
      break;
  }
  return out;
}

function same(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && a.variant === b.variant;
}

/** BuildKit stores provenance/SBOM manifests in the index beside the images. */
export function isAttestation(e: PlatformEntry): boolean {
  return e.annotations?.["vnd.docker.reference.type"] === "attestation-manifest" ||
    (e.platform?.os === "unknown" && e.platform.architecture === "unknown");
}

/**
 * Index of the entry to pull for `want`, or undefined. The most preferred
 * platform wins; among equals, the first entry (the image spec's rule).
 * Entries without a platform are not candidates: nothing says they run here.
 */
export function choosePlatform(entries: readonly PlatformEntry[], want: Platform): number | undefined {
  const ranks = acceptedPlatforms(want);
  let best: { index: number; rank: number } | undefined;
  entries.forEach((e, index) => {
    if (e.platform === undefined || isAttestation(e)) return;
    const p = normalizePlatform(e.platform);
    const rank = ranks.findIndex((r) => same(r, p));
    if (rank !== -1 && (best === undefined || rank < best.rank)) best = { index, rank };
  });
  return best?.index;
}

/** Docker's wording, so the message is searchable. */
export function noMatchMessage(want: Platform): string {
  return `no matching manifest for ${formatPlatform(want)} in the manifest list entries`;
}
