// Issue 16, item 4 (part): `ps -l`, `ps -n N`, `ps -s`, `inspect --size` and `system df -v`,
// with Docker's columns (its tabwriter: a column is its widest cell plus 3, at
// least 10) and its SIZE text, `3B (virtual 1.99MB)`.
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { table } from "../src/format.js";
import { busyboxTarball, removeRoot, rootWithBusybox, tsbox } from "./helpers.js";

describe("table (pure)", () => {
  it("pads each column to its widest cell plus 3, at least 10, as Docker's tabwriter", () => {
    expect(table(["A", "PORTS", "NAMES"], [["x", "", "n"]])).toBe("A         PORTS     NAMES\nx                   n\n");
    expect(table(["CONTAINER ID", "IMAGE"], [["0123456789ab", "busybox:latest"]])).toBe(
      "CONTAINER ID   IMAGE\n0123456789ab   busybox:latest\n");
  });
});

describe("on the command line", () => {
  let root: string;
  beforeAll(() => {
    root = rootWithBusybox();
    // oldest first: "up" runs, "first" and "second" have exited
    expect(tsbox(root, ["run", "-d", "--name", "up", "--network", "none", "busybox", "sh", "-c", "printf hello > /x; sleep 600"]).code).toBe(0);
    expect(tsbox(root, ["run", "--name", "first", "--network", "none", "busybox", "true"]).code).toBe(0);
    expect(tsbox(root, ["run", "--name", "second", "--network", "none", "busybox", "sh", "-c", "printf 0123456789 > /y"]).code).toBe(0);
  });
  afterAll(() => {
    tsbox(root, ["rm", "-f", "up"]);
    removeRoot(root);
  });

  const names = (args: string[]): string[] => tsbox(root, ["ps", ...args]).stdout.trim().split("\n").slice(1).map((l) => l.split(/ +/).at(-1) ?? "");

  it("-l is the latest created in any state, -n N the N last; -n -1 (the default) no limit", () => {
    expect(names([])).toEqual(["up"]);
    expect(names(["-l"])).toEqual(["second"]);
    expect(names(["-n", "2"])).toEqual(["second", "first"]);
    expect(names(["-n", "5"])).toEqual(["second", "first", "up"]);
    expect(names(["-n", "-1"])).toEqual(["up"]);
    expect(names(["-l", "-n", "2"])).toEqual(["second", "first"]); // -n wins over -l
    expect(tsbox(root, ["ps", "-lq"]).stdout).toMatch(/^[0-9a-f]{12}\n$/);
    expect(names(["-n", "2", "-f", "name=up"])).toEqual(["up"]);
    const bad = tsbox(root, ["ps", "-n", "x"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe('tsbox: invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": invalid syntax\n');
  });

  it("-s: the SIZE column, the read-write layer's bytes and the virtual size with the image", () => {
    const out = tsbox(root, ["ps", "-a", "-s"]).stdout.split("\n");
    expect(out[0]).toMatch(/^CONTAINER ID   IMAGE     COMMAND +CREATED +STATUS +PORTS     NAMES     SIZE$/);
    const size = (name: string): string => (out.find((l) => l.includes(`   ${name}   `)) ?? "").replace(/^.*   /, "");
    expect(size("second")).toMatch(/^10B \(virtual 1\.\d\dMB\)$/);
    expect(size("first")).toMatch(/^0B \(virtual 1\.\d\dMB\)$/);
    expect(size("up")).toMatch(/^5B \(virtual 1\.\d\dMB\)$/);
    const json = JSON.parse(tsbox(root, ["ps", "-l", "-s", "--format", "json"]).stdout) as { Size: string };
    expect(json.Size).toMatch(/^10B \(virtual 1\.\d\dMB\)$/);
  });

  it("inspect --size adds SizeRw and SizeRootFs after GraphDriver; without it they are absent", () => {
    const [withSize] = JSON.parse(tsbox(root, ["inspect", "--size", "second"]).stdout) as Record<string, unknown>[];
    const [plain] = JSON.parse(tsbox(root, ["inspect", "second"]).stdout) as Record<string, unknown>[];
    expect(withSize!.SizeRw).toBe(10);
    expect(withSize!.SizeRootFs as number).toBeGreaterThan(1_000_000);
    const keys = Object.keys(withSize!);
    expect(keys.indexOf("SizeRw")).toBe(keys.indexOf("GraphDriver") + 1);
    expect(keys.indexOf("SizeRootFs")).toBe(keys.indexOf("SizeRw") + 1);
    expect(plain).not.toHaveProperty("SizeRw");
    expect(plain).not.toHaveProperty("SizeRootFs");
    const s = JSON.parse(tsbox(root, ["inspect", "-s", "busybox"]).stdout) as Record<string, unknown>[];
    expect(s[0]).not.toHaveProperty("SizeRw"); // an image: --size is a container's option
  });

  it("system df -v: Docker's four sections; a layer two images are made of is their shared size", () => {
    expect(tsbox(root, ["commit", "second", "committed:1"]).code).toBe(0);
    const out = tsbox(root, ["system", "df", "-v"]);
    expect(out.code).toBe(0);
    const sections = out.stdout.split("\n\n");
    expect(sections[0]).toBe("Images space usage:");
    expect(sections[2]).toBe("Containers space usage:");
    expect(sections[4]).toBe("Local Volumes space usage:");
    expect(sections[5]).toBe("VOLUME NAME   LINKS     SIZE");
    expect(sections[6]).toBe("Build cache usage: 0B");
    expect(sections[7]).toBe("CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n");
    const images = sections[1]!.split("\n");
    expect(images[0]).toMatch(/^REPOSITORY   TAG +IMAGE ID       CREATED +SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS$/);
    const row = (name: string): string[] => (images.find((l) => l.startsWith(`${name} `)) ?? "").split(/ {2,}/);
    // busybox's one layer is committed:1's first: shared by both; committed:1's own layer (the 10 bytes of /y) is its unique size
    expect(row("busybox")[5]).toMatch(/^1\.\d{3}MB$/);
    expect(row("busybox")[6]).toBe("0B");
    expect(row("busybox")[7]).toBe("3");
    expect(row("committed")[5]).toBe(row("busybox")[5]);
    expect(row("committed")[6]).toMatch(/^\d+B$/);
    expect(row("committed")[7]).toBe("0");
    const containers = sections[3]!.split("\n");
    expect(containers[0]).toMatch(/^CONTAINER ID   IMAGE     COMMAND +LOCAL VOLUMES   SIZE      CREATED +STATUS +NAMES$/);
    expect(containers.find((l) => l.endsWith("   second"))?.split(/ {2,}/)[4]).toBe("10B");
    expect(tsbox(root, ["rmi", "committed:1"]).code).toBe(0);
  });

  it("Docker lays out ps -s and inspect --size the same way", () => {
    if (spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status !== 0) {
      console.warn("cli.ps-size: Docker comparison skipped: `docker info` failed");
      return;
    }
    const tag = `tsbox-ps-size:${process.pid}`;
    const d = (args: string[]): string => spawnSync("docker", args, { encoding: "utf8", input: undefined }).stdout;
    expect(spawnSync("docker", ["import", busyboxTarball(), tag]).status).toBe(0);
    const name = `tsbox-ps-size-${process.pid}`;
    try {
      d(["run", "--name", name, "--network", "none", tag, "sh", "-c", "printf 0123456789 > /y"]);
      const dout = d(["ps", "-a", "-s", "--filter", `name=${name}`]).split("\n");
      expect(dout[0]).toMatch(/^CONTAINER ID   IMAGE +COMMAND +CREATED +STATUS +PORTS     NAMES +SIZE$/);
      expect(dout[1]).toMatch(/   10B \(virtual 1\.\d\dMB\)$/);
      const [di] = JSON.parse(d(["inspect", "--size", name])) as Record<string, unknown>[];
      const keys = Object.keys(di!);
      expect(di!.SizeRw).toBe(10);
      expect(keys.indexOf("SizeRw")).toBe(keys.indexOf("GraphDriver") + 1);
      expect(d(["ps", "-l", "-q"]).trim()).toMatch(/^[0-9a-f]{12}$/);
      const df = d(["system", "df", "-v"]).split("\n\n");
      expect(df[0]).toBe("Images space usage:");
      expect(df[1]!.split("\n")[0]).toMatch(/^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE   UNIQUE SIZE   CONTAINERS$/);
      expect(df[2]).toBe("Containers space usage:");
      expect(df[3]!.split("\n")[0]).toMatch(/^CONTAINER ID   IMAGE +COMMAND +LOCAL VOLUMES   SIZE +CREATED +STATUS +NAMES$/);
      expect(df[4]).toBe("Local Volumes space usage:");
      expect(df.find((x) => x.startsWith("Build cache usage: "))).toMatch(/^Build cache usage: \S+$/);
      expect(df.at(-1)!.split("\n")[0]).toBe("CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED");
    } finally {
      spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" });
      spawnSync("docker", ["rmi", tag], { stdio: "ignore" });
    }
  });
});
