// Acceptance (issue 15, cp): `tsbox cp` both ways, for a running and a
// stopped container, with docker cp's rules (file/directory/"/." targets, -a,
// -L, tar streams), and never outside the container's root: symlinks planted
// in the container (absolute, relative climbing, a directory link) and in a
// tar stream are followed inside the container only.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, removeRoot, rootWithBusybox, tsbox } from "./helpers.js";

let root: string;
let host: string;
beforeAll(() => {
  root = rootWithBusybox();
  host = fs.mkdtempSync("/var/tmp/tsbox-cp-host-");
});
afterAll(() => {
  spawnSync(process.execPath, [CLI, "--root", root, "rm", "-f", "cp-running"], { stdio: "ignore" });
  removeRoot(root);
  fs.rmSync(host, { recursive: true, force: true });
});

// The hostile shapes: links that would leave the root if the host followed them.
const PLANT = [
  "mkdir -p /data/sub && echo inside > /data/file && echo deep > /data/sub/deep && ln /data/file /data/hard",
  "ln -s / /rootlink", "ln -s ../../../../../../../../tmp /climb", "ln -s /etc/shadow-of-host /abslink",
  "mkdir -p /tmp && ln -s /data /dlink", "chown 7:8 /data/file",
].join(" && ");

function bothKinds(): [string, () => void][] {
  return [
    ["a stopped container", () => {
      expect(tsbox(root, ["run", "--name", "cp-stopped", "--network", "none", "busybox", "sh", "-c", PLANT]).code).toBe(0);
    }],
    ["a running container", () => {
      expect(tsbox(root, ["run", "-d", "--name", "cp-running", "--network", "none", "busybox", "sh", "-c", `${PLANT} && exec sleep 300`]).code).toBe(0);
      for (let i = 0; i < 200 && tsbox(root, ["exec", "cp-running", "test", "-e", "/data/hard"]).code !== 0; i++) execFileSync("sleep", ["0.05"]);
    }],
  ];
}

describe.each(bothKinds())("cp with %s", (kind, make) => {
  const name = kind.includes("running") ? "cp-running" : "cp-stopped";
  const inContainer = (cmd: string): string => {
    if (name === "cp-running") return tsbox(root, ["exec", name, "sh", "-c", cmd]).stdout;
    const img = `cp-check-${Date.now()}`;
    expect(tsbox(root, ["commit", name, img]).code).toBe(0);
    const out = tsbox(root, ["run", "--rm", "--network", "none", img, "sh", "-c", cmd]).stdout;
    tsbox(root, ["rmi", img]);
    return out;
  };

  beforeAll(() => { make(); });

  it("copies a file and a directory out (into a directory, as a new name, contents with /.), keeping links", () => {
    const out = fs.mkdtempSync(path.join(host, "out-"));
    expect(tsbox(root, ["cp", `${name}:/data/file`, out])).toMatchObject({ code: 0, stderr: "" });
    expect(fs.readFileSync(path.join(out, "file"), "utf8")).toBe("inside\n");
    expect(fs.statSync(path.join(out, "file")).uid).toBe(0); // the user running tsbox, without -a
    expect(tsbox(root, ["cp", "-a", `${name}:/data/file`, path.join(out, "kept")]).code).toBe(0);
    expect([fs.statSync(path.join(out, "kept")).uid, fs.statSync(path.join(out, "kept")).gid]).toEqual([7, 8]);
    expect(tsbox(root, ["cp", `${name}:/data`, path.join(out, "copy")]).code).toBe(0);
    expect(fs.readFileSync(path.join(out, "copy", "sub", "deep"), "utf8")).toBe("deep\n");
    expect(fs.statSync(path.join(out, "copy", "hard")).ino).toBe(fs.statSync(path.join(out, "copy", "file")).ino);
    expect(tsbox(root, ["cp", `${name}:/data`, path.join(out, "copy")]).code).toBe(0); // into the existing directory
    expect(fs.existsSync(path.join(out, "copy", "data", "file"))).toBe(true);
    fs.mkdirSync(path.join(out, "contents"));
    expect(tsbox(root, ["cp", `${name}:/data/.`, path.join(out, "contents")]).code).toBe(0);
    expect(fs.readdirSync(path.join(out, "contents")).sort()).toEqual(["file", "hard", "sub"]);
  });

  it("a symlink named as the source is copied as a link; -L follows it inside the container, never to the host", () => {
    const out = fs.mkdtempSync(path.join(host, "links-"));
    expect(tsbox(root, ["cp", `${name}:/abslink`, out]).code).toBe(0);
    expect(fs.readlinkSync(path.join(out, "abslink"))).toBe("/etc/shadow-of-host");
    // -L: /abslink resolves in the container, where there is no such file (the host's path is never read)
    const r = tsbox(root, ["cp", "-L", `${name}:/abslink`, path.join(out, "followed")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`tsbox: No such container:path: ${name}:/abslink\n`);
    // through a directory link: the container's /data
    expect(tsbox(root, ["cp", `${name}:/dlink/file`, path.join(out, "via-link")]).code).toBe(0);
    expect(fs.readFileSync(path.join(out, "via-link"), "utf8")).toBe("inside\n");
    // /rootlink/etc/passwd is the container's, not the host's
    expect(tsbox(root, ["cp", `${name}:/rootlink/etc/passwd`, path.join(out, "passwd")]).code).toBe(0);
    expect(fs.readFileSync(path.join(out, "passwd"), "utf8")).toBe(inContainer("cat /etc/passwd"));
  });

  it("copies into the container (owned by root unless -a), and writes through planted links land inside the container", () => {
    const src = path.join(host, `in-${name}`);
    fs.mkdirSync(path.join(src, "tree"), { recursive: true });
    fs.writeFileSync(path.join(src, "tree", "a"), "A\n");
    fs.chownSync(path.join(src, "tree", "a"), 11, 12);
    fs.writeFileSync(path.join(src, "one"), "one\n");
    const marker = `tsbox-cp-escape-${process.pid}-${name}`;
    fs.writeFileSync(path.join(src, marker), "should stay inside\n");
    expect(tsbox(root, ["cp", path.join(src, "one"), `${name}:/data/`]).code).toBe(0);
    expect(tsbox(root, ["cp", path.join(src, "tree"), `${name}:/newtree`]).code).toBe(0);
    expect(tsbox(root, ["cp", "-a", path.join(src, "tree"), `${name}:/kepttree`]).code).toBe(0);
    // the hostile targets: each resolves inside the container's root
    for (const dest of ["/rootlink/tmp/", "/climb/", "/dlink/"]) {
      const r = tsbox(root, ["cp", path.join(src, marker), `${name}:${dest}`]);
      expect(r.code, `${dest}: ${r.stderr}`).toBe(0);
    }
    expect(fs.existsSync(path.join("/tmp", marker))).toBe(false);
    expect(fs.existsSync(path.join("/", marker))).toBe(false);
    expect(inContainer(`cat /data/one; stat -c '%u:%g %n' /newtree/a /kepttree/a; ls /tmp/${marker} /data/${marker}`))
      .toBe(`one\n0:0 /newtree/a\n11:12 /kepttree/a\n/data/${marker}\n/tmp/${marker}\n`);
  });

  it("tar streams: out to stdout, and in from stdin with a planted link in the archive itself kept inside", async () => {
    const out = spawnSync(process.execPath, [CLI, "--root", root, "cp", `${name}:/data`, "-"], { maxBuffer: 1 << 24 });
    expect(out.status).toBe(0);
    const list = execFileSync("tar", ["-tv", "--numeric-owner"], { input: out.stdout, encoding: "utf8" });
    expect(list).toMatch(/-rw-r--r-- 7\/8 +7 .* data\/file\n/);
    expect(list).toMatch(/h.* data\/hard link to data\/file\n/);
    // an archive that plants `esc -> /` and then writes esc/<marker>
    const dir = fs.mkdtempSync(path.join(host, "tarin-"));
    const marker = `tsbox-cp-tar-${process.pid}-${name}`;
    fs.symlinkSync("/", path.join(dir, "esc"));
    const archive = path.join(dir, "a.tar");
    execFileSync("tar", ["-cf", archive, "-C", dir, "esc"]);
    fs.mkdirSync(path.join(dir, "x"));
    fs.writeFileSync(path.join(dir, "x", marker), "in\n");
    execFileSync("tar", ["-rf", archive, "-C", dir, "--transform", `s,^x,esc,`, `x/${marker}`]);
    const r = spawnSync(process.execPath, [CLI, "--root", root, "cp", "-", `${name}:/data`], { input: fs.readFileSync(archive) });
    expect(r.status, String(r.stderr)).toBe(0);
    expect(fs.existsSync(path.join("/", marker))).toBe(false);
    expect(inContainer(`cat /${marker}`)).toBe("in\n");
  });

  it("bad input: one line, exit 1", () => {
    for (const [args, message] of [
      [["cp", `${name}:/nope`, host], `tsbox: No such container:path: ${name}:/nope\n`],
      [["cp", "no-such-container:/x", host], "tsbox: No such container: no-such-container\n"],
      [["cp", path.join(host, "does-not-exist"), `${name}:/x`], `tsbox: lstat ${path.join(host, "does-not-exist")}: no such file or directory\n`],
      [["cp", `${name}:/data`, `${name}:/x`], "tsbox: copying between containers is not supported\n"],
      [["cp", host, path.join(host, "y")], "tsbox: must specify at least one container source\n"],
    ] as const) {
      const r = tsbox(root, [...args]);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr).toBe(message);
    }
  });
});
