// Acceptance (issue 15, build): `tsbox build` on the real kernel, overlayfs and
// cgroups: multi-stage Dockerfiles with COPY from the context (.dockerignore,
// globs, a symlink named on the line), COPY --from, --chown, ARG/ENV/WORKDIR/
// USER interplay and heredocs; the cache (a no-change rebuild runs nothing, a
// changed file re-runs from its COPY on); a failing step; bad input; a
// SIGKILL in the middle. Side by side with Docker's builder when a Docker
// engine answers: the same output, files, config and history.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLI, busyboxTarball, cgroupDirsOf, containerIds, debianTarball, mountsUnder, removeRoot, rootWithBusybox, tsbox, tsboxResult, until,
} from "./helpers.js";

let root: string;
let work: string;
beforeAll(() => {
  root = rootWithBusybox();
  work = fs.mkdtempSync("/var/tmp/tsbox-build-");
});
afterAll(() => {
  removeRoot(root);
  fs.rmSync(work, { recursive: true, force: true });
});

/** A context directory with these files (a value starting "->" is a symlink). */
function context(name: string, files: Record<string, string>): string {
  const dir = path.join(work, name);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (content.startsWith("->")) fs.symlinkSync(content.slice(2), p);
    else fs.writeFileSync(p, content);
  }
  return dir;
}

// What a container of the built image prints: its identity, env, and every file under
// the build's directories with type, mode, owner and size (not mtimes: builds differ in time).
const LISTING = "id; pwd; env | grep -v -e ^HOSTNAME= -e ^HOME= | sort; "
  + "find /app /data2 /etc/conf /etc/passwd -xdev 2>/dev/null | sort | while read -r f; do stat -c '%n %F %a %u:%g %s' \"$f\"; done; "
  + "cat /app/out.txt /app/a.txt";

const MULTI = `ARG BASE=busybox
FROM $BASE AS build
ARG GREETING=hi
ENV APP=/app
WORKDIR $APP
COPY a.txt sub link ./
COPY *.tmp /tmpfiles/
RUN echo "$GREETING from $(pwd)" > out.txt && mkdir -p /data && echo gen > /data/gen && chmod 0750 /data
RUN rm -f /app/s && echo 'app2:x:1001:1001::/home/app2:/bin/sh' >> /etc/passwd && echo 'app2:x:1001:' >> /etc/group

FROM $BASE
ARG GREETING
COPY --from=build /app /app
COPY --from=build /etc/passwd /etc/group /etc/
COPY --from=build --chown=app2:app2 /data /data2
COPY --from=build /tmpfiles /app/tmpfiles
LABEL org.example.a=1 b="two words"
EXPOSE 8080/tcp 53/udp
VOLUME /vol
ENV MSG="\${GREETING:-none}"
WORKDIR /app
USER app2
STOPSIGNAL SIGINT
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo $MSG"]
`;

const MULTI_FILES = {
  "a.txt": "hello\n", "sub/s": "s\n", "sub/deep/d": "d\n", link: "->a.txt", "secret.txt": "no\n", "x.tmp": "x\n", "keep.tmp": "k\n",
  ".dockerignore": "secret.txt\n*.tmp\n!keep.tmp\n", Dockerfile: MULTI,
};

function build(args: string[]): { code: number; stdout: string; stderr: string } {
  return tsbox(root, ["build", ...args], { timeout: 300_000 });
}

describe("tsbox build", () => {
  it("builds a multi-stage Dockerfile; the image runs with the files, owners, config and history the Dockerfile says", () => {
    const ctx = context("multi", MULTI_FILES);
    const r = build(["-t", "multi:1", "--build-arg", "GREETING=hello", ctx]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^#1 \[build 1\/\d+\] FROM busybox AS build$/m);
    expect(r.stderr).toMatch(/^#\d+ naming to docker\.io\/library\/multi:1$/m);
    expect(tsbox(root, ["run", "--rm", "--network", "none", "multi:1"]).stdout).toBe("hello\n");
    const out = tsbox(root, ["run", "--rm", "--network", "none", "--entrypoint", "sh", "multi:1", "-c", LISTING]).stdout;
    expect(out).toContain("uid=1001(app2) gid=1001(app2) groups=1001(app2)\n/app\n");
    expect(out).toContain("MSG=hello\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
    expect(out).toContain("/app/a.txt regular file 644 0:0 6\n");
    expect(out).toContain("/app/link regular file 644 0:0 6\n"); // a symlink named on the COPY line is followed
    expect(out).toContain("/app/deep/d regular file 644 0:0 2\n");
    expect(out).not.toContain("/app/s "); // removed by a RUN of the first stage
    expect(out).toContain("/app/tmpfiles/keep.tmp regular file 644 0:0 2\n");
    expect(out).not.toContain("x.tmp"); // .dockerignore, with its ! exception
    expect(out).not.toContain("secret");
    // a directory's contents are copied into a new directory, made 0755 for the --chown owner (as Docker)
    expect(out).toContain("/data2 directory 755 1001:1001 4096\n/data2/gen regular file 644 1001:1001 4\n");
    expect(out).toMatch(/hello from \/app\nhello\n$/);

    const [img] = JSON.parse(tsbox(root, ["image", "inspect", "multi:1"]).stdout) as { Config: Record<string, unknown> }[];
    expect(img?.Config).toMatchObject({
      User: "app2", WorkingDir: "/app", Entrypoint: ["/bin/sh", "-c"], Cmd: ["echo $MSG"], StopSignal: "SIGINT",
      Labels: { "org.example.a": "1", b: "two words" }, ExposedPorts: { "8080/tcp": {}, "53/udp": {} }, Volumes: { "/vol": {} },
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "MSG=hello"],
    });
    const history = tsbox(root, ["history", "--no-trunc", "multi:1"]).stdout;
    for (const line of ["/bin/sh -c #(nop)  CMD [\"echo $MSG\"]", "/bin/sh -c #(nop)  ENTRYPOINT [\"/bin/sh\" \"-c\"]",
      "/bin/sh -c #(nop) WORKDIR /app", "/bin/sh -c #(nop)  ENV MSG=hello", "/bin/sh -c #(nop)  VOLUME [/vol]",
      "/bin/sh -c #(nop)  EXPOSE 53/udp 8080/tcp", "/bin/sh -c #(nop)  LABEL org.example.a=1 b=two words", "/bin/sh -c #(nop)  ARG GREETING"]) {
      expect(history).toContain(line);
    }
    expect(history).toMatch(/\/bin\/sh -c #\(nop\) COPY --chown=app2:app2dir:[0-9a-f]{64} in \/data2 /);
    // the first stage is not a tagged image; the steps are not listed
    expect(tsbox(root, ["images"]).stdout.split("\n").filter((l) => l.startsWith("<none>")).length).toBeLessThanOrEqual(1);
  });

  it("heredocs: RUN <<EOF runs the script; COPY <<EOF writes the file, expanding variables unless the delimiter is quoted", () => {
    const ctx = context("heredoc", {
      Dockerfile: `FROM busybox
ARG WHO=world
RUN <<EOF
echo "script ran for $WHO" > /ran
mkdir -p /made
EOF
COPY <<EOF /greeting
hello \${WHO} \${MISSING:-default} "quoted"
EOF
COPY <<'EOF' /literal
keep $WHO as written
EOF
CMD cat /ran /greeting /literal && test -d /made
`,
    });
    const r = build(["-t", "heredoc:1", "--build-arg", "WHO=tsbox", ctx]);
    expect(r.code, r.stderr).toBe(0);
    expect(tsbox(root, ["run", "--rm", "--network", "none", "heredoc:1"]).stdout)
      .toBe("script ran for tsbox\nhello tsbox default \"quoted\"\nkeep $WHO as written\n");
  });

  it("ADD unpacks local tar archives (plain, gzip, xz) keeping owners, copies other files; a hostile archive is refused", () => {
    const ctx = context("add", { "src/d/a": "a\n", "src/b": "b\n" });
    fs.chownSync(path.join(ctx, "src", "b"), 5, 6);
    execFileSync("tar", ["-C", path.join(ctx, "src"), "-cf", path.join(ctx, "plain.tar"), "."]);
    execFileSync("tar", ["-C", path.join(ctx, "src"), "-czf", path.join(ctx, "comp.tgz"), "."]);
    execFileSync("tar", ["-C", path.join(ctx, "src"), "-cJf", path.join(ctx, "comp.txz"), "."]);
    fs.writeFileSync(path.join(ctx, "data.gz"), execFileSync("gzip", ["-c"], { input: "not an archive\n" }));
    fs.writeFileSync(path.join(ctx, "Dockerfile"), "FROM busybox\nADD plain.tar /p\nADD comp.tgz /g/\nADD comp.txz /x\nADD data.gz /\n"
      + "CMD find /p /g /x /data.gz | sort; stat -c '%u:%g %n' /p/b /g/b\n");
    const r = build(["-t", "add:1", ctx]);
    expect(r.code, r.stderr).toBe(0);
    expect(tsbox(root, ["run", "--rm", "--network", "none", "add:1"]).stdout).toBe(
      ["/data.gz", "/g", "/g/b", "/g/d", "/g/d/a", "/p", "/p/b", "/p/d", "/p/d/a", "/x", "/x/b", "/x/d", "/x/d/a", "5:6 /p/b", "5:6 /g/b", ""].join("\n"));

    // an archive whose entry climbs out, and one that writes through a link it planted
    const evil = context("add-evil", { Dockerfile: "FROM busybox\nADD evil.tar /e\n" });
    const marker = `tsbox-add-escape-${process.pid}`;
    const staging = fs.mkdtempSync(path.join(work, "evil-"));
    fs.symlinkSync("/tmp", path.join(staging, "ln"));
    fs.writeFileSync(path.join(staging, marker), "x");
    execFileSync("tar", ["-cf", path.join(evil, "evil.tar"), "-C", staging, "ln", "--transform", `s,^${marker},ln/${marker},`, marker]);
    const bad = build(["-t", "evil:1", evil]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/tsbox: ADD evil\.tar: refusing archive entry "ln\/tsbox-add-escape-\d+": path goes through symlink "ln"/);
    expect(fs.existsSync(path.join("/tmp", marker))).toBe(false);
  });

  it("the cache: a rebuild with nothing changed runs no step; a changed file re-runs from its COPY on, and --no-cache runs everything", () => {
    const files = {
      Dockerfile: "FROM busybox\nRUN echo one > /one\nCOPY f /f\nRUN cat /f > /g\nCMD cat /g\n",
      f: "v1\n",
    };
    const ctx = context("cache", files);
    const first = build(["-t", "cache:1", ctx]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).not.toContain("CACHED");
    const again = build(["-t", "cache:1", ctx]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr.match(/^#\d+ CACHED$/gm)).toHaveLength(4);
    expect(again.stderr).not.toMatch(/^#[2-5] DONE/m);
    expect(tsbox(root, ["images", "-q", "cache:1"]).stdout).toBe(tsbox(root, ["images", "-q", "cache:1"]).stdout);

    fs.writeFileSync(path.join(ctx, "f"), "v2\n");
    const changed = build(["-t", "cache:2", ctx]);
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stderr).toMatch(/^#2 CACHED$/m); // RUN echo one
    expect(changed.stderr).toMatch(/^#3 DONE/m); // COPY f
    expect(changed.stderr).toMatch(/^#4 DONE/m); // RUN cat /f
    expect(tsbox(root, ["run", "--rm", "--network", "none", "cache:2"]).stdout).toBe("v2\n");
    expect(tsbox(root, ["run", "--rm", "--network", "none", "cache:1"]).stdout).toBe("v1\n");

    // the steps are cache, not images: not listed, not dangling for image prune; builder prune removes them
    expect(tsbox(root, ["images"]).stdout).not.toMatch(/^<none>/m);
    expect(tsbox(root, ["image", "prune", "-f"]).code).toBe(0);
    expect(build(["-t", "cache:2", ctx]).stderr.match(/^#\d+ CACHED$/gm)).toHaveLength(4);

    // --no-cache runs every step; an untagged result is listed as <none>, as Docker's
    const fresh = build(["--no-cache", "-q", ctx]);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stderr).toBe("");
    expect(fresh.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const dangling = tsbox(root, ["images"]).stdout.split("\n").filter((l) => l.startsWith("<none>"));
    expect(dangling.map((l) => l.split(/ +/)[2])).toEqual([fresh.stdout.slice(7, 19)]);

    // a filter no step image matches keeps the cache: the rebuild still takes every step from it
    const kept = tsbox(root, ["builder", "prune", "-a", "-f", "--filter", "until=2000-01-01T00:00:00Z"]);
    expect(kept).toMatchObject({ code: 0, stdout: "Total reclaimed space: 0B\n" });
    expect(build(["-t", "cache:2", ctx]).stderr.match(/^#\d+ CACHED$/gm)).toHaveLength(4);
    expect(tsbox(root, ["builder", "prune", "-f", "--filter", "bogus=1"])).toMatchObject({ code: 1, stderr: "tsbox: Invalid filter 'bogus'\n" });

    const pruned = tsbox(root, ["builder", "prune", "-f"]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toMatch(/^Deleted build cache objects:\n(sha256:[0-9a-f]{64}\n)+\nTotal reclaimed space: /);
    expect(tsbox(root, ["run", "--rm", "--network", "none", "cache:2"]).stdout).toBe("v2\n"); // tagged images stay
    expect(build(["-t", "cache:2", ctx]).stderr).not.toContain("CACHED");
  });

  it("a failing RUN: its output and exit code, exit 1, no tag, and no container, mount, cgroup or staging left", () => {
    const ctx = context("fail", { Dockerfile: "FROM busybox\nRUN echo before\nRUN echo failing-output >&2; exit 3\nRUN echo never\n" });
    const before = containerIds(root);
    const r = build(["-t", "fail:1", ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("failing-output\n");
    expect(r.stderr).toMatch(/tsbox: process "\/bin\/sh -c echo failing-output >&2; exit 3" did not complete successfully: exit code: 3\n$/);
    expect(r.stderr).not.toContain("never");
    expect(tsbox(root, ["images", "-q", "fail:1"]).stdout).toBe("");
    expect(containerIds(root)).toEqual(before);
    expect(mountsUnder(root)).toEqual([]);
    expect(fs.readdirSync(path.join(root, "tmp")).filter((n) => /^(build|commit)-/.test(n))).toEqual([]);
    // the step before the failure is cached
    expect(build(["-t", "fail:1", ctx]).stderr).toMatch(/^#2 CACHED$/m);
  });

  it("bad input: one line naming what is wrong, exit 1, nothing built", () => {
    const cases: [Record<string, string>, string[], RegExp][] = [
      [{ Dockerfile: "FROM busybox\nFROBNICATE x\n" }, [], /(^|\n)tsbox: dockerfile parse error on line 2: unknown instruction: FROBNICATE\n$/],
      [{ Dockerfile: "FROM busybox\nCOPY ../outside /x\n" }, [], /\ntsbox: forbidden path outside the build context: \.\.\/outside \(\)\n$/],
      [{ Dockerfile: "FROM busybox\nCOPY missing /x\n" }, [], /"\/missing": not found\n$/],
      [{ Dockerfile: "FROM busybox\nCOPY secret /x\n", secret: "s", ".dockerignore": "secret\n" }, [], /"\/secret": not found\n$/],
      [{ Dockerfile: "FROM busybox\nADD http://example.invalid/x /x\n" }, [], /remote sources are not supported/],
      [{ Dockerfile: "FROM busybox\nCOPY a b /notadir\n", a: "a", b: "b" }, [], /the destination must be a directory and end with a \//],
      [{ Dockerfile: "FROM busybox\nRUN <<EOF\necho\n" }, [], /unterminated heredoc EOF/],
      [{ Dockerfile: "FROM busybox AS one\n" }, ["--target", "two"], /failed to reach build target two in Dockerfile/],
      [{ Dockerfile: "FROM busybox\nUSER nobody-here\nCOPY --chown=nobody-here a /a\n", a: "a" }, [], /unable to find user nobody-here/],
      [{ Dockerfile: "FROM tsbox-no-such-image-here.invalid/x\n" }, [], /\ntsbox: .*tsbox-no-such-image-here\.invalid/],
    ];
    const images = tsbox(root, ["images", "-q"]).stdout;
    for (const [i, [files, flags, message]] of cases.entries()) {
      const r = build([...flags, "-t", "bad:1", context(`bad${i}`, files)]);
      expect(r.code, JSON.stringify(files)).toBe(1);
      expect(r.stderr.split("\n").filter((l) => l.startsWith("tsbox:")), r.stderr).toHaveLength(1);
      expect(r.stderr, JSON.stringify(files)).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    expect(build([path.join(work, "no-such-dir")])).toMatchObject({ code: 1, stderr: expect.stringMatching(/unable to prepare context: path ".*no-such-dir" not found/) });
    expect(build(["-f", path.join(work, "no-Dockerfile"), work])).toMatchObject({ code: 1, stderr: expect.stringMatching(/no such file or directory/) });
    expect(build(["--build-arg", "=x", work])).toMatchObject({ code: 125 });
    expect(tsbox(root, ["images", "-q"]).stdout).toBe(images);
  });

  it("the RUN containers take run's limits and --add-host; --iidfile gets the ID; a bad limit is a flag error (125)", () => {
    const dir = context("limits", {
      Dockerfile: "FROM busybox\nRUN cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
        + "grep myhost /etc/hosts; cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us; "
        + "ulimit -n; df -k /dev/shm | tail -1 | awk '{print $2}'\n",
    });
    const iid = path.join(work, "iid");
    const r = build(["--no-cache", "--progress", "plain", "-m", "64m", "--cpu-period", "100000", "--cpu-quota", "50000",
      "--add-host", "myhost:10.1.2.3", "--iidfile", iid, "--rm", "--force-rm", "--ulimit", "nofile=512:1024", "--shm-size", "8m", "-t", "limits:1", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\n67108864\n10\.1\.2\.3\tmyhost\n(50000 100000|50000)\n512\n8192\n/);
    expect(fs.readFileSync(iid, "utf8")).toMatch(/^sha256:[0-9a-f]{64}$/);
    const [inspected] = JSON.parse(tsbox(root, ["image", "inspect", "limits:1"]).stdout) as { Id: string }[];
    expect(fs.readFileSync(iid, "utf8")).toBe(inspected?.Id);
    const bad = build(["-m", "bogus", dir]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe(`tsbox: invalid argument "bogus" for "-m, --memory" flag: invalid size: 'bogus'\n`);
    expect(containerIds(root)).toEqual([]);
  });

  it("a SIGKILL of tsbox in the middle of a RUN leaves the store and the cache consistent and no container, mount or cgroup", async () => {
    // $((40+2)): the progress line shows the command, only its output shows 42
    const ctx = context("killed", { Dockerfile: "FROM busybox\nRUN echo step-$((40+2)) >&2; sleep 60\nRUN echo after\n" });
    const before = containerIds(root);
    const p = spawn(process.execPath, [CLI, "--root", root, "build", "-t", "killed:1", ctx], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    p.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    await until(() => err.includes("step-42"), "the RUN step to start");
    const runContainers = containerIds(root).filter((id) => !before.includes(id));
    expect(runContainers).toHaveLength(1);
    p.kill("SIGKILL");
    await new Promise((r) => p.once("exit", r));
    // the next command recovers what the killed one left: the --rm container goes
    expect(tsbox(root, ["ps", "-a"]).code).toBe(0);
    await until(() => (containerIds(root).length === before.length ? true : undefined), "the build's container to be removed");
    expect(containerIds(root)).toEqual(before);
    for (const id of runContainers) expect(cgroupDirsOf(id)).toEqual([]);
    expect(mountsUnder(root)).toEqual([]);
    expect(tsbox(root, ["images", "-q", "killed:1"]).stdout).toBe("");
    // the cache holds nothing for the killed step: a rebuild runs it
    const r = build(["-t", "killed:1", context("killed2", { Dockerfile: "FROM busybox\nRUN echo started > /dev/stderr; sleep 0\nRUN echo after\n" })]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^#2 DONE/m);
    expect(containerIds(root)).toEqual(before);
  });
});

const dockerInfo = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 20_000 });
const dockerOk = dockerInfo.status === 0;
if (!dockerOk) console.warn("build's Docker comparison skipped: `docker info` failed; start dockerd to run it");

describe.skipIf(!dockerOk)("side by side with docker build", () => {
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const BASE = `tsbox-build-base:${suffix}`;
  const IMAGE = `tsbox-build-multi:${suffix}`;
  const docker = (args: string[]): string => execFileSync("docker", args, {
    encoding: "utf8", maxBuffer: 1 << 26, timeout: 300_000, stdio: "pipe", env: { ...process.env, DOCKER_BUILDKIT: "0" },
  });
  afterAll(() => {
    for (const ref of [IMAGE, BASE]) spawnSync("docker", ["rmi", "-f", ref], { stdio: "ignore" });
    spawnSync("docker", ["image", "prune", "-f"], { stdio: "ignore" });
  });

  it("the same Dockerfile built by Docker and by tsbox: same output and files, same config, same history lines", () => {
    docker(["import", busyboxTarball(), BASE]);
    expect(tsbox(root, ["tag", "busybox", BASE]).code).toBe(0);
    const ctx = context("docker-multi", MULTI_FILES);
    docker(["build", "-q", "-t", IMAGE, "--build-arg", `BASE=${BASE}`, "--build-arg", "GREETING=hello", ctx]);
    const r = build(["-t", IMAGE, "--build-arg", `BASE=${BASE}`, "--build-arg", "GREETING=hello", ctx]);
    expect(r.code, r.stderr).toBe(0);

    expect(tsbox(root, ["run", "--rm", "--network", "none", IMAGE]).stdout).toBe(docker(["run", "--rm", "--network", "none", IMAGE]));
    const listing = (run: (args: string[]) => string): string => run(["run", "--rm", "--network", "none", "--entrypoint", "sh", IMAGE, "-c", LISTING]);
    expect(listing((a) => tsbox(root, a).stdout)).toBe(listing(docker));

    // the files: export of a container of each, sorted listing with modes, owners and sizes (Docker's init layer aside,
    // and the VOLUME's mount point, which Docker makes when the container starts: its container here is only created)
    const exported = (list: string): string[] => list.trim().split("\n").map((l) => {
      const f = l.split(/ +/);
      return [f[0], f[1], f[0]?.startsWith("d") ? "" : f[2], ...f.slice(5)].join(" ");
    }).filter((l) => !/^\S+ \S+ \S* (\.dockerenv|dev\/console|dev\/pts\/|dev\/shm\/|etc\/mtab|etc\/hostname|etc\/hosts|etc\/resolv\.conf|vol\/)( |$)/.test(l)).sort();
    const cname = `tsbox-build-export-${suffix}`;
    docker(["create", "--name", cname, IMAGE]);
    try {
      execFileSync("docker", ["export", "-o", path.join(work, "d.tar"), cname]);
    } finally {
      spawnSync("docker", ["rm", "-f", cname], { stdio: "ignore" });
    }
    expect(tsbox(root, ["run", "--name", cname, "--network", "none", "--entrypoint", "true", IMAGE]).code).toBe(0);
    expect(tsbox(root, ["export", "-o", path.join(work, "t.tar"), cname]).code).toBe(0);
    expect(tsbox(root, ["rm", cname]).code).toBe(0);
    const tarList = (f: string): string => execFileSync("tar", ["-tv", "--numeric-owner", "-f", path.join(work, f)], { encoding: "utf8", maxBuffer: 1 << 26 });
    expect(exported(tarList("t.tar"))).toEqual(exported(tarList("d.tar")));

    const [d] = JSON.parse(docker(["image", "inspect", IMAGE])) as { Config: Record<string, unknown>; RootFS: { Layers: string[] } }[];
    const [t] = JSON.parse(tsbox(root, ["image", "inspect", IMAGE]).stdout) as { Config: Record<string, unknown>; RootFS: { Layers: string[] } }[];
    for (const k of ["User", "Env", "Cmd", "Entrypoint", "WorkingDir", "Labels", "ExposedPorts", "Volumes", "StopSignal"]) {
      expect(t?.Config[k], k).toEqual(d?.Config[k]);
    }
    expect(t?.RootFS.Layers.length).toBe(d?.RootFS.Layers.length);
    // history: the same lines, but for the content digests of COPY (Docker's tarsum, tsbox's own)
    const lines = (s: string): string[] => s.trim().split("\n").map((l) => l.replace(/(file|dir|multi):[0-9a-f]{64}/, "$1:<digest>"));
    expect(lines(tsbox(root, ["history", "--no-trunc", "--format", "{{.CreatedBy}}", IMAGE]).stdout))
      .toEqual(lines(docker(["history", "--no-trunc", "--format", "{{.CreatedBy}}", IMAGE])));
  });
});

describe.skipIf(!dockerOk)("the less common instructions, side by side with docker build", () => {
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const BASE = `tsbox-build-base2:${suffix}`;
  const PARENT = `tsbox-build-onbuild:${suffix}`;
  const CHILD = `tsbox-build-child:${suffix}`;
  afterAll(() => {
    for (const ref of [CHILD, PARENT, BASE]) spawnSync("docker", ["rmi", "-f", ref], { stdio: "ignore" });
    spawnSync("docker", ["image", "prune", "-f"], { stdio: "ignore" });
  });

  it("escape, SHELL, HEALTHCHECK, ONBUILD (triggered in a child), STOPSIGNAL, MAINTAINER: the same config and history", () => {
    execFileSync("docker", ["import", busyboxTarball(), BASE], { stdio: "pipe" });
    expect(tsbox(root, ["tag", "busybox", BASE]).code).toBe(0);
    const parent = context("parent", {
      Dockerfile: `# escape=\`
FROM ${BASE}
MAINTAINER someone <someone@example.com>
SHELL ["/bin/sh", "-ec"]
RUN echo one \`
  && echo two > /two
HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD cat /two
ONBUILD RUN echo triggered > /triggered
STOPSIGNAL 9
CMD cat /two
`,
    });
    const child = context("child", { Dockerfile: `FROM ${PARENT}\nCMD cat /triggered /two\n` });
    const env = { ...process.env, DOCKER_BUILDKIT: "0" };
    for (const [tag, ctx] of [[PARENT, parent], [CHILD, child]] as const) {
      execFileSync("docker", ["build", "-q", "-t", tag, ctx], { env, stdio: "pipe" });
      const r = build(["-t", tag, ctx]);
      expect(r.code, r.stderr).toBe(0);
    }
    const inspect = (out: string): Record<string, unknown> => (JSON.parse(out) as { Config: Record<string, unknown>; Author: string }[])[0] ?? {};
    for (const tag of [PARENT, CHILD]) {
      const d = inspect(execFileSync("docker", ["image", "inspect", tag], { encoding: "utf8" }));
      const t = inspect(tsbox(root, ["image", "inspect", tag]).stdout);
      for (const k of ["Healthcheck", "OnBuild", "Shell", "StopSignal", "Cmd", "Env"]) {
        expect((t.Config as Record<string, unknown>)[k], `${tag} ${k}`).toEqual((d.Config as Record<string, unknown>)[k]);
      }
      const history = (out: string): string[] => out.trim().split("\n");
      expect(history(tsbox(root, ["history", "--no-trunc", "--format", "{{.CreatedBy}}", tag]).stdout))
        .toEqual(history(execFileSync("docker", ["history", "--no-trunc", "--format", "{{.CreatedBy}}", tag], { encoding: "utf8" })));
    }
    expect(tsbox(root, ["run", "--rm", "--network", "none", CHILD]).stdout)
      .toBe(execFileSync("docker", ["run", "--rm", "--network", "none", CHILD], { encoding: "utf8" }));
  });
});

const DEBIAN = `ARG BASE
FROM $BASE AS pkg
RUN mkdir -p /pkg/DEBIAN /pkg/usr/share/hello /pkg/usr/bin \\
 && printf 'Package: tsbox-hello\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: t <t@t>\\nDescription: t\\n' > /pkg/DEBIAN/control \\
 && printf '#!/bin/sh\\necho hello from the package\\n' > /pkg/usr/bin/hello && chmod 755 /pkg/usr/bin/hello \\
 && echo doc > /pkg/usr/share/hello/README && dpkg-deb --build /pkg /hello.deb >/dev/null

FROM $BASE
COPY --from=pkg /hello.deb /tmp/
RUN apt-get install -y -q /tmp/hello.deb >/dev/null && rm /tmp/hello.deb && useradd -m runner
USER runner
WORKDIR /home/runner
CMD hello && dpkg -L tsbox-hello && id -un && pwd
`;

const debootstrap = ["/usr/sbin/debootstrap", "/usr/bin/debootstrap"].some((p) => fs.existsSync(p));

describe.skipIf(!dockerOk || !debootstrap)("a Debian image installing a package with apt, side by side with docker build", () => {
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const BASE = `tsbox-build-debian:${suffix}`;
  const IMAGE = `tsbox-build-apt:${suffix}`;
  afterAll(() => {
    for (const ref of [IMAGE, BASE]) spawnSync("docker", ["rmi", "-f", ref], { stdio: "ignore" });
    spawnSync("docker", ["image", "prune", "-f"], { stdio: "ignore" });
  });

  it("the same output, the same package files, the same /usr and /etc", async () => {
    const tarball = await debianTarball();
    execFileSync("docker", ["import", tarball, BASE], { stdio: "pipe" });
    expect((await tsboxResult(root, ["import", tarball, BASE])).code).toBe(0);
    const ctx = context("debian", { Dockerfile: DEBIAN });
    execFileSync("docker", ["build", "-q", "-t", IMAGE, "--build-arg", `BASE=${BASE}`, ctx], { env: { ...process.env, DOCKER_BUILDKIT: "0" }, stdio: "pipe", timeout: 300_000 });
    const r = await tsboxResult(root, ["build", "-t", IMAGE, "--build-arg", `BASE=${BASE}`, ctx]);
    expect(r.code, r.stderr).toBe(0);
    const ours = tsbox(root, ["run", "--rm", "--network", "none", IMAGE]);
    expect(ours.stderr).toBe("");
    expect(ours.stdout).toBe(execFileSync("docker", ["run", "--rm", "--network", "none", IMAGE], { encoding: "utf8" }));
    expect(ours.stdout).toMatch(/^hello from the package\n[\s\S]*\/usr\/bin\/hello\n[\s\S]*runner\n\/home\/runner\n$/);
    // the files: /usr and /etc of each image's container, modes, owners and sizes
    const files = (run: (args: string[]) => string): string => run(["run", "--rm", "--network", "none", "--user", "0", IMAGE, "sh", "-c",
      "find /usr /etc -xdev \\( -path /etc/hostname -o -path /etc/hosts -o -path /etc/resolv.conf -o -path /etc/mtab \\) -prune -o -print"
      + " | sort | while read -r f; do stat -c '%n %F %a %u:%g %s' \"$f\"; done | md5sum"]);
    expect(files((a) => tsbox(root, a).stdout)).toBe(files((a) => execFileSync("docker", a, { encoding: "utf8", maxBuffer: 1 << 26 })));
  }, 600_000);
});
