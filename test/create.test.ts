// `create` then `start` (issue 16, item 4): the container made with run's
// flags and left `created` (no process, cgroup or mount), started later as a
// stopped container is, removable without -f; side by side with Docker where
// it runs here.
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  busyboxTarball, cgroupDirsOf, containerIds, mountsUnder, removeRoot, rootWithBusybox, stateOf, tsbox, until,
} from "./helpers.js";

let root: string;
beforeAll(() => { root = rootWithBusybox(); });
afterAll(() => { removeRoot(root); });

/** The busybox image in Docker under a name of this file's, or undefined (with the reason printed) without Docker. */
function dockerBusybox(): string | undefined {
  if (spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status !== 0) {
    console.warn("create: Docker comparison skipped: `docker info` failed");
    return undefined;
  }
  const ref = "tsbox-create-test:latest";
  spawnSync("docker", ["import", busyboxTarball(), ref], { stdio: "ignore" });
  return ref;
}

const psLine = (name: string): string | undefined =>
  tsbox(root, ["ps", "-a"]).stdout.split("\n").find((l) => l.trimEnd().endsWith(` ${name}`));

describe("create", () => {
  it("makes a created container, with nothing running, that start runs", () => {
    const c = tsbox(root, ["create", "--name", "made", "-e", "X=from-create", "busybox", "sh", "-c", "echo $X; exit 3"]);
    expect(c.stderr).toBe("");
    expect(c.code).toBe(0);
    const id = c.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(psLine("made")).toMatch(/\s+Created\s+/);
    const inspected = JSON.parse(tsbox(root, ["inspect", "made"]).stdout) as { State: { Status: string; Pid: number } }[];
    expect(inspected[0]?.State).toMatchObject({ Status: "created", Pid: 0 });
    expect(cgroupDirsOf(id)).toEqual([]);
    expect(mountsUnder(root)).toEqual([]);
    // Another command's crash recovery leaves a created container be.
    expect(psLine("made")).toMatch(/\s+Created\s+/);

    const s = tsbox(root, ["start", "made"]);
    expect(s).toMatchObject({ code: 0, stdout: "made\n" });
    expect(tsbox(root, ["wait", "made"]).stdout).toBe("3\n");
    expect(tsbox(root, ["logs", "made"]).stdout).toBe("from-create\n");
    expect(tsbox(root, ["rm", "made"]).code).toBe(0);
    expect(cgroupDirsOf(id)).toEqual([]);
  });

  it("start -a attaches to a created container's output and gives its exit code", () => {
    expect(tsbox(root, ["create", "--name", "att", "busybox", "sh", "-c", "echo attached; exit 5"]).code).toBe(0);
    const s = tsbox(root, ["start", "-a", "att"]);
    expect(s.stdout).toBe("attached\n");
    expect(s.code).toBe(5);
    tsbox(root, ["rm", "att"]);
  });

  it("start -a of a -t container shows what it printed before the attach (a command that prints and exits at once), as Docker", () => {
    expect(tsbox(root, ["create", "-it", "--name", "att-t", "busybox", "sh", "-c", "echo hi; exit 3"]).code).toBe(0);
    for (const flags of [["-a"], ["-a", "-i"]]) {
      const s = tsbox(root, ["start", ...flags, "att-t"], { input: "" });
      expect({ flags, code: s.code, out: flags.includes("-i") ? "" : s.stdout }).toEqual({ flags, code: 3, out: flags.includes("-i") ? "" : "hi\r\n" });
    }
    tsbox(root, ["rm", "att-t"]);
  });

  it("takes run's flags: the spec made at create is what start runs", () => {
    const c = tsbox(root, ["create", "--name", "flags", "--ulimit", "nofile=100:200", "--shm-size", "8m", "--group-add", "10",
      "busybox", "sh", "-c", "ulimit -n; df -k /dev/shm | tail -1; id -G"]);
    expect(c.code).toBe(0);
    const s = tsbox(root, ["start", "-a", "flags"]);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^100\nshm\s+8192\s.*\n0 10\n$/);
    tsbox(root, ["rm", "flags"]);
  });

  it("rm removes a created container without -f; --rm removes it at its exit once started", async () => {
    const id = tsbox(root, ["create", "--name", "gone", "busybox", "sleep", "100"]).stdout.trim();
    expect(tsbox(root, ["rm", "gone"])).toMatchObject({ code: 0, stdout: "gone\n" });
    expect(containerIds(root)).not.toContain(id);

    const auto = tsbox(root, ["create", "--rm", "busybox", "true"]).stdout.trim();
    expect(tsbox(root, ["start", auto]).code).toBe(0);
    await until(() => !containerIds(root).includes(auto) || undefined, "the --rm container's removal");
    expect(cgroupDirsOf(auto)).toEqual([]);
  });

  it("container create is create", () => {
    const id = tsbox(root, ["container", "create", "busybox", "true"]).stdout.trim();
    expect(stateOf(root, id).status).toBe("created");
    tsbox(root, ["rm", id]);
  });

  it("refuses -d and bad input as Docker does, leaving nothing behind", () => {
    const before = containerIds(root);
    const d = tsbox(root, ["create", "-d", "busybox", "true"]);
    expect(d.code).toBe(125);
    const missing = tsbox(root, ["create", "--pull", "never", "nosuch:1"]);
    expect(missing).toMatchObject({ code: 1, stderr: "tsbox: No such image: nosuch:1\n" });
    expect(tsbox(root, ["create", "--name", "x", "--restart", "always", "--rm", "busybox", "true"]).code).toBe(125);
    expect(containerIds(root)).toEqual(before);
    expect(tsbox(root, ["rm", "x"]).code).toBe(1);
  });

  it("side by side with docker: the ps status, the exit codes", () => {
    const image = dockerBusybox();
    if (!image) return;
    const name = `tsbox-create-${process.pid}`;
    try {
      const d = spawnSync("docker", ["create", "--name", name, image, "true"], { encoding: "utf8" });
      expect(d.status).toBe(0);
      const t = tsbox(root, ["create", "--name", name, "busybox", "true"]);
      expect(t.code).toBe(0);
      expect(t.stdout).toMatch(/^[0-9a-f]{64}\n$/);
      const dps = spawnSync("docker", ["ps", "-a", "--filter", `name=${name}`], { encoding: "utf8" }).stdout;
      expect(dps).toMatch(/\s+Created\s+/);
      expect(psLine(name)).toMatch(/\s+Created\s+/);
      expect(tsbox(root, ["create", "-d", "busybox", "true"]).code)
        .toBe(spawnSync("docker", ["create", "-d", image, "true"], { stdio: "ignore" }).status);
      expect(tsbox(root, ["rm", name]).code).toBe(spawnSync("docker", ["rm", name], { stdio: "ignore" }).status);
    } finally {
      spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" });
      tsbox(root, ["rm", "-f", name]);
    }
  });
});
