// Whiteouts: how a layer says that something of the layers below it is gone,
// in the two forms tsbox meets.
//
// - In a layer archive (the OCI image spec's AUFS names): an entry
//   `<dir>/.wh.<name>` deletes `<dir>/<name>`; an entry `<dir>/.wh..wh..opq`
//   makes `<dir>` opaque (nothing of the lower layers' `<dir>` shows); other
//   `.wh..wh.` names are AUFS metadata, meaningless to overlayfs.
// - In an unpacked layer (overlayfs's form): a character device 0:0 where the
//   name was, and the xattr trusted.overlay.opaque=y on an opaque directory.
//   The store also lists a layer's opaque directories in a file of its own
//   (layers.ts), so reading an image needs no xattr.
//
// unpack.ts turns the first form into the second, writing beneath the layer
// root through the host calls only; files.ts reads the second when it looks a
// file up without mounting. An archive is never written from an unpacked
// layer (save writes the stored blobs), so no conversion runs the other way.
import * as fs from "node:fs";
import type { LayerHostCalls } from "./host-calls.js";

const WHITEOUT_PREFIX = ".wh.";
const WHITEOUT_META_PREFIX = ".wh..wh.";
const WHITEOUT_OPAQUE = ".wh..wh..opq";
const OPAQUE_XATTR = "trusted.overlay.opaque";
/** overlayfs's own xattrs: an archive that sets one could forge whiteouts, opaque directories or redirects. */
const OVERLAY_XATTR_PREFIX = "trusted.overlay.";

/** What an archive entry is, when its name makes it a whiteout (or AUFS metadata). */
export type ArchiveWhiteout =
  /** `.wh..wh..opq`: the directory `dir` ([] = the layer root) is opaque. */
  | { kind: "opaque"; dir: string[] }
  /** `.wh.<name>`: `target` is deleted. */
  | { kind: "whiteout"; target: string[] }
  /** Other AUFS metadata (.wh..wh.plnk and the like): skipped. */
  | { kind: "aufs-metadata" }
  /** A whiteout name that names nothing sensible: the entry is refused for `reason`. */
  | { kind: "invalid"; reason: string };

/**
 * Reads an archive entry's cleaned, non-empty path (unpack.ts's
 * cleanArchivePath) for whiteout names; undefined for an ordinary entry.
 */
export function archiveWhiteout(parts: readonly string[]): ArchiveWhiteout | undefined {
  const base = parts[parts.length - 1] ?? "";
  const parents = parts.slice(0, -1);
  if (base === WHITEOUT_OPAQUE) return { kind: "opaque", dir: parents };
  if (parts.some((c) => c.startsWith(WHITEOUT_META_PREFIX))) return { kind: "aufs-metadata" };
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;
  const victim = base.slice(WHITEOUT_PREFIX.length);
  if (victim === "") return { kind: "invalid", reason: "whiteout names no file" };
  if (victim === "." || victim === "..") return { kind: "invalid", reason: "whiteout of a relative path component" };
  return { kind: "whiteout", target: [...parents, victim] };
}

/** Whether an archive may not set this xattr itself: overlayfs's own. */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith(OVERLAY_XATTR_PREFIX);
}

/**
 * Makes overlayfs's whiteout (char 0:0) at `target` beneath `root`: its
 * parents must be real directories and the name free (the caller sees to both).
 */
export function makeOverlayWhiteout(host: LayerHostCalls, root: string, target: readonly string[]): void {
  host.mknodBeneath(root, target.slice(0, -1).join("/"), target[target.length - 1] ?? "", fs.constants.S_IFCHR, 0, 0);
}

/** Marks the directory `dir` ([] = `root`) opaque for overlayfs, reached beneath `root`. */
export function markOverlayOpaque(host: LayerHostCalls, root: string, dir: readonly string[]): void {
  host.setxattrBeneath(root, dir.join("/"), "", OPAQUE_XATTR, "y");
}

/** Whether an entry of an unpacked layer is overlayfs's whiteout. */
export function isOverlayWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}
