// One pino logger for the process, on stderr. Level from --log-level or
// TSBOX_LOG_LEVEL; pretty single lines by default, JSON with --log-format json.
import { pino, type Logger } from "pino";

let current: Logger | undefined;

export function configureLog(level: string | undefined, format: "text" | "json" = "text"): Logger {
  const lvl = level ?? process.env.TSBOX_LOG_LEVEL ?? "warn";
  current = pino(
    { level: lvl, base: null, timestamp: format === "json" ? pino.stdTimeFunctions.isoTime : false,
      formatters: { level: (label) => ({ level: label }) } },
    pino.destination({ fd: 2, sync: true }),
  );
  return current;
}

export function log(): Logger {
  return current ?? configureLog(undefined);
}
