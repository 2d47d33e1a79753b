// Issue 16, item 1: `run` pulls an image the store lacks, as Docker does
// ("Unable to find image 'x:tag' locally", then the pull's lines, all on
// stderr), and --pull missing|always|never. Against Debian's docker-registry on
// 127.0.0.1, side by side with Docker when one answers.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { busyboxTarball, makeRoot, removeRoot, tsbox } from "./helpers.js";
import { missingRegistryTools, startRegistry, type RunningRegistry } from "./registry.fixtures.js";

const missing = missingRegistryTools();
if (missing.length > 0) process.stdout.write(`SKIP run.pull: not installed: ${missing.join(", ")}\n`);

let work: string;
let source: string;
let root: string;
let registry: RunningRegistry | undefined;
let ref: string;

beforeAll(async () => {
  if (missing.length > 0) return;
  work = fs.mkdtempSync("/var/tmp/tsbox-run-pull-");
  source = makeRoot();
  root = makeRoot();
  registry = await startRegistry(path.join(work, "registry"));
  ref = `${registry.host}/pulled/busybox:1`;
  expect(tsbox(source, ["import", busyboxTarball(), ref]).code).toBe(0);
  expect(tsbox(source, ["push", ref]).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  if (source) removeRoot(source);
  if (root) removeRoot(root);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.skipIf(missing.length > 0)("run pulls a missing image", () => {
  it("--pull never refuses a missing image (125) and pulls nothing", () => {
    const r = tsbox(root, ["run", "--rm", "--pull", "never", "--network", "none", ref, "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(`tsbox: No such image: ${ref}\n`);
    expect(tsbox(root, ["images", "-q"]).stdout).toBe("");
  });

  it("by default: Unable to find image locally, the pull's lines on stderr, then the container; the next run pulls nothing", () => {
    const r = tsbox(root, ["run", "--rm", "--network", "none", ref, "echo", "hi"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("hi\n");
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toBe(`Unable to find image '${ref}' locally`);
    expect(lines[1]).toBe("1: Pulling from pulled/busybox");
    expect(r.stderr).toMatch(/\nDigest: sha256:[0-9a-f]{64}\n/);
    expect(lines[lines.length - 1]).toBe(`Status: Downloaded newer image for ${ref}`);
    const again = tsbox(root, ["run", "--rm", "--network", "none", ref, "echo", "again"]);
    expect(again).toMatchObject({ code: 0, stdout: "again\n", stderr: "" });
  });

  it("-q: the missing image is pulled without a word on stderr", () => {
    expect(tsbox(root, ["rmi", ref]).code).toBe(0);
    expect(tsbox(root, ["run", "--rm", "-q", "--network", "none", ref, "echo", "quiet"])).toMatchObject({ code: 0, stdout: "quiet\n", stderr: "" });
  });

  it("--pull always pulls first (up to date here), an invalid policy is refused, an unreachable registry is one line", () => {
    const r = tsbox(root, ["run", "--rm", "--pull", "always", "--network", "none", ref, "true"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Status: Image is up to date for ${ref}`);
    expect(r.stderr).not.toContain("Unable to find image");
    const bad = tsbox(root, ["run", "--rm", "--pull", "sometimes", ref, "true"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe(`tsbox: invalid pull option: 'sometimes': must be one of "always", "missing" or "never"\n`);
    const gone = tsbox(root, ["run", "--rm", "127.0.0.1:1/nothing:here", "true"]);
    expect(gone.code).toBe(125);
    expect(gone.stderr.split("\n")[0]).toBe("Unable to find image '127.0.0.1:1/nothing:here' locally");
    expect(gone.stderr.trim().split("\n").filter((l) => l.startsWith("tsbox:"))).toHaveLength(1);
    expect(gone.stderr).toMatch(/connection refused/);
  });

  it("Docker prints the same first line and exits the same for a missing image", () => {
    const docker = spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status === 0;
    if (!docker) {
      console.warn("run.pull: Docker comparison skipped: `docker info` failed");
      return;
    }
    const dockerRef = `${registry?.host ?? ""}/pulled/busybox:1`;
    spawnSync("docker", ["rmi", "-f", dockerRef], { stdio: "ignore" });
    try {
      const d = spawnSync("docker", ["run", "--rm", "--network", "none", dockerRef, "echo", "hi"], { encoding: "utf8" });
      const fresh = makeRoot();
      try {
        const t = tsbox(fresh, ["run", "--rm", "--network", "none", dockerRef, "echo", "hi"]);
        expect([t.code, t.stdout]).toEqual([d.status, d.stdout]);
        expect(t.stderr.split("\n")[0]).toBe(d.stderr.split("\n")[0]);
        expect(t.stderr.split("\n")[1]).toBe(d.stderr.split("\n")[1]);
      } finally {
        removeRoot(fresh);
      }
    } finally {
      execFileSync("docker", ["rmi", "-f", dockerRef], { stdio: "ignore" });
    }
  });
});
