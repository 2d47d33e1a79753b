// Issue 16, item 4 (part): Docker's management-command forms (`container ls`,
// `container rm`, `image ls`, `image rm`, …) and `images REPOSITORY[:TAG]`,
// `images -a`, `images -f dangling=…|reference=…`, with Docker's words for a bad filter.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expandGroupVerbs } from "../src/cli/index.js";
import { removeRoot, rootWithBusybox, tsbox } from "./helpers.js";

describe("expandGroupVerbs (pure)", () => {
  const x = (...a: string[]): string[] => expandGroupVerbs(["node", "tsbox", ...a]).slice(2);
  it("maps container/image X to the top-level verb, and leaves the groups' own subcommands and everything else", () => {
    expect(x("container", "ls", "-a")).toEqual(["ps", "-a"]);
    expect(x("--root", "/r", "container", "rm", "-f", "c")).toEqual(["--root", "/r", "rm", "-f", "c"]);
    expect(x("image", "ls", "-q")).toEqual(["images", "-q"]);
    expect(x("image", "rm", "x")).toEqual(["rmi", "x"]);
    expect(x("container", "prune", "-f")).toEqual(["container", "prune", "-f"]);
    expect(x("image", "inspect", "x")).toEqual(["image", "inspect", "x"]);
    expect(x("--root", "container", "run", "x")).toEqual(["--root", "container", "run", "x"]); // "container" is --root's value there
    expect(x("run", "busybox", "container", "ls")).toEqual(["run", "busybox", "container", "ls"]);
  });
});

describe("on the command line", () => {
  let root: string;
  beforeAll(() => {
    root = rootWithBusybox();
    expect(tsbox(root, ["tag", "busybox", "other:1"]).code).toBe(0);
    expect(tsbox(root, ["run", "--name", "one", "--network", "none", "busybox", "true"]).code).toBe(0);
  });
  afterAll(() => removeRoot(root));

  it("container ls/rm and image ls/rm are ps, rm, images and rmi", () => {
    // Two listings a moment apart: "Less than a second ago" may have become "1 second ago" (and the columns wider)
    const steady = (s: string): string => s.replace(/(Less than a second|About an? \w+|\d+ \w+) ago/g, "… ago").replace(/ {2,}/g, "  ");
    expect(steady(tsbox(root, ["container", "ls", "-a"]).stdout)).toBe(steady(tsbox(root, ["ps", "-a"]).stdout));
    expect(tsbox(root, ["container", "ls", "-a"]).stdout).toContain(" one\n");
    expect(steady(tsbox(root, ["image", "ls"]).stdout)).toBe(steady(tsbox(root, ["images"]).stdout));
    expect(tsbox(root, ["container", "rm", "one"])).toMatchObject({ code: 0, stdout: "one\n" });
    expect(tsbox(root, ["image", "rm", "other:1"])).toMatchObject({ code: 0, stdout: "Untagged: other:1\n" });
  });

  it("images REPOSITORY[:TAG], -f dangling / reference, -a; a bad filter in Docker's words, exit 1", () => {
    const rows = (args: string[]): string[] => tsbox(root, ["images", ...args]).stdout.trim().split("\n").slice(1).map((l) => l.split(/ +/).slice(0, 2).join(":"));
    expect(rows(["busybox"])).toEqual(["busybox:latest"]);
    expect(rows(["busybox:latest"])).toEqual(["busybox:latest"]);
    expect(rows(["busybox:other"])).toEqual([]);
    expect(rows(["-f", "reference=busy*"])).toEqual(["busybox:latest"]);
    expect(rows(["-f", "dangling=true"])).toEqual([]);
    // a build's steps: hidden, shown with -a
    const ctx = fs.mkdtempSync("/var/tmp/tsbox-forms-");
    try {
      fs.writeFileSync(path.join(ctx, "Dockerfile"), "FROM busybox\nRUN echo x > /x\nENV A=1\n");
      expect(tsbox(root, ["build", "-q", "-t", "built:1", ctx]).code).toBe(0);
    } finally {
      fs.rmSync(ctx, { recursive: true, force: true });
    }
    expect(rows([])).toEqual(expect.not.arrayContaining(["<none>:<none>"]));
    expect(rows(["-a"])).toContain("<none>:<none>");
    for (const [f, msg] of [["bogus=1", "tsbox: Invalid filter 'bogus'\n"], ["dangling=maybe", "tsbox: Invalid filter 'dangling=[maybe]'\n"]] as const) {
      const r = tsbox(root, ["images", "-f", f]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(msg);
    }
  });
});
