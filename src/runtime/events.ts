// `tsbox events`: Docker's event stream, read from the state root's event log
// (state/events.ts). With --since or --until the kept events of that window
// are replayed first; without --until the log is then followed (until the
// caller stops it), with --until until that time. Docker's filters
// (moby daemon/events/filter.go) and its two outputs: the text line
// `TIME TYPE ACTION ID (k=v, …)` and the message as JSON.

import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { FlagError, TsboxError, errnoCode } from "../errors.js";
import { eventsFile, parseRecords, readRotatedEvents, sortByTime, type EventRecord } from "../state/events.js";
import { parseSince } from "./logs.js";
import { parseDockerTemplate } from "../util/docker-format.js";
import { STRUCT_TYPE, TemplateError, type Template } from "../util/go-template.js";

/** Docker's events.Message with its Go field names: what a --format template sees. */
export interface EventMessage {
  /** the deprecated fields, "" where Docker leaves them empty (omitted from its JSON) */
  Status: string;
  ID: string;
  From: string;
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  Scope: "local";
  Time: number;
  TimeNano: bigint;
}

export function eventMessage(r: EventRecord): EventMessage {
  const nano = BigInt(r.timeNano);
  // The fields Docker still fills for the API's older clients.
  // Volume and network events have none of them.
  const old = r.type === "container" || r.type === "image";
  const legacy = { Status: old ? r.action : "", ID: old ? r.id : "", From: r.type === "container" ? r.attributes.image ?? "" : "" };
  return {
    // Sorted: Go marshals a map by its keys.
    ...legacy, Type: r.type, Action: r.action, Actor: { ID: r.id, Attributes: Object.fromEntries(Object.entries(r.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) },
    Scope: "local", Time: Number(nano / 1_000_000_000n), TimeNano: nano,
  };
}

/** JSON as Go's encoder writes it: <, >, & and the two line separators escaped. */
function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The message as Docker's JSON (its json tags, in its order); timeNano exact, past a double's precision. */
export function eventJson(m: EventMessage): string {
  const head = goJson({
    ...(m.Status !== "" ? { status: m.Status } : {}), ...(m.ID !== "" ? { id: m.ID } : {}),
    ...(m.From !== "" ? { from: m.From } : {}), Type: m.Type, Action: m.Action, Actor: m.Actor, scope: m.Scope, time: m.Time,
  });
  return `${head.slice(0, -1)},"timeNano":${m.TimeNano}}`;
}

/** RFC 3339 with nine fraction digits, as Docker's client prints an event's time (jsonmessage.RFC3339NanoFixed). */
export function eventTime(nano: bigint): string {
  const ms = Number(nano / 1_000_000n);
  const frac = (nano % 1_000_000_000n).toString().padStart(9, "0");
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

/** Docker's text line: time, type, action, actor, then the attributes sorted by key. */
export function eventLine(m: EventMessage): string {
  const keys = Object.keys(m.Actor.Attributes).sort();
  const attrs = keys.length > 0 ? ` (${keys.map((k) => `${k}=${m.Actor.Attributes[k]}`).join(", ")})` : "";
  return `${eventTime(m.TimeNano)} ${m.Type} ${m.Action} ${m.Actor.ID}${attrs}\n`;
}

/** The message as a template sees it: Docker's events.Message and events.Actor, by their Go names. */
function messageContext(m: EventMessage, type = "events.Message"): Record<string, unknown> {
  return { ...m, Actor: { ...m.Actor, [STRUCT_TYPE]: "events.Actor" }, [STRUCT_TYPE]: type };
}

const templates = new Map<string, Template>();

/** The template of a --format, parsed once; `json` is Docker's `{{json .}}`. */
function eventTemplate(format: string): Template {
  let t = templates.get(format);
  if (!t) {
    t = parseDockerTemplate(format === "json" ? "{{json .}}" : format.replace(/\\t/g, "\t").replace(/\\n/g, "\n"));
    templates.set(format, t);
  }
  return t;
}

/**
 * As Docker's client checks an events --format before it listens: it must
 * parse and run on an empty message ("Error parsing format: …", exit 64).
 */
export function checkEventFormat(format: string): void {
  try {
    eventTemplate(format).execute(messageContext({
      Status: "", ID: "", From: "", Type: "", Action: "", Actor: { ID: "", Attributes: {} }, Scope: "local", Time: 0, TimeNano: 0n,
    }, "*events.Message"));
  } catch (e) {
    if (e instanceof TemplateError) throw new TsboxError(`Error parsing format: ${e.message}`, 64);
    throw e;
  }
}

/**
 * --format: `{{json .}}` (or `json`) is the message's JSON as the daemon
 * sends it; anything else a Go template on its fields (`{{.Type}}
 * {{.Actor.Attributes.name}}`, `{{json .Actor}}`, `{{.TimeNano}}`).
 */
export function formatEvent(template: string, m: EventMessage): string {
  if (template === "json" || /^\{\{\s*json\s+\.\s*\}\}$/.test(template)) return `${eventJson(m)}\n`;
  try {
    return `${eventTemplate(template).execute(messageContext(m))}\n`;
  } catch (e) {
    if (e instanceof TemplateError) throw new TsboxError(e.message, 1);
    throw e;
  }
}

/** The filter keys Docker's daemon accepts for events. */
const FILTER_KEYS = new Set(["config", "container", "daemon", "event", "image", "label", "network", "node", "plugin", "scope", "secret", "service", "type", "volume"]);

export type EventFilters = Map<string, string[]>;

/** `--filter k=v`, repeated: values of one key are alternatives, keys all apply. */
export function parseEventFilters(args: readonly string[]): EventFilters {
  const f: EventFilters = new Map();
  for (const a of args) {
    const eq = a.indexOf("=");
    if (eq < 0) throw new FlagError(`invalid argument "${a}" for "-f, --filter" flag: bad format of filter (expected name=value)`);
    const key = a.slice(0, eq).trim().toLowerCase();
    const value = a.slice(eq + 1).trim();
    if (!FILTER_KEYS.has(key)) throw new TsboxError(`invalid filter '${key}'`);
    f.set(key, [...(f.get(key) ?? []), value]);
  }
  return f;
}

/** The image name without its tag (moby's stripTag; a digest is left alone). */
function stripTag(image: string): string {
  if (image.includes("@")) return image;
  const slash = image.lastIndexOf("/");
  const colon = image.lastIndexOf(":");
  return colon > slash ? image.slice(0, colon) : image;
}

/** moby's Filter.Include, for the kinds of event tsbox has. */
export function eventMatches(f: EventFilters, m: EventMessage): boolean {
  const exact = (key: string, ...candidates: (string | undefined)[]): boolean => {
    const want = f.get(key);
    return want === undefined || want.some((w) => candidates.includes(w));
  };
  const fuzzy = (key: string, ...candidates: (string | undefined)[]): boolean => {
    const want = f.get(key);
    return want === undefined || want.some((w) => candidates.some((c) => c !== undefined && c.startsWith(w)));
  };
  const attrs = m.Actor.Attributes;
  const imageName = attrs[m.Type === "image" ? "name" : "image"];
  const labels = f.get("label") ?? [];
  // "exec_create: sh -c …" is matched by event=exec_create too (moby's events filter: the part before the colon)
  return exact("event", m.Action, m.Action.includes(":") ? m.Action.slice(0, m.Action.indexOf(":")) : undefined)
    && exact("type", m.Type)
    && exact("scope", m.Scope)
    && (m.Type === "container" ? fuzzy("container", m.Actor.ID, attrs.name) : !f.has("container"))
    && (m.Type === "volume" ? fuzzy("volume", m.Actor.ID, attrs.name) : !f.has("volume"))
    && (m.Type === "network" ? fuzzy("network", m.Actor.ID, attrs.name) : !f.has("network"))
    && exact("image", m.Actor.ID, imageName, stripTag(m.Actor.ID), imageName === undefined ? undefined : stripTag(imageName))
    // Events of the kinds tsbox does not have match none of their filters.
    && !["daemon", "plugin", "node", "service", "secret", "config"].some((k) => f.has(k))
    && labels.every((l) => {
      const eq = l.indexOf("=");
      return eq < 0 ? l in attrs : attrs[l.slice(0, eq)] === l.slice(eq + 1);
    });
}

/** --since/--until as Docker takes them (RFC 3339, Unix seconds, a duration before now), in ns. */
export function parseEventTime(v: string, now = Date.now()): bigint {
  let ms: number;
  try {
    ms = parseSince(v, now);
  } catch {
    throw new TsboxError(`failed to parse value as time or duration: "${v}"`);
  }
  if (/^\d+\.\d+$/.test(v)) {
    const [s, frac = ""] = v.split(".");
    return BigInt(s!) * 1_000_000_000n + BigInt(frac.slice(0, 9).padEnd(9, "0"));
  }
  return BigInt(Math.round(ms)) * 1_000_000n;
}

export interface EventsOptions {
  since?: bigint;
  until?: bigint;
  filters: EventFilters;
  format?: string;
  /** stops following (Ctrl-C) */
  signal?: AbortSignal;
  /** how often the log is looked at while following (ms) */
  pollMs?: number;
}

export async function streamEvents(root: string, o: EventsOptions, write: (s: string) => void): Promise<void> {
  const show = (r: EventRecord): void => {
    const m = eventMessage(r);
    if (o.since !== undefined && m.TimeNano < o.since) return;
    if (o.until !== undefined && m.TimeNano > o.until) return;
    if (eventMatches(o.filters, m)) write(o.format !== undefined ? formatEvent(o.format, m) : eventLine(m));
  };
  // The log is split at its end as it is now: what is before is replayed, what comes after is followed.
  const tail = new LogTail(eventsFile(root));
  try {
    if (o.since !== undefined || o.until !== undefined) {
      for (const r of sortByTime(parseRecords(readRotatedEvents(root) + tail.head()))) show(r);
    }
    const nowNano = (): bigint => BigInt(Date.now()) * 1_000_000n;
    while (!o.signal?.aborted && (o.until === undefined || nowNano() <= o.until)) {
      for (const r of tail.read()) show(r);
      await sleep(o.pollMs ?? 100, undefined, o.signal ? { signal: o.signal } : {}).catch(() => undefined);
    }
    for (const r of tail.read()) show(r); // what came in before the end
  } finally {
    tail.close();
  }
}

/**
 * The log from a point on, across rotations: the open file is read to its end
 * before the new file at the path is opened.
 */
class LogTail {
  private fd: number | undefined;
  private offset = 0;
  private partial = "";
  /** the size at the start: bytes before it are the replay's */
  private readonly start: number;

  constructor(private readonly path: string) {
    this.open();
    this.start = this.fd === undefined ? 0 : fstatSync(this.fd).size;
    this.offset = this.start;
  }

  /** The log's content before the start. */
  head(): string {
    if (this.fd === undefined || this.start === 0) return "";
    const buf = Buffer.alloc(this.start);
    let got = 0;
    while (got < this.start) {
      const n = readSync(this.fd, buf, got, this.start - got, got);
      if (n <= 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString("utf8");
  }

  private open(): void {
    try {
      this.fd = openSync(this.path, "r");
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e;
      this.fd = undefined;
    }
    this.offset = 0;
    this.partial = "";
  }

  private drain(): EventRecord[] {
    if (this.fd === undefined) return [];
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(this.fd, buf, 0, buf.length, this.offset);
      if (n <= 0) break;
      this.offset += n;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    // A line being written is read whole next time.
    const text = this.partial + Buffer.concat(chunks).toString("utf8");
    const end = text.lastIndexOf("\n");
    this.partial = text.slice(end + 1);
    return end < 0 ? [] : parseRecords(text.slice(0, end + 1));
  }

  /** The records appended since the last read, the rotated file's rest first. */
  read(): EventRecord[] {
    const out = this.drain();
    if (this.replaced()) {
      this.close();
      this.open();
      out.push(...this.drain());
    }
    return out;
  }

  private replaced(): boolean {
    let ino: number;
    try { ino = statSync(this.path).ino; } catch { return false; }
    return this.fd === undefined || fstatSync(this.fd).ino !== ino;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
