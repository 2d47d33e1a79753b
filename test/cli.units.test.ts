// The CLI registers only `run` (or `exec`) when that is the command: the word
// after the global options must be found exactly.
import { describe, expect, it } from "vitest";
import { commandWord } from "../src/cli/index.js";

describe("commandWord", () => {
  const w = (...args: string[]) => commandWord(["node", "tsbox", ...args]);
  it("skips global options and their values", () => {
    expect(w("run", "busybox")).toBe("run");
    expect(w("--root", "/r", "run", "busybox")).toBe("run");
    expect(w("--root", "run", "ps")).toBe("ps"); // a root dir named "run"
    expect(w("--log-level", "debug", "--log-format", "json", "exec", "c", "true")).toBe("exec");
    expect(w("--root=/r", "images")).toBe("images");
  });
  it("is undefined without a command", () => {
    expect(w()).toBeUndefined();
    expect(w("--help")).toBeUndefined();
    expect(w("--root", "/r")).toBeUndefined();
  });
});
