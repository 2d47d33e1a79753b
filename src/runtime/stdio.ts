// The CLI's side of a foreground container's stdio: signals forwarded to the
// container; without -t, pipes copied to and from the CLI's own stdio; with -t a
// pseudo-terminal pumped to and from the CLI's own terminal (raw mode, window
// size), restored on exit. The container never gets the CLI's own fds: through
// /proc/self/fd/N it could reopen a host file or directory given to tsbox.

import { closeSync } from "node:fs";
import net from "node:net";
import tty from "node:tty";
import * as shim from "../ns/shim.js";
import type { StdioPipes } from "../ns/shim.js";

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

export interface Terminal { close(): Promise<void> }

export function attachTerminal(master: number, interactive: boolean): Terminal {
  const stdin = process.stdin;
  const wasRaw = stdin.isTTY ? stdin.isRaw : false;
  // A TTY handle on the master reads and writes; libuv polls it like any tty.
  const pty = new tty.ReadStream(master);
  const output = new Promise<void>((resolve) => {
    pty.on("data", (chunk: Buffer) => process.stdout.write(chunk));
    // The master reports EIO once the last slave fd in the container is closed.
    pty.on("error", () => resolve());
    pty.on("end", () => resolve());
    pty.on("close", () => resolve());
  });

  const resize = (): void => {
    if (process.stdout.isTTY) {
      try { shim.setWinsize(master, process.stdout.rows, process.stdout.columns); } catch { /* container gone */ }
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

/** Copies the CLI's stdin to the container's (with -i) and its stdout/stderr to the CLI's. Takes the fds. */
export function attachPipes(pipes: StdioPipes): AttachedPipes {
  const outputs: OutputCopy[] = [];
  // Getters: Node builds process.stdout/stderr on first use (~2 ms for a pipe),
  // which a container that prints nothing should not pay at its start.
  if (pipes.stdout !== undefined) outputs.push(copyOutput(pipes.stdout, () => process.stdout));
  if (pipes.stderr !== undefined) outputs.push(copyOutput(pipes.stderr, () => process.stderr));
  const stopInput = pipes.stdin !== undefined ? copyInput(pipes.stdin) : undefined;
  return {
    async close() {
      stopInput?.();
      await Promise.all(outputs.map((o) => o.drain(OUTPUT_IDLE_MS)));
    },
  };
}

interface OutputCopy { drain(idleMs: number): Promise<void> }

// A net.Socket on the pipe: libuv polls it (non-blocking on this end only: the
// container's end is another open file description and stays blocking), and
// destroy() cancels a pending read, which a threadpool fs read could not.
function copyOutput(fd: number, target: () => NodeJS.WriteStream): OutputCopy {
  const pipe = new net.Socket({ fd, readable: true, writable: false });
  let out: NodeJS.WriteStream | undefined;
  let idleMs: number | undefined;  // set once the process has exited
  let idle: NodeJS.Timeout | undefined;
  let blocked = false;  // waiting for `out` to drain: silence is then ours, not the container's
  let finish!: () => void;
  const done = new Promise<void>((resolve) => { finish = resolve; });
  const stop = (): void => {
    clearTimeout(idle);
    out?.off("error", stop);
    // Closing the only read end: the container's next write gets SIGPIPE/EPIPE.
    pipe.destroy();
    finish();
  };
  const arm = (): void => {
    clearTimeout(idle);
    if (idleMs !== undefined && !blocked) idle = setTimeout(stop, idleMs);
  };
  pipe.on("data", (chunk: Buffer) => {
    if (out === undefined) {
      out = target();
      // EPIPE (`tsbox run … | head -1`) or any write error: stop copying this stream.
      out.on("error", stop);
    }
    if (out.write(chunk)) { arm(); return; }
    blocked = true;
    clearTimeout(idle);
    pipe.pause();
    out.once("drain", () => { blocked = false; pipe.resume(); arm(); });
  });
  pipe.on("end", stop);
  pipe.on("close", stop);
  pipe.on("error", stop);
  return {
    drain(ms) {
      idleMs = ms;
      arm();
      return done;
    },
  };
}

/** With -i: the CLI's stdin to the container's, its EOF passed on as the pipe's. Returns the stop. */
function copyInput(fd: number): () => void {
  const pipe = new net.Socket({ fd, readable: false, writable: true });
  const stdin = process.stdin;
  const onData = (chunk: Buffer): void => {
    if (!pipe.write(chunk)) {
      stdin.pause();
      pipe.once("drain", () => stdin.resume());
    }
  };
  const onEnd = (): void => { pipe.end(); };
  const stop = (): void => {
    stdin.off("data", onData);
    stdin.off("end", onEnd);
    stdin.off("error", onEnd);
    stdin.pause();
    pipe.destroy();
  };
  // EPIPE: the container closed its stdin; nothing more to pass on.
  pipe.on("error", stop);
  stdin.on("data", onData);
  stdin.on("end", onEnd);
  // Unreadable stdin (a directory, EISDIR): the container sees EOF.
  stdin.on("error", onEnd);
  stdin.resume();
  return stop;
}
