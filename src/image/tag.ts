// `docker tag`: point a name at an existing image's manifest. A tag that
// pointed elsewhere moves; the image it left keeps existing (as <none> if it
// was its last name).
import { UsageError } from "../errors.js";
import { lookupImage } from "./images.js";
import { withLock } from "../util/lock.js";
import { parseNormalizedNamed, referenceString, withDefaultTag, type Reference } from "./reference.js";
import { ensureStore, readRepositories, storeLockFile, writeRepositories } from "./store.js";

/** Parses a name to store an image under: tag defaults to latest, digests are refused. */
export function parseTargetReference(ref: string, digestRefused: string): Reference {
  const r = withDefaultTag(parseNormalizedNamed(ref));
  if (r.digest !== undefined) throw new UsageError(digestRefused);
  return r;
}

/** Tags the image `source` (name or ID) as `target`; returns the normalised target. */
export function tagImage(root: string, source: string, target: string): string {
  const key = referenceString(parseTargetReference(target, "refusing to create a tag with a digest reference"));
  const p = ensureStore(root);
  return withLock(storeLockFile(root), () => {
    const { image } = lookupImage(p, source);
    const repos = readRepositories(p);
    repos[key] = image.manifestDigest;
    writeRepositories(p, repos);
    return key;
  });
}
