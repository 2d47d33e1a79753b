// Docker image references (github.com/distribution/reference): the grammar,
// the normalisation `docker` applies to what users type (`busybox` →
// `docker.io/library/busybox`), and the familiar form it prints back.
// Error texts are Docker's, since users search for them.
import { UsageError } from "../errors.js";

export interface Reference {
  /** Registry host[:port], always present after normalisation. */
  domain: string;
  /** Repository path below the domain, e.g. `library/busybox`. */
  path: string;
  tag?: string;
  /** `algorithm:hex`, e.g. `sha256:…`. */
  digest?: string;
}

export const DEFAULT_DOMAIN = "docker.io";
export const DEFAULT_TAG = "latest";
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
const OFFICIAL_REPO_PREFIX = "library/";
const NAME_TOTAL_LENGTH_MAX = 255;
// Nothing valid comes near this; it only bounds the regex work on garbage.
const INPUT_LENGTH_MAX = 4096;

const alphanumeric = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const domainNameComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const ipv6address = "\\[(?:[a-fA-F0-9:]+)\\]";
const domainAndPort = `(?:${domainName}|${ipv6address})(?::[0-9]+)?`;
const namePat = `(?:${domainAndPort}/)?${remoteName}`;
const tagPat = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
const digestPat = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";

const referenceRegexp = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const anchoredDomainRegexp = new RegExp(`^${domainAndPort}$`);
const anchoredTagRegexp = new RegExp(`^${tagPat}$`);
const anchoredIdentifierRegexp = /^[a-f0-9]{64}$/;

const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

function invalid(detail?: string): UsageError {
  return new UsageError(detail === undefined ? "invalid reference format" : `invalid reference format: ${detail}`);
}

/** go-digest's Digest.Validate, with its error texts. */
function validateDigest(d: string): void {
  const i = d.indexOf(":");
  if (i <= 0 || i + 1 === d.length) throw new UsageError("invalid checksum digest format");
  const algorithm = d.slice(0, i);
  const encoded = d.slice(i + 1);
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (length === undefined) throw new UsageError("unsupported digest algorithm");
  if (encoded.length !== length) throw new UsageError("invalid checksum digest length");
  if (!/^[a-f0-9]+$/.test(encoded)) throw new UsageError("invalid checksum digest format");
}

/** Splits off the registry the way the Docker CLI does: the first component is a
 *  domain only if it looks like one (has `.` or `:`, is `localhost`, or has capitals). */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf("/");
  let domain: string;
  let remainder: string;
  const first = i === -1 ? "" : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== "localhost" && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes("/")) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * ParseNormalizedNamed: what the user typed → a fully qualified reference.
 * No default tag is added (see withDefaultTag).
 */
export function parseNormalizedNamed(s: string): Reference {
  if (anchoredIdentifierRegexp.test(s)) {
    throw new UsageError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  if (s.length > INPUT_LENGTH_MAX) throw invalid();
  const { domain, remainder } = splitDockerDomain(s);
  const tagSep = remainder.indexOf(":");
  const remote = tagSep === -1 ? remainder : remainder.slice(0, tagSep);
  if (remote.toLowerCase() !== remote) throw invalid(`repository name (${remote}) must be lowercase`);
  return parseReference(`${domain}/${remainder}`);
}

/** reference.Parse on an already-qualified string (domain first). */
function parseReference(s: string): Reference {
  const m = referenceRegexp.exec(s);
  if (!m) {
    if (s === "") throw new UsageError("repository name must have at least one component");
    if (referenceRegexp.test(s.toLowerCase())) throw invalid("repository name must be lowercase");
    throw invalid();
  }
  const name = m[1] ?? "";
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw new UsageError(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const slash = name.indexOf("/");
  const domain = name.slice(0, slash);
  if (slash <= 0 || !anchoredDomainRegexp.test(domain)) throw invalid();
  const ref: Reference = { domain, path: name.slice(slash + 1) };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) {
    validateDigest(m[3]);
    ref.digest = m[3];
  }
  return ref;
}

/** TagNameOnly: a reference with neither tag nor digest means `:latest`. */
export function withDefaultTag(ref: Reference): Reference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: DEFAULT_TAG } : ref;
}

/** Validates a bare tag (the part after `:`). */
export function isValidTag(tag: string): boolean {
  return anchoredTagRegexp.test(tag);
}

/** `docker.io/library/busybox` — the repository, without tag or digest. */
export function referenceName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The normalised string form, used as the key in repositories.json. */
export function referenceString(ref: Reference): string {
  let s = referenceName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** The short repository name `docker images` shows: `busybox`, `user/app`, `localhost:5000/x`. */
export function familiarName(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return referenceName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes("/")) return rest;
  }
  return ref.path;
}

/** `busybox:latest`, as in `Untagged: busybox:latest`. */
export function familiarString(ref: Reference): string {
  let s = familiarName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/**
 * `name:tag` as Docker prints it in "Unable to find image '…' locally", for a
 * reference a registry could have; undefined for what is not one (an image ID,
 * a malformed name), which Docker does not try to pull either.
 */
export function pullableReference(s: string): string | undefined {
  if (/^(sha256:)?[a-f0-9]{64}$/.test(s)) return undefined;
  try {
    return familiarString(withDefaultTag(parseNormalizedNamed(s)));
  } catch {
    return undefined;
  }
}
