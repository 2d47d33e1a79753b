// HTTP to one registry (node:http/https, no fetch: redirects are followed by
// hand, bodies are streamed, and TLS checks can be waived per host).
//
// - Scheme: https, except for "insecure" registries (localhost, 127.0.0.0/8,
//   ::1, and those named by --insecure-registry / TSBOX_INSECURE_REGISTRIES),
//   which are tried over https without certificate checks, then plain http —
//   Docker's rule.
// - Redirects: followed; `Authorization` is never sent to another origin (a
//   registry's blob store or CDN must not see the user's token).
// - Retries: 5xx, 429 and network errors (but not a refused connection or an
//   unknown host), with a growing delay; a blob whose connection breaks
//   resumes with `Range` from the bytes already received.
// - Auth: a 401 is answered through auth.ts, then the request is repeated once.
import * as http from "node:http";
import * as https from "node:https";
import { isIP } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { ImageError, TsboxError } from "../../errors.js";
import { Authorizer } from "./auth.js";
import type { Credentials } from "./credentials.js";
import { RegistryError, registryError } from "./errors.js";

export interface RetryPolicy {
  /** Tries in all, including the first. */
  attempts: number;
  /** Delay before try `attempt + 1`. */
  delayMs(attempt: number): number;
}

/** Docker retries a layer 5 times, `attempt × 5` s apart; a CLI waiting that long looks hung, so 1 s steps. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, delayMs: (n) => n * 1000 };

export interface RetryNotice {
  attempt: number;
  delayMs: number;
  error: Error;
}

export interface ClientOptions {
  /** host[:port], host (any port) or IPv4 CIDR entries treated as insecure. */
  insecureRegistries?: readonly string[];
  retry?: RetryPolicy;
  /** A request fails when its connection is silent this long. */
  idleTimeoutMs?: number;
  /** Credentials for a registry host (default: none). */
  credentials?: (domain: string) => Credentials | undefined;
  userAgent?: string;
}

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const MAX_REDIRECTS = 10;
const ERROR_BODY_MAX = 64 * 1024;
const FATAL_NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND"]);

/** Docker Hub's registry API is not served at docker.io itself. */
export function registryEndpoint(domain: string): string {
  return domain === "docker.io" ? "registry-1.docker.io" : domain;
}

function splitHostPort(hostport: string): { host: string; port?: string } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostport);
  if (v6) return v6[2] === undefined ? { host: v6[1] ?? "" } : { host: v6[1] ?? "", port: v6[2] };
  const i = hostport.lastIndexOf(":");
  if (i !== -1 && hostport.indexOf(":") === i) return { host: hostport.slice(0, i), port: hostport.slice(i + 1) };
  return { host: hostport };
}

function ipv4ToInt(s: string): number | undefined {
  if (isIP(s) !== 4) return undefined;
  return s.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

function inCidr(host: string, cidr: string): boolean {
  const [net, bits] = cidr.split("/");
  const h = ipv4ToInt(host);
  const n = ipv4ToInt(net ?? "");
  const b = Number(bits);
  if (h === undefined || n === undefined || !Number.isInteger(b) || b < 0 || b > 32) return false;
  const mask = b === 0 ? 0 : (0xffffffff << (32 - b)) >>> 0;
  return ((h & mask) >>> 0) === ((n & mask) >>> 0);
}

/** Loopback always; otherwise only what the user listed. */
export function isInsecureRegistry(hostport: string, insecure: readonly string[] = []): boolean {
  const { host } = splitHostPort(hostport.toLowerCase());
  if (host === "localhost" || host === "::1" || inCidr(host, "127.0.0.0/8")) return true;
  for (const raw of insecure) {
    const entry = raw.trim().toLowerCase().replace(/^[a-z]+:\/\//, "").replace(/\/+$/, "");
    if (entry === "") continue;
    if (entry.includes("/") && inCidr(host, entry)) return true;
    if (entry === hostport.toLowerCase()) return true;
    const e = splitHostPort(entry);
    if (e.port === undefined && e.host === host) return true;
  }
  return false;
}

/** `--insecure-registry` values plus `TSBOX_INSECURE_REGISTRIES` (comma or space separated). */
export function insecureRegistriesFrom(flags: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  return [...flags, ...(env.TSBOX_INSECURE_REGISTRIES ?? "").split(/[\s,]+/)].filter((x) => x !== "");
}

/** Test knobs: `TSBOX_REGISTRY_RETRIES` (tries in all) and `TSBOX_REGISTRY_RETRY_DELAY_MS` (the step). */
export function retryPolicyFrom(env: NodeJS.ProcessEnv = process.env): RetryPolicy {
  const attempts = Number(env.TSBOX_REGISTRY_RETRIES);
  const step = Number(env.TSBOX_REGISTRY_RETRY_DELAY_MS);
  return {
    attempts: Number.isInteger(attempts) && attempts >= 1 ? attempts : DEFAULT_RETRY.attempts,
    delayMs: Number.isFinite(step) && step >= 0 && env.TSBOX_REGISTRY_RETRY_DELAY_MS !== "" && env.TSBOX_REGISTRY_RETRY_DELAY_MS !== undefined
      ? (n) => n * step : DEFAULT_RETRY.delayMs,
  };
}

/** A transport failure (no HTTP answer), worded like Go's net errors as Docker prints them. */
export class NetworkError extends ImageError {}

function describeNetworkError(e: unknown, url: URL): string {
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  const addr = err.address !== undefined ? `${err.address.includes(":") ? `[${err.address}]` : err.address}:${err.port ?? url.port}` : url.host;
  switch (err.code) {
    case "ECONNREFUSED": return `dial tcp ${addr}: connect: connection refused`;
    case "ENOTFOUND": case "EAI_AGAIN": return `dial tcp: lookup ${url.hostname}: no such host`;
    case "EHOSTUNREACH": return `dial tcp ${addr}: connect: no route to host`;
    case "ENETUNREACH": return `dial tcp ${addr}: connect: network is unreachable`;
    case "ECONNRESET": return err.message === "aborted" ? "connection closed before the response was complete" : "connection reset by peer";
    case "ETIMEDOUT": return "i/o timeout";
    default: return err.message ?? String(e);
  }
}

function verb(method: string): string {
  return method.charAt(0) + method.slice(1).toLowerCase();
}

export function networkError(method: string, url: URL, e: unknown): NetworkError {
  return new NetworkError(`${verb(method)} "${url.href}": ${describeNetworkError(e, url)}`, 125, { cause: e });
}

function isAbort(e: unknown): boolean {
  return (e as { name?: unknown }).name === "AbortError";
}

/** HTTP-level problems that are worth another try. */
function retryableStatus(status: number): boolean {
  return status >= 500 || status === 429;
}

export async function readBody(res: http.IncomingMessage, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) {
    res.destroy();
    throw new ImageError(`${what} is too large (${declared} bytes, limit ${max})`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) {
      res.destroy();
      throw new ImageError(`${what} is too large (more than ${max} bytes)`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

function drain(res: http.IncomingMessage): void {
  res.resume();
  res.on("error", () => {});
}

type Method = "GET" | "HEAD" | "POST" | "PUT" | "PATCH";

/** A request body, made afresh for each attempt (a retry or the repeat after a 401 sends it again). */
export type BodySource = () => Buffer | NodeJS.ReadableStream;

interface SendOptions {
  method: Method;
  headers: Record<string, string>;
  signal?: AbortSignal;
  body?: BodySource;
}

/** A push's request: a path under /v2/ or an upload's absolute Location. */
export interface RequestOptions {
  scope: string;
  method: Method;
  headers?: Record<string, string>;
  body?: BodySource;
  signal?: AbortSignal;
  onRetry?: (n: RetryNotice) => void;
}

export interface RegistryResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  /** Where the response finally came from (after redirects). */
  url: URL;
}

export interface GetOptions {
  scope: string;
  accept?: string;
  /** `bytes=N-` */
  range?: string;
  method?: "GET" | "HEAD";
  signal?: AbortSignal;
  onRetry?: (n: RetryNotice) => void;
}

/** HTTP to one registry (one domain). Call close() when done: it ends kept-alive connections. */
export class RegistryClient {
  readonly domain: string;
  readonly endpoint: string;
  readonly retry: RetryPolicy;
  private readonly insecureList: readonly string[];
  private readonly insecure: boolean;
  private scheme: "https:" | "http:" | undefined;
  private readonly idleTimeoutMs: number;
  private readonly userAgent: string;
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent = new https.Agent({ keepAlive: true });
  // Separate pool: sockets made without certificate checks must not serve verified hosts.
  private readonly httpsInsecureAgent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
  private readonly auth: Authorizer;

  constructor(domain: string, opts: ClientOptions = {}) {
    this.domain = domain;
    this.endpoint = registryEndpoint(domain);
    this.insecureList = opts.insecureRegistries ?? [];
    this.insecure = isInsecureRegistry(this.endpoint, this.insecureList) || isInsecureRegistry(domain, this.insecureList);
    this.scheme = this.insecure ? undefined : "https:";
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.userAgent = opts.userAgent ?? "tsbox";
    // Read once: Basic auth asks on every request.
    let creds: { value: Credentials | undefined } | undefined;
    this.auth = new Authorizer(
      this.endpoint,
      () => (creds ??= { value: opts.credentials?.(domain) }).value,
      (url, authorization) => this.fetchToken(url, authorization),
      (realm) => isInsecureRegistry(realm.host, this.insecureList),
    );
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.httpsInsecureAgent.destroy();
  }

  /** One request and its redirects. Resolves with the first non-redirect response. */
  private async send(start: URL, o: SendOptions): Promise<{ res: http.IncomingMessage; url: URL }> {
    let url = start;
    const headers = { ...o.headers };
    for (let hops = 0; ; hops++) {
      const res = await this.sendOnce(url, o.method, headers, o.signal, o.body);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (![301, 302, 303, 307, 308].includes(status) || location === undefined) return { res, url };
      drain(res);
      if (hops >= MAX_REDIRECTS) throw new ImageError(`${verb(o.method)} "${start.href}": stopped after ${MAX_REDIRECTS} redirects`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new ImageError(`${verb(o.method)} "${url.href}": redirect to an invalid location ${JSON.stringify(location)}`);
      }
      if (next.protocol !== "https:" && next.protocol !== "http:") {
        throw new ImageError(`${verb(o.method)} "${url.href}": redirect to unsupported URL ${next.href}`);
      }
      if (next.protocol === "http:" && url.protocol === "https:" && !isInsecureRegistry(next.host, this.insecureList)) {
        throw new ImageError(`${verb(o.method)} "${url.href}": refusing a redirect from https to plain http (${next.href})`);
      }
      // The credentials are the registry's: another origin never sees them.
      if (next.origin !== url.origin) delete headers.Authorization;
      url = next;
    }
  }

  private sendOnce(url: URL, method: string, headers: Record<string, string>, signal?: AbortSignal, body?: BodySource): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const isHttps = url.protocol === "https:";
      const lax = isHttps && isInsecureRegistry(url.host, this.insecureList);
      const mod = isHttps ? https : http;
      const agent = isHttps ? (lax ? this.httpsInsecureAgent : this.httpsAgent) : this.httpAgent;
      const req = mod.request(url, {
        method,
        headers: { "User-Agent": this.userAgent, ...headers },
        agent,
        ...(signal ? { signal } : {}),
      });
      req.setTimeout(this.idleTimeoutMs, () => {
        req.destroy(Object.assign(new Error("i/o timeout"), { code: "ETIMEDOUT" }));
      });
      req.on("error", reject);
      req.on("response", (res) => {
        // The body's idle timeout: the socket timer stays armed while it streams.
        resolve(res);
      });
      const data = body?.();
      if (data === undefined) req.end();
      else if (Buffer.isBuffer(data)) req.end(data);
      else {
        data.on("error", (e: Error) => req.destroy(e));
        data.pipe(req);
      }
    });
  }

  /** Picks the scheme the first time: https, or for insecure registries https-then-http. */
  private async sendToRegistry(pathname: string, o: SendOptions): Promise<{ res: http.IncomingMessage; url: URL }> {
    if (this.scheme !== undefined) return this.send(new URL(`${this.scheme}//${this.endpoint}${pathname}`), o);
    try {
      const r = await this.send(new URL(`https://${this.endpoint}${pathname}`), o);
      this.scheme = "https:";
      return r;
    } catch (e) {
      if (isAbort(e) || e instanceof TsboxError) throw e;
      const r = await this.send(new URL(`http://${this.endpoint}${pathname}`), o);
      this.scheme = "http:";
      return r;
    }
  }

  /** The request with authentication: a 401 is answered and the request repeated once. */
  private async authorizedOnce(pathname: string, o: { scope: string; method?: Method; signal?: AbortSignal; body?: BodySource },
    headers: Record<string, string>): Promise<{ res: http.IncomingMessage; url: URL }> {
    const method = o.method ?? "GET";
    let authorization = await this.auth.authorization(o.scope);
    for (let tries = 0; ; tries++) {
      const h = { ...headers };
      if (authorization !== undefined) h.Authorization = authorization;
      const so: SendOptions = { method, headers: h, ...(o.signal ? { signal: o.signal } : {}), ...(o.body ? { body: o.body } : {}) };
      // An upload's Location is absolute (or a path of its own): sent where it says, same origin only.
      const r = /^https?:\/\//.test(pathname) ? await this.send(new URL(pathname), so) : await this.sendToRegistry(pathname, so);
      if (r.res.statusCode !== 401 || tries >= 1 ||
        !this.auth.unauthorized(r.res.headers["www-authenticate"], o.scope, authorization !== undefined)) return r;
      drain(r.res);
      authorization = await this.auth.authorization(o.scope);
    }
  }

  /**
   * A 2xx response for `/v2/<pathname>`, body unread (the caller consumes or
   * destroys it). Retries 5xx, 429 and network errors; other statuses throw
   * the registry's error.
   */
  async get(pathname: string, o: GetOptions): Promise<RegistryResponse> {
    const method = o.method ?? "GET";
    const headers: Record<string, string> = {};
    if (o.accept !== undefined) headers.Accept = o.accept;
    if (o.range !== undefined) headers.Range = o.range;
    const target = (): URL => new URL(`${this.scheme ?? "http:"}//${this.endpoint}/v2/${pathname}`);
    for (let attempt = 1; ; attempt++) {
      let failure: Error;
      try {
        const { res, url } = await this.authorizedOnce(`/v2/${pathname}`, o, headers);
        const status = res.statusCode ?? 0;
        if (status >= 200 && status <= 299) return { status, headers: res.headers, body: res, url };
        const body = method === "HEAD" ? Buffer.alloc(0) : await readBody(res, ERROR_BODY_MAX, "error response").catch(() => Buffer.alloc(0));
        failure = registryError(method, url, status, res.statusMessage, body);
        if (!retryableStatus(status)) throw failure;
      } catch (e) {
        if (isAbort(e) || e instanceof TsboxError) throw e;
        failure = networkError(method, target(), e);
        // Nothing listens there, or no such host: waiting will not change that (Docker fails at once too).
        if (FATAL_NETWORK_CODES.has(String((e as NodeJS.ErrnoException).code))) throw failure;
      }
      if (attempt >= this.retry.attempts) throw failure;
      const delayMs = this.retry.delayMs(attempt);
      o.onRetry?.({ attempt, delayMs, error: failure });
      await sleep(delayMs, undefined, o.signal ? { signal: o.signal } : {});
    }
  }

  /**
   * A request of a push (`target`: a path under /v2/, or an upload's Location
   * as the registry gave it), retried as `get` is; the response's body is
   * read (bounded) and returned, since push responses carry only headers.
   */
  async request(target: string, o: RequestOptions): Promise<{ status: number; headers: http.IncomingHttpHeaders; url: URL }> {
    const pathOrUrl = /^https?:\/\//.test(target) ? target : target.startsWith("/") ? target : `/v2/${target}`;
    if (/^https?:\/\//.test(pathOrUrl) && new URL(pathOrUrl).host !== this.endpoint) {
      throw new ImageError(`${o.method} ${pathOrUrl}: the registry sent an upload location on another host`);
    }
    for (let attempt = 1; ; attempt++) {
      let failure: Error;
      try {
        const { res, url } = await this.authorizedOnce(pathOrUrl, o, o.headers ?? {});
        const status = res.statusCode ?? 0;
        const body = await readBody(res, ERROR_BODY_MAX, "response").catch(() => Buffer.alloc(0));
        if (status >= 200 && status <= 299) return { status, headers: res.headers, url };
        failure = registryError(o.method, url, status, res.statusMessage, body);
        if (!retryableStatus(status)) throw failure;
      } catch (e) {
        if (isAbort(e) || e instanceof TsboxError) throw e;
        failure = networkError(o.method, new URL(pathOrUrl, `${this.scheme ?? "http:"}//${this.endpoint}`), e);
        if (FATAL_NETWORK_CODES.has(String((e as NodeJS.ErrnoException).code))) throw failure;
      }
      if (attempt >= this.retry.attempts) throw failure;
      const delayMs = this.retry.delayMs(attempt);
      o.onRetry?.({ attempt, delayMs, error: failure });
      await sleep(delayMs, undefined, o.signal ? { signal: o.signal } : {});
    }
  }

  /** The registry's scheme and endpoint as a base for relative upload locations. */
  base(): string {
    return `${this.scheme ?? "http:"}//${this.endpoint}`;
  }

  /** A small document (manifest, config), read whole and bounded. */
  async getBytes(pathname: string, o: GetOptions & { maxBytes: number; what: string }): Promise<{ bytes: Buffer; headers: http.IncomingHttpHeaders }> {
    for (let attempt = 1; ; attempt++) {
      const res = await this.get(pathname, o);
      try {
        return { bytes: await readBody(res.body, o.maxBytes, o.what), headers: res.headers };
      } catch (e) {
        if (isAbort(e) || e instanceof TsboxError || attempt >= this.retry.attempts) {
          throw e instanceof TsboxError || isAbort(e) ? e : networkError("GET", res.url, e);
        }
        await sleep(this.retry.delayMs(attempt), undefined, o.signal ? { signal: o.signal } : {});
      }
    }
  }

  private async fetchToken(url: URL, authorization: string | undefined): Promise<{ status: number; reason?: string; body: Buffer }> {
    for (let attempt = 1; ; attempt++) {
      let failure: Error;
      try {
        const headers: Record<string, string> = {};
        if (authorization !== undefined) headers.Authorization = authorization;
        const { res } = await this.send(url, { method: "GET", headers });
        const status = res.statusCode ?? 0;
        const body = await readBody(res, 1024 * 1024, "token response");
        if (!retryableStatus(status)) return { status, ...(res.statusMessage ? { reason: res.statusMessage } : {}), body };
        failure = registryError("GET", url, status, res.statusMessage, body);
      } catch (e) {
        if (e instanceof TsboxError) throw e;
        failure = networkError("GET", url, e);
      }
      if (attempt >= this.retry.attempts) throw failure;
      await sleep(this.retry.delayMs(attempt));
    }
  }

  /** A blob as a stream of its bytes, resumed with `Range` when a connection breaks. */
  blob(repository: string, digest: string, size: number, hooks: BlobHooks = {}): BlobDownload {
    return new BlobDownload(this, repository, digest, size, hooks);
  }
}

export interface BlobHooks {
  scope?: string;
  /** Bytes received so far (after each chunk). */
  onBytes?: (received: number) => void;
  onRetry?: (n: RetryNotice) => void;
}

/**
 * The bytes of one blob. An AsyncIterable with destroy(), so a consumer that
 * gives up (a corrupt layer, a sibling's failure) stops the transfer at once
 * instead of waiting for the next chunk.
 */
export class BlobDownload implements AsyncIterable<Buffer> {
  private readonly ac = new AbortController();
  received = 0;

  constructor(
    private readonly client: RegistryClient,
    private readonly repository: string,
    readonly digest: string,
    readonly size: number,
    private readonly hooks: BlobHooks,
  ) {}

  destroy(): void {
    this.ac.abort();
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    const { client } = this;
    const scope = this.hooks.scope ?? `repository:${this.repository}:pull`;
    const pathname = `${this.repository}/blobs/${this.digest}`;
    const what = `blob ${this.digest}`;
    for (let attempt = 1; ; attempt++) {
      const resumeAt = this.received;
      const res = await client.get(pathname, {
        scope,
        signal: this.ac.signal,
        ...(resumeAt > 0 ? { range: `bytes=${resumeAt}-` } : {}),
        ...(this.hooks.onRetry ? { onRetry: this.hooks.onRetry } : {}),
      });
      let skip = 0;
      if (resumeAt > 0) {
        if (res.status === 206) {
          const m = /^bytes (\d+)-/.exec(String(res.headers["content-range"] ?? ""));
          if (m === null || Number(m[1]) !== resumeAt) {
            res.body.destroy();
            throw new ImageError(`${what}: the registry resumed at the wrong offset (${String(res.headers["content-range"])}, wanted ${resumeAt})`);
          }
        } else {
          // The registry ignored Range: the whole blob again, minus what we have.
          skip = resumeAt;
        }
      }
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          let c = chunk;
          if (skip > 0) {
            if (c.length <= skip) {
              skip -= c.length;
              continue;
            }
            c = c.subarray(skip);
            skip = 0;
          }
          this.received += c.length;
          // A registry sending more than the descriptor promised must not fill the disk.
          if (this.size >= 0 && this.received > this.size) {
            throw new ImageError(`${what}: the registry sent more than the ${this.size} bytes the manifest declares`);
          }
          this.hooks.onBytes?.(this.received);
          yield c;
        }
        return;
      } catch (e) {
        if (isAbort(e) || this.ac.signal.aborted || e instanceof TsboxError) throw e;
        const failure = networkError("GET", res.url, e);
        if (attempt >= client.retry.attempts) throw failure;
        const delayMs = client.retry.delayMs(attempt);
        this.hooks.onRetry?.({ attempt, delayMs, error: failure });
        await sleep(delayMs, undefined, { signal: this.ac.signal });
      } finally {
        // Also reached when the consumer stops early (return() at a yield).
        res.body.destroy();
      }
    }
  }
}

export { RegistryError };
