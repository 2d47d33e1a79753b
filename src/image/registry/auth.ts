// Answering a registry's `WWW-Authenticate` challenge (RFC 7235):
//   Bearer realm=…,service=…,scope=…  → fetch a token from the realm
//     (anonymously, or with the user's credentials as Basic), then send
//     `Authorization: Bearer <token>` (distribution's spec/auth/token.md);
//   Basic realm=…                    → send the credentials on every request.
// Tokens are cached per scope until they expire.
import { UsageError } from "../../errors.js";
import type { Credentials } from "./credentials.js";
import { RegistryError, registryError } from "./errors.js";

export interface Challenge {
  /** Lower case: `bearer`, `basic`. */
  scheme: string;
  /** Parameter names in lower case; values unquoted. */
  params: Record<string, string>;
}

const TOKEN_CHARS = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/**
 * Parses one or more `WWW-Authenticate` values. Several challenges may share
 * one header (`Basic realm="x", Bearer realm="y"`): a token not followed by
 * `=` starts the next one.
 */
export function parseChallenges(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  if (typeof header !== "string") return header.flatMap((h) => parseChallenges(h));
  const s = header;
  let i = 0;
  const skip = (chars: RegExp): void => {
    while (i < s.length && chars.test(s[i] ?? "")) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && TOKEN_CHARS.test(s[i] ?? "")) i++;
    return s.slice(start, i);
  };
  const bare = (): string => {
    const start = i;
    while (i < s.length && !/[\s,]/.test(s[i] ?? "")) i++;
    return s.slice(start, i);
  };
  const quoted = (): string => {
    let out = "";
    i++; // opening quote
    while (i < s.length && s[i] !== '"') {
      if (s[i] === "\\" && i + 1 < s.length) i++;
      out += s[i];
      i++;
    }
    i++; // closing quote (or end)
    return out;
  };

  const out: Challenge[] = [];
  while (i < s.length) {
    skip(/[\s,]/);
    const scheme = token();
    if (scheme === "") {
      i++; // not a token: skip the stray character
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    for (;;) {
      skip(/[\s,]/);
      const save = i;
      const name = token();
      skip(/[ \t]/);
      if (name === "" || s[i] !== "=") {
        i = save;
        break;
      }
      i++;
      skip(/[ \t]/);
      // Unquoted values should be tokens; realms are often bare URLs all the same.
      const value = s[i] === '"' ? quoted() : bare();
      challenge.params[name.toLowerCase()] = value;
    }
  }
  return out;
}

/** `repository:library/busybox:pull`, the scope a pull needs. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

export function basicAuthorization(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

/** What the authorizer needs from the HTTP layer: a GET with redirects and retries. */
export type TokenFetcher = (url: URL, authorization: string | undefined) => Promise<{ status: number; reason?: string; body: Buffer }>;

interface CachedToken {
  value: string;
  expiresAt: number;
}

/** Seconds a token lives when the response does not say (token.md). */
const DEFAULT_EXPIRES_S = 60;
// Renew a little early so a token does not expire between check and use.
const EXPIRY_MARGIN_MS = 5_000;

export class Authorizer {
  private challenges: Challenge[] = [];
  private readonly tokens = new Map<string, Promise<CachedToken>>();

  constructor(
    /** The registry endpoint, for messages. */
    private readonly endpoint: string,
    private readonly credentials: () => Credentials | undefined,
    private readonly fetchToken: TokenFetcher,
    /** May the realm be plain http? (only for registries that are themselves insecure) */
    private readonly realmAllowed: (realm: URL) => boolean,
  ) {}

  /** Has the registry asked for anything yet? */
  get challenged(): boolean {
    return this.challenges.length > 0;
  }

  /**
   * Takes a 401's challenges. Returns whether a new attempt may succeed: it
   * can when we had sent nothing, or when a cached token for `scope` is
   * dropped and can be renewed.
   */
  unauthorized(header: string | string[] | undefined, scope: string, hadAuthorization: boolean): boolean {
    const parsed = parseChallenges(header).filter((c) => c.scheme === "bearer" || c.scheme === "basic");
    if (parsed.length > 0) this.challenges = parsed;
    if (this.challenges.length === 0) return false;
    if (!hadAuthorization) return true;
    // A token that no longer works (expired early, or a wider scope needed).
    const had = this.tokens.has(scope);
    this.tokens.delete(scope);
    return had && this.challenges.some((c) => c.scheme === "bearer");
  }

  /** The `Authorization` value for a request needing `scope`, if the registry asked for one. */
  async authorization(scope: string): Promise<string | undefined> {
    const bearer = this.challenges.find((c) => c.scheme === "bearer");
    if (bearer !== undefined) {
      const now = Date.now();
      let pending = this.tokens.get(scope);
      if (pending !== undefined) {
        const t = await pending.catch(() => undefined);
        if (t === undefined || t.expiresAt <= now + EXPIRY_MARGIN_MS) pending = undefined;
      }
      if (pending === undefined) {
        pending = this.requestToken(bearer, scope);
        this.tokens.set(scope, pending);
        pending.catch(() => this.tokens.delete(scope));
      }
      return `Bearer ${(await pending).value}`;
    }
    if (this.challenges.some((c) => c.scheme === "basic")) {
      const creds = this.credentials();
      if (creds === undefined) throw new RegistryError("no basic auth credentials", 401, [{ code: "UNAUTHORIZED", message: "no basic auth credentials" }]);
      return basicAuthorization(creds);
    }
    return undefined;
  }

  private async requestToken(c: Challenge, scope: string): Promise<CachedToken> {
    const realm = c.params.realm;
    let url: URL;
    try {
      url = new URL(realm ?? "");
    } catch {
      throw new RegistryError(`registry ${this.endpoint} sent an authentication challenge without a valid realm`, 401, []);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new RegistryError(`registry ${this.endpoint}: unsupported token realm ${url.href}`, 401, []);
    }
    if (url.protocol === "http:" && !this.realmAllowed(url)) {
      throw new UsageError(`registry ${this.endpoint} wants credentials sent to ${url.href} over plain http; refusing (add ${url.host} to --insecure-registry if that is intended)`);
    }
    if (c.params.service !== undefined) url.searchParams.set("service", c.params.service);
    // The scope the challenge names (e.g. after insufficient_scope) plus ours.
    // An empty scope (a login check) asks for a token for the account alone.
    const scopes = new Set([scope, ...(c.params.scope ?? "").split(" ")].filter((x) => x !== ""));
    for (const sc of scopes) url.searchParams.append("scope", sc);
    const creds = this.credentials();
    if (creds !== undefined) url.searchParams.set("account", creds.username);

    const issued = Date.now();
    const res = await this.fetchToken(url, creds === undefined ? undefined : basicAuthorization(creds));
    if (res.status < 200 || res.status > 299) {
      throw registryError("GET", url, res.status, res.reason, res.body);
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(res.body.toString("utf8")) as typeof parsed;
    } catch {
      throw new RegistryError(`token server ${url.origin} sent an invalid response (not JSON)`, res.status, []);
    }
    const value = typeof parsed.token === "string" && parsed.token !== "" ? parsed.token
      : typeof parsed.access_token === "string" ? parsed.access_token : "";
    if (value === "") throw new RegistryError(`token server ${url.origin} sent no token`, res.status, []);
    const expiresIn = typeof parsed.expires_in === "number" && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_EXPIRES_S;
    return { value, expiresAt: issued + expiresIn * 1000 };
  }
}
