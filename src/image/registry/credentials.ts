// Registry credentials in Docker's client config (`~/.docker/config.json`, or
// `$DOCKER_CONFIG/config.json`), so `docker login` and `tsbox login` share
// them: `auths[<key>].auth` is base64("user:password"). Docker Hub's key is
// the legacy `https://index.docker.io/v1/`; other registries are keyed by
// host[:port], though older clients wrote URLs, which lookups accept too.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { UsageError, errnoCode } from "../../errors.js";
import { writeFileAtomic } from "../../util/atomic.js";
import { DEFAULT_DOMAIN } from "../reference.js";

export interface Credentials {
  username: string;
  password: string;
}

/** The key Docker files Docker Hub's credentials under. */
export const DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/";
const HUB_NAMES = new Set([DEFAULT_DOMAIN, "index.docker.io", "registry-1.docker.io"]);

export function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DOCKER_CONFIG !== undefined && env.DOCKER_CONFIG !== ""
    ? env.DOCKER_CONFIG
    : path.join(env.HOME !== undefined && env.HOME !== "" ? env.HOME : os.homedir(), ".docker");
  return path.join(dir, "config.json");
}

/** `https://host:5000/v2/` → `host:5000` (the distribution CLI's ConvertToHostname). */
export function hostOfServer(server: string): string {
  let s = server.trim();
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const slash = s.indexOf("/");
  return (slash === -1 ? s : s.slice(0, slash)).toLowerCase();
}

/** The config key for a registry, as `docker login SERVER` writes it. */
export function authKey(server: string): string {
  const host = hostOfServer(server);
  return host === "" || HUB_NAMES.has(host) ? DOCKER_HUB_AUTH_KEY : host;
}

type ConfigFile = Record<string, unknown> & { auths?: Record<string, { auth?: unknown; username?: unknown; password?: unknown }> };

function readConfig(file: string): ConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return {};
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  if (text.trim() === "") return {};
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as ConfigFile;
  } catch {
    // reported below
  }
  throw new UsageError(`${file}: invalid JSON (a Docker client configuration was expected)`);
}

function decodeAuth(entry: { auth?: unknown; username?: unknown; password?: unknown }, key: string, file: string): Credentials | undefined {
  if (typeof entry.auth === "string" && entry.auth !== "") {
    const plain = Buffer.from(entry.auth, "base64").toString("utf8");
    const i = plain.indexOf(":");
    if (i <= 0) throw new UsageError(`${file}: the credentials for ${key} are not base64("user:password")`);
    return { username: plain.slice(0, i), password: plain.slice(i + 1) };
  }
  if (typeof entry.username === "string" && typeof entry.password === "string") {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** Credentials stored for the registry `host` (as in a reference's domain), if any. */
export function lookupCredentials(host: string, file = dockerConfigFile()): Credentials | undefined {
  const auths = readConfig(file).auths;
  if (typeof auths !== "object" || auths === null) return undefined;
  const want = authKey(host);
  // An exact key first; then any key naming the same host (URL forms).
  const exact = auths[want];
  if (exact !== undefined) return decodeAuth(exact, want, file);
  for (const [key, entry] of Object.entries(auths)) {
    if (authKey(key) === want && typeof entry === "object" && entry !== null) return decodeAuth(entry, key, file);
  }
  return undefined;
}

function writeConfig(file: string, config: ConfigFile): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Credentials: never readable by others, even for the rename's instant.
  writeFileAtomic(dir, file, `${JSON.stringify(config, null, "\t")}\n`, 0o600);
}

export function storeCredentials(server: string, creds: Credentials, file = dockerConfigFile()): string {
  const config = readConfig(file);
  const key = authKey(server);
  const auths = typeof config.auths === "object" && config.auths !== null ? config.auths : {};
  for (const k of Object.keys(auths)) if (k !== key && authKey(k) === key) delete auths[k];
  auths[key] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString("base64") };
  config.auths = auths;
  writeConfig(file, config);
  return key;
}

/** Removes every entry for `server`; returns false if there was none. */
export function eraseCredentials(server: string, file = dockerConfigFile()): boolean {
  const config = readConfig(file);
  const auths = config.auths;
  if (typeof auths !== "object" || auths === null) return false;
  const key = authKey(server);
  const gone = Object.keys(auths).filter((k) => authKey(k) === key);
  if (gone.length === 0) return false;
  for (const k of gone) delete auths[k];
  writeConfig(file, config);
  return true;
}
