// Content digests in the OCI "algorithm:hex" form. Only sha256 is produced or
// accepted as an identifier in the store; chain IDs follow the OCI image spec
// so layers unpacked from different manifests of the same content are shared.
import { createHash } from "node:crypto";

const SHA256_DIGEST = /^sha256:([a-f0-9]{64})$/;

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function isDigest(s: string): boolean {
  return SHA256_DIGEST.test(s);
}

/** The hex part of a sha256 digest; throws on anything else so it is safe in a path. */
export function digestHex(digest: string): string {
  const m = SHA256_DIGEST.exec(digest);
  if (!m?.[1]) throw new Error(`not a sha256 digest: ${JSON.stringify(digest)}`);
  return m[1];
}

/** Docker's short form of an ID: the first 12 hex characters. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

/**
 * ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
 * A layer's identity depends on everything below it, which is what lets a
 * stacked layer directory be reused only when the whole stack matches.
 */
export function chainIDs(diffIDs: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffID of diffIDs) {
    const parent = out[out.length - 1];
    out.push(parent === undefined ? diffID : sha256(`${parent} ${diffID}`));
  }
  return out;
}
