// The CLI's side of a foreground container's stdio: signals forwarded to the
// container; without -t, pipes copied to and from the CLI's own stdio; with -t a
// pseudo-terminal pumped to and from the CLI's own terminal (raw mode, window
// size), restored on exit. The container never gets the CLI's own fds: through
// /proc/self/fd/N it could reopen a host file or directory given to tsbox.

import { closeSync } from "node:fs";
import tty from "node:tty";
import type { LogTarget, NativeLauncher, OutputFds, StdioPipes } from "../native/launcher.js";

export const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const;

export function forwardSignals(pid: number): () => void {
  const handlers = FORWARDED_SIGNALS.map((sig) => {
    const h = (): void => {
      try { process.kill(pid, sig); } catch { /* already gone */ }
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => { for (const [sig, h] of handlers) process.off(sig, h); };
}

/**
 * --sig-proxy=false: the signals are not the container's; they end the CLI,
 * as Docker's client. A foreground container has no monitor to outlive its
 * CLI (where Docker's keeps running): it is killed (SIGKILL, not the signal)
 * and cleaned up as at any exit, so nothing is left behind.
 */
export function endOnSignals(pid: number): () => void {
  const handlers = FORWARDED_SIGNALS.map((sig) => {
    const h = (): void => {
      try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => { for (const [sig, h] of handlers) process.off(sig, h); };
}

export interface Terminal { close(): Promise<void> }

/** With `log`, the terminal's output also goes to that json-file log (as stdout, a terminal's one stream). */
export function attachTerminal(native: NativeLauncher, master: number, interactive: boolean, log?: LogTarget): Terminal {
  const stdin = process.stdin;
  const wasRaw = stdin.isTTY ? stdin.isRaw : false;
  const logHandle = log ? native.openLog(log) : undefined;
  // A TTY handle on the master reads and writes; libuv polls it like any tty.
  const pty = new tty.ReadStream(master);
  const output = new Promise<void>((resolve) => {
    pty.on("data", (chunk: Buffer) => {
      process.stdout.write(chunk);
      if (logHandle !== undefined) native.appendLog(logHandle, chunk);
    });
    // The master reports EIO once the last slave fd in the container is closed.
    pty.on("error", () => resolve());
    pty.on("end", () => resolve());
    pty.on("close", () => resolve());
  });

  const resize = (): void => {
    if (process.stdout.isTTY) {
      try { native.setWinsize(master, process.stdout.rows, process.stdout.columns); } catch { /* container gone */ }
    }
  };
  resize();
  process.on("SIGWINCH", resize);

  const onInput = (chunk: Buffer): void => { pty.write(chunk); };
  if (interactive) {
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.on("data", onInput);
    stdin.resume();
  }

  return {
    async close() {
      // Give the output already in the pty a moment to drain before detaching.
      await Promise.race([output, new Promise((r) => setTimeout(r, 200))]);
      process.off("SIGWINCH", resize);
      if (interactive) {
        stdin.off("data", onInput);
        stdin.pause();
        if (stdin.isTTY) stdin.setRawMode(wasRaw);
      }
      pty.destroy();
      if (logHandle !== undefined) native.closeLog(logHandle);
    },
  };
}

/**
 * After the container's process exits, how long its output pipes may stay
 * silent before tsbox stops waiting for their EOF. Output already written is
 * in the pipe and is read at once; only a process still holding the pipe (a
 * background process an exec left behind, which outlives the exec'd process
 * in the container) could otherwise keep tsbox forever. Docker waits 2 s too.
 */
export const OUTPUT_IDLE_MS = 2000;

export function closePipes(pipes: StdioPipes): void {
  for (const fd of [pipes.stdin, pipes.stdout, pipes.stderr]) {
    if (fd !== undefined) {
      try { closeSync(fd); } catch { /* already closed */ }
    }
  }
}

export interface AttachedPipes {
  /** Once the container's process has exited: stops copying stdin, drains the outputs (see OUTPUT_IDLE_MS). */
  close(): Promise<void>;
}

/**
 * Copies the CLI's stdin to the container's (with -i) and its stdout/stderr
 * to the CLI's (and, with `log`, to the container's json-file log), in a
 * thread of the shim: Node streams would load `net` and add ~5 ms to every
 * run. Takes the fds; on failure (thrown) they are still the caller's.
 */
export function attachPipes(native: NativeLauncher, pipes: StdioPipes, output?: OutputFds, log?: LogTarget): AttachedPipes {
  const handle = native.copyStdio(pipes, OUTPUT_IDLE_MS, output, log);
  return { close: () => native.finishCopy(handle) };
}
