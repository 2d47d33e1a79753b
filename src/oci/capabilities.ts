// A container's capability set from `--cap-add`, `--cap-drop` and
// `--privileged`, as moby computes it (daemon/pkg/oci/caps: the names are
// checked first, NormalizeLegacyCapabilities; then TweakCapabilities). Pure:
// the capabilities tsbox holds come in as `available`.

import { UsageError } from "../errors.js";
import { KNOWN_CAPABILITIES } from "../native/capabilities.js";

const ALL = "ALL";

export interface CapabilityFlags {
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
}

/**
 * Upper-cases and prefixes `CAP_` (keeping the magic `ALL`), refusing a name
 * the kernel headers do not know, or one tsbox itself lacks, with moby's
 * words (`field` is CapAdd or CapDrop, as the daemon names the list).
 */
export function normalizeCapabilities(names: readonly string[], field: "CapAdd" | "CapDrop",
  available: readonly string[]): string[] {
  return names.map((raw) => {
    let c = raw.toUpperCase();
    if (c === ALL) return c;
    if (!c.startsWith("CAP_")) c = `CAP_${c}`;
    if (!KNOWN_CAPABILITIES.includes(c)) throw new UsageError(`invalid ${field}: unknown capability: "${c}"`);
    if (!available.includes(c)) {
      throw new UsageError(`invalid ${field}: capability not supported by your kernel or not available in the current environment: "${c}"`);
    }
    return c;
  });
}

/**
 * The capabilities a container gets. As Docker: the names are checked even
 * with --privileged, which then gets every capability tsbox holds and ignores
 * --cap-add/--cap-drop; `--cap-add ALL` takes all but the dropped ones;
 * `--cap-drop ALL` keeps only the added ones; otherwise `basics` less the
 * dropped, plus the added. Listed once each, in the order first seen.
 */
export function containerCapabilities(basics: readonly string[], flags: CapabilityFlags,
  available: readonly string[]): string[] {
  // moby's validateCapabilities: CapAdd first.
  const add = normalizeCapabilities(flags.capAdd ?? [], "CapAdd", available);
  const drop = normalizeCapabilities(flags.capDrop ?? [], "CapDrop", available);
  let caps: string[];
  if (flags.privileged) caps = [...available];
  else if (add.includes(ALL)) caps = available.filter((c) => !drop.includes(c));
  else if (drop.includes(ALL)) caps = add;
  else caps = [...basics.filter((c) => !drop.includes(c)), ...add];
  return [...new Set(caps)];
}
