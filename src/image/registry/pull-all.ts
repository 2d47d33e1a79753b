// `pull --all-tags`: every tag of a repository, listed by the distribution
// API's tags endpoint (paginated by Link headers), pulled one after another
// as Docker's daemon does, with one closing Status line for the repository.
import { ImageError, UsageError } from "../../errors.js";
import { familiarName, parseNormalizedNamed, referenceName, type Reference } from "../reference.js";
import type { RegistryClient } from "./client.js";
import { RegistryError } from "./errors.js";
import { quietProgress } from "./progress.js";
import { pullClient, pullImage, type PullOptions } from "./pull.js";

const MAX_TAGS_PAGE = 1 << 20;
const MAX_PAGES = 1000;

export interface PullAllResult {
  /** the repository's name as Docker's client prints it at the end (`registry/name`, no tag) */
  name: string;
  tags: string[];
  updated: boolean;
}

/** A tags page's body: `{"name": …, "tags": [...]}` (tags may be null for an empty repository). */
function parseTagsPage(bytes: Buffer, url: string): string[] {
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new ImageError(`${url}: the registry's tag list is not JSON`);
  }
  const tags = (body as { tags?: unknown } | null)?.tags;
  if (tags === null || tags === undefined) return [];
  if (!Array.isArray(tags) || !tags.every((t): t is string => typeof t === "string" && /^[\w][\w.-]{0,127}$/.test(t))) {
    throw new ImageError(`${url}: the registry's tag list is malformed`);
  }
  return tags;
}

/** The next page's path from a `Link: </v2/x/tags/list?n=…&last=…>; rel="next"` header. */
function nextPage(link: string | string[] | undefined): string | undefined {
  const value = Array.isArray(link) ? link[0] : link;
  const m = value === undefined ? null : /^\s*<\/v2\/([^>]+)>\s*;\s*rel="?next"?/.exec(value);
  return m?.[1];
}

export async function listTags(client: RegistryClient, ref: Reference, signal?: AbortSignal): Promise<string[]> {
  const tags: string[] = [];
  let page: string | undefined = `${ref.path}/tags/list`;
  for (let n = 0; page !== undefined; n++) {
    if (n >= MAX_PAGES) throw new ImageError(`${familiarName(ref)}: the registry's tag list does not end`);
    const { bytes, headers } = await client.getBytes(page, {
      scope: `repository:${ref.path}:pull`, accept: "application/json", maxBytes: MAX_TAGS_PAGE, what: "tag list",
      ...(signal ? { signal } : {}),
    }).catch((e: unknown) => {
      if (e instanceof RegistryError && (e.code === "NAME_UNKNOWN" || e.status === 404)) {
        throw new ImageError(`repository ${familiarName(ref)} not found: ${e.message}`, 1, { cause: e });
      }
      throw e;
    });
    tags.push(...parseTagsPage(bytes, page));
    page = nextPage(headers.link);
  }
  return tags;
}

export async function pullAllTags(root: string, name: string, opts: PullOptions = {}): Promise<PullAllResult> {
  const parsed = parseNormalizedNamed(name);
  if (parsed.tag !== undefined || parsed.digest !== undefined) throw new UsageError("tag can't be used with --all-tags/-a", 1);
  const ref: Reference = { domain: parsed.domain, path: parsed.path };
  const client = pullClient(ref.domain, opts);
  let tags: string[];
  try {
    tags = await listTags(client, ref, opts.signal);
  } finally {
    client.close();
  }
  if (tags.length === 0) throw new ImageError(`repository ${familiarName(ref)} has no tags`, 1);
  // In the registry's order, as Docker's daemon pulls them.
  let updated = false;
  for (const tag of tags) {
    const r = await pullImage(root, `${referenceName(ref)}:${tag}`, { ...opts, statusLine: false });
    updated ||= r.updated;
  }
  const progress = opts.progress ?? quietProgress();
  progress.line(`Status: ${updated ? "Downloaded newer image" : "Image is up to date"} for ${familiarName(ref)}`);
  return { name: familiarName(ref), tags, updated };
}
