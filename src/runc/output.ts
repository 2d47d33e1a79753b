// tsbox-runc's stdout and stderr, written straight to fds 1 and 2. Node's
// process.stdout / process.stderr streams are built on first use, which costs
// ~2.5 ms of every call (the stream modules load then); engines call
// tsbox-runc for each step of each container, and its output is a line or two.

import { writeSync } from "node:fs";

const pause = new Int32Array(new SharedArrayBuffer(4));

function writeFd(fd: number, text: string): void {
  const data = Buffer.from(text);
  for (let off = 0; off < data.length;) {
    try {
      off += writeSync(fd, data, off, data.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A pipe someone else made non-blocking: wait for room, as the stream would.
      if (code === "EAGAIN") { Atomics.wait(pause, 0, 0, 1); continue; }
      // The reader is gone (EPIPE) or there is no such fd: nothing to tell anyone.
      return;
    }
  }
}

export const writeOut = (text: string): void => writeFd(1, text);
export const writeErr = (text: string): void => writeFd(2, text);
