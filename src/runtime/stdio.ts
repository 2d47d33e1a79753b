// The CLI's side of a foreground container's stdio: signals forwarded to the
// container, and with -t a pseudo-terminal pumped to and from the CLI's own
// terminal (raw mode, window size), restored on exit.

import tty from "node:tty";
import * as shim from "../ns/shim.js";

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
