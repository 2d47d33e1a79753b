// Issue 16, item 6: flags as Docker's parser takes them (`--rm=true`,
// `--init=false`, `-m=64m`, `-e=FOO=bar`, `-u=0`, `-v=/a:/b`), for tsbox's own
// options only: the container's command after the image is never rewritten.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeFlags } from "../src/cli/flag-syntax.js";
import { containerIds, removeRoot, rootWithBusybox, stateOf, tsbox } from "./helpers.js";

describe("normalizeFlags (pure)", () => {
  const program = (): Command => {
    const p = new Command("t").option("--root <dir>").enablePositionalOptions();
    p.command("run").argument("<image>").argument("[cmd...]").passThroughOptions()
      .option("--rm").option("--init").option("-m, --memory <m>").option("-e, --env <e>").option("-u, --user <u>").option("--name <n>");
    p.command("build").argument("<dir>").option("--no-cache");
    return p;
  };
  const n = (...a: string[]): string[] => normalizeFlags(["node", "tsbox", ...a], program()).slice(2);

  it("booleans take true/false, short options lose the =, valued long ones are split", () => {
    expect(n("run", "--rm=true", "--init=false", "-m=64m", "-e=FOO=bar", "-u=0", "--name=x", "img")).toEqual(
      ["run", "--rm", "-m", "64m", "-e", "FOO=bar", "-u", "0", "--name", "x", "img"]);
    expect(n("build", "--no-cache=false", "d")).toEqual(["build", "d"]);
    expect(n("build", "--no-cache=1", "d")).toEqual(["build", "--no-cache", "d"]);
    expect(n("--root=/r", "run", "img")).toEqual(["--root", "/r", "run", "img"]);
  });

  it("leaves the container's command, a value that looks like a flag, and unknown options alone", () => {
    expect(n("run", "img", "sh", "-c", "--rm=true", "-e=x")).toEqual(["run", "img", "sh", "-c", "--rm=true", "-e=x"]);
    expect(n("run", "--name", "--rm=true", "img")).toEqual(["run", "--name", "--rm=true", "img"]);
    expect(n("run", "--bogus=1", "img")).toEqual(["run", "--bogus=1", "img"]);
    expect(() => n("run", "--rm=maybe", "img")).toThrow(/invalid argument "maybe" for "--rm" flag: strconv.ParseBool/);
  });
});

describe("on the command line", () => {
  let root: string;
  let host: string;
  beforeAll(() => {
    root = rootWithBusybox();
    host = fs.mkdtempSync("/var/tmp/tsbox-flags-");
    fs.writeFileSync(path.join(host, "f"), "mounted\n");
    fs.chmodSync(host, 0o755);
  });
  afterAll(() => {
    removeRoot(root);
    fs.rmSync(host, { recursive: true, force: true });
  });

  it("run --rm=true -e=FOO=bar -u=1000 -m=64m -v=HOST:CTR --init=true works as Docker reads it; --rm=false keeps the container", () => {
    const r = tsbox(root, ["run", "--rm=true", "-e=FOO=bar", "-u=1000", "-m=64m", `-v=${host}:/h`, "--init=true", "--network=none", "busybox",
      "sh", "-c", "echo $FOO; id -u; cat /h/f; cat /proc/1/comm"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^bar\n1000\nmounted\n(memfd:)?(tini|docker-init)\n$/); // --init: tini is PID 1
    expect(containerIds(root)).toEqual([]);
    expect(tsbox(root, ["run", "--rm=false", "--name", "kept", "--network", "none", "busybox", "true"]).code).toBe(0);
    expect(containerIds(root).map((id) => stateOf(root, id).name)).toEqual(["kept"]);
    const bad = tsbox(root, ["run", "--rm=maybe", "busybox", "true"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe('tsbox: invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax\n');
  });

  it("Docker reads the same line the same way", () => {
    if (spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status !== 0) {
      console.warn("cli.flag-syntax: Docker comparison skipped: `docker info` failed");
      return;
    }
    const d = spawnSync("docker", ["run", "--rm=maybe", "busybox", "true"], { encoding: "utf8" });
    expect(d.status).toBe(125);
    expect(d.stderr).toContain('invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
  });
});
