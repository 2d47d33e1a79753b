// Acceptance (issue 16, item 2): volumes as Docker has them. Named volumes
// made on first use and filled from the image (owners, modes, links kept,
// never through a link out of the image's root), anonymous volumes from the
// image's VOLUME and `-v /path`, --mount with Docker's options and errors,
// --volumes-from, `volume create|ls|inspect|rm|prune`, `rm -v`, `run --rm`,
// `system df` and `system prune --volumes`; side by side with `docker` where
// it runs. Every test checks that what it made is gone afterwards.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive, busyboxTarball, containerIds, removeRoot, rootWithBusybox, stateOf, tsbox, tsboxAsync, until } from "./helpers.js";

let root: string;
let ctx: string;
let hostDir: string;
const volumes = (): string[] => tsbox(root, ["volume", "ls", "-q"]).stdout.split("\n").filter(Boolean);
const run = (...args: string[]) => tsbox(root, ["run", "--network", "none", "--pull", "never", ...args]);
const ANON = /^[0-9a-f]{64}$/;

beforeAll(() => {
  root = rootWithBusybox();
  ctx = fs.mkdtempSync("/var/tmp/tsbox-volumes-ctx-");
  hostDir = fs.mkdtempSync("/var/tmp/tsbox-volumes-host-");
  fs.writeFileSync(path.join(hostDir, "canary"), "host file\n");
  // /data: files of other owners and modes, a hard link, links that would leave the root if followed on the host;
  // /out: a link to a host directory outside the image (there is no such directory inside it).
  fs.writeFileSync(path.join(ctx, "Dockerfile"), [
    "ARG BASE=busybox",
    "FROM $BASE",
    "RUN mkdir -p /data/sub && echo img > /data/f && chown 1000:1001 /data/f && chmod 640 /data/f && ln /data/f /data/hard"
      + " && ln -s /etc/passwd /data/abs && ln -s ../../../../../etc /data/up && chmod 1770 /data"
      + ` && ln -s ../../../../../../..${hostDir} /out && ln -s /data /alias`,
    "VOLUME /data",
  ].join("\n"));
  const b = tsbox(root, ["build", "-q", "-t", "volimg", ctx]);
  if (b.code !== 0) throw new Error(`build failed: ${b.stderr}`);
});

afterAll(() => {
  removeRoot(root);
  fs.rmSync(ctx, { recursive: true, force: true });
  fs.rmSync(hostDir, { recursive: true, force: true });
});

describe("named volumes", () => {
  it("are made on first use, filled from the image with owners, modes and links kept, and outlive the container", () => {
    expect(run("--rm", "-v", "keep:/data", "volimg", "sh", "-c", "echo mine > /data/new").code).toBe(0);
    expect(volumes()).toEqual(["keep"]);
    const data = path.join(root, "volumes", "keep", "_data");
    const f = fs.statSync(path.join(data, "f"));
    expect([f.uid, f.gid, f.mode & 0o7777]).toEqual([1000, 1001, 0o640]);
    expect(fs.statSync(data).mode & 0o7777).toBe(0o1770); // the volume's root is the image's directory's
    expect(fs.statSync(path.join(data, "hard")).ino).toBe(f.ino);
    expect(fs.readlinkSync(path.join(data, "abs"))).toBe("/etc/passwd");
    expect(fs.readlinkSync(path.join(data, "up"))).toBe("../../../../../etc");
    // Another container, another image: the volume's content, not the image's.
    const r = run("--rm", "-v", "keep:/x:ro", "busybox", "sh", "-c", "cat /x/new /x/f; touch /x/y 2>/dev/null || echo ro");
    expect(r.stdout).toBe("mine\nimg\nro\n");
    const ins = JSON.parse(tsbox(root, ["volume", "inspect", "keep"]).stdout) as Record<string, unknown>[];
    expect(ins).toEqual([{
      CreatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), Driver: "local", Labels: null,
      Mountpoint: data, Name: "keep", Options: null, Scope: "local",
    }]);
    expect(tsbox(root, ["volume", "rm", "keep"])).toMatchObject({ code: 0, stdout: "keep\n" });
    expect(fs.existsSync(path.join(root, "volumes", "keep"))).toBe(false);
  });

  it("a destination that is a link is followed inside the image's root only", () => {
    // /alias -> /data: the image's /data is copied; /out points at a host directory the image does not have: nothing.
    expect(run("--rm", "-v", "viaalias:/alias", "-v", "viaout:/out", "volimg", "true").code).toBe(0);
    expect(fs.readdirSync(path.join(root, "volumes", "viaalias", "_data")).sort()).toEqual(["abs", "f", "hard", "sub", "up"]);
    expect(fs.readdirSync(path.join(root, "volumes", "viaout", "_data"))).toEqual([]);
    expect(fs.readdirSync(hostDir)).toEqual(["canary"]);
    expect(tsbox(root, ["volume", "rm", "viaalias", "viaout"]).code).toBe(0);
  });

  it("nocopy leaves a new volume empty; an empty unused volume is filled at its first use, a full one is not", () => {
    expect(run("--rm", "-v", "empty:/data:nocopy", "volimg", "true").code).toBe(0);
    expect(fs.readdirSync(path.join(root, "volumes", "empty", "_data"))).toEqual([]);
    expect(run("--rm", "--mount", "type=volume,src=empty,dst=/data", "volimg", "true").code).toBe(0);
    expect(fs.readdirSync(path.join(root, "volumes", "empty", "_data")).sort()).toEqual(["abs", "f", "hard", "sub", "up"]);
    expect(tsbox(root, ["volume", "create", "made"])).toMatchObject({ code: 0, stdout: "made\n" });
    expect(tsbox(root, ["volume", "create", "made"])).toMatchObject({ code: 0, stdout: "made\n" }); // idempotent, as Docker
    fs.writeFileSync(path.join(root, "volumes", "made", "_data", "own"), "x");
    expect(run("--rm", "-v", "made:/data", "volimg", "ls", "/data").stdout).toBe("own\n");
    expect(tsbox(root, ["volume", "rm", "empty", "made"]).code).toBe(0);
    expect(volumes()).toEqual([]);
  });
});

describe("anonymous volumes", () => {
  it("the image's VOLUME gets one, filled from the image; rm -v removes it, named ones stay", () => {
    expect(run("--name", "anon1", "-v", "named1:/n", "-v", "/extra", "volimg", "sh", "-c", "cat /data/f; echo x > /extra/e").stdout).toBe("img\n");
    const ins = JSON.parse(tsbox(root, ["inspect", "anon1"]).stdout)[0] as { Id: string; Mounts: Record<string, unknown>[] };
    const byDest = Object.fromEntries(ins.Mounts.map((m) => [m.Destination, m]));
    expect(byDest["/data"]).toEqual({
      Type: "volume", Name: expect.stringMatching(ANON), Source: expect.stringMatching(/\/volumes\/[0-9a-f]{64}\/_data$/),
      Destination: "/data", Driver: "local", Mode: "", RW: true, Propagation: "",
    });
    expect(byDest["/n"]).toMatchObject({ Type: "volume", Name: "named1", Mode: "z", RW: true, Driver: "local" });
    expect(byDest["/extra"]).toMatchObject({ Type: "volume", Name: expect.stringMatching(ANON) });
    const anon = [byDest["/data"]!.Name, byDest["/extra"]!.Name] as string[];
    expect(volumes().sort()).toEqual([...anon, "named1"].sort());
    // in use by a stopped container: refused with Docker's message, exit 1
    expect(tsbox(root, ["volume", "rm", "named1"])).toMatchObject({
      code: 1, stderr: `tsbox: remove named1: volume is in use - [${ins.Id}]\n`,
    });
    expect(tsbox(root, ["rm", "-v", "anon1"]).code).toBe(0);
    expect(volumes()).toEqual(["named1"]);
    expect(tsbox(root, ["volume", "rm", "named1"]).code).toBe(0);
  });

  it("a -v or --mount at the VOLUME's path replaces it; run --rm removes the anonymous ones; rm without -v keeps them", () => {
    expect(run("--rm", "-v", "over:/data", "volimg", "true").code).toBe(0);
    expect(volumes()).toEqual(["over"]);
    expect(run("--rm", "--mount", `type=bind,src=${hostDir},dst=/data`, "volimg", "ls", "/data").stdout).toBe("canary\n");
    expect(run("--rm", "volimg", "true").code).toBe(0);
    expect(volumes()).toEqual(["over"]);
    expect(run("--name", "anon2", "volimg", "true").code).toBe(0);
    expect(tsbox(root, ["rm", "anon2"]).code).toBe(0);
    const left = volumes().filter((v) => ANON.test(v));
    expect(left).toHaveLength(1);
    expect(tsbox(root, ["volume", "ls", "-q", "-f", "dangling=true"]).stdout.split("\n").filter(Boolean).sort()).toEqual([...left, "over"].sort());
    expect(tsbox(root, ["volume", "rm", left[0]!, "over"]).code).toBe(0);
  });

  it("a detached --rm container's anonymous volumes go when it exits", async () => {
    const id = run("-d", "--rm", "volimg", "true").stdout.trim();
    await until(() => (tsbox(root, ["ps", "-a", "-q", "--no-trunc"]).stdout.includes(id) ? undefined : true), "the container removed");
    expect(volumes()).toEqual([]);
  });
});

describe("after a crash", () => {
  it("who uses a volume is read from the container records: a SIGKILLed run's volumes stay in use until rm", async () => {
    const cli = tsboxAsync(root, ["run", "--name", "victim", "--network", "none", "-v", "crashnamed:/n", "volimg", "sleep", "100"]);
    const id = await until(() => containerIds(root).find((i) => stateOf(root, i).status === "running"), "container running");
    const pid = stateOf(root, id).pid as number;
    cli.kill("SIGKILL");
    await until(() => (alive(pid) ? undefined : true), "the container's PID 1 to die with tsbox");
    const anon = volumes().filter((v) => ANON.test(v));
    expect(anon).toHaveLength(1);
    expect(tsbox(root, ["volume", "rm", "crashnamed"])).toMatchObject({ code: 1, stderr: `tsbox: remove crashnamed: volume is in use - [${id}]\n` });
    expect(tsbox(root, ["volume", "prune", "-f"]).stdout).toBe("Total reclaimed space: 0B\n");
    expect(tsbox(root, ["rm", "-v", "victim"]).code).toBe(0);
    expect(volumes()).toEqual(["crashnamed"]);
    expect(tsbox(root, ["volume", "rm", "crashnamed"]).code).toBe(0);
  });

  it("a --rm run that died before its volumes were made leaves neither container nor volume", () => {
    const r = tsbox(root, ["run", "--rm", "--network", "none", "-v", "never:/n", "volimg", "true"], {
      env: { ...process.env, TSBOX_TEST_CRASH_AT: "create" },
    });
    expect(r.code).not.toBe(0);
    expect(tsbox(root, ["ps", "-a", "-q"]).stdout).toBe("");
    expect(volumes()).toEqual([]);
  });

  it("system prune sweeps what a crashed volume creation or removal left, once it is old", () => {
    const vols = path.join(root, "volumes");
    fs.mkdirSync(vols, { recursive: true });
    const old = path.join(vols, ".new-0123456789abcdef");
    const young = path.join(vols, ".gone-fedcba9876543210");
    fs.mkdirSync(path.join(old, "_data"), { recursive: true });
    fs.mkdirSync(young);
    const then = new Date(Date.now() - 3600_000);
    fs.utimesSync(old, then, then);
    expect(tsbox(root, ["system", "prune", "-f"]).code).toBe(0);
    expect(fs.existsSync(old)).toBe(false);
    expect(fs.existsSync(young)).toBe(true); // may be a removal in progress
    fs.rmSync(young, { recursive: true });
    expect(volumes()).toEqual([]);
  });

  it("a volume whose record is broken is left out of ls and prune, and rm still removes it", () => {
    expect(tsbox(root, ["volume", "create", "broken"]).code).toBe(0);
    fs.writeFileSync(path.join(root, "volumes", "broken", "volume.json"), "{trunc");
    expect(tsbox(root, ["volume", "ls", "-q"])).toMatchObject({ code: 0, stdout: "" });
    expect(tsbox(root, ["volume", "prune", "-f"]).stdout).toBe("Total reclaimed space: 0B\n");
    const i = tsbox(root, ["volume", "inspect", "broken"]);
    expect(i.code).toBe(1);
    expect(i.stderr).toMatch(/^tsbox: volume broken: .*volume\.json is unreadable: .*\n$/);
    expect(tsbox(root, ["volume", "rm", "broken"]).code).toBe(0);
    expect(fs.readdirSync(path.join(root, "volumes")).filter((n) => !n.startsWith("."))).toEqual([]);
  });
});

describe("--volumes-from", () => {
  it("mounts another container's volumes, read-only with :ro", () => {
    expect(run("--name", "src1", "-v", "shared:/s", "volimg", "sh", "-c", "echo a > /data/a; echo s > /s/s").code).toBe(0);
    expect(run("--rm", "--volumes-from", "src1", "busybox", "cat", "/data/a", "/s/s").stdout).toBe("a\ns\n");
    const ro = run("--rm", "--volumes-from", "src1:ro", "busybox", "sh", "-c", "touch /s/t 2>/dev/null || echo refused");
    expect(ro.stdout).toBe("refused\n");
    expect(run("--rm", "--volumes-from", "nosuch", "busybox", "true")).toMatchObject({ code: 125, stderr: "tsbox: No such container: nosuch\n" });
    expect(run("--rm", "--volumes-from", "src1:xx", "busybox", "true")).toMatchObject({ code: 125, stderr: "tsbox: invalid mode: xx\n" });
    expect(tsbox(root, ["rm", "-v", "src1"]).code).toBe(0);
    expect(volumes()).toEqual(["shared"]);
    expect(tsbox(root, ["volume", "rm", "shared"]).code).toBe(0);
  });
});

describe("prune and disk usage", () => {
  it("volume prune removes every unused volume (as the Docker 20.10 engine does), system df counts them", () => {
    expect(tsbox(root, ["volume", "create", "--label", "k=v", "lab"]).code).toBe(0);
    expect(tsbox(root, ["volume", "create", "plain"]).code).toBe(0);
    expect(run("--name", "user1", "-v", "used:/data", "volimg", "true").code).toBe(0);
    expect(tsbox(root, ["volume", "ls", "-q", "-f", "label=k=v"]).stdout).toBe("lab\n");
    expect(tsbox(root, ["volume", "ls", "-q", "-f", "dangling=false"]).stdout).toBe("used\n");
    const df = tsbox(root, ["system", "df"]).stdout.split("\n").find((l) => l.startsWith("Local Volumes"));
    expect(df?.split(/\s{2,}/).slice(1, 3)).toEqual(["3", "1"]);
    expect(tsbox(root, ["volume", "prune", "-f", "--filter", "label=k=v"]).stdout).toBe("Deleted Volumes:\nlab\n\nTotal reclaimed space: 0B\n");
    const p = tsbox(root, ["volume", "prune", "-f"]);
    expect(p.stdout).toBe("Deleted Volumes:\nplain\n\nTotal reclaimed space: 0B\n");
    expect(volumes()).toEqual(["used"]);
    const sp = tsbox(root, ["system", "prune", "-f", "--volumes"]);
    expect(sp.stdout).toContain("Deleted Volumes:\nused\n");
    expect(volumes()).toEqual([]);
    expect(fs.readdirSync(path.join(root, "volumes"))).toEqual([]);
  });
});

// [flags, Docker's error, exit code]
const MOUNT_ERRORS: [string[], string][] = [
  [["--mount", "type=bind,source=/nonexistent-tsbox,target=/x"], 'invalid mount config for type "bind": bind source path does not exist: /nonexistent-tsbox'],
  [["--mount", "type=bind,src=/tmp"], 'invalid argument "type=bind,src=/tmp" for "--mount" flag: target is required'],
  [["--mount", "type=foo,src=/tmp,dst=/x"], 'invalid mount config for type "foo": mount type unknown'],
  [["--mount", "type=volume,dst=/x,bogus=1"], `invalid argument "type=volume,dst=/x,bogus=1" for "--mount" flag: unexpected key 'bogus' in 'bogus=1'`],
  [["--mount", "type=tmpfs,src=foo,dst=/x"], 'invalid mount config for type "tmpfs": field Source must not be specified'],
  [["--mount", "type=bind,src=/tmp,dst=/x,volume-nocopy"], `invalid argument "type=bind,src=/tmp,dst=/x,volume-nocopy" for "--mount" flag: cannot mix 'volume-*' options with mount type 'bind'`],
  [["--mount", "type=volume,dst=/x,ro=true"], 'invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes'],
  [["--mount", "type=volume,dst=/x,readonly=maybe"], 'invalid argument "type=volume,dst=/x,readonly=maybe" for "--mount" flag: invalid value for readonly: maybe'],
  [["--mount", "type=volume,target=x"], `invalid mount config for type "volume": invalid mount path: 'x' mount path must be absolute`],
  [["--mount", "src=/tmp,dst=/x"], 'create /tmp: "/tmp" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'],
  [["-v", "/x:ro"], "invalid volume specification: '/x:ro'"],
  [["-v", "ab:/y:zz"], "invalid mode: zz"],
  [["-v", "/tmp:/b", "-v", "vv:/b"], "Duplicate mount point: /b"],
];

describe("--mount and -v errors", () => {
  it.each(MOUNT_ERRORS)("%j: Docker's one line, 125, nothing left", (flags, message) => {
    const r = run("--rm", ...flags, "busybox", "true");
    expect(r).toMatchObject({ code: 125, stderr: `tsbox: ${message}\n` });
    expect(volumes()).toEqual([]);
    expect(tsbox(root, ["ps", "-a", "-q"]).stdout).toBe("");
  });

  it("--mount's options and aliases: tmpfs size and mode, bind read-only, volume-nocopy and volume-label", () => {
    const r = run("--rm", "--mount", "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1700",
      "--mount", `type=bind,source=${hostDir},dst=/b,readonly,bind-propagation=rprivate`,
      "--mount", "type=volume,src=lbl,target=/data,volume-nocopy,volume-label=a=b",
      "volimg", "sh", "-c", "grep ' /t ' /proc/mounts; stat -c %a /t; touch /b/x 2>/dev/null || echo ro; ls /data");
    expect(r.stdout).toMatch(/^tmpfs \/t tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1700 0 0\n1700\nro\n$/);
    expect(JSON.parse(tsbox(root, ["volume", "inspect", "lbl"]).stdout)[0].Labels).toEqual({ a: "b" });
    expect(tsbox(root, ["volume", "rm", "lbl"]).code).toBe(0);
  });

  it("an anonymous volume cannot go over a file of the image (Docker's words, the container path for its host path)", () => {
    const r = run("--rm", "-v", "/etc/passwd", "busybox", "true");
    expect(r).toMatchObject({ code: 125, stderr: "tsbox: cannot mount volume over existing file, file exists /etc/passwd\n" });
    expect(volumes()).toEqual([]);
    expect(tsbox(root, ["ps", "-a", "-q"]).stdout).toBe("");
  });

  it("a run that fails after making its volumes removes them and the container", () => {
    // A directory cannot be mounted on the image's file: the launch fails once the volume exists.
    const r = run("--rm", "-v", "onfile:/etc/passwd", "busybox", "true");
    expect(r.code).toBe(125);
    expect(r.stderr).not.toContain("    at ");
    expect(volumes()).toEqual([]);
    expect(tsbox(root, ["ps", "-a", "-q"]).stdout).toBe("");
  });
});

describe("volume verbs", () => {
  it("create, ls, inspect and rm: Docker's outputs and errors", () => {
    expect(tsbox(root, ["volume", "create", "--name", "a1", "a2"])).toMatchObject({
      code: 1, stderr: "tsbox: conflicting options: cannot specify a volume-name through both --name and as a positional arg\n",
    });
    expect(tsbox(root, ["volume", "create", "-d", "foo", "v4"])).toMatchObject({
      code: 1, stderr: 'tsbox: create v4: error looking up volume plugin foo: plugin "foo" not found\n',
    });
    expect(tsbox(root, ["volume", "create", "-o", "bogus=1", "v5"])).toMatchObject({ code: 1, stderr: 'tsbox: create v5: invalid option: "bogus"\n' });
    expect(tsbox(root, ["volume", "create", "-o", "type=tmpfs", "v5"])).toMatchObject({ code: 1, stderr: 'tsbox: create v5: missing required option: "device"\n' });
    expect(tsbox(root, ["volume", "create", "a"])).toMatchObject({
      code: 1, stderr: "tsbox: create a: volume name is too short, names should be at least two alphanumeric characters\n",
    });
    const random = tsbox(root, ["volume", "create"]).stdout.trim();
    expect(random).toMatch(ANON);
    expect(tsbox(root, ["volume", "ls"]).stdout).toMatch(new RegExp(`^DRIVER +VOLUME NAME\nlocal +${random}\n$`));
    expect(tsbox(root, ["volume", "inspect", random, "nosuch"])).toMatchObject({ code: 1, stderr: "tsbox: get nosuch: no such volume\n" });
    expect(tsbox(root, ["volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Scope}}", random, "nosuch"]))
      .toMatchObject({ code: 1, stdout: `${random} local local\n`, stderr: "tsbox: get nosuch: no such volume\n" });
    expect(tsbox(root, ["volume", "ls", "-f", "foo=bar"])).toMatchObject({ code: 1, stderr: "tsbox: Invalid filter 'foo'\n" });
    expect(tsbox(root, ["volume", "ls", "-f", "dangling=maybe"])).toMatchObject({ code: 1, stderr: "tsbox: Invalid filter 'dangling=[maybe]'\n" });
    expect(tsbox(root, ["volume", "rm", "nosuch"])).toMatchObject({ code: 1, stderr: "tsbox: get nosuch: no such volume\n" });
    expect(tsbox(root, ["volume", "rm", "-f", "nosuch"])).toMatchObject({ code: 0, stdout: "nosuch\n" });
    expect(tsbox(root, ["volume", "rm", random]).code).toBe(0);
    expect(volumes()).toEqual([]);
  });

  it("a local volume made with type, device and o is that mount in the container", () => {
    expect(tsbox(root, ["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m", "tv"]).code).toBe(0);
    expect(JSON.parse(tsbox(root, ["volume", "inspect", "tv"]).stdout)[0].Options).toEqual({ type: "tmpfs", device: "tmpfs", o: "size=2m" });
    expect(run("--rm", "-v", "tv:/m", "busybox", "grep", " /m ", "/proc/mounts").stdout).toMatch(/^tmpfs \/m tmpfs rw,relatime,size=2048k/);
    expect(tsbox(root, ["volume", "rm", "tv"]).code).toBe(0);
  });
});

describe("side by side with docker", () => {
  let image = "";
  let skip = "";
  const dockerVolumes: string[] = [];
  beforeAll(() => {
    if (spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status !== 0) {
      skip = "`docker info` failed";
      return;
    }
    image = `tsbox-volumes-test:${process.pid}`;
    const imp = spawnSync("docker", ["import", busyboxTarball(), image], { encoding: "utf8" });
    if (imp.status !== 0) skip = `docker import failed: ${imp.stderr}`;
  });
  afterAll(() => {
    if (image === "") return;
    for (const v of dockerVolumes) spawnSync("docker", ["volume", "rm", "-f", v], { stdio: "ignore" });
    spawnSync("docker", ["rmi", image], { stdio: "ignore" });
  });

  it("the --mount and -v errors are Docker's", () => {
    if (skip) {
      console.warn(`volumes: Docker comparison skipped: ${skip}`);
      return;
    }
    for (const [flags, message] of MOUNT_ERRORS) {
      const d = spawnSync("docker", ["run", "--rm", ...flags, image, "true"], { encoding: "utf8" });
      expect(d.status, flags.join(" ")).toBe(125);
      expect(d.stderr, flags.join(" ")).toContain(message);
    }
  });

  it("a volume is filled from the image as Docker fills it: the same names, modes, owners, link counts and targets", () => {
    if (skip) {
      console.warn(`volumes: Docker comparison skipped: ${skip}`);
      return;
    }
    const built = `tsbox-volumes-img:${process.pid}`;
    const b = spawnSync("docker", ["build", "-q", "-t", built, "--build-arg", `BASE=${image}`, ctx], {
      encoding: "utf8", env: { ...process.env, DOCKER_BUILDKIT: "0" }, timeout: 300_000,
    });
    expect(b.status, b.stderr).toBe(0);
    const name = `tsbox-fill-${process.pid}`;
    dockerVolumes.push(name);
    const list = "cd /data && find . | sort | while read f; do stat -c '%n %A %u %g %h %N' \"$f\"; done";
    try {
      // a named volume and the image's VOLUME (anonymous), each filled from the image's /data
      for (const flags of [["-v", `${name}:/data`], []]) {
        const d = spawnSync("docker", ["run", "--rm", ...flags, built, "sh", "-c", list], { encoding: "utf8" });
        expect(d.status, d.stderr).toBe(0);
        const t = run("--rm", ...flags, "volimg", "sh", "-c", list);
        expect(t.stdout).toBe(d.stdout);
      }
    } finally {
      spawnSync("docker", ["rmi", built], { stdio: "ignore" });
    }
    expect(tsbox(root, ["volume", "rm", name]).code).toBe(0);
    expect(volumes()).toEqual([]);
  });

  it("inspect of a volume and of a container's Mounts have Docker's shape", () => {
    if (skip) {
      console.warn(`volumes: Docker comparison skipped: ${skip}`);
      return;
    }
    const name = `tsbox-vol-${process.pid}`;
    dockerVolumes.push(name);
    const shape = (j: Record<string, unknown>): string[] => Object.keys(j).sort();
    expect(spawnSync("docker", ["volume", "create", name]).status).toBe(0);
    const d = JSON.parse(spawnSync("docker", ["volume", "inspect", name], { encoding: "utf8" }).stdout)[0] as Record<string, unknown>;
    expect(tsbox(root, ["volume", "create", name]).code).toBe(0);
    const t = JSON.parse(tsbox(root, ["volume", "inspect", name]).stdout)[0] as Record<string, unknown>;
    expect(shape(t)).toEqual(shape(d));
    expect({ ...t, CreatedAt: "", Mountpoint: "" }).toEqual({ ...d, CreatedAt: "", Mountpoint: "" });
    const ctr = `tsbox-volc-${process.pid}`;
    const flags = ["-v", `${name}:/n:ro`, "--mount", "type=volume,dst=/m", "--mount", "type=bind,src=/tmp,dst=/b", "-v", "/anon"];
    expect(spawnSync("docker", ["run", "--name", ctr, ...flags, image, "true"]).status).toBe(0);
    const dm = JSON.parse(spawnSync("docker", ["inspect", ctr], { encoding: "utf8" }).stdout)[0].Mounts as Record<string, unknown>[];
    spawnSync("docker", ["rm", "-v", ctr], { stdio: "ignore" });
    expect(run("--name", ctr, ...flags, "busybox", "true").code).toBe(0);
    const tm = JSON.parse(tsbox(root, ["inspect", ctr]).stdout)[0].Mounts as Record<string, unknown>[];
    expect(tsbox(root, ["rm", "-v", ctr]).code).toBe(0);
    const norm = (ms: Record<string, unknown>[]) => ms.map((m): Record<string, unknown> => ({
      ...m, Source: m.Type === "bind" ? m.Source : "", Name: typeof m.Name === "string" && ANON.test(m.Name) ? "<anon>" : m.Name,
    })).sort((a, b) => String(a.Destination).localeCompare(String(b.Destination)));
    expect(norm(tm)).toEqual(norm(dm));
    expect(tsbox(root, ["volume", "rm", name]).code).toBe(0);
    expect(volumes()).toEqual([]);
  });
});
