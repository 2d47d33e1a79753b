// Docker's detach keys (--detach-keys, default ctrl-p,ctrl-q): typed on an
// attached terminal, they detach the CLI and leave the container running. The
// keys' bytes are held back while they match, and passed on as typed when the
// sequence breaks (moby's term.EscapeProxy).

import { UsageError } from "../errors.js";

export const DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q";

/** "ctrl-p,ctrl-q", "ctrl-a,x": each key a single character or ctrl-(a-z @ [ \ ] ^ _). */
export function parseDetachKeys(spec: string): Buffer {
  const bytes: number[] = [];
  for (const key of spec.split(",")) {
    const k = key.trim();
    const ctrl = /^ctrl-(.)$/i.exec(k);
    if (k.length === 1) bytes.push(k.charCodeAt(0));
    else if (ctrl && /^[a-z@[\\\]^_]$/i.test(ctrl[1]!)) {
      const c = ctrl[1]!.toLowerCase();
      bytes.push(c >= "a" && c <= "z" ? c.charCodeAt(0) - 96 : { "@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, _: 31 }[c]!);
    } else throw new UsageError(`Invalid detach keys (${spec}) provided`);
  }
  return Buffer.from(bytes);
}

/** Input through the escape: what to pass on, and whether the keys were typed (the rest of that chunk is dropped). */
export class DetachScanner {
  private held = 0;
  constructor(private readonly keys: Buffer) {}

  scan(chunk: Buffer): { pass: Buffer; detach: boolean } {
    if (this.keys.length === 0) return { pass: chunk, detach: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held]) {
        this.held++;
        if (this.held === this.keys.length) return { pass: Buffer.from(out), detach: true };
        continue;
      }
      // The sequence broke: the held keys go on as typed, then this byte (which may start it again).
      for (let i = 0; i < this.held; i++) out.push(this.keys[i]!);
      this.held = 0;
      if (b === this.keys[0]) this.held = 1;
      else out.push(b);
    }
    return { pass: Buffer.from(out), detach: false };
  }
}
