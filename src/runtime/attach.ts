// A terminal on a monitored container: the CLI connects to the monitor's
// `attach` socket (native-shims/monitor/monitor.c): the container's terminal
// output arrives raw; keystrokes and window sizes go as frames
// [type u8][len u16 LE][payload] (0 = input, 1 = rows u16 LE, cols u16 LE).

import { closeSync, openSync } from "node:fs";
import { connect } from "node:net";
import { TsboxError } from "../errors.js";
import { containerPaths } from "../state/container-store.js";

function frame(type: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16LE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Pumps the CLI's terminal to the container's until the container's terminal closes. */
export async function attachTerminal(root: string, id: string, interactive: boolean): Promise<void> {
  // Through the dir's fd: the full path may be longer than a socket address may be.
  const dirFd = openSync(containerPaths(root, id).dir, "r");
  const sock = connect({ path: `/proc/self/fd/${dirFd}/attach` });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", resolve);
      sock.once("error", (e) => reject(new TsboxError(`cannot attach to container ${id}: ${e.message}`)));
    });
  } finally {
    closeSync(dirFd);
  }
  const stdin = process.stdin;
  const wasRaw = stdin.isTTY ? stdin.isRaw : false;
  const resize = (): void => {
    if (!process.stdout.isTTY) return;
    const size = Buffer.alloc(4);
    size.writeUInt16LE(process.stdout.rows, 0);
    size.writeUInt16LE(process.stdout.columns, 2);
    sock.write(frame(1, size));
  };
  const onInput = (chunk: Buffer): void => {
    for (let off = 0; off < chunk.length; off += 65535) sock.write(frame(0, chunk.subarray(off, off + 65535)));
  };
  // A new size also makes a shell redraw its prompt, printed before we connected.
  resize();
  process.on("SIGWINCH", resize);
  if (interactive) {
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.on("data", onInput);
    stdin.resume();
  }
  await new Promise<void>((resolve) => {
    sock.on("data", (d: Buffer) => process.stdout.write(d));
    sock.once("close", () => resolve());
    sock.once("error", () => resolve());
  });
  process.off("SIGWINCH", resize);
  if (interactive) {
    stdin.off("data", onInput);
    stdin.pause();
    if (stdin.isTTY) stdin.setRawMode(wasRaw);
  }
}
