// Docker side by side: the everyday invocations of a Docker user (run flags,
// the lifecycle, logs, exec, images, inspect, stats, the errors) run with
// `docker` and with `tsbox` in the same order on the same image, comparing
// exit codes always, and output where Docker's is stable: exactly after IDs,
// digests, times and sizes are normalised, or by shape (a table's header and
// its number of rows, JSON keys, the one line of an error). Every divergence of
// a group is listed at once, so one run shows all of them.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { busyboxTarball, makeRoot, removeRoot, tsbox } from "./helpers.js";

const dockerInfo = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 20_000 });
const dockerOk = dockerInfo.status === 0;
if (!dockerOk) {
  console.warn(`cli.compat-docker skipped: \`docker info\` failed (${(dockerInfo.stderr || String(dockerInfo.error ?? "")).trim()}); start dockerd to run it`);
}

const suffix = `${process.pid}-${Date.now().toString(36)}`;
const IMG = `compat-bb:${suffix}`;
const IMG2 = `compat-bb2:${suffix}`;
const name = (n: string): string => `compat-${n}-${suffix}`;
const VOL = `compat-vol-${suffix}`;

interface Result { code: number; stdout: string; stderr: string }

/** What of the two outputs must agree (the exit codes always must). */
type Compare =
  | "code" // only the exit code
  | "out" // stdout, normalised
  | "shape" // the first line of stdout (a header) and the number of lines
  | "lines" // the number of stdout lines
  | "json-keys" // stdout is a JSON array of one object: Docker's top-level keys are all there
  | { err: RegExp } // both print one error line matching this
  | { both: RegExp } // both stdouts match this
  | { tsboxCode: number; why: string }; // the exit codes differ by Docker's version: tsbox's is this

interface Step { args: string[]; compare: Compare[]; input?: string; note?: string }

function docker(args: string[], input?: string): Result {
  const r = spawnSync("docker", args, { encoding: "utf8", timeout: 120_000, ...(input === undefined ? {} : { input }) });
  return { code: r.status ?? 128 + 9, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

/** What differs between two engines by nature: IDs, digests, times, sizes, addresses. */
function normalise(text: string): string {
  return text
    .replace(/sha256:[0-9a-f]{64}/g, "<DIGEST>")
    .replace(/\b[0-9a-f]{64}\b/g, "<ID>")
    .replace(/\b[0-9a-f]{12}\b/g, "<ID>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, "<TIME>")
    .replace(/(Less than a second|About a minute|About an hour|\d+ (seconds|minutes|hours|days))/g, "<AGO>")
    .replace(/\d+(\.\d+)?\s?(B|kB|KB|KiB|MB|MiB|GB|GiB)\b/g, "<SIZE>")
    .replace(/\d+\.\d+%/g, "<PCT>")
    .replace(/@if\d+/g, "@if<N>");
}

function check(step: Step, d: Result, t: Result): string[] {
  const what = `${step.args.join(" ")}${step.note ? ` (${step.note})` : ""}`;
  const bad: string[] = [];
  const show = (r: Result): string => JSON.stringify((r.stdout + r.stderr).slice(0, 300));
  const pinned = step.compare.find((c): c is { tsboxCode: number; why: string } => typeof c === "object" && "tsboxCode" in c);
  if (pinned !== undefined) {
    if (t.code !== pinned.tsboxCode) bad.push(`${what}: exit ${t.code}, expected ${pinned.tsboxCode} (${pinned.why})`);
  } else if (d.code !== t.code) bad.push(`${what}: exit ${t.code}, docker ${d.code}: tsbox ${show(t)} docker ${show(d)}`);
  const lines = (s: string): string[] => s.split("\n").filter((l) => l !== "");
  for (const c of step.compare) {
    if (c === "code" || (typeof c === "object" && "tsboxCode" in c)) continue;
    if (c === "out") {
      if (normalise(t.stdout) !== normalise(d.stdout)) bad.push(`${what}: stdout ${JSON.stringify(t.stdout.slice(0, 400))}, docker ${JSON.stringify(d.stdout.slice(0, 400))}`);
    } else if (c === "shape") {
      const [th, dh] = [lines(t.stdout)[0] ?? "", lines(d.stdout)[0] ?? ""];
      if (th.replace(/\s+/g, " ") !== dh.replace(/\s+/g, " ")) bad.push(`${what}: header ${JSON.stringify(th)}, docker ${JSON.stringify(dh)}`);
      if (lines(t.stdout).length !== lines(d.stdout).length) bad.push(`${what}: ${lines(t.stdout).length} lines, docker ${lines(d.stdout).length}`);
    } else if (c === "lines") {
      if (lines(t.stdout).length !== lines(d.stdout).length) bad.push(`${what}: ${lines(t.stdout).length} lines, docker ${lines(d.stdout).length}: ${JSON.stringify(t.stdout.slice(0, 300))}`);
    } else if (c === "json-keys") {
      try {
        const [dk, tk] = [d, t].map((r) => Object.keys((JSON.parse(r.stdout) as Record<string, unknown>[])[0] ?? {}));
        const missing = dk!.filter((k) => !tk!.includes(k));
        if (missing.length > 0) bad.push(`${what}: keys missing: ${missing.join(", ")}`);
      } catch (e) {
        bad.push(`${what}: not a JSON array: ${(e as Error).message}: ${JSON.stringify(t.stdout.slice(0, 200))}`);
      }
    } else if ("err" in c) {
      // Docker's client prints some daemon errors on stdout (exec's start failure).
      for (const [who, text] of [["tsbox", t.stderr], ["docker", d.stderr + d.stdout]] as const) {
        if (!c.err.test(text)) bad.push(`${what}: ${who}'s error ${JSON.stringify(text.slice(0, 300))} does not match ${c.err}`);
      }
      if (lines(t.stderr).length !== 1) bad.push(`${what}: tsbox's error is not one line: ${JSON.stringify(t.stderr.slice(0, 400))}`);
    } else {
      for (const [who, r] of [["tsbox", t], ["docker", d]] as const) {
        if (!c.both.test(r.stdout)) bad.push(`${what}: ${who}'s output ${JSON.stringify(r.stdout.slice(0, 300))} does not match ${c.both}`);
      }
    }
  }
  return bad;
}

describe.skipIf(!dockerOk)("tsbox and docker side by side", () => {
  let root: string;
  let host: string;
  beforeAll(() => {
    root = makeRoot();
    host = fs.mkdtempSync("/var/tmp/tsbox-compat-");
    fs.writeFileSync(path.join(host, "f"), "from the host\n");
    fs.chmodSync(host, 0o755);
    const tarball = busyboxTarball();
    const d = docker(["import", tarball, IMG]);
    if (d.code !== 0) throw new Error(`docker import: ${d.stderr}`);
    const t = tsbox(root, ["import", tarball, IMG]);
    if (t.code !== 0) throw new Error(`tsbox import: ${t.stderr}`);
  }, 120_000);

  afterAll(() => {
    const ours = docker(["ps", "-aq", "--filter", `name=${suffix}`]).stdout.split("\n").filter(Boolean);
    if (ours.length > 0) docker(["rm", "-f", ...ours]);
    for (const ref of [IMG2, IMG]) docker(["rmi", "-f", ref]);
    docker(["volume", "rm", "-f", VOL]);
    if (root) removeRoot(root);
    if (host) fs.rmSync(host, { recursive: true, force: true });
  }, 120_000);

  /** Each step on docker, then on tsbox; every divergence listed. */
  function sideBySide(steps: Step[]): void {
    const bad: string[] = [];
    for (const step of steps) {
      const d = docker(step.args, step.input);
      const t = tsbox(root, step.args, { ...(step.input === undefined ? {} : { input: step.input }), timeout: 120_000 });
      bad.push(...check(step, d, t));
    }
    expect(bad, bad.join("\n")).toEqual([]);
  }

  it("run: output, exit codes and the common flags", () => {
    const none = ["--network", "none"];
    sideBySide([
      { args: ["run", "--rm", IMG, "echo", "hello world"], compare: ["out"] },
      { args: ["run", "--rm", IMG, "sh", "-c", "exit 3"], compare: ["out"] },
      { args: ["run", "--rm", IMG, "sh", "-c", "kill -9 $$"], compare: ["code"] },
      { args: ["run", "--rm", IMG, "nosuchcommand"], compare: [{ err: /executable file not found|nosuchcommand/ }] },
      { args: ["run", "--rm", IMG, "/etc"], compare: [{ err: /permission denied|is a directory/i }] },
      { args: ["run", "--rm", ...none, "-e", "FOO=bar", "-e", "BAZ", IMG, "sh", "-c", "echo $FOO ${BAZ-unset}"], compare: ["out"] },
      { args: ["run", "--rm", ...none, "-w", "/tmp/new/dir", IMG, "pwd"], compare: ["out"] },
      { args: ["run", "--rm", ...none, "-u", "1000:1000", IMG, "id"], compare: ["out"] },
      { args: ["run", "--rm", ...none, "-u", "app", IMG, "id"], compare: ["out"] },
      { args: ["run", "--rm", ...none, "-h", "myhost", IMG, "hostname"], compare: ["out"] },
      { args: ["run", "--rm", ...none, "--entrypoint", "echo", IMG, "a", "b"], compare: ["out"] },
      { args: ["run", "--rm", "-i", ...none, IMG, "cat"], input: "piped\n", compare: ["out"] },
      { args: ["run", "--rm", ...none, IMG, "cat"], input: "not read\n", compare: ["out"], note: "no -i: stdin closed" },
      { args: ["run", "--rm", ...none, "--read-only", IMG, "touch", "/x"], compare: [{ err: /Read-only file system/ }] },
      { args: ["run", "--rm", ...none, "--read-only", "--tmpfs", "/t", IMG, "touch", "/t/x"], compare: ["out"] },
      { args: ["run", "--rm", ...none, "-v", `${host}:/h:ro`, IMG, "cat", "/h/f"], compare: ["out"] },
      { args: ["run", "--rm", ...none, "-v", `${host}:/h:ro`, IMG, "touch", "/h/g"], compare: [{ err: /Read-only file system/ }] },
      { args: ["run", "--rm", ...none, "-m", "64m", IMG, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"], compare: ["out"] },
      { args: ["run", "--rm", ...none, "--cpus", "0.5", IMG, "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"], compare: ["out"] },
      { args: ["run", "--rm", ...none, "--pids-limit", "10", IMG, "cat", "/sys/fs/cgroup/pids/pids.max"], compare: ["out"] },
      { args: ["run", "--rm", ...none, "--cap-drop", "ALL", IMG, "sh", "-c", "grep CapEff /proc/self/status"], compare: ["out"] },
      { args: ["run", "--rm", ...none, IMG, "sh", "-c", "grep CapEff /proc/self/status"], compare: ["out"] },
      { args: ["run", "--rm", ...none, "--init", IMG, "sh", "-c", "exit 7"], compare: ["out"] },
      { args: ["run", "--rm=true", ...none, "-e=A=b", IMG, "sh", "-c", "echo $A"], compare: ["out"] },
      { args: ["run", "--rm", ...none, IMG, "cat", "/etc/hostname", "/proc/1/cmdline"], compare: ["lines"] },
      { args: ["run", "--rm", IMG, "sh", "-c", "ip -o link | cut -d: -f2"], compare: ["out"], note: "default bridge: lo and eth0" },
      { args: ["run", "--rm", ...none, IMG, "sh", "-c", "ip -o link | cut -d: -f2"], compare: ["out"] },
      { args: ["run", "--rm", "-m", "bad", IMG, "true"], compare: ["code"] },
      { args: ["run", "--rm", "--pull", "never", `nosuch-${suffix}:1`, "true"], compare: [{ err: /No such image/ }] },
      { args: ["run", "--rm", "--bogus-flag", IMG, "true"], compare: [{ err: /unknown flag: --bogus-flag|unknown option '--bogus-flag'/ }] },
      { args: ["run", "--rm", "--restart", "always", IMG, "true"], compare: [{ err: /Conflicting options: --restart and --rm|conflict/i }] },
    ]);
  }, 300_000);

  it("the lifecycle: run -d, ps, logs, exec, stop, start, restart, pause, kill, wait, rename, rm", () => {
    const c = name("life");
    const c2 = name("life2");
    sideBySide([
      { args: ["run", "-d", "--name", c, "--network", "none", IMG, "sh", "-c", "echo started; trap 'exit 0' TERM; while true; do sleep 0.2; done"], compare: ["out"] },
      { args: ["ps", "--filter", `name=${c}`], compare: ["shape"] },
      { args: ["ps", "-a", "-q", "--filter", `name=${c}`], compare: ["lines"] },
      { args: ["container", "ls", "--filter", `name=${c}`], compare: ["shape"] },
      { args: ["logs", c], compare: ["out"] },
      { args: ["logs", "--tail", "1", c], compare: ["out"] },
      { args: ["exec", c, "echo", "in exec"], compare: ["out"] },
      { args: ["exec", c, "sh", "-c", "exit 5"], compare: ["out"] },
      {
        args: ["exec", c, "nosuchcommand"],
        compare: [{ err: /executable file not found in \$PATH/ }, { tsboxCode: 127, why: "Docker 20.10's daemon gives 126; from 25 an exit code set by the start error (127) is kept, as run's" }],
      },
      { args: ["exec", "-w", "/missing", c, "pwd"], compare: ["code"] },
      { args: ["exec", "-e", "X=1", "-u", "1000", c, "sh", "-c", "echo $X $(id -u)"], compare: ["out"] },
      { args: ["exec", "-i", c, "cat"], input: "to exec\n", compare: ["out"] },
      // the header only: the loop's sleep comes and goes between the two engines' reads
      { args: ["top", c], compare: [{ both: /^UID +PID +PPID +C +STIME +TTY +TIME +CMD\n/ }] },
      { args: ["inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.Name}}", c], compare: ["out"] },
      { args: ["inspect", "--format", "{{json .Config.Cmd}}", c], compare: ["out"] },
      { args: ["inspect", c], compare: ["json-keys"] },
      { args: ["container", "inspect", "-f", "{{.HostConfig.NetworkMode}}", c], compare: ["out"] },
      { args: ["inspect", "-f", "{{.Config.Labels.nosuch}}", c], compare: ["out", "code"] },
      { args: ["stats", "--no-stream", c], compare: ["shape"] },
      { args: ["stats", "--no-stream", "--format", "{{.Name}}", c], compare: ["out"] },
      { args: ["pause", c], compare: ["out"] },
      { args: ["exec", c, "true"], compare: [{ err: /is paused, unpause the container before exec/ }] },
      { args: ["ps", "--filter", `name=${c}`, "--format", "{{.Status}}"], compare: [{ both: /^Up .*\(Paused\)\n$/ }] },
      { args: ["unpause", c], compare: ["out"] },
      { args: ["stop", "-t", "5", c], compare: ["out"] },
      { args: ["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", c], compare: ["out"] },
      { args: ["attach", c], compare: [{ err: /You cannot attach to a stopped container/ }] },
      { args: ["start", c], compare: ["out"] },
      { args: ["restart", "-t", "5", c], compare: ["out"] },
      { args: ["kill", "-s", "BOGUS", c], compare: [{ err: /Invalid signal: BOGUS/ }] },
      { args: ["kill", c], compare: ["out"] },
      { args: ["wait", c], compare: ["out"] },
      { args: ["logs", c], compare: ["out"], note: "three starts" },
      { args: ["rename", c, c2], compare: ["out"] },
      { args: ["rename", c2, "bad name"], compare: [{ err: /Invalid container name/ }] },
      { args: ["rm", c2], compare: ["out"] },
      { args: ["rm", c2], compare: [{ err: /No such container/ }] },
      { args: ["logs", c2], compare: [{ err: /No such container/ }] },
      { args: ["rm", "-f", `nosuch-${suffix}`], compare: ["out"] },
      { args: ["ps", "-a", "--filter", `name=${suffix}`], compare: ["shape"] },
    ]);
  }, 300_000);

  it("foreground containers: logs, the names, rm", () => {
    const c = name("fg");
    sideBySide([
      { args: ["run", "--name", c, "--network", "none", "-l", "team=a", "-v", `${VOL}:/data`, IMG, "sh", "-c", "echo out; echo err >&2"], compare: ["out"] },
      { args: ["ps", "-a", "--filter", `name=${c}`, "--format", '{{.Labels}}|{{.Label "team"}}|{{.Mounts}}|{{.LocalVolumes}}'], compare: ["out"] },
      { args: ["logs", c], compare: ["out"] },
      { args: ["run", "--name", c, IMG, "true"], compare: [{ err: /Conflict. The container name "\/?compat-fg-[^"]+" is already in use/ }] },
      { args: ["ps", "-a", "--filter", `name=${c}`, "--format", "{{.Names}} {{.Status}}"], compare: [{ both: /^compat-fg-\S+ Exited \(0\) .* ago\n$/ }] },
      { args: ["inspect", "-f", "{{.State.ExitCode}} {{.Config.Image}}", c], compare: ["out"] },
      { args: ["diff", c], compare: ["out"] },
      { args: ["rm", "-v", c], compare: ["out"] },
      { args: ["volume", "rm", VOL], compare: ["out"] },
    ]);
  }, 120_000);

  it("namespaces shared with another container: --pid container:, --ipc shareable and container:", () => {
    const none = ["--network", "none"];
    const [donor, joiner, priv, stopped] = [name("ns-donor"), name("ns-joiner"), name("ns-priv"), name("ns-stopped")];
    const notRunning = /container [0-9a-f]{64} is not running/;
    sideBySide([
      { args: ["run", "-d", ...none, "--name", donor, "--ipc", "shareable", "--shm-size", "10m", IMG, "sleep", "1000"], compare: ["code"] },
      { args: ["run", "-d", ...none, "--name", priv, IMG, "sleep", "1000"], compare: ["code"] },
      { args: ["create", "--name", stopped, "--ipc", "shareable", IMG, "true"], compare: ["code"] },
      { args: ["exec", donor, "sh", "-c", "echo from-donor > /dev/shm/f"], compare: ["out"] },
      {
        args: ["run", "--rm", ...none, "--pid", `container:${donor}`, "--ipc", `container:${donor}`, IMG, "sh", "-c",
          "tr '\\0' ' ' < /proc/1/cmdline; echo; cat /dev/shm/f; df -k /dev/shm | tail -1; ps -o comm | grep -c sleep"],
        compare: ["out"],
      },
      { args: ["run", "-d", ...none, "--name", joiner, "--pid", `container:${donor}`, IMG, "sleep", "2000"], compare: ["code"] },
      { args: ["exec", joiner, "sh", "-c", "ps -o args | grep -c '^sleep'"], compare: ["out"] },
      { args: ["kill", donor], compare: ["out"] },
      { args: ["wait", joiner], compare: ["out"], note: "killed with the donor's PID namespace" },
      { args: ["run", "--rm", "--pid", `container:${stopped}`, IMG, "true"], compare: [{ err: notRunning }] },
      { args: ["run", "--rm", "--ipc", `container:${stopped}`, IMG, "true"], compare: [{ err: new RegExp(`can't join IPC of container [0-9a-f]{64}: ${notRunning.source}`) }] },
      { args: ["run", "--rm", "--ipc", `container:${priv}`, IMG, "true"], compare: [{ err: /can't join IPC of container [0-9a-f]{64}: non-shareable IPC \(hint: use IpcMode:shareable for the donor container\)/ }] },
      { args: ["run", "--rm", "--pid", `container:${name("ns-nosuch")}`, IMG, "true"], compare: [{ err: /No such container: compat-ns-nosuch-/ }] },
      // create checks only that the donor exists; start, that it runs (and is shareable).
      { args: ["create", "--name", name("ns-later"), "--pid", `container:${stopped}`, IMG, "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline"], compare: ["code"] },
      { args: ["start", name("ns-later")], compare: [{ err: notRunning }] },
      { args: ["create", "--name", name("ns-priv-later"), "--ipc", `container:${priv}`, IMG, "true"], compare: ["code"] },
      { args: ["start", name("ns-priv-later")], compare: [{ err: /can't join IPC of container [0-9a-f]{64}: non-shareable IPC/ }] },
      { args: ["create", "--pid", `container:${name("ns-nosuch")}`, IMG, "true"], compare: [{ err: /No such container: compat-ns-nosuch-/ }] },
      { args: ["rm", "-f", donor, joiner, priv, stopped, name("ns-later"), name("ns-priv-later")], compare: ["out"] },
    ]);
  }, 120_000);

  it("images: list, tag, history, inspect, save and load, rmi", () => {
    const archive = path.join(host, "saved.tar");
    sideBySide([
      { args: ["images", IMG], compare: ["shape"] },
      { args: ["images", "-q", IMG], compare: ["out"] },
      { args: ["image", "ls", IMG], compare: ["shape"] },
      { args: ["tag", IMG, IMG2], compare: ["out"] },
      { args: ["images", "--format", "{{.Repository}}:{{.Tag}}", IMG2], compare: ["out"] },
      { args: ["history", IMG], compare: ["shape"] },
      { args: ["history", "-q", IMG], compare: ["out"] },
      { args: ["image", "inspect", "-f", "{{.Os}} {{.Architecture}} {{len .RootFS.Layers}}", IMG], compare: ["out"] },
      { args: ["inspect", "--type", "image", "-f", "{{.Id}}", IMG], compare: ["lines"] },
      { args: ["image", "inspect", IMG], compare: ["json-keys"] },
      { args: ["save", "-o", archive, IMG2], compare: ["out"] },
      { args: ["rmi", IMG2], compare: ["out"] },
      { args: ["load", "-i", archive], compare: ["out"] },
      { args: ["rmi", IMG2], compare: [{ both: /^Untagged: compat-bb2:/ }], note: "Docker's reloaded image may have another ID" },
      { args: ["rmi", IMG2], compare: [{ err: /No such image/ }] },
      { args: ["save", "-o", archive, `nosuch-${suffix}:1`], compare: [{ err: /No such image|reference does not exist/ }] },
      { args: ["tag", `nosuch-${suffix}`, IMG2], compare: [{ err: /No such image/ }] },
      { args: ["load", "-i", "/etc/passwd"], compare: ["code"] },
      { args: ["pull", "127.0.0.1:1/x/y"], compare: [{ err: /connection refused/ }] },
      { args: ["images", "--bogus-flag"], compare: ["code"] },
    ]);
  }, 300_000);

  it("the other commands users reach for: commit, export, cp, port, version, info, system df", () => {
    const c = name("misc");
    const out = path.join(host, "exported.tar");
    sideBySide([
      { args: ["run", "--name", c, "--network", "none", IMG, "sh", "-c", "echo data > /made"], compare: ["out"] },
      { args: ["diff", c], compare: ["out"] },
      { args: ["cp", `${c}:/made`, "-"], compare: ["lines"] },
      { args: ["cp", `${host}/f`, `${c}:/copied`], compare: ["out"] },
      { args: ["export", "-o", out, c], compare: ["out"] },
      { args: ["commit", c, IMG2], compare: ["lines"] },
      { args: ["run", "--rm", "--network", "none", IMG2, "cat", "/made", "/copied"], compare: ["out"] },
      { args: ["port", c], compare: ["out"] },
      { args: ["rm", c], compare: ["out"] },
      { args: ["rmi", IMG2], compare: ["lines"] },
      { args: ["version", "--format", "{{.Client.Os}}"], compare: ["out"] },
      { args: ["info", "--format", "{{.OSType}} {{.Driver}}"], compare: ["out"] },
      { args: ["system", "df"], compare: [{ both: /^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\n/ }] },
      { args: ["info", "--format", "{{.Nope}}"], compare: ["code"] },
    ]);
  }, 300_000);
});
