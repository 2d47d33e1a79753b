// A terminal on a monitored container: the CLI connects to the monitor's
// `attach` socket (native-shims/monitor/monitor.c): the container's terminal
// output arrives raw; keystrokes and window sizes go as frames
// [type u8][len u16 LE][payload] (0 = input, 1 = rows u16 LE, cols u16 LE).
// The detach keys end the attach and leave the container running. At the
// container's end the monitor half-closes the socket with the exit already
// recorded: it is read before this side closes (and before --rm removes it).

import { closeSync, openSync } from "node:fs";
import { connect } from "node:net";
import { TsboxError } from "../errors.js";
import { containerPaths, readState, type ContainerState } from "../state/container-store.js";
import { DetachScanner } from "./detach-keys.js";

/** How an attach ended: the keys typed (the container runs on), or the container's end (its state then, if still there). */
export type AttachEnd = { detached: true } | { detached: false; state: ContainerState | undefined };

function frame(type: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16LE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Pumps the CLI's terminal to the container's until the container's terminal closes or the detach keys are typed. */
export async function attachTerminal(root: string, id: string, interactive: boolean, detachKeys?: Buffer): Promise<AttachEnd> {
  // Through the dir's fd: the full path may be longer than a socket address may be.
  const dirFd = openSync(containerPaths(root, id).dir, "r");
  const sock = connect({ path: `/proc/self/fd/${dirFd}/attach`, allowHalfOpen: true });
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
  const escape = new DetachScanner(detachKeys ?? Buffer.alloc(0));
  let detach = (): void => {};
  const onInput = (input: Buffer): void => {
    const { pass: chunk, detach: typed } = escape.scan(input);
    for (let off = 0; off < chunk.length; off += 65535) sock.write(frame(0, chunk.subarray(off, off + 65535)));
    if (typed) detach();
  };
  // A new size also makes a shell redraw its prompt, printed before we connected.
  resize();
  process.on("SIGWINCH", resize);
  if (interactive) {
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.on("data", onInput);
    stdin.resume();
  }
  const end = await new Promise<AttachEnd>((resolve) => {
    let done = false;
    const finish = (e: AttachEnd): void => {
      if (done) return;
      done = true;
      resolve(e);
    };
    detach = () => finish({ detached: true });
    sock.on("data", (d: Buffer) => process.stdout.write(d));
    // The monitor's half-close: the exit is in monitor.json now.
    sock.once("end", () => finish({ detached: false, state: readState(root, id) }));
    sock.once("close", () => finish({ detached: false, state: readState(root, id) }));
    sock.once("error", () => finish({ detached: false, state: readState(root, id) }));
  });
  sock.destroy();
  process.off("SIGWINCH", resize);
  if (interactive) {
    stdin.off("data", onInput);
    stdin.pause();
    if (stdin.isTTY) stdin.setRawMode(wasRaw);
  }
  return end;
}
