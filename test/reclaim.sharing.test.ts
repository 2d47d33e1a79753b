// What the model predicts KSM would share, end to end on real containers:
// only exclusively anonymous pages can be merged (issue 17, item 1). Two
// containers map two copies of one file: identical contents in distinct
// page-cache pages, which KSM never merges.
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cgroupDirsOf, containerIds, REPO, removeRoot, rootWithBusybox, tsbox, tsboxAsync, until } from "./helpers.js";

let root: string;
let dir: string;
const clis: ChildProcess[] = [];
const FILE_MIB = 8;
const FILE_PAGES = (FILE_MIB * 1024 * 1024) / 4096;

async function startMapper(name: string, copy: string): Promise<void> {
  // the container writes its own copy, so its page cache is charged to the container's cgroup
  const cli = tsboxAsync(root, ["run", "--rm", "--name", name, "-v", `${dir}/src:/s:ro`, "-v", `${copy}:/d`, "busybox",
    "sh", "-c", "cp /s/data /d/data && exec /s/mapfile /d/data"]);
  clis.push(cli);
  let out = "";
  cli.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
  cli.stderr!.on("data", (d: Buffer) => { out += d.toString(); });
  await until(() => out.includes("mapped"), `${name} mapped (${out})`, 60_000);
}

beforeAll(async () => {
  root = rootWithBusybox();
  mkdirSync(join(REPO, ".tmp"), { recursive: true });
  dir = mkdtempSync(join(REPO, ".tmp", "sharing-"));
  mkdirSync(join(dir, "src"));
  const cc = spawnSync("cc", ["-static", "-O2", "-o", join(dir, "src", "mapfile"), join(REPO, "test", "fixtures", "mapfile.c")], { encoding: "utf8" });
  if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`);
  writeFileSync(join(dir, "src", "data"), randomBytes(FILE_MIB * 1024 * 1024));
  // two copies: same bytes, different inodes, so different page-cache pages
  for (const c of ["a", "b"]) mkdirSync(join(dir, c));
  await startMapper("filea", join(dir, "a"));
  await startMapper("fileb", join(dir, "b"));
}, 120_000);

afterAll(async () => {
  const ids = containerIds(root);
  for (const cli of clis) {
    const exited = new Promise((r) => { if (cli.exitCode !== null) r(null); else cli.on("exit", r); });
    cli.kill("SIGTERM");
    await exited;
  }
  for (const id of ids) expect(cgroupDirsOf(id)).toEqual([]);
  removeRoot(root);
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("mem simulate --containers: sharing over anonymous pages only", () => {
  it("identical files in two containers are not predicted as KSM sharing, and still count as the containers' memory", () => {
    const r = tsbox(root, ["mem", "simulate", "--containers", "filea", "--containers", "fileb", "--host-memory", "1GiB",
      "--policy", "sharing", "--steps", "2", "--no-density", "--format", "json"], { timeout: 180_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as { guests: { name: string; sizePages: number; mean: { shared: number; resident: number } }[] };
    expect(rep.guests.map((g) => g.name)).toEqual(["filea", "fileb"]);
    const shared = rep.guests.reduce((n, g) => n + g.mean.shared, 0);
    // the mappers' own anonymous memory (stack, libc data) is a few dozen pages; the file is 2048
    expect(shared).toBeLessThan(FILE_PAGES / 16);
    // the file pages are still each container's memory (its page cache), once each
    for (const g of rep.guests) expect(g.mean.resident).toBeGreaterThanOrEqual(FILE_PAGES * 0.9);
  });

  it("mem scan --anonymous finds no sharing in the file pages; the scan over every page finds them as duplicates", () => {
    const scan = (extra: string[]) => JSON.parse(tsbox(root, ["mem", "scan", "--format", "json", ...extra, "filea", "fileb"], { timeout: 120_000 }).stdout) as
      { containers: { duplicateAcross: number }[] };
    expect(scan([]).containers[1]!.duplicateAcross).toBeGreaterThanOrEqual(FILE_PAGES * 0.9);
    expect(scan(["--anonymous"]).containers[1]!.duplicateAcross).toBeLessThan(FILE_PAGES / 16);
  });
});
