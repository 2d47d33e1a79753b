// The lifecycle verbs of tsbox-runc (runc's flags and wording): create, start,
// run, state, kill, delete. Each calls runtime/bundle/ and prints what runc prints.

import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { deleteBundleContainer } from "../runtime/bundle/delete.js";
import { killBundleContainer } from "../runtime/bundle/kill.js";
import { startBundleContainer } from "../runtime/bundle/start.js";
import { bundleCgroup, bundleContainer, bundleStatus, ociState } from "../runtime/bundle/status.js";
import { hostCgroups } from "../runtime/running.js";
import type { GlobalOptions } from "./globals.js";
import { writeOut } from "./output.js";

interface CreateFlags {
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  pivot: boolean;
  newKeyring: boolean;
  preserveFds: string;
}

function addCreateFlags(c: Command): Command {
  return c
    .option("-b, --bundle <dir>", "path to the root of the bundle directory", ".")
    .option("--console-socket <path>", "path to an AF_UNIX socket which will receive the pty master")
    .option("--pid-file <file>", "specify the file to write the process id to")
    .option("--no-pivot", "do not use pivot root to jail process inside rootfs (accepted; tsbox always pivots)")
    .option("--no-new-keyring", "do not create a new session keyring for the container")
    .option("--preserve-fds <n>", "pass N additional file descriptors to the container", "0");
}

function createRequest(g: GlobalOptions, id: string, f: CreateFlags) {
  const preserveFds = Number(f.preserveFds);
  if (!/^\d+$/.test(f.preserveFds) || !Number.isSafeInteger(preserveFds)) {
    throw new UsageError(`invalid value ${JSON.stringify(f.preserveFds)} for flag --preserve-fds`, 1);
  }
  return {
    root: g.root, id, bundle: f.bundle, systemdCgroup: g.systemdCgroup,
    ...(f.pidFile !== undefined ? { pidFile: f.pidFile } : {}),
    ...(f.consoleSocket !== undefined ? { consoleSocket: f.consoleSocket } : {}),
    noPivot: !f.pivot, noNewKeyring: !f.newKeyring,
    preserveFds,
  };
}

export function registerLifecycle(program: Command, g: () => GlobalOptions, exit: (code: number) => void): void {
  addCreateFlags(program.command("create").argument("<container-id>")
    .description("create a container"))
    .action(async (id: string, f: CreateFlags) => {
      // Loaded when used: the verbs that launch bring in the native binding (ffi-rs), the others need not.
      const { createBundleContainer } = await import("../runtime/bundle/create.js");
      await createBundleContainer(createRequest(g(), id, f));
    });

  program.command("start").argument("<container-id>").description("executes the user defined process in a created container")
    .action(async (id: string) => {
      await startBundleContainer(g().root, id);
    });

  addCreateFlags(program.command("run").argument("<container-id>").description("create and run a container"))
    .option("-d, --detach", "detach from the container's process")
    .option("--keep", "do not delete the container after it exits")
    .option("--no-subreaper", "accepted: the foreground run reaps its container itself")
    .action(async (id: string, f: CreateFlags & { detach?: boolean; keep?: boolean }) => {
      const { runBundleContainer } = await import("../runtime/bundle/run.js");
      const code = await runBundleContainer({ ...createRequest(g(), id, f), detach: f.detach === true, keep: f.keep === true });
      exit(code);
    });

  program.command("state").argument("<container-id>").description("output the state of a container")
    .action((id: string) => {
      const root = g().root;
      const s = bundleContainer(root, id);
      const status = bundleStatus(root, s, () => bundleCgroup(hostCgroups.hierarchy(), s, hostCgroups));
      writeOut(`${JSON.stringify(ociState(s, status), null, 2)}\n`);
    });

  program.command("kill").argument("<container-id>").argument("[signal]", "signal name or number", "SIGTERM")
    .description("kill sends the specified signal (default: SIGTERM) to the container's init process")
    .option("-a, --all", "send the specified signal to all processes inside the container")
    .action(async (id: string, signal: string, f: { all?: boolean }) => {
      await killBundleContainer(g().root, id, signal, f.all === true);
    });

  program.command("delete").argument("<container-id>").description("delete any resources held by the container")
    .option("-f, --force", "forcibly deletes the container if it is still running (uses SIGKILL)")
    .action(async (id: string, f: { force?: boolean }) => {
      await deleteBundleContainer(g().root, id, f.force === true);
    });
}
