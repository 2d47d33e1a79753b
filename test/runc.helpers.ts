// Shared by the tsbox-runc tests: the command run as an engine runs it, bundles
// of `tsbox-runc spec`'s config.json on a given rootfs, state, and the
// container's cgroup directories. Each test file has its own state root, work
// directory and rootfs; `dirs` hands them over once its beforeAll made them.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";
import { REPO, type Result } from "./helpers.js";

export const RUNC = join(REPO, "bin", "tsbox-runc.js");

export interface RuncDirs { work: string; root: string; rootfs: string }

// The config.json tests edit is free-form JSON.
export type ConfigEdit = (c: Record<string, any>) => void;

export interface RuncHarness {
  /**
   * tsbox-runc with its stdout and stderr in files, not pipes: the container
   * gets them as they are (as an engine's fifos), so a pipe would stay open, and
   * a reader waiting for its end would wait, as long as the container lives.
   */
  runc(args: string[], opts?: { input?: string }): Result;
  /** A bundle whose config.json is `tsbox-runc spec`'s, with this command, on the rootfs. */
  bundle(args: string[], edit?: ConfigEdit): string;
  state(id: string): Record<string, unknown>;
  newId(): string;
  /** A fresh number, for file names in the work directory. */
  next(): number;
}

export function runcHarness(dirs: () => RuncDirs, idPrefix: string): RuncHarness {
  let counter = 0;
  const next = (): number => ++counter;
  const runc = (args: string[], opts: { input?: string } = {}): Result => {
    const { work, root } = dirs();
    const n = next();
    const out = join(work, `out-${n}`);
    const err = join(work, `err-${n}`);
    const fds = [openSync(out, "w+"), openSync(err, "w+")] as const;
    let r: ReturnType<typeof spawnSync>;
    try {
      r = spawnSync(process.execPath, ["--", RUNC, "--root", root, ...args],
        { stdio: [opts.input === undefined ? "ignore" : "pipe", fds[0], fds[1]], timeout: 60_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    const result = { code: r.status ?? 128 + 9, stdout: readFileSync(out, "utf8"), stderr: readFileSync(err, "utf8") };
    rmSync(out);
    rmSync(err);
    return result;
  };
  const bundle = (args: string[], edit: ConfigEdit = () => {}): string => {
    const { work, rootfs } = dirs();
    const dir = join(work, `bundle-${next()}`);
    mkdirSync(dir);
    const r = runc(["spec", "--bundle", dir]);
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, any>;
    c.process.terminal = false;
    c.process.args = args;
    c.root = { path: rootfs, readonly: false };
    edit(c);
    writeFileSync(join(dir, "config.json"), JSON.stringify(c));
    return dir;
  };
  const state = (id: string): Record<string, unknown> => {
    const r = runc(["state", id]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  return { runc, bundle, state, newId: () => `${idPrefix}${process.pid}-${next()}`, next };
}

/** The container's cgroup directories (tsbox/runc/<id> without a cgroupsPath), in every hierarchy. */
export function cgroupDirs(parent: string, id: string): string[] {
  return ["/sys/fs/cgroup", ...readdirSync("/sys/fs/cgroup").map((d) => join("/sys/fs/cgroup", d))]
    .map((b) => join(b, parent, id)).filter((p) => existsSync(p));
}
