// Against the real Docker engine: an image built by `docker build` (no
// registry: the base is `docker import` of the busybox test rootfs) with
// layers that delete files, replace a directory, add hard links and symlinks,
// and set ENV, WORKDIR, USER, ENTRYPOINT and CMD.
//   docker save → tsbox load → tsbox run  prints what  docker run  prints;
//   tsbox save → docker load → docker run prints the same again.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { busyboxTarball, makeRoot, removeRoot, tsbox } from "./helpers.js";

const dockerInfo = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 20_000 });
const dockerOk = dockerInfo.status === 0;
if (!dockerOk) {
  console.warn(`image.docker tests skipped: \`docker info\` failed (${(dockerInfo.stderr || String(dockerInfo.error ?? "")).trim()}); start dockerd to run them`);
}

const suffix = `${process.pid}-${Date.now().toString(36)}`;
const BASE = `tsbox-it-base:${suffix}`;
const IMAGE = `tsbox-it-built:${suffix}`;
const ROUNDTRIP = `tsbox-it-roundtrip:${suffix}`;

function docker(args: string[], opts: { input?: Buffer; env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync("docker", args, {
    encoding: "utf8", maxBuffer: 1 << 28, timeout: 300_000, stdio: "pipe",
    ...(opts.input ? { input: opts.input } : {}), env: { ...process.env, ...opts.env },
  });
}

const REPORT = `#!/bin/sh
echo "args: $*"
echo "user: $(id)"
echo "pwd: $(pwd)"
env | grep -v '^HOSTNAME=' | sort
cd /data
find . | sort | while read -r f; do
  if [ -L "$f" ]; then echo "$f -> $(readlink "$f") $(stat -c '%u:%g' "$f")"
  elif [ -d "$f" ]; then echo "$f/ $(stat -c '%a %u:%g' "$f")"
  else echo "$f $(stat -c '%a %u:%g %h %s %Y' "$f") $(cat "$f")"; fi
done
[ "$(stat -c %i hard1)" = "$(stat -c %i file1)" ] && echo "hard1 is file1"
[ "$(stat -c %i hard3)" = "$(stat -c %i file3)" ] && echo "hard3 is file3"
cat sym2 2>&1 || echo "sym2 dangles"
ls absdir/
`;

const DOCKERFILE = `FROM ${BASE}
RUN mkdir -p /data/dir/sub /data/keep && echo one > /data/file1 && echo two > /data/file2 \\
 && echo sub > /data/dir/sub/s && echo k > /data/keep/k && ln /data/file1 /data/hard1 \\
 && ln -s file2 /data/sym2 && ln -s /data/dir /data/absdir
RUN rm /data/file2 && rm -rf /data/dir && mkdir /data/dir && echo new > /data/dir/new && chmod 0775 /data/dir
RUN echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group \\
 && mkdir -p /home/app /work && chown 1000:1000 /home/app /work \\
 && echo three > /data/file3 && ln /data/file3 /data/hard3 && chown 1000:1000 /data/file3 && chmod 0604 /data/file3
COPY report.sh /report.sh
ENV GREETING="hello world" PATH=/usr/local/bin:/usr/bin:/bin
WORKDIR /work
USER app
ENTRYPOINT ["/bin/sh", "/report.sh"]
CMD ["default-arg"]
`;

describe.skipIf(!dockerOk)("with the Docker engine", () => {
  let root: string;
  let work: string;
  let built = false;
  beforeAll(() => {
    root = makeRoot();
    work = fs.mkdtempSync("/var/tmp/tsbox-docker-");
    docker(["import", busyboxTarball(), BASE]);
    fs.writeFileSync(path.join(work, "Dockerfile"), DOCKERFILE);
    fs.writeFileSync(path.join(work, "report.sh"), REPORT);
    // The classic builder: BuildKit may be absent, and its output differs by version.
    docker(["build", "-q", "-t", IMAGE, work], { env: { DOCKER_BUILDKIT: "0" } });
    built = true;
  }, 300_000);

  afterAll(() => {
    // Only what this file created; the build's intermediate images go with IMAGE.
    for (const ref of [ROUNDTRIP, IMAGE, BASE]) spawnSync("docker", ["rmi", ref], { stdio: "ignore" });
    if (root) removeRoot(root);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("docker save → tsbox load → tsbox run prints what docker run prints", () => {
    expect(built).toBe(true);
    const archive = path.join(work, "docker-saved.tar");
    docker(["save", "-o", archive, IMAGE]);
    const load = tsbox(root, ["load", "-i", archive]);
    expect(load.stderr).toBe("");
    expect(load.stdout).toBe(`Loaded image: ${IMAGE}\n`);

    for (const args of [[], ["x", "y z"]]) {
      const expected = docker(["run", "--rm", IMAGE, ...args]);
      const got = tsbox(root, ["run", "--rm", IMAGE, ...args]);
      expect(got.stderr).toBe("");
      expect(got.stdout).toBe(expected);
    }
    // A sanity check of the comparison itself: the script saw the layers' effects.
    const out = tsbox(root, ["run", "--rm", IMAGE]).stdout;
    expect(out).toContain("user: uid=1000(app) gid=1000(app) groups=1000(app)\npwd: /work\n");
    expect(out).toContain("GREETING=hello world\n");
    expect(out).toContain("./dir/new 644 0:0 1 4 ");
    expect(out).not.toContain("./dir/sub");
    expect(out).not.toMatch(/\.\/file2 /);
    expect(out).toContain("hard1 is file1\nhard3 is file3\n");
    expect(out).toContain("sym2 dangles\n");

    const [d] = JSON.parse(docker(["image", "inspect", IMAGE])) as Record<string, Record<string, unknown>>[];
    const [t] = JSON.parse(tsbox(root, ["image", "inspect", IMAGE]).stdout) as Record<string, Record<string, unknown>>[];
    expect(t?.Id).toBe(d?.Id);
    expect(t?.RepoTags).toEqual(d?.RepoTags);
    expect(t?.RootFS).toEqual(d?.RootFS);
    expect(t?.Created).toBe(d?.Created);
    expect([t?.Architecture, t?.Os]).toEqual([d?.Architecture, d?.Os]);
    for (const k of ["User", "Env", "Cmd", "Entrypoint", "WorkingDir"]) expect(t?.Config?.[k]).toEqual(d?.Config?.[k]);
  });

  it("tsbox save → docker load → docker run prints the same", () => {
    expect(built).toBe(true);
    expect(tsbox(root, ["tag", IMAGE, ROUNDTRIP]).code).toBe(0);
    const archive = path.join(work, "tsbox-saved.tar");
    const saved = tsbox(root, ["save", "-o", archive, ROUNDTRIP]);
    expect(saved.stderr).toBe("");
    expect(docker(["load", "-i", archive])).toBe(`Loaded image: ${ROUNDTRIP}\n`);
    const [d] = JSON.parse(docker(["image", "inspect", ROUNDTRIP])) as { Id: string }[];
    const [t] = JSON.parse(tsbox(root, ["image", "inspect", ROUNDTRIP]).stdout) as { Id: string }[];
    expect(d?.Id).toBe(t?.Id);
    expect(docker(["run", "--rm", ROUNDTRIP, "a"])).toBe(docker(["run", "--rm", IMAGE, "a"]));
    expect(docker(["run", "--rm", ROUNDTRIP])).toBe(tsbox(root, ["run", "--rm", ROUNDTRIP]).stdout);
  });
});
