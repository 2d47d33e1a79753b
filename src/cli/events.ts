// `tsbox events`: Docker's real-time events, from the state root's event log.

import type { Command } from "commander";
import { collect, prepare } from "./common.js";

export function registerEventsCommand(program: Command): void {
  program.command("events")
    .description("Get real time events (container and image events, from the state root's event log)")
    .option("-f, --filter <filter>", "Filter output based on conditions provided", collect, [])
    .option("--format <string>", "Format the output using the given Go template")
    .option("--since <string>", "Show all events created since timestamp")
    .option("--until <string>", "Stream events until this timestamp")
    .action(async (o: { filter: string[]; format?: string; since?: string; until?: string }, cmd: Command) => {
      const g = await prepare(cmd);
      const { checkEventFormat, parseEventFilters, parseEventTime, streamEvents } = await import("../runtime/events.js");
      if (o.format !== undefined && o.format !== "") checkEventFormat(o.format);
      const filters = parseEventFilters(o.filter);
      const now = Date.now();
      const since = o.since !== undefined ? parseEventTime(o.since, now) : undefined;
      const until = o.until !== undefined ? parseEventTime(o.until, now) : undefined;
      // Ctrl-C ends the stream; as Docker's client, the exit status is then 130.
      const ac = new AbortController();
      let interrupted = false;
      const onSignal = (): void => { interrupted = true; ac.abort(); };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      // A reader that went away (`| head`) ends the stream too.
      process.stdout.on("error", () => ac.abort());
      try {
        await streamEvents(g.root, {
          filters, signal: ac.signal,
          ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}), ...(o.format !== undefined ? { format: o.format } : {}),
        }, (s) => { if (!ac.signal.aborted) process.stdout.write(s); });
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      if (interrupted) process.exitCode = 130;
    });
}
