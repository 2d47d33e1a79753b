// The image events of `tsbox events`, recorded by the image commands once the
// store has changed, as Docker's daemon logs them (moby daemon/images
// LogImageEvent): the actor is the image's ID (a pull's or push's actor is the
// reference), its attributes the image's labels and `name`.

import { recordEvent } from "../state/events.js";

type ImageApi = typeof import("../image/index.js");

/** The image's labels, when it is (still) in the store. */
function labels(api: ImageApi, root: string, id: string): Record<string, string> {
  try {
    return { ...api.resolveImage(root, id).config.config.Labels };
  } catch {
    return {};
  }
}

export function imageEvent(api: ImageApi, root: string, action: string, id: string, name: string): void {
  recordEvent(root, "image", action, id, { ...labels(api, root, id), name });
}

/** The image a reference names now, or undefined. */
export function imageIdOf(api: ImageApi, root: string, ref: string): string | undefined {
  try {
    return api.resolveImage(root, ref).id;
  } catch {
    return undefined;
  }
}

/** `busybox` → `busybox:latest`, `docker.io/library/x:1` → `x:1`: how Docker names a reference in its events. */
export function familiarTagged(api: ImageApi, ref: string): string {
  try {
    return api.familiarString(api.withDefaultTag(api.parseNormalizedNamed(ref)));
  } catch {
    return ref;
  }
}

/** A pull or push: the reference is the actor, its repository the name. */
export function referenceEvent(api: ImageApi, root: string, action: "pull" | "push", ref: string): void {
  let name = ref;
  try { name = api.familiarName(api.parseNormalizedNamed(ref)); } catch { /* as given */ }
  const id = familiarTagged(api, ref);
  const imageId = imageIdOf(api, root, ref);
  recordEvent(root, "image", action, id, { ...(imageId !== undefined ? labels(api, root, imageId) : {}), name });
}

/** What `rmi` printed, as its events: an untag per `Untagged:` line, a delete per `Deleted:` image. */
export function removalEvents(api: ImageApi, root: string, id: string | undefined, lines: readonly string[]): void {
  for (const line of lines) {
    if (line.startsWith("Untagged: ") && id !== undefined) recordEvent(root, "image", "untag", id, { name: id });
    const deleted = /^Deleted: (sha256:[0-9a-f]{64})$/.exec(line)?.[1];
    if (deleted !== undefined) recordEvent(root, "image", "delete", deleted, { name: deleted });
  }
}
