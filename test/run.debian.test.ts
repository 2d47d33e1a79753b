// Ordinary distribution programs under tsbox's defaults (Docker's seccomp profile,
// capabilities, masked paths, tini): a Debian bookworm minbase root built with
// debootstrap. A filter or a default that is too strict shows up here first.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { debianTarball, makeRoot, removeRoot, tsbox, tsboxResult } from "./helpers.js";

const debootstrap = ["/usr/sbin/debootstrap", "/usr/bin/debootstrap"].some((p) => existsSync(p));
let root: string;

describe.skipIf(!debootstrap)("a Debian image under the default profile", () => {
  beforeAll(async () => {
    root = makeRoot();
    const r = await tsboxResult(root, ["import", await debianTarball(), "debian"]);
    if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
  }, 600_000);
  afterAll(() => removeRoot(root));

  it("runs bash, dpkg, apt-get, apt-cache and perl", () => {
    const script = [
      "set -e",
      "test \"$(grep ^Seccomp: /proc/self/status | cut -f2)\" = 2",
      "dpkg -l | grep -c ^ii >/dev/null",
      "apt-get check -qq",
      "apt-cache policy apt | grep -q Installed",
      "perl -e 'opendir(my $d, \"/etc\") or die; print \"perl ok\\n\"'",
      "mkdir -p /tmp/a/b && echo hi > /tmp/a/b/c && cp -a /tmp/a /tmp/z && chmod 600 /tmp/z/b/c && rm -r /tmp/a",
      "useradd -m tester && su tester -c 'id -un'",
      "echo done",
    ].join("; ");
    const r = tsbox(root, ["run", "--rm", "debian", "bash", "-c", script]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("perl ok\ntester\ndone\n");
    expect(r.code).toBe(0);
  });

  it("apt-get install of a local package, and --init with the same image", () => {
    // dpkg's own machinery (unpack, triggers, maintainer scripts) from a .deb the image
    // already has in its database: rebuild one with dpkg-repack's poor cousin, dpkg-deb.
    const script = [
      "set -e",
      "mkdir -p /tmp/pkg/DEBIAN /tmp/pkg/usr/share/hello",
      "printf 'Package: tsbox-hello\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: t <t@t>\\nDescription: t\\n' > /tmp/pkg/DEBIAN/control",
      "echo hello > /tmp/pkg/usr/share/hello/hello.txt",
      "dpkg-deb --build /tmp/pkg /tmp/hello.deb >/dev/null",
      "apt-get install -y -q /tmp/hello.deb >/dev/null 2>&1",
      "cat /usr/share/hello/hello.txt",
      "dpkg -r tsbox-hello >/dev/null",
    ].join("; ");
    const r = tsbox(root, ["run", "--rm", "--init", "debian", "bash", "-c", script]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hello\n");
    expect(r.code).toBe(0);
  });
});
