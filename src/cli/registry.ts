// Registry commands: pull, login, logout.

import { Option, type Command } from "commander";
import { TsboxError, UsageError } from "../errors.js";
import { configureLog } from "../log.js";
import { collect, prepare, type GlobalOpts } from "./common.js";

// Loaded by the command that needs it: `run` must not pay for HTTP and TLS.
const pullApi = async () => (await import("../image/index.js")).pullApi();
const pushApi = async () => (await import("../image/index.js")).pushApi();
const loginApi = async () => (await import("../image/index.js")).loginApi();
const clientApi = async () => (await import("../image/index.js")).registryClientApi();

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`invalid value "${v}": must be a positive integer`);
  return n;
}

/**
 * Runs a transfer that Ctrl-C (or SIGTERM) cancels through its signal, so it
 * stops its transfers and cleans its staging up before exiting 130.
 */
async function interruptible(transfer: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const ac = new AbortController();
  const onSignal = (): void => ac.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await transfer(ac.signal);
  } catch (e) {
    if (!ac.signal.aborted) throw e;
    process.exitCode = 130;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

export function registerRegistryCommands(program: Command): void {
  program.command("pull")
    .description("Download an image from a registry")
    .argument("<name>", "NAME[:TAG|@DIGEST]")
    .option("-a, --all-tags", "Download all tagged images in the repository", false)
    .option("--platform <platform>", "Set platform if server is multi-platform capable (os/arch[/variant])")
    .option("-q, --quiet", "Suppress verbose output", false)
    .option("--insecure-registry <host>", "Allow plain http or unverified TLS for this registry (repeatable)", collect, [])
    .addOption(new Option("--max-concurrent-downloads <n>", "Maximum concurrent layer downloads").argParser(positiveInt).default(3))
    .action(async (name: string, o: { allTags: boolean; platform?: string; quiet: boolean; insecureRegistry: string[]; maxConcurrentDownloads: number }, cmd: Command) => {
      const g = await prepare(cmd);
      const [{ pullImage }, { createProgress, quietProgress }, { insecureRegistriesFrom, retryPolicyFrom }] =
        await Promise.all([pullApi(), import("../image/index.js").then((i) => i.pullProgressApi()), clientApi()]);
      const out = process.stdout;
      const progress = o.quiet ? quietProgress() : createProgress(out, { tty: out.isTTY === true, columns: out.columns ?? 80 });
      await interruptible(async (signal) => {
        const opts = {
          progress,
          insecureRegistries: insecureRegistriesFrom(o.insecureRegistry),
          maxConcurrentDownloads: o.maxConcurrentDownloads,
          retry: retryPolicyFrom(),
          signal,
          ...(o.platform !== undefined ? { platform: o.platform } : {}),
        };
        const { referenceEvent } = await import("./image-events.js");
        const api = await import("../image/index.js");
        if (o.allTags) {
          const { pullAllTags } = await api.pullAllApi();
          const all = await pullAllTags(g.root, name, opts);
          for (const tag of all.tags) referenceEvent(api, g.root, "pull", `${all.name}:${tag}`);
          out.write(`${all.name}\n`);
          return;
        }
        const r = await pullImage(g.root, name, opts);
        referenceEvent(api, g.root, "pull", r.reference);
        out.write(`${r.reference}\n`);
      });
    });

  program.command("push")
    .description("Upload an image to a registry")
    .argument("<name>", "NAME[:TAG]")
    .option("-a, --all-tags", "Push all tagged images in the repository", false)
    .option("-q, --quiet", "Suppress verbose output", false)
    .option("--insecure-registry <host>", "Allow plain http or unverified TLS for this registry (repeatable)", collect, [])
    .action(async (name: string, o: { allTags: boolean; quiet: boolean; insecureRegistry: string[] }, cmd: Command) => {
      const g = await prepare(cmd);
      const [{ pushImage }, { createProgress, quietProgress }, { insecureRegistriesFrom, retryPolicyFrom }] =
        await Promise.all([pushApi(), import("../image/index.js").then((i) => i.pullProgressApi()), clientApi()]);
      const out = process.stdout;
      const progress = o.quiet ? quietProgress() : createProgress(out, { tty: out.isTTY === true, columns: out.columns ?? 80 });
      await interruptible(async (signal) => {
        const chunk = Number(process.env.TSBOX_PUSH_CHUNK_SIZE ?? "");
        const pushed = await pushImage(g.root, name, {
          progress, allTags: o.allTags, insecureRegistries: insecureRegistriesFrom(o.insecureRegistry), retry: retryPolicyFrom(),
          signal, ...(Number.isInteger(chunk) && chunk > 0 ? { chunkSize: chunk } : {}),
        });
        if (o.quiet) for (const t of pushed) out.write(`${t.tag}: digest: ${t.digest}\n`);
        const { referenceEvent } = await import("./image-events.js");
        const api = await import("../image/index.js");
        const repo = api.referenceString(api.parseNormalizedNamed(name)).replace(/:[^:/]*$/, "");
        for (const t of pushed) referenceEvent(api, g.root, "push", `${repo}:${t.tag}`);
      });
    });

  program.command("login")
    .description("Log in to a registry (Docker Hub when no server is given)")
    .argument("[server]", "registry host[:port]")
    .option("-u, --username <user>", "Username")
    .option("-p, --password <password>", "Password")
    .option("--password-stdin", "Take the password from stdin", false)
    .option("--insecure-registry <host>", "Allow plain http or unverified TLS for this registry (repeatable)", collect, [])
    .action(async (server: string | undefined, o: { username?: string; password?: string; passwordStdin: boolean; insecureRegistry: string[] }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      configureLog(g.logLevel, g.logFormat);
      let { username, password } = o;
      if (o.passwordStdin) {
        if (password !== undefined) throw new UsageError("--password and --password-stdin are mutually exclusive");
        if (username === undefined) throw new UsageError("Must provide --username with --password-stdin");
        password = (await readStdin()).replace(/\r?\n$/, "");
      } else if (password !== undefined) {
        process.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
      }
      if (username === undefined || password === undefined) {
        if (process.stdin.isTTY !== true) throw new UsageError("Cannot perform an interactive login from a non TTY device");
        if (username === undefined) username = (await prompt("Username: ", false)).trim();
        if (password === undefined) password = await prompt("Password: ", true);
      }
      if (username === "") throw new UsageError("Username is required");
      if (password === "") throw new UsageError("Password is required");
      const [{ login }, { insecureRegistriesFrom, retryPolicyFrom }, { dockerConfigFile }] =
        await Promise.all([loginApi(), clientApi(), import("../image/index.js").then((i) => i.credentialsApi())]);
      await login(server, { username, password }, { insecureRegistries: insecureRegistriesFrom(o.insecureRegistry), retry: retryPolicyFrom() });
      process.stderr.write(`WARNING! Your password will be stored unencrypted in ${dockerConfigFile()}.\n\n`);
      process.stdout.write("Login Succeeded\n");
    });

  program.command("logout")
    .description("Log out from a registry (Docker Hub when no server is given)")
    .argument("[server]", "registry host[:port]")
    .action(async (server: string | undefined, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOpts>();
      configureLog(g.logLevel, g.logFormat);
      const { logout } = await loginApi();
      const { key, removed } = logout(server);
      process.stdout.write(removed ? `Removing login credentials for ${key}\n` : `Not logged in to ${key}\n`);
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

/** Reads one line from the terminal; `hidden` turns echo off (raw mode) for passwords. */
function prompt(question: string, hidden: boolean): Promise<string> {
  const input = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let line = "";
    const wasRaw = input.isRaw;
    if (hidden) input.setRawMode(true);
    input.resume();
    const done = (err?: Error): void => {
      input.off("data", onData);
      if (hidden) {
        input.setRawMode(wasRaw);
        process.stderr.write("\n");
      }
      input.pause();
      if (err !== undefined) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003" || ch === "\u0004") return done(new TsboxError("login cancelled", 130));
        if (ch === "\u007f" || ch === "\b") line = line.slice(0, -1);
        else line += ch;
      }
    };
    input.on("data", onData);
  });
}
