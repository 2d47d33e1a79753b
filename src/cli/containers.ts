// Container commands: ps, logs, start, stop, restart, kill, wait, rm, inspect,
// rename, container prune.

import { Option, type Command } from "commander";
import { CorruptContainerError, FlagError, NotFoundError, TsboxError, UsageError } from "../errors.js";
import { collect, eachArg, inspectEach, prepare } from "./common.js";

/** -t: absent, the container's --stop-timeout or Docker's 10 s (the verb decides). */
function timeoutFlag(v: string | undefined): number | undefined {
  return v === undefined ? undefined : intFlag(v, "-t, --timeout");
}

/** An integer flag as Go's strconv.ParseInt takes it, with Docker's flag error. */
function intFlag(v: string, flag: string): number {
  const n = /^[+-]?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new FlagError(`invalid argument "${v}" for "${flag}" flag: strconv.ParseInt: parsing "${JSON.stringify(v).slice(1, -1)}": invalid syntax`);
  return n;
}

/**
 * The container's terminal through its monitor (-t), or its output (from the
 * log, from now on) without one; resolves with its exit code once it exits,
 * or 1 once the detach keys are typed (Docker's `read escape sequence`).
 */
async function attach(root: string, id: string, interactive: boolean, since: string, detachKeys?: string, sigProxy = false): Promise<number> {
  const { readState } = await import("../state/container-store.js");
  const { waitExited } = await import("../runtime/container-control.js");
  const s = readState(root, id);
  if (s?.tty) {
    const [{ attachTerminal }, { parseDetachKeys, DEFAULT_DETACH_KEYS }] =
      await Promise.all([import("../runtime/attach.js"), import("../runtime/detach-keys.js")]);
    const end = await attachTerminal(root, id, interactive, parseDetachKeys(detachKeys ?? DEFAULT_DETACH_KEYS));
    if (end.detached) {
      process.stderr.write("read escape sequence\n");
      return 1;
    }
    if (end.state?.status === "exited") return end.state.exitCode ?? 0;
  } else {
    // --sig-proxy (Docker's default without a terminal): the signals this CLI gets go to the container.
    const stopProxy = sigProxy ? await proxySignals(root, id) : () => undefined;
    try {
      if (s?.logConfig?.driver !== "none") {
        // Without a terminal the output comes from the log: with --log-driver none there is none to show.
        const { showLogs } = await import("../runtime/logs.js");
        await showLogs(root, id, { follow: true, timestamps: false, since }, {
          stdout: (x) => process.stdout.write(x), stderr: (x) => process.stderr.write(x),
        });
      }
      return (await waitExited(root, id))?.exitCode ?? 0;
    } finally {
      stopProxy();
    }
  }
  return (await waitExited(root, id))?.exitCode ?? 0;
}

/** Forwards the usual terminal and job-control signals to the container's PID 1; returns the undo. */
async function proxySignals(root: string, id: string): Promise<() => void> {
  const { killContainer } = await import("../runtime/kill.js");
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
  const handler = (sig: NodeJS.Signals): void => {
    killContainer(root, id, sig).catch(() => undefined); // a container that is gone already: nothing to forward to
  };
  for (const sig of signals) process.on(sig, handler);
  return () => { for (const sig of signals) process.off(sig, handler); };
}

export function registerContainerCommands(program: Command): void {
  registerPs(program);
  registerLogs(program);
  registerStart(program);
  registerAttach(program);
  registerStop(program);
  registerRestart(program);
  registerKill(program);
  registerWait(program);
  registerRm(program);
  registerInspect(program);
  registerRename(program);
  registerPause(program);
  registerContainerGroup(program);
}

function registerPs(program: Command): void {
  program.command("ps")
    .description("List containers")
    .option("-a, --all", "Show all containers (default shows just running)", false)
    .option("-q, --quiet", "Only display container IDs", false)
    .option("--no-trunc", "Don't truncate output")
    .option("-f, --filter <filter>", "Filter output based on conditions provided", collect, [])
    .option("--format <format>", "Format output using a custom template: 'table' or 'json'")
    .option("-n, --last <int>", "Show n last created containers (includes all states)", "-1")
    .option("-l, --latest", "Show the latest created container (includes all states)", false)
    .option("-s, --size", "Display total file sizes", false)
    .action(async (o: { all: boolean; quiet: boolean; trunc: boolean; filter: string[]; format?: string; last: string; latest: boolean; size: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const last = intFlag(o.last, "-n, --last");
      const { listContainers } = await import("../runtime/ps.js");
      process.stdout.write(listContainers(g.root, {
        all: o.all, quiet: o.quiet, noTrunc: !o.trunc, filters: o.filter, ...(o.format ? { format: o.format } : {}),
        // As Docker's client: -l is -n 1 unless -n was given.
        last: o.latest && last === -1 ? 1 : last, size: o.size,
        warn: (line) => process.stderr.write(`WARNING: ${line}\n`),
      }));
    });
}

function registerLogs(program: Command): void {
  program.command("logs")
    .description("Fetch the logs of a container")
    .argument("<container>")
    .option("-f, --follow", "Follow log output", false)
    .option("-n, --tail <n>", "Number of lines to show from the end of the logs", "all")
    .option("-t, --timestamps", "Show timestamps", false)
    .option("--since <time>", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
    .option("--until <time>", "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
    .option("--details", "Show extra details provided to logs", false)
    .action(async (ref: string, o: { follow: boolean; tail: string; timestamps: boolean; since?: string; until?: string; details: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const { showLogs } = await import("../runtime/logs.js");
      await showLogs(g.root, ref, {
        follow: o.follow, tail: o.tail, timestamps: o.timestamps, details: o.details,
        ...(o.since ? { since: o.since } : {}), ...(o.until ? { until: o.until } : {}),
      }, {
        stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s),
      });
    });
}

function registerStart(program: Command): void {
  program.command("start")
    .description("Start one or more stopped containers")
    .argument("<container...>")
    .option("-a, --attach", "Attach STDOUT/STDERR and forward signals", false)
    .option("-i, --interactive", "Attach container's STDIN", false)
    .option("--detach-keys <keys>", "Override the key sequence for detaching a container")
    .action(async (refs: string[], o: { attach: boolean; interactive: boolean; detachKeys?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const { startContainer } = await import("../runtime/start.js");
      if (o.attach || o.interactive) {
        if (refs.length > 1) throw new UsageError("you cannot start and attach multiple containers at once");
        // Every line of this run is logged after this instant.
        const since = new Date().toISOString();
        const s = await startContainer(g.root, refs[0]!, undefined, { attach: true });
        process.exitCode = await attach(g.root, s.id, o.interactive, since, o.detachKeys);
        return;
      }
      await eachArg(refs, async (ref) => {
        await startContainer(g.root, ref);
        process.stdout.write(`${ref}\n`);
      });
    });
}

function registerAttach(program: Command): void {
  program.command("attach")
    .description("Attach local standard input, output, and error streams to a running container")
    .argument("<container>")
    .option("--detach-keys <keys>", "Override the key sequence for detaching a container")
    .option("--no-stdin", "Do not attach STDIN")
    .option("--sig-proxy", "Proxy all received signals to the process (non-TTY mode only)", true)
    .option("--no-sig-proxy", "Do not proxy received signals to the process")
    .action(async (ref: string, o: { detachKeys?: string; stdin: boolean; sigProxy: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const { findContainer } = await import("../state/container-store.js");
      const { isLive } = await import("../runtime/container-control.js");
      const s = findContainer(g.root, ref);
      if (!isLive(s)) throw new TsboxError("You cannot attach to a stopped container, start it first");
      process.exitCode = await attach(g.root, s.id, o.stdin, new Date().toISOString(), o.detachKeys, o.sigProxy);
    });
}

function registerStop(program: Command): void {
  program.command("stop")
    .description("Stop one or more running containers")
    .argument("<container...>")
    .option("-s, --signal <signal>", "Signal to send to the container")
    .option("-t, --timeout <seconds>", "Seconds to wait before killing the container")
    // Docker's deprecated spelling, still taken
    .addOption(new Option("--time <seconds>").hideHelp())
    .action(async (refs: string[], o: { signal?: string; timeout?: string; time?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const t = timeoutFlag(o.timeout ?? o.time);
      const { stopContainer } = await import("../runtime/stop.js");
      await eachArg(refs, async (ref) => {
        await stopContainer(g.root, ref, t, o.signal);
        process.stdout.write(`${ref}\n`);
      });
    });
}

function registerRestart(program: Command): void {
  program.command("restart")
    .description("Restart one or more containers")
    .argument("<container...>")
    .option("-s, --signal <signal>", "Signal to send to the container")
    .option("-t, --timeout <seconds>", "Seconds to wait before killing the container")
    // Docker's deprecated spelling, still taken
    .addOption(new Option("--time <seconds>").hideHelp())
    .action(async (refs: string[], o: { signal?: string; timeout?: string; time?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const t = timeoutFlag(o.timeout ?? o.time);
      const { restartContainer } = await import("../runtime/restart.js");
      await eachArg(refs, async (ref) => {
        await restartContainer(g.root, ref, t, o.signal);
        process.stdout.write(`${ref}\n`);
      });
    });
}

function registerKill(program: Command): void {
  program.command("kill")
    .description("Kill one or more running containers")
    .argument("<container...>")
    .option("-s, --signal <signal>", "Signal to send to the container", "KILL")
    .action(async (refs: string[], o: { signal: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const { killContainer, parseSignal } = await import("../runtime/kill.js");
      parseSignal(o.signal);
      await eachArg(refs, async (ref) => {
        await killContainer(g.root, ref, o.signal);
        process.stdout.write(`${ref}\n`);
      });
    });
}

function registerWait(program: Command): void {
  program.command("wait")
    .description("Block until one or more containers stop, then print their exit codes")
    .argument("<container...>")
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const g = await prepare(cmd);
      const { waitContainer } = await import("../runtime/wait.js");
      await eachArg(refs, async (ref) => {
        process.stdout.write(`${await waitContainer(g.root, ref)}\n`);
      });
    });
}

function registerRm(program: Command): void {
  const rm = (name: string) => program.command(name)
    .description("Remove one or more containers")
    .argument("<container...>")
    .option("-f, --force", "Force the removal of a running container (uses SIGKILL)", false)
    .option("-v, --volumes", "Remove anonymous volumes associated with the container", false)
    .action(async (refs: string[], o: { force: boolean; volumes: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const { removeContainer } = await import("../runtime/remove.js");
      await eachArg(refs, async (ref) => {
        try {
          await removeContainer(g.root, ref, { force: o.force, volumes: o.volumes });
        } catch (e) {
          // As Docker's client: -f reports a container that is not there, and does not fail for it.
          if (!(o.force && e instanceof NotFoundError)) throw e;
          process.stderr.write(`tsbox: ${e.message}\n`);
          return;
        }
        process.stdout.write(`${ref}\n`);
      });
    });
  rm("rm");
}

function registerInspect(program: Command): void {
  program.command("inspect")
    .description("Return low-level information on containers or images")
    .argument("<name...>")
    .option("--type <type>", "Only inspect objects of the given type (container, image)")
    .option("-s, --size", "Display total file sizes if the type is container", false)
    .option("-f, --format <template>", "Format output using a custom template: 'json', or a Go template ({{.State.Status}})")
    .action(async (refs: string[], o: { type?: string; size: boolean; format?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const { findContainer } = await import("../state/container-store.js");
      const { inspectContainer } = await import("../runtime/inspect.js");
      await inspectEach(refs, async (ref) => {
        if (o.type !== "image") {
          try {
            return inspectContainer(g.root, findContainer(g.root, ref), { size: o.size });
          } catch (e) {
            // A container that is there but broken is not an image of that name.
            if (o.type === "container" || !(e instanceof TsboxError) || e instanceof CorruptContainerError) throw e;
          }
        }
        const { inspectImage } = await import("../image/index.js");
        try {
          return inspectImage(g.root, ref);
        } catch (e) {
          if (!(e instanceof TsboxError)) throw e;
          throw new TsboxError(o.type === "image" ? e.message : `No such object: ${ref}`);
        }
      }, o.format);
    });
}

function registerRename(program: Command): void {
  program.command("rename")
    .description("Rename a container")
    .argument("<container>")
    .argument("<new-name>")
    .action(async (ref: string, name: string, _o: unknown, cmd: Command) => {
      const g = await prepare(cmd);
      const { renameContainer } = await import("../runtime/rename.js");
      renameContainer(g.root, ref, name);
    });
}

function registerPause(program: Command): void {
  for (const [name, pause] of [["pause", true], ["unpause", false]] as const) {
    program.command(name)
      .description(pause ? "Pause all processes within one or more containers" : "Unpause all processes within one or more containers")
      .argument("<container...>")
      .action(async (refs: string[], _o: unknown, cmd: Command) => {
        const g = await prepare(cmd);
        const { pauseContainer } = await import("../runtime/pause.js");
        await eachArg(refs, async (ref) => {
          await pauseContainer(g.root, ref, pause);
          process.stdout.write(`${ref}\n`);
        });
      });
  }
}

function registerContainerGroup(program: Command): void {
  const container = program.command("container").description("Manage containers");
  container.command("prune")
    .description("Remove all stopped containers")
    .option("--filter <filter>", "Provide filter values (e.g. \"until=<timestamp>\")", collect, [])
    .option("-f, --force", "Do not prompt for confirmation", false)
    .action(async (o: { filter: string[]; force: boolean }, cmd: Command) => {
      const g = await prepare(cmd);
      const { parsePruneFilters, pruneFilterMatches } = await import("./prune-filter.js");
      const filter = parsePruneFilters(o.filter);
      const { confirm } = await import("./confirm.js");
      if (!o.force && !(await confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "))) return;
      const { pruneContainers } = await import("../runtime/prune.js");
      const { humanSize } = await import("../format.js");
      const { ids, bytes } = await pruneContainers(g.root, (c) => pruneFilterMatches(filter, c));
      process.stdout.write(ids.length ? `Deleted Containers:\n${ids.map((i) => `${i}\n`).join("")}\n` : "");
      process.stdout.write(`Total reclaimed space: ${humanSize(bytes)}\n`);
    });
}
