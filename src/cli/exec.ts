// `tsbox exec` and `tsbox top`: commands on a running container's processes.

import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { parseEnvFile } from "../oci/specconv.js";
import { collect, prepare, readText } from "./common.js";

export function registerExecCommands(program: Command): void {
  program.command("exec")
    .description("Execute a command in a running container")
    .argument("<container>", "container name or ID")
    .argument("<command...>", "command and arguments")
    .passThroughOptions()
    .option("-d, --detach", "Detached mode: run command in the background", false)
    .option("-e, --env <KEY=VALUE>", "Set environment variables", collect, [])
    .option("--env-file <file>", "Read in a file of environment variables", collect, [])
    .option("-i, --interactive", "Keep STDIN open even if not attached", false)
    .option("--privileged", "Give extended privileges to the command", false)
    .option("-t, --tty", "Allocate a pseudo-TTY", false)
    .option("-u, --user <user[:group]>", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
    .option("-w, --workdir <dir>", "Working directory inside the container")
    .action(async (container: string, command: string[], o: Record<string, unknown>, cmd: Command) => {
      const g = await prepare(cmd);
      const env = [
        ...(o.envFile as string[]).flatMap((f) => parseEnvFile(readText(f), f)),
        ...(o.env as string[]),
      ];
      const tty = Boolean(o.tty);
      const interactive = Boolean(o.interactive);
      if (tty && interactive && !o.detach && !process.stdin.isTTY) throw new UsageError("the input device is not a TTY");
      const { execInContainer } = await import("../runtime/exec.js");
      process.exitCode = await execInContainer({
        root: g.root, container, cmd: command, interactive, tty, detach: Boolean(o.detach), env,
        ...(o.workdir !== undefined ? { workdir: String(o.workdir) } : {}),
        ...(o.user !== undefined ? { user: String(o.user) } : {}),
        ...(o.privileged ? { privileged: true } : {}),
      });
    });

  program.command("top")
    .description("Display the running processes of a container")
    .argument("<container>", "container name or ID")
    .argument("[ps-options...]", "options for ps (default -ef)")
    .passThroughOptions()
    .allowUnknownOption()
    .action(async (container: string, psArgs: string[], _o: unknown, cmd: Command) => {
      const g = await prepare(cmd);
      const { containerTop, formatTop } = await import("../runtime/top.js");
      process.stdout.write(formatTop(containerTop(g.root, container, psArgs)));
    });
}
