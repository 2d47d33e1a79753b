// `tsbox logs`: reads the monitor's json-file log (container.log and its
// rotations .1 … .N, oldest first), with Docker's --tail, --since, --until, -t
// and -f. The same log whether the monitor (-d) or the CLI's copier
// (foreground) wrote it; none with --log-driver none.

import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { TsboxError, UsageError } from "../errors.js";
import { ShapeError, object, oneOf, parseChecked, string, type Check } from "../util/shape.js";
import { containerPaths, findContainer, ownerAlive, readState } from "../state/container-store.js";

export interface LogsOptions {
  follow: boolean; tail?: string; timestamps: boolean; since?: string; until?: string;
  /** --details: the log's extra attributes before each line (tsbox's json-file log has none: an empty field) */
  details?: boolean;
}
interface Entry { log: string; stream: "stdout" | "stderr"; time: string }
const checkEntry: Check<Entry> = object({ log: string, stream: oneOf("stdout", "stderr"), time: string });
export interface LogSink { stdout(s: string): void; stderr(s: string): void }

/** --since, --until: RFC 3339, a Unix timestamp, or a duration before now ("10m", "1h30m"); ms since the epoch. */
export function parseSince(v: string, now = Date.now(), flag = "since"): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const dur = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(v);
  if (dur && v !== "") return now - ((Number(dur[1] ?? 0) * 60 + Number(dur[2] ?? 0)) * 60 + Number(dur[3] ?? 0)) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`invalid value for "${flag}": failed to parse value as time or duration: "${v}"`);
  return t;
}

function readAll(path: string, from = 0): { text: string; end: number } {
  const fd = openSync(path, "r");
  try {
    const size = statSync(path).size;
    if (size < from) from = 0; // rotated or truncated under us
    const buf = Buffer.alloc(size - from);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, from + off);
      if (n === 0) break;
      off += n;
    }
    // Only whole lines: the monitor may be mid-write.
    const last = buf.lastIndexOf(0x0a, off - 1);
    return { text: buf.subarray(0, last + 1).toString("utf8"), end: from + last + 1 };
  } finally {
    closeSync(fd);
  }
}

function parse(text: string): Entry[] {
  const out: Entry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      out.push(parseChecked(line, checkEntry));
    } catch (e) {
      if (!(e instanceof ShapeError)) throw e; // else a torn line after a crash
    }
  }
  return out;
}

export async function showLogs(root: string, ref: string, o: LogsOptions, sink: LogSink): Promise<void> {
  const state = findContainer(root, ref);
  // Docker's daemon answers so (exit 1) for a driver it cannot read back.
  if (state.logConfig?.driver === "none") throw new TsboxError("configured logging driver does not support reading", 1);
  const path = containerPaths(root, state.id).log;
  const since = o.since !== undefined ? parseSince(o.since) : undefined;
  const until = o.until !== undefined ? parseSince(o.until, Date.now(), "until") : undefined;
  let tail: number | undefined;
  if (o.tail !== undefined && o.tail !== "all") {
    tail = Number(o.tail);
    if (!Number.isInteger(tail) || tail < 0) throw new UsageError(`invalid value for "tail": "${o.tail}"`);
  }
  const write = (entries: Entry[]): void => {
    for (const e of entries) {
      const t = Date.parse(e.time);
      if (since !== undefined && t < since) continue;
      if (until !== undefined && t > until) continue;
      // Docker's layout: TIME, then the attributes (none here) and a space with --details, then the line.
      const text = `${o.timestamps ? `${e.time} ` : ""}${o.details === true ? " " : ""}${e.log}`;
      if (e.stream === "stderr") sink.stderr(text); else sink.stdout(text);
    }
  };
  const rotated: string[] = [];
  for (let i = 1; existsSync(`${path}.${i}`); i++) rotated.unshift(`${path}.${i}`);
  let entries: Entry[] = rotated.flatMap((p) => parse(readAll(p).text));
  let end = 0;
  if (existsSync(path)) {
    const r = readAll(path);
    entries = entries.concat(parse(r.text));
    end = r.end;
  }
  if (tail !== undefined) entries = tail === 0 ? [] : entries.slice(-tail);
  write(entries);
  if (!o.follow) return;
  for (;;) {
    const s = readState(root, state.id);
    const done = !s || s.status === "exited" || (s.status !== "created" && !ownerAlive(s.owner));
    if (existsSync(path)) {
      const size = statSync(path).size;
      if (size !== end) {
        const r = readAll(path, size < end ? 0 : end);
        write(parse(r.text));
        end = r.end;
      }
    }
    // As Docker's -f --until: following ends at that time.
    if (done || (until !== undefined && Date.now() > until)) return;
    await sleep(100);
  }
}
