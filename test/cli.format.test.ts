// `--format` on the commands that have it in Docker: ps, images, inspect,
// image inspect, network inspect, stats, info, version, network ls, history,
// system df. Run through the built CLI on a real root; where docker is
// present, the same invocations side by side (keys, headers, error texts and
// exit codes).

import { execFileSync, spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { busyboxTarball, containerIds, removeRoot, rootWithBusybox, tsbox, type Result } from "./helpers.js";

let root: string;
beforeAll(() => {
  root = rootWithBusybox();
  const done = tsbox(root, ["run", "--name", "done", "--network", "none", "busybox", "sh", "-c", "echo hi there"]);
  expect(done.code, done.stderr).toBe(0);
  const live = tsbox(root, ["run", "-d", "--name", "live", "--network", "none", "busybox", "sleep", "1000"]);
  expect(live.code, live.stderr).toBe(0);
});
afterAll(() => {
  tsbox(root, ["rm", "-f", "done", "live"]);
  expect(containerIds(root)).toEqual([]);
  removeRoot(root);
});

const ok = (args: string[]): string => {
  const r = tsbox(root, args);
  expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
};
const jsonLines = (s: string): Record<string, unknown>[] => s.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);

describe("--format on the list commands", () => {
  it("ps: templates, table with Docker's headers, json with Docker's keys", () => {
    const lines = ok(["ps", "-a", "--format", "{{.Names}}|{{.State}}|{{.Command}}"]).trim().split("\n").sort();
    expect(lines).toEqual([`done|exited|"sh -c 'echo hi ther…"`, `live|running|"sleep 1000"`]);
    expect(ok(["ps", "--format", "table {{.Names}}\\t{{.Status}}"])).toMatch(/^NAMES {5}STATUS\nlive {6}Up /);
    const rows = jsonLines(ok(["ps", "-a", "--format", "json"]));
    expect(Object.keys(rows[0]!)).toEqual(["Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks",
      "Platform", "Ports", "RunningFor", "Size", "State", "Status"]);
    expect(rows.map((r) => r.Names).sort()).toEqual(["done", "live"]);
    expect(String(rows[0]!.CreatedAt)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
    expect(ok(["ps", "-a", "--format", "{{range $i, $n := split .Names \"o\"}}{{$i}}{{$n}};{{end}}", "--filter", "name=done"])).toBe("0d;1ne;\n");
  });

  it("ps: Docker checks the template first (failed to parse / execute template), exit 1; -q wins with a warning", () => {
    expect(tsbox(root, ["ps", "--format", "table {{.Foo}}"])).toMatchObject({
      code: 1, stdout: "", stderr: `tsbox: failed to execute template: template: :1:8: executing "" at <.Foo>: can't evaluate field Foo in type *formatter.ContainerContext\n`,
    });
    expect(tsbox(root, ["ps", "--format", "{{"])).toMatchObject({ code: 1, stderr: "tsbox: failed to parse template: template: :1: unclosed action\n" });
    const q = tsbox(root, ["ps", "-q", "--format", "{{.Names}}"]);
    expect(q).toMatchObject({ code: 0, stderr: "WARNING: Ignoring custom format, because both --format and --quiet are set.\n" });
    expect(q.stdout).toMatch(/^[0-9a-f]{12}\n$/);
  });

  it("images: Docker's keys in json, templates, tables, --no-trunc", () => {
    const [row] = jsonLines(ok(["images", "--format", "json"]));
    expect(Object.keys(row!)).toEqual(["Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize", "Size", "Tag",
      "UniqueSize", "VirtualSize"]);
    expect(row).toMatchObject({ Repository: "busybox", Tag: "latest", Digest: "<none>", Containers: "N/A" });
    expect(ok(["images", "--format", "{{.Repository}}:{{.Tag}} {{len .ID}}"])).toBe("busybox:latest 12\n");
    expect(ok(["images", "--no-trunc", "--format", "{{len .ID}}"])).toBe("71\n");
    expect(ok(["images", "--format", "table {{.Repository}}\\t{{.Tag}}"])).toBe("REPOSITORY   TAG\nbusybox      latest\n");
    expect(ok(["images"])).toMatch(/^REPOSITORY {3}TAG {7}IMAGE ID {7}CREATED {2,}SIZE\nbusybox {6}latest {4}[0-9a-f]{12} {3}/);
    expect(tsbox(root, ["images", "--format", "{{.Labels}}"])).toMatchObject({
      code: 1, stderr: `tsbox: template parsing error: template: :1:2: executing "" at <.Labels>: can't evaluate field Labels in type *formatter.imageContext\n`,
    });
  });

  it("history, network ls, system df", () => {
    const [h] = jsonLines(ok(["history", "--format", "json", "busybox"]));
    expect(Object.keys(h!)).toEqual(["Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"]);
    expect(ok(["history", "--format", "table {{.ID}}\\t{{.Size}}", "busybox"])).toMatch(/^IMAGE {10}SIZE\n[0-9a-f]{12} {3}\S+\n$/);
    const nets = jsonLines(ok(["network", "ls", "--format", "json"]));
    expect(Object.keys(nets[0]!)).toEqual(["CreatedAt", "Driver", "ID", "IPv4", "IPv6", "Internal", "Labels", "Name", "Scope"]);
    expect(ok(["network", "ls", "--format", "{{.Name}}/{{.Driver}}"])).toBe("bridge/bridge\nhost/host\nnone/null\n");
    expect(ok(["network", "ls", "--format", "table {{.Name}}"])).toBe("NAME\nbridge\nhost\nnone\n");
    const df = jsonLines(ok(["system", "df", "--format", "json"]));
    expect(df.map((r) => r.Type)).toEqual(["Images", "Containers", "Local Volumes", "Build Cache"]);
    expect(Object.keys(df[0]!)).toEqual(["Active", "Reclaimable", "Size", "TotalCount", "Type"]);
    expect(df[1]).toMatchObject({ TotalCount: "2", Active: "1" });
    expect(ok(["system", "df", "--format", "table {{.Type}}\\t{{.TotalCount}}"])).toBe(
      "TYPE            TOTAL\nImages          1\nContainers      2\nLocal Volumes   0\nBuild Cache     0\n");
  });

  it("volume ls: Docker's keys, headers and templates", () => {
    expect(ok(["volume", "create", "--label", "tier=db", "fmtvol"])).toBe("fmtvol\n");
    try {
      const [v] = jsonLines(ok(["volume", "ls", "--format", "json"]));
      expect(Object.keys(v!)).toEqual(["Availability", "Driver", "Group", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size", "Status"]);
      expect(v).toMatchObject({ Name: "fmtvol", Driver: "local", Labels: "tier=db" });
      expect(ok(["volume", "ls"])).toBe("DRIVER    VOLUME NAME\nlocal     fmtvol\n");
      expect(ok(["volume", "ls", "--format", "table {{.Name}}\\t{{.Label \"tier\"}}"])).toBe("VOLUME NAME   tier\nfmtvol        db\n");
    } finally {
      tsbox(root, ["volume", "rm", "fmtvol"]);
    }
  });

  it("stats: Docker's keys, the name as given in Container, templates", () => {
    const [s] = jsonLines(ok(["stats", "--no-stream", "--format", "json", "live"]));
    expect(Object.keys(s!)).toEqual(["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"]);
    expect(s).toMatchObject({ Container: "live", Name: "live", PIDs: "1" });
    expect(ok(["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "live"])).toBe("live 1\n");
    expect(ok(["stats", "--no-stream", "--format", "table {{.Name}}\\t{{.PIDs}}", "live"])).toBe("NAME      PIDS\nlive      1\n");
    expect(tsbox(root, ["stats", "--no-stream", "--format", "{{", "live"])).toMatchObject({ code: 1, stdout: "", stderr: "tsbox: template parsing error: template: :1: unclosed action\n" });
  });
});

describe("inspect -f", () => {
  it("container and image: fields, json, range, index, join; one line per object", () => {
    expect(ok(["inspect", "-f", "{{.State.Status}} {{json .Config.Cmd}} {{.Name}}", "done", "live"])).toBe(
      `exited ["sh","-c","echo hi there"] /done\nrunning ["sleep","1000"] /live\n`);
    expect(ok(["container", "inspect", "-f", "{{range $i, $a := .Args}}{{$i}}={{$a}} {{end}}|{{index .Config.Cmd 0}}|{{join .Config.Cmd \",\"}}", "done"]))
      .toBe("0=-c 1=echo hi there |sh|sh,-c,echo hi there\n");
    expect(ok(["image", "inspect", "-f", "{{.Os}}/{{.Architecture}} {{len .RootFS.Layers}}", "busybox"])).toBe("linux/amd64 1\n".replace("amd64", process.arch === "x64" ? "amd64" : process.arch));
    expect(JSON.parse(ok(["inspect", "-f", "json", "done"])) as unknown[]).toHaveLength(1);
    expect(ok(["network", "inspect", "-f", "{{.Name}} {{.Driver}}", "bridge"])).toBe("bridge bridge\n");
  });

  it("errors as Docker's: a missing key exit 1 (and an empty line), a bad template exit 64, a missing object beside", () => {
    expect(tsbox(root, ["inspect", "-f", "{{.Foo}}", "done"])).toMatchObject({
      code: 1, stdout: "\n", stderr: `tsbox: template parsing error: template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"\n`,
    });
    expect(tsbox(root, ["inspect", "-f", "{{", "done"])).toMatchObject({ code: 64, stdout: "", stderr: "tsbox: template parsing error: template: :1: unclosed action\n" });
    expect(tsbox(root, ["inspect", "-f", "{{.Name}}", "done", "nosuch"])).toMatchObject({ code: 1, stdout: "/done\n", stderr: "tsbox: No such object: nosuch\n" });
  });
});

describe("info and version", () => {
  it("info --format: templates on Docker's fields", () => {
    expect(ok(["info", "--format", "{{.Driver}} {{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}} {{.Images}} {{.OSType}}"]))
      .toBe("overlay2 2 1 0 1 1 linux\n");
    expect(ok(["info", "--format", "{{.DockerRootDir}}"])).toBe(`${root}\n`);
  });

  it("version: Docker's Client and Server sections, exit 0; --format", () => {
    const v = ok(["version"]);
    expect(v).toMatch(/^Client:\n Version: {11}\S+\n API version: {7}\S+\n Go version: {8}node\S+\n Git commit: {8}\S+\n Built: .*\n OS\/Arch: {11}linux\/\S+\n Context: {11}default\n\nServer:\n Engine:\n  Version: {10}\S+\n/);
    expect(ok(["version", "--format", "{{.Client.Version}}={{.Server.Version}}"])).toMatch(/^(\S+)=\1\n$/);
    const j = JSON.parse(ok(["version", "--format", "json"])) as { Client: Record<string, unknown>; Server: { Components: { Name: string }[] } };
    expect(Object.keys(j.Client)).toEqual(["Version", "ApiVersion", "DefaultAPIVersion", "GitCommit", "GoVersion", "Os", "Arch", "BuildTime", "Context"]);
    expect(j.Server.Components[0]!.Name).toBe("Engine");
    expect(tsbox(root, ["version", "--format", "{{.Foo}}"])).toMatchObject({
      code: 1, stdout: "\n", stderr: `tsbox: template: version:1:2: executing "version" at <.Foo>: can't evaluate field Foo in type system.versionInfo\n`,
    });
    expect(tsbox(root, ["version", "--format", "{{"])).toMatchObject({ code: 64, stderr: "tsbox: template parsing error: template: version:1: unclosed action\n" });
  });
});

const haveDocker = spawnSync("docker", ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8", timeout: 20_000 }).status === 0;
if (!haveDocker) console.log("skipping the docker side-by-side --format tests: no docker daemon here");

describe.skipIf(!haveDocker)("side by side with docker", () => {
  const tag = `tsbox-fmt-${process.pid}:1`;
  const names = { done: `tsbox-fmt-done-${process.pid}`, live: `tsbox-fmt-live-${process.pid}` };
  const docker = (args: string[]): Result => {
    const r = spawnSync("docker", args, { encoding: "utf8", timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  beforeAll(() => {
    execFileSync("docker", ["import", busyboxTarball(), tag], { stdio: "ignore" });
    execFileSync("docker", ["run", "--name", names.done, "--network", "none", tag, "sh", "-c", "echo hi there"], { stdio: "ignore" });
    execFileSync("docker", ["run", "-d", "--name", names.live, "--network", "none", tag, "sleep", "1000"], { stdio: "ignore" });
  });
  afterAll(() => {
    spawnSync("docker", ["rm", "-f", names.done, names.live], { stdio: "ignore" });
    spawnSync("docker", ["rmi", tag], { stdio: "ignore" });
  });

  /** The same failing invocation: the same exit code and, but for tsbox's "tsbox: " prefix, the same error. */
  const sameFailure = (ours: string[], theirs: string[]): void => {
    const t = tsbox(root, ours);
    const d = docker(theirs);
    expect({ args: ours, code: t.code, stderr: t.stderr.replace(/^tsbox: /gm, "") }).toEqual({ args: ours, code: d.code, stderr: d.stderr });
  };

  it("the same keys in --format json", () => {
    const keys = (s: string): string[] => Object.keys(jsonLines(s)[0]!);
    expect(keys(ok(["images", "--format", "json", "busybox"]))).toEqual(keys(docker(["images", "--format", "json", tag.split(":")[0]!]).stdout));
    expect(keys(ok(["ps", "-a", "--format", "json"]))).toEqual(keys(docker(["ps", "-a", "--format", "json", "--filter", `name=${names.done}`]).stdout));
    expect(keys(ok(["stats", "--no-stream", "--format", "json", "live"]))).toEqual(keys(docker(["stats", "--no-stream", "--format", "json", names.live]).stdout));
    expect(keys(ok(["history", "--format", "json", "busybox"]))).toEqual(keys(docker(["history", "--format", "json", tag]).stdout));
    expect(keys(ok(["network", "ls", "--format", "json"]))).toEqual(keys(docker(["network", "ls", "--format", "json"]).stdout));
    expect(keys(ok(["system", "df", "--format", "json"]))).toEqual(keys(docker(["system", "df", "--format", "json"]).stdout));
    expect(jsonLines(ok(["system", "df", "--format", "json"])).map((r) => r.Type)).toEqual(jsonLines(docker(["system", "df", "--format", "json"]).stdout).map((r) => r.Type));
  });

  it("the same headers of a custom table", () => {
    // The column names (their widths follow the data).
    const header = (s: string): string[] => s.split("\n")[0]!.split(/ {2,}/);
    const cases: [string[], string[]][] = [
      ["table {{.ID}}\\t{{.Names}}\\t{{.CreatedAt}}\\t{{.RunningFor}}\\t{{.LocalVolumes}}", ["ps", "-a"], ["ps", "-a", "--filter", `name=${names.done}`]],
      ["table {{.ID}}\\t{{.CreatedSince}}\\t{{.CreatedAt}}\\t{{.VirtualSize}}\\t{{.Digest}}", ["images"], ["images", tag]],
      ["table {{.Container}}\\t{{.CPUPerc}}\\t{{.MemUsage}}\\t{{.NetIO}}", ["stats", "--no-stream", "live"], ["stats", "--no-stream", names.live]],
      ["table {{.ID}}\\t{{.Internal}}\\t{{.IPv6}}\\t{{.CreatedAt}}", ["network", "ls"], ["network", "ls"]],
      ["table {{.ID}}\\t{{.CreatedBy}}\\t{{.CreatedAt}}", ["history", "busybox"], ["history", tag]],
      ["table {{.Type}}\\t{{.Reclaimable}}", ["system", "df"], ["system", "df"]],
    ].map(([format, ours, theirs]) => [[...(ours as string[]), "--format", format as string], [...(theirs as string[]), "--format", format as string]]);
    for (const [ours, theirs] of cases) {
      expect({ ours, header: header(ok(ours)) }).toEqual({ ours, header: header(docker(theirs).stdout) });
    }
  });

  it("the same errors and exit codes", () => {
    sameFailure(["ps", "--format", "{{.Foo}}"], ["ps", "--format", "{{.Foo}}"]);
    sameFailure(["ps", "--format", "{{"], ["ps", "--format", "{{"]);
    sameFailure(["images", "--format", "x{{.Labels}}"], ["images", "--format", "x{{.Labels}}", tag]);
    sameFailure(["history", "--format", "{{.Foo}}", "busybox"], ["history", "--format", "{{.Foo}}", tag]);
    sameFailure(["network", "ls", "--format", "{{.Foo}}"], ["network", "ls", "--format", "{{.Foo}}"]);
    sameFailure(["system", "df", "--format", "{{.Foo}}"], ["system", "df", "--format", "{{.Foo}}"]);
    sameFailure(["inspect", "-f", "{{.Foo}}", "done"], ["inspect", "-f", "{{.Foo}}", names.done]);
    sameFailure(["inspect", "-f", "{{.State.Foo}}", "done"], ["inspect", "-f", "{{.State.Foo}}", names.done]);
    sameFailure(["inspect", "-f", "{{index .Config.Cmd 9}}", "done"], ["inspect", "-f", "{{index .Config.Cmd 9}}", names.done]);
    sameFailure(["inspect", "-f", "{{", "done"], ["inspect", "-f", "{{", names.done]);
    sameFailure(["info", "--format", "{{"], ["info", "--format", "{{"]);
    expect(ok(["info", "--format", "{{.OSType}} {{.Driver}} {{.Architecture}}"])).toBe(docker(["info", "--format", "{{.OSType}} {{.Driver}} {{.Architecture}}"]).stdout);
    sameFailure(["version", "--format", "{{.Foo}}"], ["version", "--format", "{{.Foo}}"]);
    sameFailure(["version", "--format", "{{"], ["version", "--format", "{{"]);
  });

  it("the same output of inspect -f templates", () => {
    for (const t of [
      "{{.State.Status}} {{json .Config.Cmd}} {{.Config.Cmd}} {{.Name}} {{.State.ExitCode}}",
      "{{range $i, $a := .Args}}{{$i}}={{$a}} {{end}}|{{index .Config.Cmd 0}}|{{join .Config.Cmd \",\"}}|{{len .Config.Cmd}}",
      "{{if eq .State.Status \"exited\"}}{{printf \"%s:%d\" .State.Status .State.ExitCode}}{{else}}up{{end}} {{.State.Running}} {{.Path}}",
    ]) {
      expect({ t, out: ok(["inspect", "-f", t, "done"]) }).toEqual({ t, out: docker(["inspect", "-f", t, names.done]).stdout.replace(`/${names.done}`, "/done") });
    }
  });

  it("version: the same section lines", () => {
    const labels = (s: string): string[] => s.split("\n").map((l) => /^( *[A-Za-z][A-Za-z /]*):/.exec(l)?.[1] ?? "").filter((l) => l !== "");
    const ours = labels(ok(["version"]));
    const theirs = labels(docker(["version"]).stdout);
    const client = (l: string[]): string[] => l.slice(0, l.indexOf("Server"));
    expect(client(ours)).toEqual(client(theirs));
    expect(ours.slice(ours.indexOf("Server"), ours.indexOf("Server") + 9)).toEqual(theirs.slice(theirs.indexOf("Server"), theirs.indexOf("Server") + 9));
  });
});
