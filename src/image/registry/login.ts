// `docker login` / `docker logout`: check the credentials against the
// registry (GET /v2/ answered through its challenge: a token for the account,
// or Basic), then keep them in the Docker client config.
import { TsboxError } from "../../errors.js";
import { RegistryClient, type RetryPolicy } from "./client.js";
import { DOCKER_HUB_AUTH_KEY, authKey, dockerConfigFile, eraseCredentials, hostOfServer, storeCredentials, type Credentials } from "./credentials.js";
import { RegistryError } from "./errors.js";

export interface LoginOptions {
  insecureRegistries?: readonly string[];
  retry?: RetryPolicy;
  configFile?: string;
}

/** The registry domain `SERVER` names (Docker Hub when absent). */
export function loginDomain(server: string | undefined): string {
  const key = authKey(server ?? DOCKER_HUB_AUTH_KEY);
  return key === DOCKER_HUB_AUTH_KEY ? "docker.io" : hostOfServer(key);
}

/** Checks the credentials with the registry; stores them on success. Returns the config key. */
export async function login(server: string | undefined, creds: Credentials, opts: LoginOptions = {}): Promise<string> {
  const domain = loginDomain(server);
  const client = new RegistryClient(domain, {
    credentials: () => creds,
    ...(opts.insecureRegistries ? { insecureRegistries: opts.insecureRegistries } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
  });
  try {
    const res = await client.get("", { scope: "" });
    res.body.resume();
  } catch (e) {
    if (e instanceof RegistryError && e.status === 401) {
      throw new TsboxError(`login attempt to ${client.endpoint} failed: ${e.message}`, 125, { cause: e });
    }
    throw e;
  } finally {
    client.close();
  }
  return storeCredentials(server ?? DOCKER_HUB_AUTH_KEY, creds, opts.configFile ?? dockerConfigFile());
}

/** Forgets the credentials for `server`; false if there were none. */
export function logout(server: string | undefined, configFile = dockerConfigFile()): { key: string; removed: boolean } {
  const key = authKey(server ?? DOCKER_HUB_AUTH_KEY);
  return { key, removed: eraseCredentials(key, configFile) };
}
