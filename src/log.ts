// One logger for the process, on stderr, through pino. Level from --log-level
// or TSBOX_LOG_LEVEL; JSON with --log-format json, logfmt lines otherwise. pino itself is loaded only
// when a line is actually written at an enabled level: at the default level a
// normal `tsbox run` logs nothing, and loading pino costs more start-up time
// than the whole container setup.
import { createRequire } from "node:module";
import type { Logger } from "pino";

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
type Level = Exclude<keyof typeof LEVELS, "silent">;

export interface Log {
  trace(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  isEnabled(level: Level): boolean;
}

let current: Log | undefined;

/** `file`: where lines go instead of stderr (appended; tsbox-runc's --log). */
export function configureLog(level: string | undefined, format: "text" | "json" = "text", file?: string): Log {
  const name = (level ?? process.env.TSBOX_LOG_LEVEL ?? "warn") as keyof typeof LEVELS;
  const threshold = LEVELS[name] ?? LEVELS.warn;
  let pino: Logger | undefined;
  const emit = (lvl: Level) => (obj: object | string, msg?: string): void => {
    if (LEVELS[lvl] < threshold) return;
    pino ??= createPino(name, format, file);
    if (typeof obj === "string") pino[lvl](obj);
    else pino[lvl](obj, msg);
  };
  current = {
    trace: emit("trace"), debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error"),
    isEnabled: (lvl) => LEVELS[lvl] >= threshold,
  };
  return current;
}

function createPino(level: string, format: "text" | "json", file: string | undefined): Logger {
  const { pino } = createRequire(import.meta.url)("pino") as typeof import("pino");
  const destination = pino.destination(file === undefined ? { fd: 2, sync: true } : { dest: file, append: true, sync: true, mkdir: true });
  return pino(
    { level, base: null, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    format === "json" ? destination : { write: (line: string) => destination.write(textLine(line)) },
  );
}

/**
 * A pino JSON line as a text one, logfmt as logrus writes it (runc's text
 * format, which engines and people read): time="…" level=… msg="…" key=value.
 */
export function textLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { time, level, msg, ...rest } = o;
  const value = (v: unknown): string => {
    const s = typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
    return /^[\w./:@+-]+$/.test(s) ? s : JSON.stringify(s);
  };
  const t = typeof time === "string" ? time.replace(/\.\d{3}Z$/, "Z") : "";
  const fields = Object.entries(rest).map(([k, v]) => ` ${k}=${value(v)}`).join("");
  return `time=${JSON.stringify(t)} level=${String(level)} msg=${JSON.stringify(typeof msg === "string" ? msg : "")}${fields}\n`;
}

export function log(): Log {
  return current ?? configureLog(undefined);
}
