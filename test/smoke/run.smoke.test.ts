// The smoke subset: what must hold wherever tsbox runs, including inside
// `docker run --privileged` (npm run test:docker), where users run their CI.
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cgroupDirsOf, containerIds, mountsUnder, removeRoot, rootWithBusybox, tsbox } from "../helpers.js";

let root: string;
beforeAll(() => { root = rootWithBusybox(); });
afterAll(() => { removeRoot(root); });

describe("smoke", () => {
  it("runs an isolated process on an overlay root and passes its exit code", () => {
    const r = tsbox(root, ["run", "--rm", "--network", "none", "--hostname", "smoke", "busybox", "sh", "-c",
      "echo $$; hostname; ls /sys/class/net; touch /x && echo rw; exit 3"]);
    expect(r).toMatchObject({ code: 3, stdout: "1\nsmoke\nlo\nrw\n", stderr: "" });
  });

  it("applies limits in the container's own cgroup", () => {
    const r = tsbox(root, ["run", "--rm", "--pids-limit", "20", "busybox", "sh", "-c", "cat /proc/self/cgroup"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/pids:\/\n|0::\/\n/);
  });

  it("reports a missing command as 127 and bad input as 125", () => {
    expect(tsbox(root, ["run", "--rm", "busybox", "nope"]).code).toBe(127);
    expect(tsbox(root, ["run", "--rm", "--pull", "never", "nosuchimage"]).code).toBe(125);
  });

  it("publishes a port of a container on the default bridge, reachable on 127.0.0.1", () => {
    const r = tsbox(root, ["run", "-d", "-p", "18499:80", "busybox", "sh", "-c",
      "mkdir -p /www && echo smoke-web > /www/index.html && exec httpd -f -p 80 -h /www"]);
    expect(r.code, r.stderr).toBe(0);
    let body = "";
    for (let i = 0; i < 50 && body === ""; i++) {
      body = spawnSync("timeout", ["3", "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:18499/"], { encoding: "utf8" }).stdout ?? "";
      if (body === "") spawnSync("sleep", ["0.1"]);
    }
    expect(body).toBe("smoke-web\n");
    expect(tsbox(root, ["rm", "-f", r.stdout.trim()]).code).toBe(0);
  });

  it("leaves nothing behind", () => {
    expect(tsbox(root, ["run", "--name", "gone", "busybox", "true"]).code).toBe(0);
    const [id] = containerIds(root);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(cgroupDirsOf(id!)).toEqual([]);
    expect(tsbox(root, ["rm", "gone"]).code).toBe(0);
    expect(containerIds(root)).toEqual([]);
    expect(mountsUnder(root)).toEqual([]);
  });
});
