// The registry client's pure parts: platform choice, WWW-Authenticate parsing,
// credentials in the Docker client config, which hosts are insecure, and the
// progress output (plain lines and terminal redraws).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { UsageError } from "../src/errors.js";
import { parseChallenges, pullScope } from "../src/image/registry/auth.js";
import { insecureRegistriesFrom, isInsecureRegistry, registryEndpoint, retryPolicyFrom } from "../src/image/registry/client.js";
import {
  DOCKER_HUB_AUTH_KEY, authKey, eraseCredentials, lookupCredentials, storeCredentials,
} from "../src/image/registry/credentials.js";
import { entryText, parseErrorBody } from "../src/image/registry/errors.js";
import {
  acceptedPlatforms, choosePlatform, formatPlatform, noMatchMessage, normalizePlatform, parsePlatform, type PlatformEntry,
} from "../src/image/registry/platform.js";
import { createProgress, humanSize4, progressText } from "../src/image/registry/progress.js";
import { pullReference } from "../src/image/registry/pull.js";

const dirs: string[] = [];
function tmpdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tsbox-registry-units-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const entry = (architecture: string, variant?: string, extra: Partial<PlatformEntry> = {}): PlatformEntry => ({
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  platform: { os: "linux", architecture, ...(variant !== undefined ? { variant } : {}) },
  ...extra,
});

describe("platform", () => {
  it("normalises names as containerd does", () => {
    expect(normalizePlatform({ os: "Linux", architecture: "x86_64" })).toEqual({ os: "linux", architecture: "amd64", variant: "" });
    expect(normalizePlatform({ os: "linux", architecture: "amd64", variant: "v1" })).toEqual({ os: "linux", architecture: "amd64", variant: "" });
    expect(normalizePlatform({ os: "linux", architecture: "aarch64" })).toEqual({ os: "linux", architecture: "arm64", variant: "" });
    expect(normalizePlatform({ os: "linux", architecture: "arm64", variant: "v8" })).toEqual({ os: "linux", architecture: "arm64", variant: "" });
    expect(normalizePlatform({ os: "linux", architecture: "arm" })).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
    expect(normalizePlatform({ os: "linux", architecture: "armhf" })).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
    expect(normalizePlatform({ os: "linux", architecture: "armel" })).toEqual({ os: "linux", architecture: "arm", variant: "v6" });
    expect(normalizePlatform({ os: "linux", architecture: "i386" })).toEqual({ os: "linux", architecture: "386", variant: "" });
  });

  it("parses --platform", () => {
    expect(parsePlatform("linux/arm64")).toEqual({ os: "linux", architecture: "arm64", variant: "" });
    expect(parsePlatform("linux/arm64/v8")).toEqual({ os: "linux", architecture: "arm64", variant: "" });
    expect(parsePlatform("linux/arm/v6")).toEqual({ os: "linux", architecture: "arm", variant: "v6" });
    expect(parsePlatform("linux/x86_64")).toEqual({ os: "linux", architecture: "amd64", variant: "" });
    expect(formatPlatform(parsePlatform("linux/arm"))).toBe("linux/arm/v7");
    expect(() => parsePlatform("linux//arm64")).toThrow(UsageError);
    expect(() => parsePlatform("a/b/c/d")).toThrow(UsageError);
    expect(() => parsePlatform("windows/amd64")).toThrow(/not supported/);
  });

  it("prefers the exact platform, then containerd's fallbacks in order", () => {
    const amd64 = parsePlatform("linux/amd64");
    expect(acceptedPlatforms(amd64).map(formatPlatform)).toEqual(["linux/amd64", "linux/386"]);
    expect(acceptedPlatforms(parsePlatform("linux/amd64/v3")).map(formatPlatform))
      .toEqual(["linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386"]);
    expect(acceptedPlatforms(parsePlatform("linux/arm/v7")).map(formatPlatform))
      .toEqual(["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]);
    expect(choosePlatform([entry("386"), entry("amd64")], amd64)).toBe(1);
    expect(choosePlatform([entry("386"), entry("arm64")], amd64)).toBe(0);
    expect(choosePlatform([entry("arm", "v5"), entry("arm", "v6")], parsePlatform("linux/arm/v7"))).toBe(1);
    expect(choosePlatform([entry("arm")], parsePlatform("linux/arm/v7"))).toBe(0);
    expect(choosePlatform([entry("arm", "v7")], parsePlatform("linux/arm/v6"))).toBeUndefined();
    expect(choosePlatform([entry("arm64", "v8")], parsePlatform("linux/arm64"))).toBe(0);
    expect(choosePlatform([entry("aarch64")], parsePlatform("linux/arm64"))).toBe(0);
    // Higher amd64 levels need a CPU that has them: not chosen for plain amd64.
    expect(choosePlatform([entry("amd64", "v3")], amd64)).toBeUndefined();
    // Among equals, the first.
    expect(choosePlatform([entry("amd64"), entry("x86_64")], amd64)).toBe(0);
  });

  it("never picks attestations or entries without a platform", () => {
    const amd64 = parsePlatform("linux/amd64");
    const attestation = { mediaType: "application/vnd.oci.image.manifest.v1+json", platform: { os: "unknown", architecture: "unknown" } };
    const annotated = entry("amd64", undefined, { annotations: { "vnd.docker.reference.type": "attestation-manifest" } });
    expect(choosePlatform([attestation, annotated, { mediaType: "x" }], amd64)).toBeUndefined();
    expect(choosePlatform([annotated, entry("amd64")], amd64)).toBe(1);
    expect(noMatchMessage(amd64)).toBe("no matching manifest for linux/amd64 in the manifest list entries");
    expect(noMatchMessage(parsePlatform("linux/arm/v7"))).toBe("no matching manifest for linux/arm/v7 in the manifest list entries");
  });
});

describe("WWW-Authenticate", () => {
  it("parses a Bearer challenge", () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"'))
      .toEqual([{ scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:samalba/my-app:pull,push" } }]);
  });

  it("parses Basic, several challenges in one header, escapes and unquoted values", () => {
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([{ scheme: "basic", params: { realm: "Registry Realm" } }]);
    expect(parseChallenges('Basic realm="a\\"b", Bearer realm=https://x/token , service = svc,error="insufficient_scope"')).toEqual([
      { scheme: "basic", params: { realm: 'a"b' } },
      { scheme: "bearer", params: { realm: "https://x/token", service: "svc", error: "insufficient_scope" } },
    ]);
    expect(parseChallenges(["Basic realm=x", "NEGOTIATE"])).toEqual([
      { scheme: "basic", params: { realm: "x" } }, { scheme: "negotiate", params: {} },
    ]);
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges("")).toEqual([]);
    expect(pullScope("library/busybox")).toBe("repository:library/busybox:pull");
  });
});

describe("credentials (docker config.json)", () => {
  it("keys Docker Hub by its legacy URL and others by host[:port]", () => {
    expect(authKey("docker.io")).toBe(DOCKER_HUB_AUTH_KEY);
    expect(authKey("index.docker.io")).toBe(DOCKER_HUB_AUTH_KEY);
    expect(authKey("registry-1.docker.io")).toBe(DOCKER_HUB_AUTH_KEY);
    expect(authKey(DOCKER_HUB_AUTH_KEY)).toBe(DOCKER_HUB_AUTH_KEY);
    expect(authKey("https://Registry.Example.com:5000/v2/")).toBe("registry.example.com:5000");
    expect(authKey("localhost:5000")).toBe("localhost:5000");
  });

  it("finds base64 user:pass entries, by exact key or URL form", () => {
    const file = path.join(tmpdir(), "config.json");
    const b64 = (s: string): string => Buffer.from(s).toString("base64");
    fs.writeFileSync(file, JSON.stringify({
      auths: {
        "https://index.docker.io/v1/": { auth: b64("hubuser:hub:pass") },
        "http://127.0.0.1:5000/v2/": { auth: b64("local:secret") },
        "plain.example": { username: "u", password: "p" },
        "broken.example": { auth: b64("nocolon") },
      },
      credsStore: "",
    }));
    expect(lookupCredentials("docker.io", file)).toEqual({ username: "hubuser", password: "hub:pass" });
    expect(lookupCredentials("127.0.0.1:5000", file)).toEqual({ username: "local", password: "secret" });
    expect(lookupCredentials("plain.example", file)).toEqual({ username: "u", password: "p" });
    expect(lookupCredentials("127.0.0.1:5001", file)).toBeUndefined();
    expect(() => lookupCredentials("broken.example", file)).toThrow(/not base64/);
    expect(lookupCredentials("x", path.join(tmpdir(), "missing.json"))).toBeUndefined();
  });

  it("stores atomically with mode 0600, keeps other settings, and erases", () => {
    const dir = path.join(tmpdir(), ".docker");
    const file = path.join(dir, "config.json");
    fs.mkdirSync(dir);
    fs.writeFileSync(file, JSON.stringify({ auths: { "http://reg.example:5000": { auth: "eDp5" } }, psFormat: "table {{.ID}}" }));
    expect(storeCredentials("reg.example:5000", { username: "me", password: "pw" }, file)).toBe("reg.example:5000");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(fs.readFileSync(file, "utf8")) as { auths: Record<string, { auth: string }>; psFormat: string };
    expect(saved.psFormat).toBe("table {{.ID}}");
    // The old URL-form key for the same host is replaced, not duplicated.
    expect(Object.keys(saved.auths)).toEqual(["reg.example:5000"]);
    expect(Buffer.from(saved.auths["reg.example:5000"]?.auth ?? "", "base64").toString()).toBe("me:pw");
    expect(fs.readdirSync(dir)).toEqual(["config.json"]);
    expect(eraseCredentials("reg.example:5000", file)).toBe(true);
    expect(eraseCredentials("reg.example:5000", file)).toBe(false);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({ auths: {}, psFormat: "table {{.ID}}" });
  });
});

describe("hosts and policies", () => {
  it("treats loopback and listed registries as insecure", () => {
    expect(isInsecureRegistry("localhost:5000")).toBe(true);
    expect(isInsecureRegistry("127.0.0.1:5000")).toBe(true);
    expect(isInsecureRegistry("127.5.6.7")).toBe(true);
    expect(isInsecureRegistry("[::1]:5000")).toBe(true);
    expect(isInsecureRegistry("registry.example.com")).toBe(false);
    expect(isInsecureRegistry("10.1.2.3:5000")).toBe(false);
    expect(isInsecureRegistry("reg.lan:5000", ["reg.lan:5000"])).toBe(true);
    expect(isInsecureRegistry("reg.lan:5001", ["reg.lan:5000"])).toBe(false);
    expect(isInsecureRegistry("reg.lan:5001", ["reg.lan"])).toBe(true);
    expect(isInsecureRegistry("10.1.2.3:5000", ["10.0.0.0/8"])).toBe(true);
    expect(isInsecureRegistry("11.1.2.3:5000", ["10.0.0.0/8"])).toBe(false);
    expect(insecureRegistriesFrom(["a:1"], { TSBOX_INSECURE_REGISTRIES: "b:2, c:3" })).toEqual(["a:1", "b:2", "c:3"]);
    expect(registryEndpoint("docker.io")).toBe("registry-1.docker.io");
  });

  it("reads the retry knobs from the environment", () => {
    const p = retryPolicyFrom({ TSBOX_REGISTRY_RETRIES: "2", TSBOX_REGISTRY_RETRY_DELAY_MS: "10" });
    expect(p.attempts).toBe(2);
    expect([p.delayMs(1), p.delayMs(3)]).toEqual([10, 30]);
    const d = retryPolicyFrom({});
    expect(d.attempts).toBe(5);
    expect(d.delayMs(2)).toBe(2000);
  });

  it("words registry errors as errcode does", () => {
    const entries = parseErrorBody(Buffer.from('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}'));
    expect(entries).toEqual([{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }]);
    expect(entryText(entries[0] ?? { code: "", message: "" })).toBe("manifest unknown: manifest unknown");
    expect(parseErrorBody(Buffer.from("<html>"))).toEqual([]);
  });

  it("pulls a digest rather than a tag, and latest by default", () => {
    expect(pullReference("busybox")).toEqual({ ref: { domain: "docker.io", path: "library/busybox", tag: "latest" }, defaulted: true });
    const d = `sha256:${"a".repeat(64)}`;
    expect(pullReference(`localhost:5000/x:1@${d}`)).toEqual({ ref: { domain: "localhost:5000", path: "x", digest: d }, defaulted: false });
  });
});

class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

describe("progress", () => {
  it("formats sizes and bars like Docker's jsonmessage", () => {
    expect(humanSize4(2222)).toBe("2.222kB");
    expect(humanSize4(52_428_800)).toBe("52.43MB");
    expect(humanSize4(999)).toBe("999B");
    expect(progressText(1_200_000, 3_400_000, 200)).toBe(`[=================>${" ".repeat(33)}]    1.2MB/3.4MB`);
    expect(progressText(1_200_000, 3_400_000, 80)).toBe("   1.2MB/3.4MB");
    expect(progressText(3_400_000, 3_400_000, 200)).toBe(`[${"=".repeat(50)}>]    3.4MB/3.4MB`);
    expect(progressText(5, 3, 80)).toBe("      5B");
    expect(progressText(0, 0, 80)).toBe("");
  });

  it("off a terminal: one line per status change, no bars", () => {
    const out = new Capture();
    const p = createProgress(out, { tty: false });
    p.line("latest: Pulling from library/busybox");
    p.layer("aaaaaaaaaaaa", "Pulling fs layer");
    p.layer("bbbbbbbbbbbb", "Already exists");
    p.layer("aaaaaaaaaaaa", "Downloading", { current: 10, total: 100 });
    p.layer("aaaaaaaaaaaa", "Downloading", { current: 50, total: 100 });
    p.layer("aaaaaaaaaaaa", "Retrying in 1 second");
    p.layer("aaaaaaaaaaaa", "Verifying Checksum");
    p.layer("aaaaaaaaaaaa", "Download complete");
    p.layer("aaaaaaaaaaaa", "Extracting", { current: 100, total: 100 });
    p.layer("aaaaaaaaaaaa", "Pull complete");
    p.line("Digest: sha256:x");
    expect(out.text).toBe([
      "latest: Pulling from library/busybox",
      "aaaaaaaaaaaa: Pulling fs layer",
      "bbbbbbbbbbbb: Already exists",
      "aaaaaaaaaaaa: Retrying in 1 second",
      "aaaaaaaaaaaa: Verifying Checksum",
      "aaaaaaaaaaaa: Download complete",
      "aaaaaaaaaaaa: Pull complete",
      "Digest: sha256:x",
      "",
    ].join("\n"));
  });

  it("on a terminal: each layer keeps its line and is redrawn in place", () => {
    const out = new Capture();
    let now = 0;
    const p = createProgress(out, { tty: true, columns: 80, now: () => now });
    p.line("v1: Pulling from x");
    p.layer("aaaaaaaaaaaa", "Pulling fs layer");
    p.layer("bbbbbbbbbbbb", "Pulling fs layer");
    out.text = "";
    p.layer("aaaaaaaaaaaa", "Downloading", { current: 1000, total: 2000 });
    expect(out.text).toBe("\x1b[2A\r\x1b[2Kaaaaaaaaaaaa: Downloading      1kB/2kB\r\x1b[2B");
    out.text = "";
    now += 10;
    p.layer("aaaaaaaaaaaa", "Downloading", { current: 1500, total: 2000 });
    expect(out.text).toBe(""); // throttled
    now += 200;
    p.layer("aaaaaaaaaaaa", "Downloading", { current: 1600, total: 2000 });
    expect(out.text).toContain("1.6kB/2kB");
    out.text = "";
    p.layer("bbbbbbbbbbbb", "Pull complete");
    expect(out.text).toBe("\x1b[1A\r\x1b[2Kbbbbbbbbbbbb: Pull complete\r\x1b[1B");
    out.text = "";
    p.layer("cccccccccccc", "Already exists");
    expect(out.text).toBe("cccccccccccc: Already exists\n");
  });
});
