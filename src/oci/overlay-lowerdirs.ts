// Fitting an image's lowerdirs into overlayfs's mount data. Layers are named
// by their short link (image/overlay-layers.ts), so the mount data stays
// within one page for up to ~140 layers.
//
// Past that, the legacy mount(2) data (one page, cut at PAGE_SIZE-1 by the
// kernel) cannot name every layer: 26-char links plus a colon are 27 bytes,
// and upperdir/workdir take ~2 × (root + 82). Docker's overlay2 refuses images
// deeper than 128 layers; tsbox instead stacks once: the bottom run of layers
// (as many as one page names, ~150) becomes a read-only overlay (lowerdir
// only), mounted in the container's private mount namespace over the
// directory of the run's own top layer, so the root mount's entry for that
// layer shows the whole run merged. The kernel allows a lower to be an
// overlay (two levels of stacking), and the run's own whiteouts and opaque
// directories are resolved by its overlay; those of the layers above it are
// seen by the root mount and hide the run's files as they should.
//
// Only one run can be stacked: an overlay does not show its whiteouts, so a
// deletion in one stacked run could not hide a file of another run below it.
// That makes ~290 layers the limit, well under the kernel's 500 lowers.
import { ImageError } from "../errors.js";

/** A read-only overlay of a run of layers, mounted over its top layer's link before the root. */
export interface OverlayStack {
  /** The link (in linkDir) whose directory the stack is mounted over: the run's top layer. */
  target: string;
  /** The run, top first. */
  lowers: string[];
}

/** The mount data the kernel reads: one page, the last byte its NUL. */
export const MOUNT_DATA_MAX = 4095;
const LOWERDIR = "lowerdir=";

const dataLength = (lowers: readonly string[]): number => LOWERDIR.length + lowers.join(":").length;

/**
 * Splits `lowers` (top first) so that the root mount's data fits in a page
 * alongside `rest` (",upperdir=…,workdir=…"): the bottom layers, as many as
 * one page can name, become a stack. Without the need, returns the list
 * unchanged and no stack; an image too deep even so is an ImageError.
 */
export function fitLowerdirs(lowers: readonly string[], rest: string): { lowers: string[]; stacks: OverlayStack[] } {
  const budget = MOUNT_DATA_MAX - rest.length;
  if (dataLength(lowers) <= budget) return { lowers: [...lowers], stacks: [] };
  const top = [...lowers];
  const run: string[] = [];
  while (top.length > 0 && dataLength([top[top.length - 1] ?? "", ...run]) <= MOUNT_DATA_MAX) run.unshift(top.pop() ?? "");
  const target = run[0] ?? "";
  const main = [...top, target];
  if (dataLength(main) > budget) {
    const most = run.length + Math.floor((budget - LOWERDIR.length + 1) / (target.length + 1)) - 1;
    throw new ImageError(`the image has ${lowers.length} layers, more than overlayfs can mount here (at most ${most})`);
  }
  return { lowers: main, stacks: [{ target, lowers: run }] };
}
