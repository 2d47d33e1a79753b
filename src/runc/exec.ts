// `tsbox-runc exec`: runc's flags (containerd's shim passes --process FILE
// --detach --pid-file; people type `exec ID CMD ARGS…` with --env, --cwd, --user).

import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { TsboxError, UsageError } from "../errors.js";
import { parseProcess } from "../oci/bundle.js";
import type { GlobalOptions } from "./globals.js";

interface ExecCommandFlags {
  process?: string;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  tty?: boolean;
  cwd?: string;
  env: string[];
  user?: string;
  additionalGids: string[];
  cap: string[];
  noNewPrivs?: boolean;
  preserveFds: string;
  ignorePaused?: boolean;
}

/**
 * exec's own failures (not the process's exit status), as runc reports them:
 * `exec failed: …` and exit status 255, so that a caller can tell them from a
 * process that exited 1.
 */
export class ExecFailedError extends TsboxError {
  constructor(cause: unknown) {
    super(`exec failed: ${cause instanceof Error ? cause.message : String(cause)}`, 255, { cause });
  }
}

const collect = (v: string, all: string[]): string[] => [...all, v];

export function registerExec(program: Command, g: () => GlobalOptions, exit: (code: number) => void): void {
  program.command("exec").argument("<container-id>").argument("[command...]")
    .description("execute new process inside the container")
    .option("-p, --process <file>", "path to the process.json (\"-\": standard input)")
    .option("-d, --detach", "detach from the container's process")
    .option("--pid-file <file>", "specify the file to write the process id to")
    .option("--console-socket <path>", "path to an AF_UNIX socket which will receive the pty master")
    .option("-t, --tty", "allocate a pseudo-TTY")
    .option("--cwd <dir>", "current working directory in the container")
    .option("-e, --env <K=V>", "set environment variables", collect, [])
    .option("-u, --user <uid[:gid]>", "UID (format: <uid>[:<gid>])")
    .option("-g, --additional-gids <gid>", "additional gids", collect, [])
    .option("-c, --cap <cap>", "add a capability to the bounding set for the process", collect, [])
    .option("--no-new-privs", "set the no new privileges value for the process")
    .option("--preserve-fds <n>", "pass N additional file descriptors to the container", "0")
    .option("--ignore-paused", "allow exec in a paused container")
    .passThroughOptions()
    .action(async (id: string, command: string[], f: ExecCommandFlags) => {
      let code: number;
      try {
        code = await execCommand(g(), id, command, f);
      } catch (e) {
        throw new ExecFailedError(e);
      }
      exit(code);
    });
}

async function execCommand(g: GlobalOptions, id: string, command: string[], f: ExecCommandFlags): Promise<number> {
  const preserveFds = Number(f.preserveFds);
  if (!/^\d+$/.test(f.preserveFds) || !Number.isSafeInteger(preserveFds)) {
    throw new UsageError(`invalid value ${JSON.stringify(f.preserveFds)} for flag --preserve-fds`, 1);
  }
  const { execInBundleContainer } = await import("../runtime/bundle/exec.js");
  const gids = f.additionalGids.map((x) => {
    if (!/^\d+$/.test(x)) throw new UsageError(`invalid additional gid ${JSON.stringify(x)}`, 1);
    return Number(x);
  });
  const common = {
    root: g.root, id, detach: f.detach === true, preserveFds, ignorePaused: f.ignorePaused === true,
    ...(f.pidFile !== undefined ? { pidFile: f.pidFile } : {}),
    ...(f.consoleSocket !== undefined ? { consoleSocket: f.consoleSocket } : {}),
  };
  return f.process !== undefined
    ? await execInBundleContainer({ ...common, process: parseProcess(readProcessFile(f.process), f.process) })
    : await execInBundleContainer({
      ...common,
      flags: {
        args: command, env: f.env, additionalGids: gids, caps: f.cap, noNewPrivs: f.noNewPrivs === true, tty: f.tty === true,
        ...(f.cwd !== undefined ? { cwd: f.cwd } : {}), ...(f.user !== undefined ? { user: f.user } : {}),
      },
    });
}

function readProcessFile(file: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    throw new UsageError(`reading the process file ${file}: ${(e as Error).message}`, 1);
  }
}
