// The event log behind `tsbox events`: what Docker's daemon keeps in memory
// (its last 256 events) and streams, kept here in a file of the state root,
// since tsbox has no daemon. The verbs append one line at the moment the thing
// happens (a detached container's `die` is appended by the restart decider the
// monitor runs at each exit). Appends are single write()s of one line with
// O_APPEND, shorter than PIPE_BUF, so concurrent writers never interleave.
// The log is bounded: past MAX_BYTES it is renamed to events.log.1 (the
// previous .1 goes), so at most two files' worth is kept. Lines are checked
// when read back; a torn or foreign line is skipped.

import { closeSync, openSync, readFileSync, renameSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { errnoCode } from "../errors.js";
import { log } from "../log.js";
import { withLock } from "../util/lock.js";
import { ShapeError, matching, object, oneOf, parseChecked, recordOf, string, type Check } from "../util/shape.js";

export type EventType = "container" | "image" | "volume" | "network";

/** One line of the log, as stored. timeNano is a decimal string: it does not fit a double. */
export interface EventRecord {
  v: 1;
  type: EventType;
  action: string;
  /** the actor: a container's id, an image's id (or the reference pulled or pushed) */
  id: string;
  attributes: Record<string, string>;
  timeNano: string;
}

export const checkEventRecord: Check<EventRecord> = object({
  v: (v, at) => { if (v !== 1) throw new ShapeError(at, "version 1"); return 1 as const; },
  type: oneOf("container", "image", "volume", "network"),
  action: string,
  id: string,
  attributes: recordOf(string),
  timeNano: matching(/^\d{1,20}$/, "nanoseconds since the epoch"),
});

/** Past this the log is rotated: ~1500 events per file. */
export const MAX_BYTES = 512 * 1024;
/** A line no longer than this is written by one write() that no other append interleaves (PIPE_BUF). */
const MAX_LINE = 4096;

export const eventsFile = (root: string): string => join(root, "events.log");
const rotatedFile = (root: string): string => join(root, "events.log.1");
const lockFile = (root: string): string => join(root, ".events.lock");

/** The wall clock at the process's first event, against the monotonic clock: events of one process keep their order. */
let clockBase: bigint | undefined;

/** Now in nanoseconds since the epoch: the wall clock's milliseconds, advanced by the monotonic clock. */
export function nowNano(): bigint {
  clockBase ??= BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  return clockBase + process.hrtime.bigint();
}

/**
 * Appends one event. Never fails the verb that records it: an event log that
 * cannot be written (a full disk, a root being removed) is logged and skipped.
 */
export function recordEvent(root: string, type: EventType, action: string, id: string,
  attributes: Record<string, string> = {}, at: bigint = nowNano()): void {
  try {
    appendLine(root, encodeRecord({ v: 1, type, action, id, attributes, timeNano: at.toString() }));
  } catch (e) {
    log().debug({ err: e, action, id }, "event not recorded");
  }
}

export function encodeRecord(r: EventRecord): string {
  let line = `${JSON.stringify(r)}\n`;
  if (Buffer.byteLength(line) > MAX_LINE) {
    // Labels are what makes a line long: the event keeps its own attributes.
    const own = Object.fromEntries(Object.entries(r.attributes).filter(([k]) => OWN_ATTRIBUTES.has(k)));
    line = `${JSON.stringify({ ...r, attributes: own })}\n`;
  }
  return line;
}

/** The attributes the events themselves carry; the others are the container's or image's labels. */
const OWN_ATTRIBUTES = new Set(["name", "image", "exitCode", "signal", "oldName", "execID", "driver", "type", "container"]);

function appendLine(root: string, line: string): void {
  let fd: number;
  try {
    fd = openSync(eventsFile(root), "a", 0o600);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return; // no state root (yet, or any more): nothing to record into
    throw e;
  }
  let size: number;
  try {
    writeSync(fd, line);
    size = statSync(eventsFile(root)).size;
  } finally {
    closeSync(fd);
  }
  if (size > MAX_BYTES) rotate(root);
}

/**
 * events.log → events.log.1, under a lock so that two appenders past the limit
 * rotate once. A writer that opened the old file just before the rename
 * appends to .1, which readers still read.
 */
function rotate(root: string): void {
  withLock(lockFile(root), () => {
    try {
      if (statSync(eventsFile(root)).size <= MAX_BYTES) return;
      renameSync(eventsFile(root), rotatedFile(root));
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e;
    }
  });
}

/** Parses lines of the log; what is not a whole, valid record is skipped. */
export function parseRecords(text: string): EventRecord[] {
  const out: EventRecord[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    try {
      out.push(parseChecked(line, checkEventRecord));
    } catch (e) {
      if (!(e instanceof ShapeError)) throw e;
      log().debug({ line: line.slice(0, 200), err: e.message }, "skipping an unreadable event");
    }
  }
  return out;
}

function readOrEmpty(p: string): string {
  try { return readFileSync(p, "utf8"); } catch (e) {
    if (errnoCode(e) === "ENOENT") return "";
    throw e;
  }
}

/** The text of the rotated-out log (events older than the live file's). */
export const readRotatedEvents = (root: string): string => readOrEmpty(rotatedFile(root));

export function sortByTime(records: EventRecord[]): EventRecord[] {
  // Stable: two writers' events of the same nanosecond keep the order they were appended in.
  return records.sort((a, b) => {
    const x = BigInt(a.timeNano);
    const y = BigInt(b.timeNano);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** Every event kept, oldest first. */
export function readEvents(root: string): EventRecord[] {
  return sortByTime(parseRecords(readRotatedEvents(root) + readOrEmpty(eventsFile(root))));
}

/** A container's attributes in its events, as Docker's: its labels, then image and name (and the event's own). */
export function containerAttributes(s: { name: string; image: string; config?: unknown }, extra: Record<string, string> = {}): Record<string, string> {
  return { ...labelsOf(s.config), image: s.image, name: s.name, ...extra };
}

function labelsOf(config: unknown): Record<string, string> {
  const labels = typeof config === "object" && config !== null ? (config as { Labels?: unknown }).Labels : undefined;
  if (typeof labels !== "object" || labels === null) return {};
  return Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => typeof e[1] === "string"));
}
