// How tsbox-runc reports an error, as runc does: a log line at level error,
// which engines read (containerd's shim takes the `msg` of the last JSON line
// with "level":"error" in the --log file). With --log, the line goes to that
// file and the bare message to stderr; without, the line goes to stderr.
// Always one line: a message, never a stack.

import { appendFileSync } from "node:fs";
import { writeErr } from "./output.js";

export type LogFormat = "text" | "json";

export interface ErrorSink {
  logFile?: string;
  format: LogFormat;
}

/** The line runc's logrus writes: JSON, or `time="…" level=error msg="…"`. */
export function errorLine(msg: string, format: LogFormat, now = new Date()): string {
  const time = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  if (format === "json") return `${JSON.stringify({ level: "error", msg, time })}\n`;
  return `time="${time}" level=error msg=${JSON.stringify(msg)}\n`;
}

export function reportError(sink: ErrorSink, message: string): void {
  const msg = message.split("\n")[0]!.trim();
  if (sink.logFile !== undefined) {
    try {
      appendFileSync(sink.logFile, errorLine(msg, sink.format));
    } catch { /* the log file cannot be written: stderr still gets the message */ }
    writeErr(`${msg}\n`);
    return;
  }
  writeErr(errorLine(msg, sink.format));
}
