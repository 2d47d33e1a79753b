// Docker reference grammar and normalisation, with the examples from
// distribution/reference's own tests.
import { describe, expect, it } from "vitest";
import { UsageError } from "../src/errors.js";
import {
  familiarName, familiarString, parseNormalizedNamed, referenceName, referenceString, withDefaultTag,
} from "../src/image/reference.js";

const HEX64 = "a".repeat(32) + "0123456789abcdef".repeat(2);
const DIGEST = `sha256:${HEX64}`;

describe("parseNormalizedNamed + withDefaultTag", () => {
  const table: [string, string, string][] = [
    // input, normalised (as stored), familiar (as `images` shows)
    ["busybox", "docker.io/library/busybox:latest", "busybox:latest"],
    ["busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"],
    ["user/app", "docker.io/user/app:latest", "user/app:latest"],
    ["docker/docker", "docker.io/docker/docker:latest", "docker/docker:latest"],
    ["library/debian", "docker.io/library/debian:latest", "debian:latest"],
    ["docker.io/debian", "docker.io/library/debian:latest", "debian:latest"],
    ["docker.io/library/debian", "docker.io/library/debian:latest", "debian:latest"],
    ["index.docker.io/docker/docker", "docker.io/docker/docker:latest", "docker/docker:latest"],
    ["index.docker.io/debian", "docker.io/library/debian:latest", "debian:latest"],
    ["docker.io/library/foo/bar", "docker.io/library/foo/bar:latest", "library/foo/bar:latest"],
    ["localhost:5000/x:tag", "localhost:5000/x:tag", "localhost:5000/x:tag"],
    ["localhost/x", "localhost/x:latest", "localhost/x:latest"],
    ["127.0.0.1:5000/docker/docker", "127.0.0.1:5000/docker/docker:latest", "127.0.0.1:5000/docker/docker:latest"],
    ["192.168.0.1", "docker.io/library/192.168.0.1:latest", "192.168.0.1:latest"],
    ["192.168.0.1:80", "docker.io/library/192.168.0.1:80", "192.168.0.1:80"],
    ["192.168.0.1:8/debian", "192.168.0.1:8/debian:latest", "192.168.0.1:8/debian:latest"],
    ["[fc00::1]:5000/docker", "[fc00::1]:5000/docker:latest", "[fc00::1]:5000/docker:latest"],
    ["[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest",
      "[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest"],
    ["test.com/foo", "test.com/foo:latest", "test.com/foo:latest"],
    ["test_com/foo", "docker.io/test_com/foo:latest", "test_com/foo:latest"],
    ["test-com:8080/foo", "test-com:8080/foo:latest", "test-com:8080/foo:latest"],
    ["xn--n3h.com/myimage", "xn--n3h.com/myimage:latest", "xn--n3h.com/myimage:latest"],
    ["example.com/some_separator__underscore/myimage", "example.com/some_separator__underscore/myimage:latest",
      "example.com/some_separator__underscore/myimage:latest"],
    ["Foo.com/bar", "Foo.com/bar:latest", "Foo.com/bar:latest"],
    ["a-b--c/d.e_f", "docker.io/a-b--c/d.e_f:latest", "a-b--c/d.e_f:latest"],
    ["thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
      "docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest",
      "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest"],
    [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`, `busybox@${DIGEST}`],
    [`busybox:1.36@${DIGEST}`, `docker.io/library/busybox:1.36@${DIGEST}`, `busybox:1.36@${DIGEST}`],
    ["busybox:Tag_1.0-rc", "docker.io/library/busybox:Tag_1.0-rc", "busybox:Tag_1.0-rc"],
  ];
  it.each(table)("%s → %s", (input, normalised, familiar) => {
    const ref = withDefaultTag(parseNormalizedNamed(input));
    expect(referenceString(ref)).toBe(normalised);
    expect(familiarString(ref)).toBe(familiar);
  });

  it("splits domain and path", () => {
    expect(parseNormalizedNamed("test.com:8080/foo/bar")).toEqual({ domain: "test.com:8080", path: "foo/bar" });
    expect(parseNormalizedNamed("foo")).toEqual({ domain: "docker.io", path: "library/foo" });
    expect(referenceName(parseNormalizedNamed("busybox:1"))).toBe("docker.io/library/busybox");
  });

  it("keeps a digest reference without a tag", () => {
    const ref = withDefaultTag(parseNormalizedNamed(`busybox@${DIGEST}`));
    expect(ref.tag).toBeUndefined();
    expect(ref.digest).toBe(DIGEST);
  });

  it("gives the short repository name `docker images` shows", () => {
    expect(familiarName(parseNormalizedNamed("docker.io/library/busybox"))).toBe("busybox");
    expect(familiarName(parseNormalizedNamed("docker.io/user/app"))).toBe("user/app");
    expect(familiarName(parseNormalizedNamed("library/foo/bar"))).toBe("library/foo/bar");
    expect(familiarName(parseNormalizedNamed("other/library"))).toBe("other/library");
    expect(familiarName(parseNormalizedNamed("localhost:5000/x"))).toBe("localhost:5000/x");
  });
});

describe("invalid references", () => {
  const invalid: [string, string][] = [
    ["", "invalid reference format"],
    ["busybox:", "invalid reference format"],
    [":tag", "invalid reference format"],
    ["-docker", "invalid reference format"],
    ["-docker/docker", "invalid reference format"],
    ["docker///docker", "invalid reference format"],
    ["docker.io/docker///docker", "invalid reference format"],
    ["a..b", "invalid reference format"],
    ["a___b", "invalid reference format"],
    ["a b", "invalid reference format"],
    ["https://github.com/docker/docker", "invalid reference format"],
    ["[fc00::1]", "invalid reference format"],
    ["[fc00::1]:5000", "invalid reference format"],
    ["fc00::1:5000/debian", "invalid reference format"],
    ["[fe80::1%eth0]:5000/debian", "invalid reference format"],
    ["[2001:db8:3:4::192.0.2.33]:5000/debian", "invalid reference format"],
    ["busybox:-tag", "invalid reference format"],
    [`busybox:${"t".repeat(129)}`, "invalid reference format"],
    ["busybox@sha256:abc", "invalid reference format"],
    ["Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"],
    ["docker/Docker", "invalid reference format: repository name (docker/Docker) must be lowercase"],
    ["docker.io/docker/Docker", "invalid reference format: repository name (docker/Docker) must be lowercase"],
    [HEX64, `invalid repository name (${HEX64}), cannot specify 64-byte hexadecimal strings`],
    [`a/${"b".repeat(250)}`, "repository name must not be more than 255 characters"],
    [`busybox@sha256:${"a".repeat(40)}`, "invalid checksum digest length"],
    [`busybox@sha256:${HEX64.toUpperCase()}`, "invalid checksum digest format"],
    [`busybox@md5:${"a".repeat(32)}`, "unsupported digest algorithm"],
  ];
  it.each(invalid)("%j → %s", (input, message) => {
    let err: unknown;
    try {
      parseNormalizedNamed(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(message);
  });

  it("accepts a name of exactly 255 characters", () => {
    const path = `a/${"b".repeat(255 - "docker.io/a/".length)}`;
    expect(referenceName(parseNormalizedNamed(path))).toHaveLength(255);
  });

  it("does not backtrack catastrophically on long garbage", () => {
    const t = Date.now();
    expect(() => parseNormalizedNamed(`${"a-".repeat(2000)}!`)).toThrow(UsageError);
    expect(() => parseNormalizedNamed(`${"a.".repeat(100)}a:${"1".repeat(50)}x/y!`)).toThrow(UsageError);
    expect(Date.now() - t).toBeLessThan(2000);
  });
});
